"""The package's boundaries and code quality, checked as part of the test suite."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "oncall_core"

# Importing the core must not pull in I/O machinery, the adapter, the server, or hypothesis.
FORBIDDEN_MODULES = {
    "asyncio",
    "hypothesis",
    "http",
    "logging",
    "oncall_pg",
    "oncall_server",
    "psycopg",
    "selectors",
    "socket",
    "ssl",
    "starlette",
    "subprocess",
    "uvicorn",
}
# Calls that read a clock, the environment or files have no place in the core.
FORBIDDEN_CALLS = {
    "now",
    "utcnow",
    "today",
    "monotonic",
    "perf_counter",
    "getenv",
    "open",
    "read_text",
}


def test_importing_the_core_loads_no_io_adapter_or_server_module() -> None:
    forbidden = sorted(FORBIDDEN_MODULES)
    code = (
        "import sys, oncall_core\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({forbidden!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


@pytest.mark.parametrize(
    "path", sorted(p for p in CORE.glob("*.py") if p.name != "strategies.py"), ids=lambda p: p.name
)
def test_core_modules_read_no_clock_environment_or_files(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                modules = [node.module or ""] if not node.level else []
            roots = {module.split(".")[0] for module in modules}
            assert not roots & (FORBIDDEN_MODULES | {"os", "time", "random"}), (
                f"{path.name}:{node.lineno}"
            )
        if isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}"


def test_public_names_are_exported_and_documented() -> None:
    import oncall_core

    for name in oncall_core.__all__:
        value = getattr(oncall_core, name)
        if callable(value) and not isinstance(value, type(oncall_core.MANUAL)):
            assert value.__doc__, f"{name} has no docstring"


def test_the_adapter_imports_no_server() -> None:
    for path in sorted((ROOT / "oncall_pg").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                assert not any(n.split(".")[0] == "oncall_server" for n in names), path.name


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "oncall_core", "oncall_pg", "oncall_server"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    command = readme.split("run the whole test suite:\n\n```sh\n", 1)[1].split("\n```", 1)[0]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command.strip() in [line.strip() for line in ci_lines]
