"""The package's boundaries and code quality, checked as part of the test suite."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import oncall_core

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("oncall_core", "oncall_pg", "oncall_server")
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


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_are_exported_and_documented(package: str) -> None:
    module = importlib.import_module(package)
    docs = "".join(page.read_text() for page in sorted((ROOT / "docs").glob("*.md")))
    for name in module.__all__:
        value = getattr(module, name)
        assert hasattr(module, name), f"{package}.__all__ names {name}, which it lacks"
        if callable(value) and not isinstance(value, type(oncall_core.MANUAL)):
            assert value.__doc__, f"{package}.{name} has no docstring"
        assert re.search(rf"\b{name}\b", docs), f"{package}.{name} is not in docs/"


def test_the_adapter_imports_no_server() -> None:
    for path in sorted((ROOT / "oncall_pg").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                assert not any(n.split(".")[0] == "oncall_server" for n in names), path.name


# White-box on purpose: each of these files says so at its top, and why.
WHITE_BOX = {
    "tests/server/test_cache.py": {"oncall_server._cache"},
    "tests/server/test_slow_clients.py": {"oncall_server._limits"},
    "tests/server/test_keys_auth.py": {"oncall_server._auth", "oncall_server._routes"},
    "tests/server/test_answers.py": {"oncall_server._answers"},
    "tests/server/test_fastpath.py": {"oncall_server._fastpath"},
    "tests/server/test_key_ring.py": {"oncall_server._keys"},
    "tests/server/test_log_output.py": {"oncall_server._logging"},
    "tests/pg/test_postgres.py": {"oncall_pg._errors"},
    "bench/bench_pg.py": {"oncall_pg._queries"},
    "bench/bench_scale.py": {"oncall_pg._queries"},
    "bench/bench_request.py": {"oncall_server._logging", "oncall_server._routes"},
}


def _imported_modules(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module
            # "from oncall_pg import _store" imports a private module too.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _private_part(module: str) -> str | None:
    """``oncall_pg._store`` of ``oncall_pg._store._team_state``; None for a public name."""
    parts = module.split(".")
    for index, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and part != "__main__":
            return ".".join(parts[: index + 1])
    return None


def test_no_file_imports_a_private_module_of_another_package() -> None:
    found: dict[str, set[str]] = {}
    for directory in (*PACKAGES, "tests", "bench"):
        for path in sorted((ROOT / directory).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            for module in _imported_modules(path):
                package, private = module.split(".")[0], _private_part(module)
                if package in PACKAGES and private is not None and directory != package:
                    found.setdefault(relative, set()).add(private)
    assert found == WHITE_BOX


# What tests/core may import: the core, its dependencies and the standard library,
# so that `pytest tests/core` runs where only the core is installed.
CORE_TEST_IMPORTS = {"oncall_core", "attrs", "cattrs", "hypothesis", "pytest", "tests"}


def test_the_core_tests_need_only_the_cores_dependencies() -> None:
    paths = [ROOT / "tests" / "conftest.py", *sorted((ROOT / "tests" / "core").glob("*.py"))]
    for path in paths:
        for module in _imported_modules(path):
            root = module.split(".")[0]
            allowed = root in CORE_TEST_IMPORTS or root in sys.stdlib_module_names
            assert allowed, f"{path.relative_to(ROOT)} imports {module}"
            if root == "tests":
                assert module.split(".")[1] in {"core", "seed"}, f"{path.name} imports {module}"


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
