"""Each native part runs unless its switch asks for Python, or the extension was built without it."""

from __future__ import annotations

import importlib.util

import pytest

from streams.native_extension import native_extension

BUILT = importlib.util.find_spec("streams._wire_scan") is not None


def test_a_switch_set_to_python_asks_for_the_reference_whatever_was_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COSTLINE_WINDOW_BYTES", "Python")
    assert native_extension("COSTLINE_WINDOW_BYTES", "window_records") is None


@pytest.mark.skipif(not BUILT, reason="the native extension is not built (no cargo at install)")
def test_a_built_part_is_the_extension_and_a_part_it_lacks_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COSTLINE_WIRE_DECODER", raising=False)
    extension = native_extension("COSTLINE_WIRE_DECODER", "scan")
    assert extension is not None and callable(extension.scan)
    assert native_extension("COSTLINE_WIRE_DECODER", "a_part_not_built") is None
