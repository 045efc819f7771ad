"""What every benchmark script prints about the machine, and its verdicts on targets."""

from __future__ import annotations

import platform


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


def verdict(value: float, target: float, *, at_least: bool = False, digits: int = 1) -> str:
    """ "met", or how far the value misses its target, as a factor."""
    met = value >= target if at_least else value <= target
    if met:
        return "met"
    factor = target / value if at_least else value / target
    return f"MISSED ({factor:.{digits}f}x)"
