"""Detector state is the standard library's compact JSON, byte for byte, whichever encoder wrote it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.anomalies.encoding import FORMAT_VERSION, dump_state, load_state


def as_json_writes(state: dict[str, Any]) -> bytes:
    return json.dumps({"v": FORMAT_VERSION, **state}, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "key",
    ["acme\x1fagent-1", "", "".join(map(chr, range(0x7F))), "é\u2028😀", 'a"b\\c'],
    ids=["plain", "empty", "every ASCII", "not ASCII", "quotes"],
)
@pytest.mark.parametrize("big", [123_456_789_012, -(2**63), 2**64 - 1, 2**70, -(2**90)], ids=str)
def test_state_of_any_key_and_integer_is_written_as_json_writes_it(key: str, big: int) -> None:
    state = {"key": key, "clock": 1_795_132_804, "hours": [[1_795_132_800, big], [1, -2]], "fired": []}

    assert dump_state(state) == as_json_writes(state)
    assert load_state(dump_state(state)) == {"v": FORMAT_VERSION, **state}
