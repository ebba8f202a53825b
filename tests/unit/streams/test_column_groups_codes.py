"""A column's names numbered natively (native/src/codes.rs) are numbered as the reference's
Numbering numbers them: codes in order of first sight, each name's first object."""

from __future__ import annotations

import random

import numpy as np
import pytest

import streams.column_groups as column_groups
from streams.column_groups import Numbering, codes

native = column_groups._native
needs_native = pytest.mark.skipif(native is None, reason="the native extension is not built")


def reference(names: list[object]) -> tuple[list[int], list[object]]:
    numbering = Numbering()
    return [numbering[name] for name in names], list(numbering)


def random_column(seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = ["".join(rng.choice("ab-é€😀") for _ in range(rng.randint(0, 12))) for _ in range(30)]
    column: list[str] = []
    for _ in range(400):  # runs of one object, the same objects again, and equal texts as new objects
        text = rng.choice(texts)
        column += [text] * rng.randint(1, 5) if rng.random() < 0.7 else ["".join(text)]
    return column


@pytest.mark.parametrize("seed", range(10))
def test_codes_are_numbering_s_codes_and_names_either_way(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    column = random_column(seed)
    expected_codes, expected_names = reference(list(column))
    for module in [native, None]:
        monkeypatch.setattr(column_groups, "_native", module)
        numbered, names = codes(column)
        assert numbered.dtype == np.int64 and numbered.tolist() == expected_codes
        assert names == expected_names
        assert all(a is b for a, b in zip(names, expected_names, strict=True))  # each name's first object


@needs_native
def test_columns_the_native_part_declines_are_numbered_in_python() -> None:
    assert codes(())[0].tolist() == [] and codes([])[1] == []
    assert codes(("b", "a", "b"))[0].tolist() == [0, 1, 0]  # not a list
    mixed: list[object] = ["a", 1, "a"]
    assert codes(mixed)[0].tolist() == [0, 1, 0]  # type: ignore[arg-type]
    surrogate = "\ud800"  # no UTF-8: read by the dict's equality
    numbered, names = codes(["a", surrogate, "".join(surrogate)])
    assert numbered.tolist() == [0, 1, 1] and names == ["a", surrogate]


class Folded(str):
    """A str equal to any other of its letters in either case: the dict's equality, not the text's."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.casefold() == other.casefold()

    def __hash__(self) -> int:
        return hash(self.casefold())


@pytest.mark.parametrize("module", [native, None], ids=["native", "python"])
def test_a_str_subclass_is_numbered_by_its_own_equality(
    module: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(column_groups, "_native", module)
    column: list[str] = ["a", Folded("A"), "b", Folded("B")]
    numbered, names = codes(column)
    assert (numbered.tolist(), names) == reference(list(column)) == ([0, 0, 1, 1], ["a", "b"])
