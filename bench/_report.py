"""What every benchmark prints: the machine, its tables, and verdicts on targets.

Shared by bench/bench_core.py, bench_pg.py and bench_server.py (bench/ is on
``sys.path`` when a script there runs).
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_machine(title: str) -> None:
    """The benchmark's title and start time, the CPU (with the load average, since the
    machine may be shared) and the Python that runs it."""
    print(f"{title}: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(
        f"CPU: {cpu_model()} ({os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f} at the start)"
    )
    print(f"Python: {platform.python_implementation()} {sys.version.split()[0]}")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def verdict(value: float, target: float, *, at_least: bool = False, digits: int = 1) -> str:
    """ "met", or how far the value misses its target, as a factor."""
    met = value >= target if at_least else value <= target
    if met:
        return "met"
    factor = target / value if at_least else value / target
    return f"MISSED ({factor:.{digits}f}x)"


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell, a rule under the header."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, ["-" * width for width in widths], *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
