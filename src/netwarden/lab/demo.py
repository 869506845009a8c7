"""``netwarden lab demo``: bring the lab up and show netwarden at work.

The tour runs real clients in the device namespace: curl to an allowed
site, curl to a tracker taken from the real EasyPrivacy list, dig to a
resolver address where nothing listens (so any answer is netwarden's), and
a Python script; then it prints the daemon's connection table. Ctrl-C or
SIGTERM at any point takes the lab down.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from netwarden.errors import LabError
from netwarden.lab import plan
from netwarden.lab.daemon_config import find_filter_list
from netwarden.lab.lab import Lab, lab_environment

# A host-level EasyPrivacy rule (``||googletagmanager.com^``); asking for a
# subdomain shows that a listed name blocks its subdomains too.
TRACKER_LISTED = "googletagmanager.com"
TRACKER_HOST = f"www.{TRACKER_LISTED}"
FETCH_SCRIPT = Path(__file__).parent / "scripts" / "fetch.py"
OUTPUT_LINES = 3


@dataclass(frozen=True)
class Step:
    title: str
    argv: tuple[str, ...]
    should_succeed: bool


def tracker_rule(filter_list: Path, domain: str = TRACKER_LISTED) -> str | None:
    """The list's host-level rule for ``domain``, if it has one."""
    accepted = {f"||{domain}^", f"||{domain}^$third-party"}
    with open(filter_list, encoding="utf-8", errors="replace") as lines:
        return next((line.strip() for line in lines if line.strip() in accepted), None)


def tour_steps(python: str) -> list[Step]:
    return [
        Step("an allowed site", ("curl", "-sS", "http://www.example.com/"), True),
        Step(
            f"a tracker from EasyPrivacy ({TRACKER_HOST})",
            ("curl", "-sS", "--max-time", "5", f"http://{TRACKER_HOST}/"),
            False,
        ),
        Step(
            f"a foreign resolver ({plan.FOREIGN_RESOLVER_V4}, where nothing listens)",
            (
                "dig",
                "+time=3",
                "+tries=1",
                f"@{plan.FOREIGN_RESOLVER_V4}",
                "example.org",
            ),
            True,
        ),
        Step(
            "a Python program",
            (python, str(FETCH_SCRIPT), "http://lab-web.example/"),
            True,
        ),
    ]


def run_demo(lab: Lab, once: bool) -> int:
    """The demo; the exit code is 0 when every step went as expected."""
    with _sigterm_as_interrupt():
        try:
            _check_tracker(lab)
            print("Bringing the lab up...", flush=True)
            lab.up()
            surprises = sum(not _run_step(lab, step) for step in tour_steps(lab.python))
            _print_connections(lab)
            if not once:
                _wait_for_interrupt()
        except KeyboardInterrupt:
            print("\nInterrupted.", flush=True)
            surprises = 1 if once else 0
        finally:
            _take_down(lab)
    return 1 if surprises else 0


def _check_tracker(lab: Lab) -> None:
    filter_list = find_filter_list(lab.filter_list)
    rule = tracker_rule(filter_list)
    if rule is None:
        raise LabError(f"{filter_list} has no host rule for {TRACKER_LISTED}")
    print(f"Tracker for the tour: {TRACKER_HOST}, listed as {rule} in {filter_list}")


def _run_step(lab: Lab, step: Step) -> bool:
    print(f"\n== {step.title}\n$ {' '.join(step.argv)}", flush=True)
    result = lab.run(step.argv)
    output = (result.stdout.strip() or result.stderr.strip()).splitlines()
    if step.argv[0] == "dig":
        output = [line for line in output if line and not line.startswith(";")]
    for line in output[:OUTPUT_LINES]:
        print(f"  {line}")
    succeeded = result.returncode == 0 and bool(output)
    expected = "as expected" if succeeded == step.should_succeed else "UNEXPECTED"
    outcome = "succeeded" if succeeded else f"failed (exit {result.returncode})"
    print(f"-> {outcome}, {expected}", flush=True)
    return succeeded == step.should_succeed


def _print_connections(lab: Lab) -> None:
    print("\n== netwarden connections", flush=True)
    argv = [lab.python, "-m", "netwarden", "connections"]
    subprocess.run(argv, env=lab_environment(lab), check=False, timeout=30)


def _wait_for_interrupt() -> None:
    print("\nThe lab stays up: try `netwarden lab exec -- CMD`. Ctrl-C ends the demo.")
    sys.stdout.flush()
    while True:  # ends with KeyboardInterrupt (SIGINT or SIGTERM)
        signal.pause()


def _take_down(lab: Lab) -> None:
    print("Taking the lab down...", flush=True)
    # A second Ctrl-C must not leave a half-removed lab behind.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        lab.down()
    finally:
        signal.signal(signal.SIGINT, previous)
    print("The lab is down.", flush=True)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    # A shell starts background jobs with SIGINT ignored, and Python then
    # keeps it ignored: Ctrl-C (or kill -INT) must end the demo all the same.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
