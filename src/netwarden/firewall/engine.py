"""Where the packet path and the nameserver meet the pure deciders.

The engine gathers what a decision needs (the process behind a flow, the
domain it resolved), asks :mod:`netwarden.firewall.decide`, and records the
outcome in the connection table. It holds no policy of its own.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable

from netwarden.attribution.attributor import Attribution, Attributor
from netwarden.attribution.process import Process
from netwarden.dns.name_map import NameMap
from netwarden.dns.nameserver import QueryRecord
from netwarden.firewall.decide import (
    ConnectionView,
    Policy,
    decide_connection,
    decide_query,
)
from netwarden.history.table import ConnectionTable
from netwarden.network.connection import (
    Connection,
    ConnectionKind,
    Decision,
    Verdict,
)
from netwarden.network.packet import FlowKey, IPAddress, Protocol

logger = logging.getLogger(__name__)

MAX_PENDING_QUERIES = 4096  # bounds the map of recent query clients
MAX_TCP_CLIENTS = 1024  # DNS-over-TCP connections whose owner is remembered
TCP_CLIENT_MEMORY_SECONDS = 10.0


class FirewallEngine:
    def __init__(
        self,
        *,
        policy: Policy,
        attributor: Attributor,
        name_map: NameMap,
        table: ConnectionTable,
        own_pid: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy
        self._attributor = attributor
        self._name_map = name_map
        self._table = table
        self._own_pid = own_pid
        self._clock = clock
        self._verdicts: Counter[str] = Counter()
        # Server each in-flight query was sent to, by client socket.
        self._query_servers: OrderedDict[
            tuple[int, IPAddress, int], tuple[IPAddress, int]
        ] = OrderedDict()
        # Owners of DNS-over-TCP client sockets: (expiry, attribution).
        self._tcp_clients: OrderedDict[FlowKey, tuple[float, Attribution]] = (
            OrderedDict()
        )

    def decide_flow(self, flow: FlowKey) -> Verdict:
        """Decide the first packet of a flow from the queue."""
        now = self._clock()
        process = self._attributor.attribute(flow)
        owner = process.identity if process else None
        domain = self._name_map.lookup(owner, flow.remote_ip, now)
        own = process is not None and process.pid == self._own_pid
        view = ConnectionView(flow=flow, process=process, domain=domain, own_pid=own)
        decision = decide_connection(view, self._policy)
        self._record(ConnectionKind.IP, flow, now, process, domain, decision)
        return decision.verdict

    def decide_query(self, domain: str, process: Process | None) -> Decision:
        return decide_query(domain, process, self._policy)

    def attribute_client(
        self,
        protocol: int,
        client_ip: IPAddress,
        client_port: int,
        server_ip: IPAddress,
        server_port: int,
    ) -> Process | None:
        """The process behind a DNS query that reached the nameserver.

        The query's packet shows the nameserver as its destination (it was
        redirected); the client's socket still names the server the program
        meant to ask, which the connection table shows instead.
        """
        flow = FlowKey(protocol, client_ip, client_port, server_ip, server_port)
        found = self._attribute_client_socket(flow)
        client = (protocol, client_ip, client_port)
        # Kept, not popped, by record_query: one socket often has two
        # queries in flight (A and AAAA). Overwritten here on every query,
        # so a reused client port never inherits an older server.
        self._query_servers.pop(client, None)
        if found.socket is not None and found.socket.peer is not None:
            self._query_servers[client] = found.socket.peer
            while len(self._query_servers) > MAX_PENDING_QUERIES:
                self._query_servers.popitem(last=False)
        return found.process

    def _attribute_client_socket(self, flow: FlowKey) -> Attribution:
        # Every query on one TCP connection comes from the same socket, and
        # its 4-tuple names no other socket while TIME_WAIT lasts (60 s):
        # attributing it once keeps pipelined queries as cheap as UDP ones.
        if flow.protocol != Protocol.TCP:
            return self._attributor.attribute_redirected(flow)
        now = self._clock()
        cached = self._tcp_clients.get(flow)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._attributor.attribute_redirected(flow)
        if found.process is not None:  # a miss may be a race: look again
            self._tcp_clients[flow] = (now + TCP_CLIENT_MEMORY_SECONDS, found)
            self._tcp_clients.move_to_end(flow)
            while len(self._tcp_clients) > MAX_TCP_CLIENTS:
                self._tcp_clients.popitem(last=False)
        return found

    def record_query(self, record: QueryRecord) -> None:
        client = record.client
        asked = self._query_servers.get((client.protocol, client.ip, client.port))
        flow = record.flow
        if asked is not None:
            flow = dataclasses.replace(flow, remote_ip=asked[0], remote_port=asked[1])
        self._record(
            ConnectionKind.DNS,
            flow,
            record.started,
            record.process,
            record.domain,
            record.decision,
        )

    def stats_dict(self) -> dict[str, int]:
        return dict(self._verdicts)

    def _record(
        self,
        kind: ConnectionKind,
        flow: FlowKey,
        started: float,
        process: Process | None,
        domain: str | None,
        decision: Decision,
    ) -> None:
        self._verdicts[f"{kind.value}_{decision.verdict.value}"] += 1
        connection = Connection(
            id=self._table.next_id(),
            kind=kind,
            flow=flow,
            started=started,
            process=process,
            domain=domain,
            decision=decision,
        )
        self._table.add(connection)
        logger.debug(
            "%s %s %s -> %s: %s",
            kind.value,
            process.exe if process else "?",
            domain or flow.remote_ip,
            decision.verdict.value,
            decision.reason,
        )
