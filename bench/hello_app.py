"""The ceiling for bench/bench_server.py: a hello-world Starlette app on uvicorn.

Run by the benchmark as ``python bench/hello_app.py PORT [WORKERS]``.  It answers ``GET
/schedule`` (any query string) with a constant JSON body in the real answer's
shape (built once, at import, by ``oncall_core.seed_answer``), and is served
exactly as ``oncall_server`` serves itself (see ``oncall_server/_cli.py``): one
worker, uvicorn's automatic choice of loop and HTTP parser (uvloop and httptools
when installed, as in the ``server`` extra), no access log, no logging
configuration.  It has no middleware, no store and no logging: what is left is
the cost of uvicorn and Starlette themselves.  With WORKERS above 1 (the benchmark's
``--workers``), uvicorn's own supervisor runs that many spawned worker processes on
one socket, as ``oncall-server serve --workers`` does with its own.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from oncall_core import OnCall, seed_answer

ANSWER = seed_answer(
    OnCall(
        member="alice",
        schedule="business-hours",
        override=None,
        until=datetime(2025, 4, 28, 21, tzinfo=UTC),
        next_member="bob",
        next_schedule="business-hours",
    )
)


async def schedule(_request: Request) -> Response:
    return JSONResponse(ANSWER)


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/schedule", schedule, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)


def main() -> None:
    port = int(sys.argv[1])
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if workers > 1:
        # Workers import the app by name (this file's directory is on their sys.path).
        uvicorn.run(
            "hello_app:app",
            host="127.0.0.1",
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        return
    uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
    ).run()


if __name__ == "__main__":
    main()
