"""Structured logs: one JSON line per request and per lifecycle event.

:class:`RequestLog` is the outermost layer of every request: it also answers an
unexpected error (a bug) with a JSON 500 that carries the request id.

Uses the standard ``logging`` module; :func:`configure_logging` installs a JSON
formatter on the root logger.  Fields given as ``extra={"fields": {...}}`` become
top-level keys of the line.  Request ids: an incoming ``X-Request-ID`` (if it is
short and printable) is kept, otherwise one is generated; either way it is
echoed in the response and logged.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import internal_error

access_log = logging.getLogger("oncall_server.access")
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    """Send every log record to stderr as a JSON line, at ``level`` and above."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # Our own access log replaces uvicorn's; its errors go through the root handler.
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"


class RequestLog:
    """ASGI middleware: request ids and one access-log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or _new_request_id()
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
        except Exception:
            # A bug: log it with the request id; answer in the usual shape if we still can.
            access_log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            if status:
                raise
            await internal_error()(scope, receive, send_with_id)
        finally:
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                        "request_id": request_id,
                    }
                },
            )


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
