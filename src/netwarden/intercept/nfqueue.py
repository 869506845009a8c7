"""An NFQUEUE over a raw ``NETLINK_NETFILTER`` socket, without libnetfilter_queue.

Protocol per ``linux/netfilter/nfnetlink_queue.h``: configuration messages
(``NFQNL_MSG_CONFIG``) bind this socket to one queue number and set copy
mode, queue length and flags; the kernel then sends one ``NFQNL_MSG_PACKET``
per queued packet and holds the packet until it gets a ``NFQNL_MSG_VERDICT``
for its id.

Flags asked for, and why:

- ``NFQA_CFG_F_GSO``: take GSO super-packets as they are; without it the
  kernel segments them in software before queueing (slow, and it may fail).
- ``NFQA_CFG_F_UID_GID``: the kernel adds the socket's uid and gid, a free
  first clue for attribution.
- ``NFQA_CFG_F_FAIL_OPEN`` explicitly *cleared*: when the queue holds
  ``max_len`` packets, or a packet cannot be sent to us, the kernel drops
  it (counted by the kernel in /proc/net/netfilter/nfnetlink_queue) instead
  of letting an undecided connection through. The program retransmits.
  ``--queue-bypass`` in the rules is separate: it only applies while no
  socket is bound, i.e. while the daemon is not running (fail-open then).

The socket is non-blocking so that an event loop can watch :meth:`fileno`
and call :meth:`receive` when it is readable.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
import time
from dataclasses import dataclass

from netwarden.errors import NetlinkError
from netwarden.intercept import netlink as nl

log = logging.getLogger(__name__)

NETLINK_NETFILTER = 12
SO_RCVBUFFORCE = 33  # asm-generic/socket.h; not exported by the socket module
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_COPY_PACKET = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQA_CFG_MASK, NFQA_CFG_FLAGS = 4, 5
NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_GSO, NFQA_CFG_F_UID_GID = 0x1, 0x4, 0x8
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_MARK = 1, 2, 3
NFQA_IFINDEX_INDEV, NFQA_IFINDEX_OUTDEV, NFQA_PAYLOAD = 5, 6, 10
NFQA_UID, NFQA_GID = 16, 17
NF_DROP, NF_ACCEPT = 0, 1

PACKET_HEADER = struct.Struct("!IHB")  # struct nfqnl_msg_packet_hdr
RECEIVE_BUFFER = 4 * 1024 * 1024  # room for bursts of first packets
DATAGRAM_MAX = 256 * 1024
DRAIN_LIMIT = 1024  # datagrams per receive(), so one queue cannot starve the loop
CONFIG_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class QueuedPacket:
    """A packet the kernel holds until it gets our verdict."""

    packet_id: int
    hw_protocol: int
    hook: int
    mark: int
    payload: bytes
    ifindex_in: int = 0
    ifindex_out: int = 0
    uid: int | None = None
    gid: int | None = None


@dataclass(slots=True)
class QueueStats:
    """Counters of one queue since it was opened."""

    received: int = 0
    accepted: int = 0
    dropped: int = 0
    rejected_by_mark: int = 0
    overflows: int = 0
    unparsable: int = 0
    decide_errors: int = 0
    verdict_errors: int = 0


def _u32(data: bytes | None) -> int | None:
    return None if data is None or len(data) < 4 else int.from_bytes(data[:4], "big")


def decode_packet(body: bytes) -> QueuedPacket:
    """Decode the body (nfgenmsg + attributes) of an NFQNL_MSG_PACKET."""
    attributes = nl.decode_attributes(body[nl.NFGEN_HEADER.size :])
    header = attributes.get(NFQA_PACKET_HDR)
    if header is None or len(header) < PACKET_HEADER.size:
        raise NetlinkError("queued packet without NFQA_PACKET_HDR")
    packet_id, hw_protocol, hook = PACKET_HEADER.unpack_from(header)
    return QueuedPacket(
        packet_id=packet_id,
        hw_protocol=hw_protocol,
        hook=hook,
        mark=_u32(attributes.get(NFQA_MARK)) or 0,
        payload=attributes.get(NFQA_PAYLOAD, b""),
        ifindex_in=_u32(attributes.get(NFQA_IFINDEX_INDEV)) or 0,
        ifindex_out=_u32(attributes.get(NFQA_IFINDEX_OUTDEV)) or 0,
        uid=_u32(attributes.get(NFQA_UID)),
        gid=_u32(attributes.get(NFQA_GID)),
    )


def encode_verdict(
    queue_num: int, packet_id: int, verdict: int, mark: int | None
) -> bytes:
    body = nl.encode_nfgen(socket.AF_UNSPEC, queue_num)
    body += nl.encode_attribute(
        NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id)
    )
    if mark is not None:
        body += nl.encode_attribute(NFQA_MARK, struct.pack("!I", mark & 0xFFFFFFFF))
    msg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT
    # No NLM_F_ACK: a verdict per packet must cost one send; errors still
    # come back as NLMSG_ERROR and are counted by receive().
    return nl.encode_message(msg_type, nl.NLM_F_REQUEST, 0, body)


def encode_bind_config(queue_num: int, copy_range: int, max_len: int) -> bytes:
    """One config message: bind, copy mode, queue length and flags."""
    attributes = (
        nl.encode_attribute(NFQA_CFG_CMD, struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0))
        + nl.encode_attribute(
            NFQA_CFG_PARAMS, struct.pack("!IB", copy_range, NFQNL_COPY_PACKET)
        )
        + nl.encode_attribute(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", max_len))
        + nl.encode_attribute(NFQA_CFG_MASK, struct.pack("!I", _FLAGS_MASK))
        + nl.encode_attribute(NFQA_CFG_FLAGS, struct.pack("!I", _FLAGS_WANTED))
    )
    return _config_message(queue_num, attributes)


def encode_unbind_config(queue_num: int) -> bytes:
    command = struct.pack("!BxH", NFQNL_CFG_CMD_UNBIND, 0)
    return _config_message(queue_num, nl.encode_attribute(NFQA_CFG_CMD, command))


_FLAGS_MASK = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID
_FLAGS_WANTED = NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID  # FAIL_OPEN cleared


def _config_message(queue_num: int, attributes: bytes) -> bytes:
    body = nl.encode_nfgen(socket.AF_UNSPEC, queue_num) + attributes
    msg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG
    return nl.encode_message(msg_type, nl.NLM_F_REQUEST | nl.NLM_F_ACK, 1, body)


class NfQueue:
    """One bound netfilter queue. Create it inside the namespace it serves."""

    def __init__(
        self, queue_num: int, copy_range: int = 128, max_len: int = 4096
    ) -> None:
        if not 0 <= queue_num <= 0xFFFF:
            raise ValueError(f"queue number {queue_num} is outside 0..65535")
        self.queue_num = queue_num
        self.stats = QueueStats()
        self._pending: list[QueuedPacket] = []
        self._socket = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER
        )
        try:
            self._open(copy_range, max_len)
        except BaseException:
            self._socket.close()
            raise
        log.info(
            "bound netfilter queue %s (copy %s bytes, max %s)",
            queue_num,
            copy_range,
            max_len,
        )

    def _open(self, copy_range: int, max_len: int) -> None:
        try:
            # SO_RCVBUFFORCE passes net.core.rmem_max, which is often only
            # 208 KiB; it needs CAP_NET_ADMIN, which binding needs anyway.
            self._socket.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except PermissionError:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self._socket.bind((0, 0))
        self._socket.setblocking(False)
        self._request(encode_bind_config(self.queue_num, copy_range, max_len), "bind")

    def fileno(self) -> int:
        return self._socket.fileno()

    def receive(self) -> list[QueuedPacket]:
        """Every packet ready now (never blocks); may be empty."""
        packets, self._pending = self._pending, []
        for _ in range(DRAIN_LIMIT):
            try:
                datagram = self._receive_datagram()
            except NetlinkError as err:
                # Return what was read: each of those packets needs a verdict.
                log.error("%s", err)
                break
            if datagram is None:
                break
            packets.extend(self._packets_of(datagram))
        self.stats.received += len(packets)
        return packets

    def set_verdict(
        self, packet_id: int, accept: bool, mark: int | None = None
    ) -> None:
        """Release (or drop) a held packet, optionally setting its whole mark."""
        verdict = NF_ACCEPT if accept else NF_DROP
        try:
            self._socket.send(encode_verdict(self.queue_num, packet_id, verdict, mark))
        except OSError as err:
            raise NetlinkError(
                f"verdict for packet {packet_id} on queue {self.queue_num}: "
                f"{err.strerror}",
                err.errno or 0,
            ) from err
        if accept:
            self.stats.accepted += 1
        else:
            self.stats.dropped += 1

    def close(self) -> None:
        """Unbind the queue; the kernel drops packets still waiting for verdicts."""
        if self._socket.fileno() < 0:
            return
        try:
            self._request(encode_unbind_config(self.queue_num), "unbind")
        except NetlinkError as err:
            log.warning("%s", err)
        finally:
            self._socket.close()
        log.info("closed netfilter queue %s", self.queue_num)

    def _receive_datagram(self) -> bytes | None:
        while True:
            try:
                return self._socket.recv(DATAGRAM_MAX)
            except BlockingIOError:
                return None
            except OSError as err:
                if err.errno != errno.ENOBUFS:
                    raise NetlinkError(
                        f"queue {self.queue_num}: {err.strerror}", err.errno or 0
                    ) from err
                # The socket buffer overflowed: the kernel dropped queued
                # packets it could not deliver. Count it and keep reading.
                self.stats.overflows += 1
                log.warning("queue %s overflowed; packets were dropped", self.queue_num)

    def _packets_of(self, datagram: bytes) -> list[QueuedPacket]:
        """The packets of one datagram; a bad message loses only itself."""
        packets: list[QueuedPacket] = []
        try:
            for message in nl.decode_messages(datagram):
                self._handle(message, packets)
        except NetlinkError as err:
            # A broken header ends the datagram; what came before it stays.
            log.error("queue %s: unreadable message: %s", self.queue_num, err)
        return packets

    def _handle(self, message: nl.NetlinkMessage, packets: list[QueuedPacket]) -> None:
        if message.msg_type == nl.NLMSG_ERROR:
            self._note_error(message)
        elif (
            message.msg_type & 0xFF == NFQNL_MSG_PACKET
            and message.msg_type >> 8 == NFNL_SUBSYS_QUEUE
        ):
            try:
                packets.append(decode_packet(message.body))
            except NetlinkError as err:
                log.error("queue %s: unreadable packet: %s", self.queue_num, err)

    def _note_error(self, message: nl.NetlinkMessage) -> None:
        code = nl.error_code(message)
        if code:
            self.stats.verdict_errors += 1
            log.warning(
                "queue %s: kernel refused a verdict: %s",
                self.queue_num,
                os_error_text(code),
            )

    def _request(self, request: bytes, what: str) -> None:
        """Send a config request and wait for its acknowledgement."""
        self._socket.send(request)
        deadline = time.monotonic() + CONFIG_TIMEOUT
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self._socket], [], [], remaining)
            datagram = self._receive_datagram() if readable else None
            if datagram is not None and self._acknowledged(datagram, what):
                return
        raise NetlinkError(
            f"no answer to {what} of queue {self.queue_num}", errno.ETIMEDOUT
        )

    def _acknowledged(self, datagram: bytes, what: str) -> bool:
        for message in nl.decode_messages(datagram):
            if message.msg_type != nl.NLMSG_ERROR:
                self._handle(message, self._pending)
                continue
            code = nl.error_code(message)
            if code:
                raise NetlinkError(self._explain(code, what), code)
            return True
        return False

    def _explain(self, code: int, what: str) -> str:
        text = f"cannot {what} netfilter queue {self.queue_num}: {os_error_text(code)}"
        if code == errno.EPERM:
            # The kernel answers EPERM (not EBUSY) when another socket owns
            # the queue number (nfqnl_recv_config), as well as without
            # CAP_NET_ADMIN.
            text += " (bound by another program, or CAP_NET_ADMIN missing)"
        return text


def os_error_text(code: int) -> str:
    return f"{errno.errorcode.get(code, code)} ({os.strerror(code)})"
