"""The optional native extension, ``streams._wire_scan``, a part at a time.

``make setup`` builds it from ``native/`` where cargo is found; without it every part runs its
Python reference, with the same results. Each part also has an environment switch that asks for
the reference (``COSTLINE_WIRE_DECODER``, ``COSTLINE_WINDOW_BYTES``, ``COSTLINE_HOURLY_SUMS``,
``COSTLINE_NATIVE_BLOCK``, ``COSTLINE_ID_HASHES``, ``COSTLINE_NAME_CODES`` set to ``python``), read when
the part is loaded.
"""

from __future__ import annotations

import os
from types import ModuleType


def native_extension(switch: str, part: str) -> ModuleType | None:
    """The extension, if built with ``part`` and the environment's ``switch`` does not ask for
    Python; else None."""
    if os.environ.get(switch, "").lower() == "python":
        return None
    try:
        from streams import _wire_scan
    except ImportError:
        return None
    return _wire_scan if hasattr(_wire_scan, part) else None
