from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchrecon.documents.schema import load_schema
from orchrecon.documents.sizes import parse_amount, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1B", 1),
        ("100KB", 100_000),
        ("512MiB", 512 * 1024**2),
        ("4GiB", 4_294_967_296),
        ("1.5GB", 1_500_000_000),
        ("2TiB", 2 * 1024**4),
        ("3TB", 3 * 10**12),
        ("0.5KiB", 512),
        ("007MB", 7_000_000),
    ],
)
def test_sizes_in_bytes(text: str, size: int) -> None:
    assert parse_size(text) == size
    assert isinstance(parse_size(text), int)


def test_a_size_is_exact_however_many_digits_it_has() -> None:
    assert parse_size("12345678901234567890.123456789GB") == 12345678901234567890123456789


@pytest.mark.parametrize(
    "text", ["", "4", "GB", "4 GiB", "4gib", "4GIB", "4Gb", "4iB", "-1GB", "1,5GB", ".5GB", "1e3B", "4GiB\n"]
)
def test_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid size .*: write a number and one of the units B, KB, "):
        parse_size(text)


@pytest.mark.parametrize("text", ["0B", "0GiB", "0.000TB"])
def test_a_zero_size_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=f"size must be more than 0, got '{re.escape(text)}'"):
        parse_size(text)


@pytest.mark.parametrize("text", ["1.5B", "0.0001KB", "1.0001KiB"])
def test_a_size_that_is_not_whole_bytes_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a whole number of bytes"):
        parse_size(text)


@pytest.mark.parametrize(("value", "amount"), [(1, 1), (0.5, 0.5), (2.0, 2.0), ("4GiB", 4_294_967_296)])
def test_amounts_keep_numbers_and_turn_sizes_into_bytes(value: float | str, amount: float) -> None:
    assert parse_amount(value) == amount
    assert type(parse_amount(value)) is type(amount)


@pytest.mark.parametrize("value", [0, -1, -0.5, 0.0, math.inf, -math.inf, math.nan])
def test_amounts_that_are_not_finite_and_positive_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="an amount must be a finite number more than 0"):
        parse_amount(value)


_SCHEMA_SIZE = re.compile(load_schema()["$defs"]["resourceAmount"]["pattern"])


@given(st.text(alphabet="0123456789.,KMGTiBb -", max_size=8))
def test_the_schema_pattern_and_the_parser_take_the_same_texts(text: str) -> None:
    try:
        parse_size(text)
    except ValueError as exc:
        parsed = not str(exc).startswith("invalid size")
    else:
        parsed = True
    assert parsed == (_SCHEMA_SIZE.search(text) is not None)
