"""CORS: which other origins' pages may read the API, off unless ``server.cors_origins``.

Starlette's ``CORSMiddleware`` does the work: it answers preflights (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``) itself, before rate limits and
routing, and adds ``Access-Control-Allow-Origin`` to the answers to an allowed origin.
No credentials (cookies) are allowed: the API authenticates with a bearer header.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from ._config import ServerConfig

# What a page may send, and read, besides the CORS-safelisted headers.
ALLOWED_HEADERS = ["Authorization", "Content-Type", "If-Match", "X-Request-ID"]
EXPOSED_HEADERS = ["ETag", "Location", "Retry-After", "X-Request-ID"]
ALLOWED_METHODS = ["GET", "POST", "PUT", "DELETE"]


def cors_middleware(server: ServerConfig) -> list[Middleware]:
    """The CORS middleware ``server.cors_origins`` asks for; none when it is empty."""
    origins = server.allowed_origins
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    ]
