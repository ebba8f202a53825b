"""Faust's table manager, less the second it waits on every start.

``faust.tables.TableManager.on_start`` sleeps 1 s before it registers the
tables' changelog channels, so that tables declared after the app starts are
still in time. Every table of ours is declared when :mod:`streams.topology`
is imported, before the worker starts, so the wait only delayed each start
and restart (and each worker a test starts) by a second.
"""

from __future__ import annotations

from faust.tables import TableManager


class DeclaredTablesManager(TableManager):  # type: ignore[misc]  # faust's classes are untyped
    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
