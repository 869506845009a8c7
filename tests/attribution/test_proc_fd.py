"""InodeIndex against a fake /proc tree: cache hits, misses, races, sharing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import require_root

from netwarden.attribution.fake_proc import FakeProcTree
from netwarden.attribution.proc_fd import RECENT_FIRST, InodeIndex, read_start_ticks


@pytest.fixture
def tree(tmp_path: Path) -> FakeProcTree:
    fake = FakeProcTree(tmp_path / "proc")
    fake.add_process(100, exe="/usr/bin/curl", sockets={3: 5001, 4: 5002})
    fake.add_process(200, exe="/usr/bin/dig", sockets={7: 6001})
    fake.add_kernel_thread(2)
    (fake.root / "self").symlink_to("100")  # non-numeric entries are ignored
    return fake


def test_finds_holder_of_each_inode(tree: FakeProcTree) -> None:
    index = InodeIndex(tree.root)
    assert index.find_pid(5001) == 100
    assert index.find_pid(5002) == 100
    assert index.find_pid(6001) == 200


def test_unknown_and_zero_inode_give_none(tree: FakeProcTree) -> None:
    index = InodeIndex(tree.root)
    assert index.find_pid(9999) is None
    assert index.find_pid(0) is None


def test_cache_hit_reads_no_fd_directory(tree: FakeProcTree) -> None:
    index = InodeIndex(tree.root)
    index.find_pid(5001)
    scanned = index.scanned_pids
    assert index.find_pid(5002) == 100
    assert index.find_pid(6001) == 200
    assert index.scanned_pids == scanned


def test_new_process_is_read_without_rereading_known_ones(tree: FakeProcTree) -> None:
    index = InodeIndex(tree.root)
    index.prime()
    scanned = index.scanned_pids
    tree.add_process(300, exe="/usr/bin/python3.11", sockets={3: 7001})
    assert index.find_pid(7001) == 300
    # The recent socket owners are read first, then only the new process.
    assert index.scanned_pids == scanned + RECENT_FIRST + 1


def test_new_socket_of_a_recent_owner_is_found_without_listing_proc(
    tree: FakeProcTree,
) -> None:
    index = InodeIndex(tree.root)
    index.prime()
    assert index.find_pid(6001) == 200  # now the most recent socket owner
    scanned = index.scanned_pids
    tree.add_process(300, exe="/usr/bin/curl", sockets={3: 7002})  # not read
    tree.open_socket(200, 9, 6003)

    assert index.find_pid(6003) == 200
    assert index.scanned_pids == scanned + 1, "only pid 200's fd directory"


def test_new_socket_of_known_process_found_by_rescan(tree: FakeProcTree) -> None:
    index = InodeIndex(tree.root)
    index.prime()
    tree.open_socket(200, 9, 6002)
    assert index.find_pid(6002) == 200


def test_closed_socket_is_not_reported_from_cache(tree: FakeProcTree) -> None:
    index = InodeIndex(tree.root)
    assert index.find_pid(6001) == 200
    tree.close_fd(200, 7)
    assert index.find_pid(6001) is None


def test_socket_passed_to_another_process_follows_it(tree: FakeProcTree) -> None:
    index = InodeIndex(tree.root)
    assert index.find_pid(6001) == 200
    tree.remove_process(200)
    tree.add_process(400, exe="/usr/bin/dig", sockets={5: 6001})
    assert index.find_pid(6001) == 400


def test_dead_pids_are_forgotten(tree: FakeProcTree) -> None:
    index = InodeIndex(tree.root)
    index.prime()
    tree.remove_process(100)
    assert index.find_pid(5001) is None
    assert index.find_pid(424242) is None
    assert 100 not in index._fds_by_pid


def test_reused_inode_after_close_maps_to_new_holder(tree: FakeProcTree) -> None:
    index = InodeIndex(tree.root)
    assert index.find_pid(5001) == 100
    tree.close_fd(100, 3)
    tree.open_socket(200, 8, 5001)
    assert index.find_pid(5001) == 200


def test_shared_socket_prefers_most_recently_started(tmp_path: Path) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_process(
        900, exe="/usr/lib/systemd/systemd", sockets={40: 8001}, start_ticks=10
    )
    tree.add_process(50, exe="/usr/sbin/service", sockets={3: 8001}, start_ticks=5000)
    assert InodeIndex(tree.root).find_pid(8001) == 50


def test_unreadable_fd_directory_is_skipped(tree: FakeProcTree) -> None:
    (tree.root / "300").mkdir()  # a process that vanished halfway: no fd dir
    tree.add_process(301, exe="/usr/bin/curl", sockets={3: 7301})
    assert InodeIndex(tree.root).find_pid(7301) == 301


def test_non_socket_fds_are_ignored(tree: FakeProcTree) -> None:
    tree.open_file(100, 9, "/dev/null")
    tree.open_file(100, 10, "pipe:[5001]")
    index = InodeIndex(tree.root)
    assert index.find_pid(5001) == 100
    assert index._fds_by_pid[100] == {5001: 3, 5002: 4}


def test_scan_budget_bounds_a_miss(tmp_path: Path) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    for pid in range(10, 40):
        tree.add_process(pid, exe="/bin/true")
    index = InodeIndex(tree.root, scan_pid_budget=5)
    assert index.find_pid(1) is None
    assert index.scanned_pids <= 10  # new pids, then known pids, 5 each


def test_a_spent_time_budget_reads_no_process(tmp_path: Path) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_process(10, exe="/bin/true")
    tree.open_socket(10, 3, 5001)
    index = InodeIndex(tree.root, scan_seconds=-1)
    assert index.find_pid(5001) is None
    assert index.scanned_pids == 0


def test_missing_proc_root_gives_none(tmp_path: Path) -> None:
    assert InodeIndex(tmp_path / "absent").find_pid(5) is None


def test_uid_hint_restricts_rescan(tmp_path: Path) -> None:
    require_root()  # the fake tree can only chown as root
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_process(10, exe="/bin/a", uid=1000)
    tree.add_process(11, exe="/bin/b", uid=0)
    index = InodeIndex(tree.root)
    index.prime()
    tree.open_socket(10, 3, 777)
    assert index.find_pid(777, uid=0) is None
    assert index.find_pid(777, uid=1000) == 10


def test_start_ticks_parsed_with_odd_comm(tmp_path: Path) -> None:
    tree = FakeProcTree(tmp_path / "proc")
    tree.add_process(10, exe="/bin/a", start_ticks=123456, comm="a) b (c")
    assert read_start_ticks(10, tree.root) == 123456
    assert read_start_ticks(11, tree.root) is None


def test_real_proc_finds_own_socket() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        inode = os.fstat(sock.fileno()).st_ino
        assert InodeIndex().find_pid(inode) == os.getpid()


def test_a_miss_is_remembered_for_a_second(tree: FakeProcTree) -> None:
    now = [1000.0]
    index = InodeIndex(tree.root, clock=lambda: now[0])
    assert index.find_pid(9999) is None
    scanned = index.scanned_pids

    tree.add_process(300, exe="/usr/bin/curl", sockets={3: 9999})
    assert index.find_pid(9999) is None, "within the second: not looked for"
    assert index.scanned_pids == scanned

    now[0] += 1.5
    assert index.find_pid(9999) == 300
