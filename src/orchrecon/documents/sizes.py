"""Sizes as users write them, `512MiB`, `4GiB`, `1.5GB`, and the resource amounts that use them."""

from __future__ import annotations

import math
import re
from fractions import Fraction

# Decimal units are powers of 1000 and binary ones powers of 1024, as in Dask's own `parse_bytes`.
UNITS = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}
# The schema's `resourceAmount` pattern accepts the same texts (a test keeps the two in step).
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([KMGT]i?B|B)")


def parse_size(text: str) -> int:
    """The number of bytes `512MiB`-style text stands for.

    Raises ValueError naming the text when it is not a size, is zero, or is not a whole number of
    bytes (`1.5B`)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        units = ", ".join(UNITS)
        raise ValueError(f"invalid size {text!r}: write a number and one of the units {units}, e.g. 512MiB, 1.5GB")
    size = Fraction(match[1]) * UNITS[match[2]]
    if size == 0:
        raise ValueError(f"size must be more than 0, got {text!r}")
    if size.denominator != 1:
        raise ValueError(f"size {text!r} is not a whole number of bytes")
    return size.numerator


def parse_amount(value: float | str) -> float:
    """A resource amount as Dask compares it: a number as it is (an int stays an int), a size string in bytes.

    Raises ValueError when a number is not finite or not more than 0, or a string is not a size (see
    `parse_size`)."""
    if isinstance(value, str):
        return parse_size(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"an amount must be a finite number more than 0, got {value!r}")
    return value
