"""Host side of the lab benchmarks: two labs, agents in them, tables.

A benchmark brings up two labs of its own at once, with a prefix of its
own (``nwb<tag>``, so two benchmarks never share a lab): ``nwb<tag>-base``
without the daemon ("no firewall") and ``nwb<tag>-nw`` with it, so all
columns are measured in one run on the same machine, in a rotating order
each round (a shared, noisy machine drifts; alternating
spreads the drift over both columns). Figures are medians over rounds of
per-round medians. Both labs are always taken down, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from netwarden.lab.lab import Lab

BENCH_DIR = Path(__file__).resolve().parent
AGENT = BENCH_DIR / "lab_agent.py"
PREFIX = "nwb"
LAB_ROOT = Path("/tmp/nw-bench-lab")
AGENT_TIMEOUT = 120.0


@dataclass
class LabPair:
    base: Lab
    netwarden: Lab

    def ordered(self, round_index: int) -> list[tuple[str, Lab]]:
        pairs = [("base", self.base), ("netwarden", self.netwarden)]
        return pairs if round_index % 2 == 0 else pairs[::-1]


@contextmanager
def lab_pair(tag: str, filter_list: Path | None) -> Iterator[LabPair]:
    """Both labs up for the body of the ``with``; both down after it."""
    prefix = f"{PREFIX}{tag}"
    base = Lab(LAB_ROOT / f"{tag}-base", prefix=f"{prefix}-base", start_daemon=False)
    netwarden = Lab(
        LAB_ROOT / f"{tag}-nw", prefix=f"{prefix}-nw", filter_list=filter_list
    )
    try:
        base.up()
        netwarden.up()
        yield LabPair(base, netwarden)
    finally:
        for lab in (netwarden, base):
            lab.down()
        with contextlib.suppress(OSError):  # not empty: another bench runs
            LAB_ROOT.rmdir()


def run_agent(namespace: str, argv: Sequence[str]) -> dict[str, object]:
    """Run a lab_agent.py client in ``namespace``; its JSON result."""
    command = ["ip", "netns", "exec", namespace, sys.executable, str(AGENT), *argv]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=AGENT_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


@contextmanager
def agent_server(namespace: str, argv: Sequence[str]) -> Iterator[None]:
    """A lab_agent.py ``serve`` in ``namespace`` until the ``with`` ends."""
    command = ["ip", "netns", "exec", namespace, sys.executable, str(AGENT), *argv]
    # ip netns exec execs the program, so this pid is the server's own.
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"agent server in {namespace} did not start")
        yield
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[str]) -> None:
    """Terminate a process we started, by its pid; kill it after 5 s."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def samples(result: dict[str, object], key: str = "samples_ms") -> list[float]:
    values = result[key]
    assert isinstance(values, list)
    return [float(v) for v in values]


def machine_line() -> str:
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"machine: {os.cpu_count()} CPUs, load average {load}"


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[float]]]
) -> None:
    """Rows of figures under ``columns``; the last columns are ratios."""
    width = max(len(label) for label, _ in rows) + 2
    print(f"\n{title}")
    print(" " * width + "".join(f"{c:>18}" for c in columns))
    for label, values in rows:
        print(f"{label:<{width}}" + "".join(map(render_figure, values)))


def render_figure(value: float) -> str:
    # A ratio of two zeros (no failures in either column) is no figure.
    return f"{'-':>18}" if math.isnan(value) else f"{value:18.3f}"
