"""``Lab``: bring the whole lab up, run commands in it, take it all down.

``up`` starts by running ``down``, so whatever a killed earlier run left
behind (namespaces, processes named in pidfiles, /etc/netns files, the lab
directory) is removed first; ``down`` is idempotent and works after a
``kill -9`` of everything. The lab directory holds every file the lab
writes except ``/etc/netns/<device>/resolv.conf``.

Commands that change the lab (``up``, ``down``, ``restart_daemon``) hold
the lab's lock (:mod:`netwarden.lab.lablock`), so they run one at a time,
and check before they change anything: ``down`` refuses, touching nothing,
while a namespace holds a process the lab did not start, and ``restart``
refuses unless the lab is up.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from netwarden.errors import LabError
from netwarden.lab import namespaces, plan, processes
from netwarden.lab.daemon_config import (
    CONFIG_NAME,
    find_filter_list,
    render_daemon_config,
)
from netwarden.lab.lablock import LOCK_DIR, LOCK_TIMEOUT, LabLock, lab_lock_path
from netwarden.lab.pki import issue_server_cert, make_test_ca
from netwarden.lab.readiness import (
    daemon_answers,
    file_size,
    log_tail,
    socket_owner,
    wait_until,
)
from netwarden.lab.unbound import (
    UnboundFiles,
    render_lab_zone,
    render_unbound_conf,
    unbound_program,
)
from netwarden.lab.webserver import BANNER, render_bind

logger = logging.getLogger(__name__)

DEFAULT_LAB_DIR = plan.DEFAULT_LAB_DIR
MARKER = plan.LAB_MARKER
API_SOCKET_NAME = "api.sock"
SERVICE_TIMEOUT = 10.0
DAEMON_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
# The daemon goes first: on SIGTERM it removes its own firewall rules.
DAEMON_NAME = "daemon"
SERVICE_NAMES = ("unbound", "webserver")
STOP_ORDER = (DAEMON_NAME, *SERVICE_NAMES)
# `lab exec` runs its command through sh, so that a command that cannot be
# run exits as in a shell: 127 not found, 126 not executable (POSIX 2.8.2).
EXEC_SHIM = ("sh", "-c", 'exec "$@"', "netwarden-lab-exec")


class Lab:
    """One lab: two namespaces, its servers and (optionally) the daemon."""

    def __init__(
        self,
        lab_dir: Path = DEFAULT_LAB_DIR,
        python: str = sys.executable,
        filter_list: Path | None = None,
        *,
        prefix: str = plan.DEFAULT_PREFIX,
        start_daemon: bool = True,
        daemon_timeout: float = DAEMON_TIMEOUT,
        extra_config: Sequence[str] = (),
        lock_dir: Path = LOCK_DIR,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.lab_dir = lab_dir
        self.python = python
        self.filter_list = filter_list
        self.names = plan.LabNames(prefix)
        self.start_daemon = start_daemon
        self.daemon_timeout = daemon_timeout
        # Lines appended to the daemon's netwarden.conf (tests add rules).
        self.extra_config = tuple(extra_config)
        self.lock_path = lab_lock_path(self.names.prefix, lock_dir)
        self.lock_timeout = lock_timeout

    @property
    def config_dir(self) -> Path:
        return self.lab_dir / "config"

    @property
    def state_dir(self) -> Path:
        return self.lab_dir / "state"

    @property
    def pki_dir(self) -> Path:
        return self.lab_dir / "pki"

    @property
    def ca_file(self) -> Path:
        return self.pki_dir / "ca.pem"

    @property
    def pid_dir(self) -> Path:
        return self.lab_dir / "pids"

    @property
    def api_socket(self) -> Path:
        return self.state_dir / API_SOCKET_NAME

    @property
    def daemon_log(self) -> Path:
        return self.lab_dir / "daemon.log"

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_NAME

    def up(self) -> None:
        """Clean leftovers, then build the lab; returns when all answer."""
        filter_list = find_filter_list(self.filter_list) if self.start_daemon else None
        with self._lock():
            self._down()
            try:
                self._build(filter_list)
            except BaseException:
                # Also on Ctrl-C: a half-built lab is removed, not left behind.
                self._down_after_failure()
                raise
        logger.info("lab is up: namespaces %s and %s", *self.names.namespaces)

    def down(self) -> None:
        """Stop and remove everything the lab made; safe to repeat."""
        with self._lock():
            self._down()

    def _lock(self) -> LabLock:
        return LabLock(self.lock_path, self.lock_timeout)

    def _down(self) -> None:
        self._refuse_strangers()
        errors: list[str] = []
        self._collect(errors, self._stop_processes)
        for namespace in self.names.namespaces:
            self._collect(errors, functools.partial(self._delete_namespace, namespace))
        # A namespace that is kept still uses its /etc/netns files, and the
        # lab directory is how a later `lab down` finds its lock and marker.
        if not namespaces.namespace_exists(self.names.device):
            remove_etc = functools.partial(
                namespaces.remove_netns_etc, self.names.device
            )
            self._collect(errors, remove_etc)
        if not any(map(namespaces.namespace_exists, self.names.namespaces)):
            self._collect(errors, self._remove_lab_dir)
        if errors:
            raise LabError("lab down left work undone: " + "; ".join(errors))

    def is_up(self) -> bool:
        """Both namespaces exist and every recorded process still runs."""
        if not all(map(namespaces.namespace_exists, self.names.namespaces)):
            return False
        records = processes.read_records(self.pid_dir)
        return bool(records) and all(map(processes.is_running_as_recorded, records))

    def exec(self, argv: Sequence[str]) -> int:
        """Run ``argv`` in the device namespace; its exit code, as a shell
        gives it (127 not found, 126 not executable, 128+N killed by N)."""
        if not argv:
            raise LabError("no command given to run in the lab")
        command = self._in_device([*EXEC_SHIM, *argv])
        return shell_exit_code(subprocess.run(command, check=False).returncode)

    def run(
        self, argv: Sequence[str], timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the device namespace and capture its output."""
        try:
            return subprocess.run(
                self._in_device(argv),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise LabError(
                f"{' '.join(argv)} did not finish in {timeout:.0f} s"
            ) from err

    def _in_device(self, argv: Sequence[str]) -> list[str]:
        if not argv:
            raise LabError("no command given to run in the lab")
        if not namespaces.namespace_exists(self.names.device):
            raise LabError(f"the lab is not up (no namespace {self.names.device})")
        return ["ip", "netns", "exec", self.names.device, *argv]

    # Building.

    def _build(self, filter_list: Path | None) -> None:
        self.lab_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.lab_dir / MARKER).write_text("made by netwarden lab up\n")
        for namespace in self.names.namespaces:
            namespaces.create_namespace(namespace)
        namespaces.build_network(self.names)
        namespaces.write_resolv_conf(self.names.device, plan.RESOLVER_V4)
        self._write_pki()
        self._start_unbound()
        self._start_webserver()
        wait_until(
            "unbound", self._unbound_answers, SERVICE_TIMEOUT, self._log("unbound")
        )
        wait_until(
            "web server", self._web_answers, SERVICE_TIMEOUT, self._log("webserver")
        )
        if filter_list is not None:
            self._start_daemon(filter_list)

    def _write_pki(self) -> None:
        self.pki_dir.mkdir(mode=0o700, exist_ok=True)
        ca = make_test_ca("netwarden lab CA")
        resolver_ips = [plan.RESOLVER_V4, plan.RESOLVER_V6]
        server = issue_server_cert(ca, [plan.RESOLVER_TLS_NAME], resolver_ips)
        self.ca_file.write_bytes(ca.cert_pem)
        (self.pki_dir / "dns.pem").write_bytes(server.cert_pem)
        (self.pki_dir / "dns.key").write_bytes(server.key_pem)

    def _start_unbound(self) -> None:
        files = UnboundFiles(self.lab_dir / "unbound")
        files.directory.mkdir(exist_ok=True)
        files.zone.write_text(render_lab_zone())
        conf = render_unbound_conf(
            files, self.pki_dir / "dns.key", self.pki_dir / "dns.pem"
        )
        files.config.write_text(conf)
        argv = [unbound_program(self.lab_dir), "-d", "-c", str(files.config)]
        self._start_in(self.names.internet, "unbound", argv)

    def _start_webserver(self) -> None:
        binds = [f"--bind={render_bind(a, plan.WEB_PORT)}" for a in plan.WEB_BINDS]
        argv = [self.python, "-m", "netwarden.lab.webserver", *binds]
        self._start_in(self.names.internet, "webserver", argv)

    def _start_in(self, namespace: str, name: str, argv: list[str]) -> None:
        launcher = ["ip", "netns", "exec", namespace]
        processes.start_process(
            name,
            argv,
            pid_dir=self.pid_dir,
            log_path=self._log(name),
            launcher=launcher,
        )

    def restart_daemon(self) -> None:
        """Stop the daemon and start it again with the config file as it is.

        The way to try a changed ``<lab>/config/netwarden.conf``; a config the
        daemon refuses leaves the lab without a daemon, with the reason.
        """
        with self._lock():
            problem = self.restart_problem()
            if problem is not None:
                raise LabError(
                    f"the lab is not up ({problem}): run netwarden lab up first"
                )
            for record in processes.read_records(self.pid_dir):
                if record.name == DAEMON_NAME:
                    processes.stop_recorded(record, STOP_TIMEOUT)
            self._launch_daemon()

    def restart_problem(self) -> str | None:
        """Why :meth:`restart_daemon` cannot work now; None when it can.

        Everything but the daemon must be there: the lab directory, the
        daemon's configuration, both namespaces and the lab's servers.
        """
        if not self.lab_dir.is_dir():
            return f"no lab directory {self.lab_dir}"
        if not (self.lab_dir / MARKER).is_file():
            return f"{self.lab_dir} is not a lab directory"
        if not self.config_file.is_file():
            return f"no daemon configuration {self.config_file}"
        for namespace in self.names.namespaces:
            if not namespaces.namespace_exists(namespace):
                return f"no namespace {namespace}"
        records = processes.read_records(self.pid_dir)
        running = {r.name for r in records if processes.is_running_as_recorded(r)}
        stopped = [name for name in SERVICE_NAMES if name not in running]
        return f"{' and '.join(stopped)} not running" if stopped else None

    def _start_daemon(self, filter_list: Path) -> None:
        self.config_dir.mkdir(mode=0o700, exist_ok=True)
        config = render_daemon_config(self.ca_file, filter_list, self.extra_config)
        self.config_file.write_text(config)
        self._launch_daemon()

    def _launch_daemon(self) -> None:
        argv = [self.python, "-m", "netwarden", "run", "--netns", self.names.device]
        argv += [
            "--config-dir",
            str(self.config_dir),
            "--state-dir",
            str(self.state_dir),
        ]
        # Errors quote only what this daemon logged, not its predecessors.
        log_start = file_size(self.daemon_log)
        process = processes.start_process(
            DAEMON_NAME, argv, pid_dir=self.pid_dir, log_path=self.daemon_log
        )

        def ready() -> bool:
            if process.poll() is not None:
                tail = log_tail(self.daemon_log, offset=log_start)
                raise LabError(
                    f"the daemon exited with code {process.returncode}; "
                    f"{self.daemon_log} ends with:\n{tail}"
                )
            # Another daemon may answer on the socket (one this one refused
            # to run beside): only an answer from ours counts.
            owner = socket_owner(self.api_socket)
            return owner == process.pid and daemon_answers(self.api_socket)

        wait_until("the daemon", ready, self.daemon_timeout, self.daemon_log, log_start)

    def _unbound_answers(self) -> bool:
        argv = ["dig", "+short", "+time=1", "+tries=1", f"@{plan.RESOLVER_V4}"]
        result = self.run([*argv, f"{plan.RESOLVER_TLS_NAME}", "A"], timeout=5)
        return result.stdout.strip() == plan.RESOLVER_V4

    def _web_answers(self) -> bool:
        argv = ["curl", "-sS", "--max-time", "2", f"http://{plan.WEB_V4}/"]
        return BANNER in self.run(argv, timeout=5).stdout

    def _log(self, name: str) -> Path:
        return self.lab_dir / f"{name}.log"

    # Tearing down.

    def _down_after_failure(self) -> None:
        try:
            self._down()  # the caller holds the lock
        except LabError as err:
            logger.error("cleaning up the failed lab: %s", err)

    def _stop_processes(self) -> None:
        records = processes.read_records(self.pid_dir)
        order = {name: index for index, name in enumerate(STOP_ORDER)}
        for record in sorted(records, key=lambda r: order.get(r.name, len(order))):
            processes.stop_recorded(record, STOP_TIMEOUT)
            processes.pidfile_path(self.pid_dir, record.name).unlink(missing_ok=True)

    def _refuse_strangers(self) -> None:
        """LabError, before anything is changed, while a namespace holds a
        process that neither the lab nor one of its processes started."""
        records = processes.read_records(self.pid_dir)
        ours = {r.pid for r in records if processes.is_running_as_recorded(r)}
        for namespace in self.names.namespaces:
            strangers = [
                pid
                for pid in namespaces.namespace_pids(namespace)
                if not processes.descends_from(pid, ours)
            ]
            if strangers:
                hint = "" if ours else " (another lab, with another --lab-dir?)"
                raise LabError(
                    f"namespace {namespace} holds processes this lab did not "
                    f"start{hint}: pids {' '.join(map(str, strangers))}; "
                    "nothing was changed: stop them and run the command again"
                )

    def _delete_namespace(self, namespace: str) -> None:
        # A namespace lives on while a process is inside it (ip-netns(8)), and
        # only processes the lab started are stopped by it.
        strangers = namespaces.namespace_pids(namespace)
        if strangers:
            raise LabError(
                f"namespace {namespace} still holds processes the lab did not "
                f"start (pids {' '.join(map(str, strangers))}); stop them and "
                "run lab down again"
            )
        namespaces.delete_namespace(namespace)

    def _remove_lab_dir(self) -> None:
        if not self.lab_dir.exists():
            return
        if not (self.lab_dir / MARKER).exists() and any(self.lab_dir.iterdir()):
            raise LabError(f"{self.lab_dir} is not a lab directory; not removing it")
        shutil.rmtree(self.lab_dir)

    @staticmethod
    def _collect(errors: list[str], step: Callable[[], None]) -> None:
        try:
            step()
        except (LabError, OSError) as err:
            errors.append(str(err))


def shell_exit_code(returncode: int) -> int:
    """subprocess reports death by signal N as -N; a shell says 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def lab_environment(lab: Lab) -> dict[str, str]:
    """The environment under which the CLI talks to this lab's daemon."""
    return {**os.environ, "NETWARDEN_SOCKET": str(lab.api_socket)}
