"""The composition root: builds the daemon's components, starts and stops them.

Nothing else in netwarden constructs components or reads configuration; each
part receives what it needs from here. Start-up order matters:

1. enter the protected network namespace, before any thread or socket
   exists, so that every socket opened afterwards lives inside it;
2. load and validate the configuration and filter lists; bad input stops
   the start with a message naming file, line and field, and nothing is
   installed;
3. start the nameserver and bind the queue, then install the firewall
   rules, so that no redirected query or queued packet finds nobody;
4. serve the API last: when it answers, the daemon protects.

A clean stop runs the same steps backwards: the rules go first, so that no
packet is queued to a reader that is closing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwarden import __version__
from netwarden.api import API_SOCKET_NAME
from netwarden.api.server import ApiServer, build_app
from netwarden.attribution.attributor import Attributor
from netwarden.attribution.proc_fd import InodeIndex
from netwarden.attribution.sock_diag import SocketDiag
from netwarden.config.file import Settings, load_settings
from netwarden.config.lists import load_filter_lists
from netwarden.dns.name_map import NameMap
from netwarden.dns.nameserver import Nameserver
from netwarden.dns.resolver_url import parse_resolver_url
from netwarden.dns.upstream import Upstreams
from netwarden.errors import NetwardenError
from netwarden.firewall.decide import Policy
from netwarden.firewall.engine import FirewallEngine
from netwarden.history.table import ConnectionTable
from netwarden.intel.domain_index import DomainIndex
from netwarden.intercept.backend import IptablesBackend
from netwarden.intercept.marks import MARK_ACCEPT
from netwarden.intercept.nfqueue import NfQueue
from netwarden.intercept.queue_reader import QueueReader
from netwarden.intercept.rules import InterceptPlan
from netwarden.system.locks import ExclusiveLock, LockHeld, netns_lock_path
from netwarden.system.netns import enter_netns

logger = logging.getLogger(__name__)

QUEUE_NUMBER = 1700


@dataclass(frozen=True)
class DaemonOptions:
    netns: str | None
    config_dir: Path
    state_dir: Path
    queue_number: int = QUEUE_NUMBER


def run_daemon(options: DaemonOptions) -> int:
    """Run until SIGTERM, SIGINT or SIGHUP; the exit code for the command line."""
    if options.netns:
        enter_netns(options.netns)
    try:
        settings = load_settings(options.config_dir)
        index = load_filter_lists(settings)
    except NetwardenError as err:
        print(f"netwarden: refusing to start: {err}", file=sys.stderr)
        return 2
    # One daemon per namespace and per state directory: a second one would
    # replace the first one's rules, or take over its API socket.
    locks = [
        ExclusiveLock(netns_lock_path(), "protects this network namespace"),
        ExclusiveLock(options.state_dir / "daemon.lock", "uses this state directory"),
    ]
    try:
        for lock in locks:
            lock.acquire()
        return asyncio.run(_serve(options, settings, index))
    except LockHeld as err:
        print(f"netwarden: refusing to start: {err}", file=sys.stderr)
        return 1
    finally:
        for lock in locks:
            lock.release()  # only those taken; the others are no-ops


async def _serve(options: DaemonOptions, settings: Settings, index: DomainIndex) -> int:
    daemon = Daemon(options, settings, index)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGHUP too: a closed terminal must not leave the rules behind (a
    # reload on SIGHUP needs settings that can change at run time).
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    try:
        await daemon.start()
    except Exception as err:  # whatever failed, undo what the start did
        logger.error(
            "start failed: %s", err, exc_info=not isinstance(err, NetwardenError)
        )
        await daemon.stop()
        return 1
    logger.info(
        "netwarden %s protecting %s", __version__, options.netns or "this namespace"
    )
    await stop.wait()
    logger.info("stopping")
    await daemon.stop()
    return 0


class Daemon:
    """Owns the running components and the order they start and stop in."""

    def __init__(
        self, options: DaemonOptions, settings: Settings, index: DomainIndex
    ) -> None:
        self.options = options
        self.started = time.time()
        self.table = ConnectionTable()
        self.name_map = NameMap()
        self.inode_index = InodeIndex()
        self.socket_diag = SocketDiag()
        self.engine = self._build_engine(settings, index)
        self.upstreams = Upstreams(
            [parse_resolver_url(url) for url in settings.nameservers],
            ca_file=settings.ca_file,
            socket_mark=MARK_ACCEPT,
        )
        self.nameserver = self._build_nameserver(settings.listen_port)
        self.plan = InterceptPlan(options.queue_number, settings.listen_port)
        self.backend = IptablesBackend()
        self.rules_installed = False
        self.queue: NfQueue | None = None
        self.reader: QueueReader | None = None
        socket_path = options.state_dir / API_SOCKET_NAME
        self.api = ApiServer(build_app(self.table, self.status), socket_path)

    def _build_engine(self, settings: Settings, index: DomainIndex) -> FirewallEngine:
        own_pid = os.getpid()
        return FirewallEngine(
            policy=Policy.from_settings(settings, index),
            attributor=Attributor(self.socket_diag, self.inode_index),
            name_map=self.name_map,
            table=self.table,
            own_pid=own_pid,
        )

    def _build_nameserver(self, port: int) -> Nameserver:
        return Nameserver(
            self.upstreams,
            decide_query=self.engine.decide_query,
            attribute_client=self.engine.attribute_client,
            on_query=self.engine.record_query,
            name_map=self.name_map,
            # Redirected queries arrive on loopback (iptables REDIRECT).
            listen=[("127.0.0.1", port), ("::1", port)],
        )

    async def start(self) -> None:
        self.inode_index.prime()
        await self.nameserver.start()
        self.queue = NfQueue(self.options.queue_number)
        self.reader = QueueReader(self.queue, self.engine.decide_flow)
        self.reader.attach(asyncio.get_running_loop())
        self.backend.install(self.plan)
        self.rules_installed = True
        await self.api.start()

    async def stop(self) -> None:
        """Undo what start did, backwards; each step runs even if one fails."""
        for step in (
            self._remove_rules,
            self._close_queue,
            self.nameserver.stop,
            self.upstreams.close,
            self.api.stop,
            self.socket_diag.close,
        ):
            try:
                result = step()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                logger.exception("stop step %s failed", getattr(step, "__name__", step))

    def _remove_rules(self) -> None:
        # Only what this daemon installed: a start that failed early (say,
        # because another daemon holds the queue) must not remove the rules
        # of the daemon that is running.
        if self.rules_installed:
            self.backend.remove()
            self.rules_installed = False

    async def _close_queue(self) -> None:
        if self.reader is not None:
            await self.reader.close()
        if self.queue is not None:
            self.queue.close()

    def status(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "pid": os.getpid(),
            "netns": self.options.netns,
            "uptime_seconds": round(time.time() - self.started, 1),
            "connections": len(self.table),
            "queue": dataclasses.asdict(self.queue.stats) if self.queue else {},
            "dns": self.nameserver.stats_dict(),
            "firewall": self.engine.stats_dict(),
        }
