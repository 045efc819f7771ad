"""The listening sockets, bound before anything else starts.

The command binds ``server.address:server.port`` itself and hands the sockets to
uvicorn, so that a bad address or a taken port is found before the database starts,
and is reported as one line naming the key to change, not as uvicorn's traceback.
"""

from __future__ import annotations

import errno
import socket

from ._config import KEYS, Config, ConfigError

# Connections the kernel queues while the server is busy (uvicorn's default).
BACKLOG = 2048


class PortUnavailable(Exception):
    """The address is fine but the port cannot be had (taken, or not allowed)."""


def check_address(config: Config) -> None:
    """Raise :class:`ConfigError` (``server.address``) unless the address resolves to
    one this machine can listen on.  Binds port 0, so a server already running on the
    configured port does not make it fail."""
    for sock in _bind(config.server.address, 0):
        sock.close()


def listen(config: Config) -> list[socket.socket]:
    """Listening sockets for ``server.address:server.port`` (one per address the name
    resolves to, as asyncio's own server does).

    Raises :class:`ConfigError` for an address that does not resolve or is not this
    machine's, :class:`PortUnavailable` for a port in use or not allowed.
    """
    sockets = _bind(config.server.address, config.server.port)
    for sock in sockets:
        sock.listen(BACKLOG)
    return sockets


def _bind(address: str, port: int) -> list[socket.socket]:
    key = KEYS[("server", "address")]
    try:
        found = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise ConfigError(
            f"cannot listen on {address!r}: {(error.strerror or str(error)).lower()}", key=key.name
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, protocol, _name, at in dict.fromkeys(found):
            sock = socket.socket(family, kind, protocol)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(at)
    except OSError as error:
        for sock in sockets:
            sock.close()
        reason = (error.strerror or str(error)).lower()
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            shown = f"[{address}]" if ":" in address else address
            raise PortUnavailable(
                f"cannot listen on {shown}:{port}: {reason}; "
                f"change {KEYS[('server', 'port')].name} ({KEYS[('server', 'port')].variable})"
            ) from None
        raise ConfigError(f"cannot listen on {address!r}: {reason}", key=key.name) from None
    return sockets
