"""DNS latency and throughput seen by a program in the lab's device namespace.

Two labs at once (lab_pair.py). The client always asks 198.51.100.53:53,
what the device's resolv.conf names; the columns differ in who answers:

- unbound: the "no firewall" lab; the query reaches the lab's unbound over
  plain DNS (unbound answers at once: a catch-all local zone, no recursion);
- netwarden: the netwarden lab; the query is redirected to netwarden, which
  decides, then asks the same unbound over DNS-over-TLS;
- dnsmasq (if installed): in the "no firewall" lab, dnsmasq on
  198.51.100.53:5353 forwarding to unbound over plain DNS, caching.

Rows: sequential queries, each name new (no cache can help) and one name
repeated (caches help); then, if dnsperf is installed, queries per second
with up to --outstanding queries in flight.

Usage: .venv/bin/python bench/dns_lab.py [--rounds 5] [--count 300]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lab_pair import (
    LabPair,
    lab_pair,
    machine_line,
    median,
    print_table,
    run_agent,
    samples,
    stop_process,
)

RESOLVER = "198.51.100.53"
DNSMASQ_PORT = 5353
DNSPERF_NAMES = 50_000

Figures = dict[str, dict[str, list[float]]]


@contextmanager
def dnsmasq(namespace: str, device: str, directory: Path) -> Iterator[bool]:
    """dnsmasq in ``namespace`` for the body; yields False if not installed."""
    program = shutil.which("dnsmasq")
    if program is None:
        print("dnsmasq not installed (apt-get install dnsmasq-base): column skipped")
        yield False
        return
    command = ["ip", "netns", "exec", namespace, program, "--no-daemon"]
    command += ["--conf-file=/dev/null", f"--port={DNSMASQ_PORT}", "--no-resolv"]
    command += [f"--listen-address={RESOLVER}", "--bind-interfaces", "--no-hosts"]
    command += [f"--server={RESOLVER}", "--cache-size=1000", "--user=root"]
    command += [f"--pid-file={directory / 'dnsmasq.pid'}"]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_answers(device, DNSMASQ_PORT)
        yield True
    finally:
        stop_process(process)


def wait_answers(device: str, port: int) -> None:
    """Until ``dig`` in ``device`` gets an answer on ``port`` (at most ~10 s)."""
    command = ["ip", "netns", "exec", device, "dig", "+short", "+time=1"]
    command += ["+tries=1", f"@{RESOLVER}", "-p", str(port), "ready.bench.example"]
    for _ in range(10):
        out = subprocess.run(command, capture_output=True, text=True, timeout=5)
        if out.stdout.strip():
            return
        time.sleep(0.5)
    raise RuntimeError(f"nothing answers DNS on {RESOLVER}:{port} in {device}")


def sequential(namespace: str, port: int, mode: str, count: int, tag: str) -> Figures:
    argv = ["dns", f"--address={RESOLVER}", f"--port={port}", f"--mode={mode}"]
    result = run_agent(namespace, [*argv, f"--count={count}", f"--tag={tag}"])
    elapsed = result["elapsed_s"]
    assert isinstance(elapsed, float)
    ok = samples(result)
    return {
        f"{mode} names: median latency (ms)": [median(ok)],
        f"{mode} names: queries/s (sequential)": [len(ok) / elapsed],
        f"{mode} names: failed queries": [float(count - len(ok))],
    }


def write_dnsperf_input(path: Path, tag: str) -> None:
    lines = (f"p{i}.{tag}.bench.example A\n" for i in range(DNSPERF_NAMES))
    path.write_text("".join(lines))


def dnsperf(namespace: str, port: int, data: Path, args: argparse.Namespace) -> Figures:
    command = ["ip", "netns", "exec", namespace, "dnsperf", "-s", RESOLVER]
    command += ["-p", str(port), "-d", str(data), "-l", str(args.dnsperf_seconds)]
    command += ["-q", str(args.outstanding), "-t", "3"]
    timeout = args.dnsperf_seconds + 30
    out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    qps = re.search(r"Queries per second:\s+([\d.]+)", out.stdout)
    lost = re.search(r"Queries lost:\s+\d+ \(([\d.]+)%\)", out.stdout)
    if qps is None or lost is None:
        raise RuntimeError(f"dnsperf output not understood:\n{out.stdout}{out.stderr}")
    label = f"dnsperf, {args.outstanding} in flight"
    return {
        f"{label}: queries/s": [float(qps.group(1))],
        f"{label}: lost (%)": [float(lost.group(1))],
    }


def columns(pair: LabPair, with_dnsmasq: bool) -> list[tuple[str, str, int]]:
    found = [
        ("unbound", pair.base.names.device, 53),
        ("netwarden", pair.netwarden.names.device, 53),
    ]
    if with_dnsmasq:
        found.append(("dnsmasq", pair.base.names.device, DNSMASQ_PORT))
    return found


def one_round(
    pair: LabPair, index: int, with_dnsmasq: bool, args: argparse.Namespace
) -> Figures:
    figures: Figures = defaultdict(lambda: defaultdict(list))
    order = columns(pair, with_dnsmasq)
    order = order[index % len(order) :] + order[: index % len(order)]
    for column, namespace, port in order:
        tag = f"r{index}{column}"
        for mode in ("distinct", "repeated"):
            for row, values in sequential(
                namespace, port, mode, args.count, tag
            ).items():
                figures[column][row] += values
        if args.dnsperf_input is not None:
            for row, values in dnsperf(
                namespace, port, args.dnsperf_input, args
            ).items():
                figures[column][row] += values
    return figures


def run_rounds(pair: LabPair, with_dnsmasq: bool, args: argparse.Namespace) -> Figures:
    figures: Figures = defaultdict(lambda: defaultdict(list))
    for index in range(args.rounds):
        for column, rows in one_round(pair, index, with_dnsmasq, args).items():
            for row, values in rows.items():
                figures[column][row] += values
        print(f"round {index + 1}/{args.rounds} done; {machine_line()}", flush=True)
    return figures


def report(figures: Figures, args: argparse.Namespace) -> None:
    names = [c for c in ("unbound", "netwarden", "dnsmasq") if c in figures]
    rows = []
    for row, base_values in figures["unbound"].items():
        base = median(base_values)
        values = [median(figures[c][row]) for c in names]
        ratios = [v / base if base else float("nan") for v in values[1:]]
        rows.append((row, values + ratios))
    headers = names + [f"{c}/unbound" for c in names[1:]]
    print_table(
        f"medians of {args.rounds} rounds ({args.count} queries each)", headers, rows
    )
    print(machine_line())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--dnsperf-seconds", type=int, default=5)
    parser.add_argument("--outstanding", type=int, default=20)
    parser.add_argument("--filter-list", type=Path, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="nwb-dns-") as tmp:
        args.dnsperf_input = None
        if shutil.which("dnsperf") is None:
            print("dnsperf not installed (apt-get install dnsperf): throughput skipped")
        else:
            args.dnsperf_input = Path(tmp) / "names.txt"
            write_dnsperf_input(args.dnsperf_input, "perf")
        with (
            lab_pair("d", args.filter_list) as pair,
            dnsmasq(
                pair.base.names.internet, pair.base.names.device, Path(tmp)
            ) as with_dnsmasq,
        ):
            figures = run_rounds(pair, with_dnsmasq, args)
    report(figures, args)


if __name__ == "__main__":
    main()
