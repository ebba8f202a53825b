"""Moved to :mod:`billing.render`; kept only while ``costline/dev/demo.py`` imports ``table`` from here.

Remove it once the demo imports :func:`billing.render.costs_table`.
"""

from __future__ import annotations

from billing.render import costs_table as table
from billing.render import render_costs as render

__all__ = ["render", "table"]
