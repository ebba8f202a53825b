"""The wire decoder a test runs: the tests of :mod:`streams.wire_columns` and of intake use the
``wire_decoder`` fixture, so each runs against the Python decoder and the native one alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streams import wire_columns


@pytest.fixture(params=["python", "native"])
def wire_decoder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "native":
        native = wire_columns._load_native()
        if native is None:
            pytest.skip("streams._wire_scan is not built (no cargo where this tree was installed)")
        monkeypatch.setattr(wire_columns, "_native", native)
    else:
        monkeypatch.setattr(wire_columns, "_native", None)
    yield request.param
