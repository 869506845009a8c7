import errno
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netwarden.errors import NetlinkError
from netwarden.intercept import netlink as nl
from netwarden.intercept import nfqueue as nfq

attribute_types = st.integers(min_value=0, max_value=nl.NLA_TYPE_MASK)
attribute_maps = st.dictionaries(attribute_types, st.binary(max_size=64), max_size=8)


@given(attribute_maps)
def test_attributes_round_trip(attributes: dict[int, bytes]) -> None:
    encoded = b"".join(nl.encode_attribute(t, v) for t, v in attributes.items())
    assert len(encoded) % 4 == 0
    assert nl.decode_attributes(encoded) == attributes


@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=5))
def test_messages_round_trip(messages: list[tuple[int, bytes]]) -> None:
    datagram = b"".join(
        nl.encode_message(t, nl.NLM_F_REQUEST, seq, body + b"\0" * (-len(body) % 4))
        for seq, (t, body) in enumerate(messages)
    )
    decoded = list(nl.decode_messages(datagram))
    assert [(m.msg_type, m.seq) for m in decoded] == [
        (t, seq) for seq, (t, _) in enumerate(messages)
    ]


@given(st.binary(max_size=64))
def test_garbage_raises_only_netlink_error(data: bytes) -> None:
    try:
        nl.decode_attributes(data)
        list(nl.decode_messages(data))
    except NetlinkError:
        pass


def test_error_message_carries_positive_errno() -> None:
    message = nl.NetlinkMessage(nl.NLMSG_ERROR, 0, 1, 0, struct.pack("=i", -16))
    assert nl.error_code(message) == 16


def kernel_packet_body(packet_id: int, mark: int | None, payload: bytes) -> bytes:
    body = nl.encode_nfgen(2, 7)
    body += nl.encode_attribute(
        nfq.NFQA_PACKET_HDR, struct.pack("!IHB", packet_id, 0x86DD, 3)
    )
    if mark is not None:
        body += nl.encode_attribute(nfq.NFQA_MARK, struct.pack("!I", mark))
    body += nl.encode_attribute(nfq.NFQA_IFINDEX_OUTDEV, struct.pack("!I", 4))
    body += nl.encode_attribute(nfq.NFQA_UID | 0x4000, struct.pack("!I", 1000))
    return body + nl.encode_attribute(nfq.NFQA_PAYLOAD, payload)


@given(
    st.integers(0, 0xFFFFFFFF),
    st.none() | st.integers(0, 0xFFFFFFFF),
    st.binary(max_size=200),
)
def test_packet_message_decodes(
    packet_id: int, mark: int | None, payload: bytes
) -> None:
    packet = nfq.decode_packet(kernel_packet_body(packet_id, mark, payload))
    assert packet.packet_id == packet_id
    assert packet.mark == (mark or 0)
    assert packet.payload == payload
    assert (packet.hw_protocol, packet.hook, packet.ifindex_out) == (0x86DD, 3, 4)
    assert (packet.uid, packet.gid) == (1000, None)


def test_packet_without_header_is_refused() -> None:
    with pytest.raises(NetlinkError, match="NFQA_PACKET_HDR"):
        nfq.decode_packet(nl.encode_nfgen(2, 0))


@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.none() | st.integers(0, 0xFFFFFFFF),
)
def test_verdict_message_layout(
    queue_num: int, packet_id: int, mark: int | None
) -> None:
    (message,) = nl.decode_messages(
        nfq.encode_verdict(queue_num, packet_id, nfq.NF_ACCEPT, mark)
    )
    assert message.msg_type == (nfq.NFNL_SUBSYS_QUEUE << 8) | nfq.NFQNL_MSG_VERDICT
    assert struct.unpack_from("!BBH", message.body) == (0, 0, queue_num)
    attributes = nl.decode_attributes(message.body[4:])
    assert attributes[nfq.NFQA_VERDICT_HDR] == struct.pack(
        "!II", nfq.NF_ACCEPT, packet_id
    )
    assert attributes.get(nfq.NFQA_MARK) == (
        None if mark is None else struct.pack("!I", mark)
    )


