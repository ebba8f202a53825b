"""Pages: a cursor names the last row shown, and only a cursor we gave out is taken back."""

from __future__ import annotations

import pytest

from costline.api.pages import decode_cursor, encode_cursor, page
from costline.api.service import ApiError


def test_a_full_page_says_where_the_next_one_starts() -> None:
    rows = ["acme", "globex", "initech"]  # a page of 2, and one more to tell that another follows
    shown, cursor = page(rows, 2, lambda customer: (customer,))
    assert shown == ["acme", "globex"]
    assert decode_cursor(cursor, (str,)) == ("globex",)


def test_the_last_page_has_no_cursor() -> None:
    assert page(["acme"], 2, lambda customer: (customer,)) == (["acme"], None)


def test_a_cursor_carries_its_key_exactly() -> None:
    key = ("2026-11-20T09:00:00.000+00:00", "usage", 3, 2**63, 0)
    assert decode_cursor(encode_cursor(key), (str, str, int, int, int)) == key


@pytest.mark.parametrize("cursor", ["zzz", encode_cursor(["acme"]), encode_cursor([1, 2, 3, 4]), "W10="])
def test_a_cursor_of_another_list_or_none_at_all_is_a_400(cursor: str) -> None:
    with pytest.raises(ApiError) as refused:
        decode_cursor(cursor, (str, str, str, str))
    assert refused.value.status == 400
