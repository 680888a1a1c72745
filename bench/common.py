"""Shared bits for benchmarks: timing, machine info, ratio printing."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def machine_info() -> str:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    py = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{py}, {os.cpu_count()} cores, {cpu}"


def median_us(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def report(name: str, value: float, unit: str, baseline: float, baseline_name: str) -> str:
    ratio = value / baseline if baseline else float("nan")
    line = (
        f"{name:<48} {value:>12,.1f} {unit:<10} ratio {ratio:>10.3f}"
        f"  (baseline: {baseline_name} = {baseline:,.1f})"
    )
    print(line, flush=True)
    return line