def test_bind_config_clears_fail_open_and_asks_for_gso() -> None:
    (message,) = nl.decode_messages(nfq.encode_bind_config(9, 128, 4096))
    assert message.flags == nl.NLM_F_REQUEST | nl.NLM_F_ACK
    attributes = nl.decode_attributes(message.body[4:])
    assert attributes[nfq.NFQA_CFG_CMD] == bytes([nfq.NFQNL_CFG_CMD_BIND, 0, 0, 0])
    assert attributes[nfq.NFQA_CFG_PARAMS] == struct.pack(
        "!IB", 128, nfq.NFQNL_COPY_PACKET
    )
    assert attributes[nfq.NFQA_CFG_QUEUE_MAXLEN] == struct.pack("!I", 4096)
    (mask,) = struct.unpack("!I", attributes[nfq.NFQA_CFG_MASK])
    (flags,) = struct.unpack("!I", attributes[nfq.NFQA_CFG_FLAGS])
    assert mask & nfq.NFQA_CFG_F_FAIL_OPEN and not flags & nfq.NFQA_CFG_F_FAIL_OPEN
    assert flags & nfq.NFQA_CFG_F_GSO


def test_queue_number_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="70000"):
        nfq.NfQueue(70000)


class OverflowingSocket:
    """Raises ENOBUFS once, then yields one datagram, then nothing."""

    def __init__(self, datagram: bytes) -> None:
        self.events: list[object] = [
            OSError(errno.ENOBUFS, "No buffer space"),
            datagram,
        ]

    def recv(self, size: int) -> bytes:
        if not self.events:
            raise BlockingIOError
        event = self.events.pop(0)
        if isinstance(event, OSError):
            raise event
        assert isinstance(event, bytes)
        return event


def test_overflow_is_counted_and_reading_goes_on() -> None:
    body = kernel_packet_body(42, None, b"\x45")
    datagram = nl.encode_message(
        (nfq.NFNL_SUBSYS_QUEUE << 8) | nfq.NFQNL_MSG_PACKET, 0, 0, body
    )
    queue = object.__new__(nfq.NfQueue)  # no kernel: only the reading half
    queue.queue_num, queue.stats, queue._pending = 3, nfq.QueueStats(), []
    queue._socket = OverflowingSocket(datagram)  # type: ignore[assignment]
    packets = queue.receive()
    assert [packet.packet_id for packet in packets] == [42]
    assert (queue.stats.overflows, queue.stats.received) == (1, 1)


PACKET_TYPE = (nfq.NFNL_SUBSYS_QUEUE << 8) | nfq.NFQNL_MSG_PACKET


class ScriptedSocket:
    """Yields the given datagrams, then raises ``error`` (or would block)."""

    def __init__(self, datagrams: list[bytes], error: OSError | None = None) -> None:
        self.datagrams = datagrams
        self.error = error

    def recv(self, size: int) -> bytes:
        if self.datagrams:
            return self.datagrams.pop(0)
        if self.error is not None:
            raise self.error
        raise BlockingIOError


def reading_queue(sock: ScriptedSocket) -> nfq.NfQueue:
    queue = object.__new__(nfq.NfQueue)  # no kernel: only the reading half
    queue.queue_num, queue.stats, queue._pending = 3, nfq.QueueStats(), []
    queue._socket = sock  # type: ignore[assignment]
    return queue


def packet_message(packet_id: int) -> bytes:
    return nl.encode_message(
        PACKET_TYPE, 0, 0, kernel_packet_body(packet_id, None, b"\x45")
    )


def test_a_bad_message_loses_only_itself() -> None:
    broken = nl.encode_message(PACKET_TYPE, 0, 0, nl.encode_nfgen(2, 7))  # no header
    datagram = packet_message(1) + packet_message(2) + broken + packet_message(3)

    packets = reading_queue(ScriptedSocket([datagram])).receive()

    assert [packet.packet_id for packet in packets] == [1, 2, 3]


def test_a_read_error_returns_what_was_already_read() -> None:
    sock = ScriptedSocket(
        [packet_message(7), packet_message(8)], OSError(errno.EBADF, "Bad fd")
    )

    packets = reading_queue(sock).receive()

    assert [packet.packet_id for packet in packets] == [7, 8]
