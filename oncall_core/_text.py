"""The one rule for text: what a team, schedule, member, zone or reason may be.

Every text field of the model, and every query parameter or path segment that
names one, goes through :func:`clean_text`, so both stores hold, and every
lookup finds, exactly the same strings:

- It must be valid Unicode: a lone surrogate (``"\\ud800"``, which a JSON
  decoder accepts) cannot be stored as UTF-8 by PostgreSQL, or logged.
- No control characters (NUL, newline, tab...), line or paragraph
  separators, or invisible format characters (zero-width space, bidi
  overrides): they make two names look alike, or a log line lie.
- It is normalized to NFC and stripped of surrounding white space, so that
  names which look the same are the same name; text that is then empty
  counts as missing.
- It has at most :data:`MAX_TEXT` characters (:data:`MAX_REASON` for a
  free-text reason): a name is not a document.
"""

from __future__ import annotations

import unicodedata

from ._errors import ValidationError

MAX_TEXT = 200
"""The most characters a team, schedule or member name, or a zone name, may have."""

MAX_REASON = 1000
"""The most characters an override's reason may have."""

REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""The Unicode categories text may not contain: controls (Cc), invisible format
characters (Cf), surrogates (Cs), line and paragraph separators (Zl, Zp)."""


def clean_text(
    value: object, field: str, *, missing: str | None = None, limit: int = MAX_TEXT
) -> str:
    """``value`` as the model keeps text: NFC, stripped, checked.

    ``missing`` is the message for absent or blank text (default
    ``"<field> is required"``).  Raises :class:`ValidationError` naming ``field``
    for anything else the rule refuses (see the module docstring).
    """
    if value is None:
        raise ValidationError(missing or f"{field} is required", field=field)
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a string", field=field)
    if value.isascii():
        # The common case, by the same rule in fewer steps: ASCII is valid Unicode
        # and its own NFC, and its only refused characters are the controls (Cc),
        # which are exactly the ASCII characters that are not printable.
        text = value.strip()
        refused = not text.isprintable()
    else:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(f"{field} must be valid Unicode text", field=field) from None
        text = unicodedata.normalize("NFC", value).strip()
        refused = any(unicodedata.category(char) in REFUSED_CATEGORIES for char in text)
    if not text:
        raise ValidationError(missing or f"{field} is required", field=field)
    if refused:
        raise ValidationError(
            f"{field} must not contain control or invisible characters", field=field
        )
    if len(text) > limit:
        raise ValidationError(f"{field} must be at most {limit} characters", field=field)
    return text
