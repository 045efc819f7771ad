"""Slow and stalled clients, over real sockets to a real uvicorn server: bounded.

TestClient cannot stall a body (it reads the whole request at once), so these
tests serve the app with uvicorn, as ``oncall-server serve`` does, with the same
limits, and talk raw HTTP/1.1 to it.  White-box on purpose: they take those
limits from the private ``server_limits``, the one place the CLI takes them from.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
import uvicorn

from oncall_server import create_app, load_config
from oncall_server._limits import server_limits


@pytest.fixture
async def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[object]:
    monkeypatch.chdir(tmp_path)
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(environ: Mapping[str, str]) -> int:
        config = load_config(None, {"ONCALL_USE_DATABASE": "false", **environ})
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(config),
                host="127.0.0.1",
                port=0,
                log_config=None,
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=1,
                **server_limits(config),
            )
        )
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        while not server.started:
            await asyncio.sleep(0.01)
        port: int = server.servers[0].sockets[0].getsockname()[1]
        return port

    yield start
    for server, task in servers:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    return status, headers, body


async def test_a_body_that_stalls_is_408_and_the_connection_closed(serve: object) -> None:
    port = await serve({"ONCALL_SERVER__BODY_TIMEOUT": "0.3"})  # type: ignore[operator]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /schedule HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
    )  # one byte of the 100 promised
    await writer.drain()
    status, headers, body = await read_response(reader)
    assert (status, json.loads(body)) == (
        408,
        {"error": "request body not received within 0.3 seconds"},
    )
    assert headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
    writer.close()


async def test_a_chunked_body_that_trickles_is_cut_off_at_the_deadline(serve: object) -> None:
    port = await serve({"ONCALL_SERVER__BODY_TIMEOUT": "0.5"})  # type: ignore[operator]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /schedule HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    answer = asyncio.create_task(read_response(reader))
    for _ in range(20):  # a byte every 0.1 s: each read is quick, the body is not
        await asyncio.wait([answer], timeout=0.1)
        if answer.done():
            break
        writer.write(b"1\r\n \r\n")
        await writer.drain()
    status, _, body = await answer
    assert (status, json.loads(body)) == (
        408,
        {"error": "request body not received within 0.5 seconds"},
    )
    writer.close()


async def test_connections_beyond_max_connections_get_503(serve: object) -> None:
    port = await serve({"ONCALL_SERVER__MAX_CONNECTIONS": "3"})  # type: ignore[operator]
    stalled = []
    for _ in range(3):  # each promises a body and sends none of it
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /schedule HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        await writer.drain()
        stalled.append((reader, writer))
    await asyncio.sleep(0.1)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    status, _, body = await read_response(reader)
    assert (status, body) == (503, b"Service Unavailable")
    for _, held in stalled:
        held.close()
    writer.close()
    await asyncio.sleep(0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)  # freed: served again
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    status, _, body = await read_response(reader)
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    writer.close()


async def test_a_client_that_leaves_before_its_body_is_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Straight through ASGI: the body's only message is the client's disconnect.
    app = create_app(load_config(None, {"ONCALL_USE_DATABASE": "false"}))
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/schedule",
        "raw_path": b"/schedule",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
    }
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent == []  # nobody to answer
    records = [record for record in caplog.records if record.name == "oncall_server.access"]
    assert [record.getMessage() for record in records] == ["request"]
    assert records[0].fields["status"] == 499  # type: ignore[attr-defined]
    assert not any(record.levelno >= logging.ERROR for record in caplog.records)
