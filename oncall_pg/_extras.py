"""The check that this package's optional dependencies (its extra) are installed.

``pip install oncall-schedule`` installs the core only; ``oncall_pg`` needs the ``pg``
extra.  Without it, importing the package would fail deep inside with ``No module named
'psutil'``, which does not say what to install.  :func:`require_extra` runs first, from
the package's ``__init__``, and raises :class:`MissingExtra` naming the extra instead.
Uncaught, that error prints as its one line, without a traceback: there is nothing in
the traceback for the reader to fix.  Standard library only, by necessity.
"""

from __future__ import annotations

import importlib.util
import sys
from types import TracebackType


class MissingExtra(ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def require_extra(package: str, extra: str, modules: tuple[str, ...]) -> None:
    """Raise :class:`MissingExtra` unless every module of ``extra`` can be imported."""
    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if not missing:
        return
    if not isinstance(sys.excepthook, _OneLine):
        sys.excepthook = _OneLine(sys.excepthook)
    raise MissingExtra(
        f"{package} needs the '{extra}' extra, which is not installed (no module named "
        f"{missing[0]!r}): pip install 'oncall-schedule[{extra}]'",
        name=missing[0],
    )


class _OneLine:
    """``sys.excepthook`` that prints an uncaught :class:`MissingExtra` as its message
    alone, and hands every other exception to the hook that was there before."""

    def __init__(self, previous: object) -> None:
        self.previous = previous

    def __call__(
        self,
        kind: type[BaseException],
        error: BaseException,
        traceback: TracebackType | None,
    ) -> None:
        # Match by name: each package has its own copy of this module.
        if type(error).__name__ == "MissingExtra":
            print(error, file=sys.stderr)
        elif callable(self.previous):
            self.previous(kind, error, traceback)
