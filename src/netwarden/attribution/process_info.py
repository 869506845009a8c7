"""Read a process's identity from ``/proc/<pid>``: exe, command line, user.

For an interpreter (python, a shell, node, perl, ruby) the executable
names only the interpreter, so the script it runs is found in the command
line: the first argument that is neither an option nor an option's value.
An interpreter told to run code from the command line (``python -c``,
``sh -c``, ``node -e``, ``perl -e``), a module (``python -m``) or stdin
runs no script file, and ``script`` stays None. A relative script path is
resolved against the process's working directory, read from
``/proc/<pid>/cwd`` at the time of the connection.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
from dataclasses import dataclass
from pathlib import Path

from netwarden.attribution.proc_fd import read_start_ticks
from netwarden.attribution.process import Process

log = logging.getLogger(__name__)

DELETED_SUFFIX = " (deleted)"  # proc_pid_readlink() marks unlinked files so


@dataclass(frozen=True, slots=True)
class InterpreterOptions:
    """How an interpreter's command line names the script it runs.

    ``no_script`` options mean code comes from elsewhere (``-c``, ``-m``);
    ``with_value`` options consume a value, attached or as the next word.
    Short options may be bundled (``-uc``) where ``bundles`` says so.
    """

    no_script: frozenset[str]
    with_value: frozenset[str]
    bundles: bool = True


PYTHON = InterpreterOptions(
    no_script=frozenset({"-c", "-m", "-"}),
    with_value=frozenset({"-W", "-X", "--check-hash-based-pycs"}),
)
SHELL = InterpreterOptions(
    no_script=frozenset({"-c", "-s", "-"}),
    with_value=frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"}),
)
NODE = InterpreterOptions(
    no_script=frozenset({"-e", "--eval", "-p", "--print", "-"}),
    with_value=frozenset({"-r", "--require", "--import", "--loader", "-C"}),
    bundles=False,
)
PERL = InterpreterOptions(
    no_script=frozenset({"-e", "-E", "-"}),
    with_value=frozenset(),
    bundles=False,  # perl's switches carry their values attached (-Idir, -Mmod)
)
RUBY = InterpreterOptions(
    no_script=frozenset({"-e", "-"}),
    with_value=frozenset({"-r", "-I", "-C", "-E", "--encoding"}),
    bundles=False,
)

INTERPRETERS: tuple[tuple[re.Pattern[str], InterpreterOptions], ...] = (
    (re.compile(r"python[\w.-]*"), PYTHON),
    (re.compile(r"(ba|da|z)?sh"), SHELL),
    (re.compile(r"node(js)?"), NODE),
    (re.compile(r"perl[\w.-]*"), PERL),
    (re.compile(r"ruby[\w.-]*"), RUBY),
)


def interpreter_options(exe: str) -> InterpreterOptions | None:
    """The option grammar of the interpreter ``exe``, if it is one."""
    name = os.path.basename(exe)
    for pattern, options in INTERPRETERS:
        if pattern.fullmatch(name):
            return options
    return None


def _short_option_verdict(word: str, options: InterpreterOptions) -> str:
    """For ``-abc``: 'no-script', 'value-next', or 'done' (no value follows)."""
    letters = word[1:] if options.bundles else word[1:2]
    for index, letter in enumerate(letters):
        option = word[0] + letter
        if option in options.no_script:
            return "no-script"
        if option in options.with_value:
            attached = letters[index + 1 :] if options.bundles else word[2:]
            return "done" if attached else "value-next"
    return "done"


def script_argument(arguments: list[str], options: InterpreterOptions) -> str | None:
    """The script among an interpreter's ``arguments`` (argv without argv[0])."""
    words = iter(arguments)
    for word in words:
        if word == "--":
            return next(words, None)
        if word in options.no_script:
            return None
        if word.startswith("--"):
            if word in options.with_value:
                next(words, None)
            continue
        if len(word) > 1 and word[0] in "-+":
            verdict = _short_option_verdict(word, options)
            if verdict == "no-script":
                return None
            if verdict == "value-next":
                next(words, None)
            continue
        return word
    return None


def find_script(exe: str, cmdline: tuple[str, ...], cwd: str | None) -> str | None:
    """The absolute path of the script ``exe`` runs, or None."""
    options = interpreter_options(exe)
    if options is None or len(cmdline) < 2:
        return None
    script = script_argument(list(cmdline[1:]), options)
    if not script:
        return None
    if not os.path.isabs(script) and cwd is not None:
        script = os.path.join(cwd, script)
    return os.path.normpath(script)


def _read_link(path: Path) -> str | None:
    try:
        target = os.readlink(path)
    except OSError:
        return None
    return target.removesuffix(DELETED_SUFFIX)


def _read_uid(status_path: Path) -> int | None:
    try:
        status = status_path.read_text(errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("Uid:"):
            fields = line.split()
            return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
    return None


def _read_cmdline(path: Path) -> tuple[str, ...]:
    try:
        raw = path.read_bytes()
    except OSError:
        return ()
    # Arguments end with NUL (man 5 proc); decode like Python decodes argv.
    text = os.fsdecode(raw.rstrip(b"\x00"))
    return tuple(text.split("\x00")) if text else ()


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def read_process(pid: int, proc_root: Path = Path("/proc")) -> Process | None:
    """What ``/proc/<pid>`` says about a process; None once it has exited.

    Kernel threads and zombies have no executable and yield None too.
    """
    directory = proc_root / str(pid)
    uid = _read_uid(directory / "status")
    exe = _read_link(directory / "exe")
    if uid is None or exe is None:
        log.debug("pid %s: no readable exe or status", pid)
        return None
    cmdline = _read_cmdline(directory / "cmdline")
    script = find_script(exe, cmdline, _read_link(directory / "cwd"))
    return Process(
        pid=pid,
        exe=exe,
        cmdline=cmdline,
        uid=uid,
        user=user_name(uid),
        script=script,
        start_ticks=read_start_ticks(pid, proc_root),
    )
