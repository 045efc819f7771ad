"""JSON Schema patterns (ECMA-262, read alike by Python's ``re``) for what the
model accepts as text, day names, times of day and instants.

Text follows :func:`oncall_core.clean_text`: :func:`text_pattern` refuses the
same characters (Unicode categories Cc, Cf, Zl, Zp; a test compares the two on
every code point but the surrogates), needs a character that is not white
space, and refuses ``.`` and ``..``.  Two things no pattern can say: a lone
surrogate is refused too (JSON Schema tools cannot generate or match one, and
some ignore a pattern that names them), and a name that NFC makes longer than
``maxLength`` is refused though the text before normalization fits.

Times and instants are ASCII, as the core reads them.  An instant is RFC 3339
with an offset, on a date that exists.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Callable, Iterator

from oncall_core import REFUSED_CATEGORIES, Weekday

# The Unicode categories clean_text refuses, but Cs (see the module docstring).
_REFUSED_CATEGORIES = REFUSED_CATEGORIES - {"Cs"}


def _ranges(holds: Callable[[str], bool]) -> Iterator[tuple[int, int]]:
    start = None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and holds(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            yield start, code - 1
            start = None


def _char(code: int) -> str:
    # An escape both ECMA-262 and Python read in the BMP; astral characters as
    # themselves (ECMA's \u{...} and Python's \U... differ).
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


def _class(holds: Callable[[str], bool]) -> str:
    return "".join(
        _char(low) if low == high else f"{_char(low)}-{_char(high)}" for low, high in _ranges(holds)
    )


@functools.cache
def text_pattern() -> str:
    """Text that :func:`oncall_core.clean_text` keeps, and not ``.`` or ``..``."""
    refused = _class(lambda char: unicodedata.category(char) in _REFUSED_CATEGORIES)
    space = _class(str.isspace)
    allowed = f"[^{refused}]"
    return (
        f"^(?![{space}]*\\.\\.?[{space}]*$)"  # not "." or ".." once stripped
        f"{allowed}*[^{refused}{space}]{allowed}*$"
    )


def _any_case(word: str) -> str:
    return "".join(f"[{char.upper()}{char.lower()}]" for char in word)


def day_pattern() -> str:
    """A weekday's English name or its first three letters, any case."""
    names = "|".join(f"{_any_case(day.name[:3])}(?:{_any_case(day.name[3:])})?" for day in Weekday)
    return f"^\\s*(?:{names})\\s*$"


_FRACTION = r"(?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
# 24-hour "21:30", or 12-hour "9:00AM" / "9:00 pm"; seconds and a fraction optional.
TIME_OF_DAY_PATTERN = (
    rf"^\s*(?:(?:[01]?[0-9]|2[0-3]):[0-5][0-9]{_FRACTION}"
    rf"|(?:0?[1-9]|1[0-2]):[0-5][0-9]{_FRACTION}\s*[AaPp][Mm])\s*$"
)
# RFC 3339 with an offset, on dates that exist, in the years the server answers
# for: a request's from 1901 to 2399, so that no offset takes it out of 1900 to
# 2400; an answer's (always in UTC) from 1900.
_LEAP_YEAR = r"(?:(?:19|2[0-3])(?:0[48]|[2468][048]|[13579][26])|2000)"


def _instant_pattern(year: str) -> str:
    date = (
        rf"(?:{year}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
        r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
        rf"|{_LEAP_YEAR}-02-29)"
    )
    return (
        rf"^\s*{date}[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
        r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\s*$"
    )


INSTANT_PATTERN = _instant_pattern(r"(?:19[0-9][1-9]|19[1-9]0|2[0-3][0-9]{2})")
ANSWER_INSTANT_PATTERN = _instant_pattern(r"(?:19[0-9]{2}|2[0-3][0-9]{2})")
