"""The check, at import time, that a package's optional dependencies (its extra) are installed.

Not part of the engine: a packaging helper for ``oncall_pg`` and ``oncall_server``,
kept here because the core is the one package that is always installed and that
both import.  Standard library only, by necessity.

``pip install oncall-schedule`` installs the core only; ``oncall_pg`` needs the ``pg``
extra and ``oncall_server`` (so the ``oncall-server`` command) the ``server`` extra.
Without it, importing the package would fail deep inside with ``No module named
'psutil'`` or ``'starlette'``, which does not say what to install.  Each package calls
:func:`require_extra` first, from its ``__init__``, which raises :class:`MissingExtra`
naming the extra instead.  Uncaught, that error prints as its one line, without a
traceback: there is nothing in the traceback for the reader to fix.  (That takes a
``sys.excepthook``, installed only when an extra is missing; it hands every other
exception to the hook that was there before.)
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
        if isinstance(error, MissingExtra):
            print(error, file=sys.stderr)
        elif callable(self.previous):
            self.previous(kind, error, traceback)
