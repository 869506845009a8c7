"""read_process and script detection against a fake /proc tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.attribution.fake_proc import FakeProcTree
from netwarden.attribution.process_info import (
    PYTHON,
    find_script,
    read_process,
    script_argument,
    user_name,
)

PY = "/usr/bin/python3.11"

SCRIPT_CASES = [
    (PY, ["python3", "script.py"], "/home/u", "/home/u/script.py"),
    (PY, ["python3", "-u", "./x.py"], "/srv/app", "/srv/app/x.py"),
    (PY, ["python3", "-m", "http.server"], "/", None),
    (PY, ["python3", "-c", "print(1)"], "/", None),
    (PY, ["python3", "-uc", "print(1)"], "/", None),
    (PY, ["python3", "-W", "ignore", "a.py"], "/t", "/t/a.py"),
    (PY, ["python3", "-Wignore", "-X", "dev", "/opt/b.py", "-c"], "/", "/opt/b.py"),
    (PY, ["python3", "-"], "/", None),
    (PY, ["python3"], "/", None),
    (PY, ["python3", "--", "-odd.py"], "/d", "/d/-odd.py"),
    ("/usr/bin/python3.11", ["/usr/bin/python3", "../up.py"], "/a/b", "/a/up.py"),
    ("/usr/bin/bash", ["bash", "-c", "x"], "/", None),
    ("/usr/bin/bash", ["bash", "./run.sh"], "/work", "/work/run.sh"),
    (
        "/usr/bin/bash",
        ["bash", "-x", "-o", "pipefail", "run.sh", "arg"],
        "/w",
        "/w/run.sh",
    ),
    ("/usr/bin/bash", ["bash", "--rcfile", "rc", "s.sh"], "/w", "/w/s.sh"),
    ("/usr/bin/dash", ["sh", "-ec", "echo"], "/", None),
    ("/usr/bin/dash", ["sh", "-s"], "/", None),
    ("/usr/bin/zsh", ["zsh", "/etc/z.sh"], "/", "/etc/z.sh"),
    ("/usr/bin/node", ["node", "app.js"], "/srv", "/srv/app.js"),
    ("/usr/bin/nodejs", ["node", "-r", "dotenv/config", "app.js"], "/s", "/s/app.js"),
    ("/usr/bin/node", ["node", "--inspect", "-e", "1"], "/", None),
    ("/usr/bin/node", ["node", "--eval", "1"], "/", None),
    ("/usr/bin/perl", ["perl", "-w", "s.pl"], "/p", "/p/s.pl"),
    ("/usr/bin/perl5.36.0", ["perl", "-Ilib", "-MFoo", "s.pl"], "/p", "/p/s.pl"),
    ("/usr/bin/perl", ["perl", "-e", "print 1"], "/", None),
    ("/usr/bin/ruby3.1", ["ruby", "-r", "json", "r.rb"], "/r", "/r/r.rb"),
    ("/usr/bin/ruby3.1", ["ruby", "-e", "p 1"], "/", None),
    ("/usr/bin/curl", ["curl", "http://x/"], "/", None),
    ("/usr/bin/shellcheck", ["shellcheck", "a.sh"], "/", None),
]


@pytest.mark.parametrize(("exe", "cmdline", "cwd", "script"), SCRIPT_CASES)
def test_find_script(
    exe: str, cmdline: list[str], cwd: str, script: str | None
) -> None:
    assert find_script(exe, tuple(cmdline), cwd) == script


@pytest.mark.parametrize(("exe", "cmdline", "cwd", "script"), SCRIPT_CASES)
def test_read_process_detects_script(
    tmp_path: Path, exe: str, cmdline: list[str], cwd: str, script: str | None
) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_process(4242, exe=exe, cmdline=cmdline, cwd=cwd, uid=0)
    process = read_process(4242, tree.root)
    assert process is not None
    assert process.script == script
    assert process.cmdline == tuple(cmdline)


def test_read_process_fields(tmp_path: Path) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_process(
        77,
        exe="/usr/bin/curl (deleted)",
        cmdline=["curl", "-s", "a b"],
        uid=0,
        start_ticks=987,
    )
    process = read_process(77, tree.root)
    assert process is not None
    assert (process.pid, process.exe, process.uid) == (77, "/usr/bin/curl", 0)
    assert process.cmdline == ("curl", "-s", "a b")
    assert process.user == user_name(0) == "root"
    assert process.start_ticks == 987
    assert process.script is None


def test_unknown_uid_is_named_by_number(tmp_path: Path) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_process(78, exe="/bin/x", uid=3999999)
    process = read_process(78, tree.root)
    assert process is not None and process.user == "3999999"


def test_gone_process_and_kernel_thread_give_none(tmp_path: Path) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_kernel_thread(2)
    assert read_process(2, tree.root) is None
    assert read_process(12345, tree.root) is None


def test_garbled_status_gives_none(tmp_path: Path) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_process(79, exe="/bin/x")
    (tree.root / "79" / "status").write_text("Uid:\tnot-a-number\n")
    assert read_process(79, tree.root) is None


def test_empty_cmdline(tmp_path: Path) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_process(80, exe="/usr/bin/python3.11")
    (tree.root / "80" / "cmdline").write_bytes(b"")
    process = read_process(80, tree.root)
    assert process is not None and process.cmdline == () and process.script is None


def test_reads_own_process() -> None:
    process = read_process(os.getpid())
    assert process is not None
    assert process.exe == os.path.realpath("/proc/self/exe")
    assert process.uid == os.getuid()


plain_words = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00-+"),
    min_size=1,
)


@given(
    st.lists(st.sampled_from(["-u", "-B", "-O", "-s", "-E"])),
    plain_words,
    st.lists(st.text()),
)
def test_first_plain_word_after_flags_is_the_script(
    flags: list[str], script: str, rest: list[str]
) -> None:
    assert script_argument([*flags, script, *rest], PYTHON) == script


@given(st.lists(st.text()))
def test_script_argument_never_crashes(words: list[str]) -> None:
    found = script_argument(words, PYTHON)
    assert found is None or found in words
