"""The worker's tables are registered as it starts, not a second later."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.table_manager import DeclaredTablesManager


def test_the_worker_app_manages_its_tables_with_the_prompt_manager() -> None:
    from streams.app import app

    configured: object = app.conf.TableManager
    assert configured is DeclaredTablesManager
    assert isinstance(app.tables, DeclaredTablesManager)


def test_starting_registers_the_channels_then_starts_recovery_without_a_pause() -> None:
    done: list[str] = []

    class Manager:  # the two steps on_start takes, recorded; no app, no broker
        should_stop = False

        async def _update_channels(self) -> None:
            done.append("channels")

        class recovery:  # an attribute of the manager, as Faust's
            @staticmethod
            async def start() -> None:
                done.append("recovery")

        async def sleep(self, seconds: float) -> None:
            done.append(f"slept {seconds}")

    manager: Any = Manager()
    asyncio.run(DeclaredTablesManager.on_start(manager))
    assert done == ["channels", "recovery"]
