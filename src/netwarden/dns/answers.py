"""DNS messages the nameserver builds or reads, without any I/O.

Blocked names are answered with addresses that lead nowhere rather than
NXDOMAIN: a program then fails to connect at once instead of retrying
other names, and the firewall recognises the address if it tries anyway.
0.0.0.17 and ::17 are Portmaster's choice; 0.0.0.0 and :: are not used
because Linux routes a connection to them to the local machine.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from netwarden.network.packet import IPAddress

BLOCKED_IPV4 = "0.0.0.17"
BLOCKED_IPV6 = "::17"
# Short, so that a name unblocked by the user works again within seconds.
BLOCKED_TTL = 10
# RFC 1035 section 4.2.1: without EDNS a UDP answer is at most 512 bytes.
CLASSIC_UDP_SIZE = 512
# RFC 1035 section 4.2.2: a TCP message is prefixed by a 16-bit length.
MAX_TCP_SIZE = 65535
# Longest CNAME chain followed in an answer; resolvers stop near 8-16.
MAX_CNAME_CHAIN = 16

_HEADER = struct.Struct("!HHHHHH")
_QR = 0x8000
_OPCODE_AND_RD = 0x7800 | 0x0100
_ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


@dataclass(frozen=True, slots=True)
class AnswerAddresses:
    """The addresses an answer gives for the queried name, after CNAMEs."""

    ips: tuple[IPAddress, ...]
    cnames: tuple[str, ...]
    ttl: int


def domain_text(name: dns.name.Name) -> str:
    """How netwarden writes a domain: lowercase, no trailing dot."""
    if name == dns.name.root:
        return "."
    return name.to_text(omit_final_dot=True).lower()


def error_from_header(wire: bytes, rcode: dns.rcode.Rcode) -> bytes | None:
    """A bare error reply to a message that cannot be parsed, if it may have one.

    RFC 1035 section 4.1.1 lets a server answer FORMERR; that needs only the
    12-byte header's id. A message with QR set is itself a response and is
    never answered, so two servers cannot bounce errors at each other.
    """
    if len(wire) < _HEADER.size:
        return None
    query_id, flags = _HEADER.unpack_from(wire)[:2]
    if flags & _QR:
        return None
    reply_flags = _QR | (flags & _OPCODE_AND_RD) | dns.flags.RA | int(rcode)
    return _HEADER.pack(query_id, reply_flags, 0, 0, 0, 0)


def error_response(
    query: dns.message.Message, rcode: dns.rcode.Rcode
) -> dns.message.Message:
    response = dns.message.make_response(query, recursion_available=True)
    response.set_rcode(rcode)
    return response


def blocked_response(query: dns.message.Message, why: str) -> dns.message.Message:
    """The answer to a blocked query: a dead-end address, or no data.

    A and AAAA get 0.0.0.17 / ::17; other types an empty NOERROR (NODATA)
    answer, not NXDOMAIN, which would tell the client that no type at all
    exists for the name (RFC 8020). When the client speaks EDNS, an
    Extended DNS Error "Blocked" (RFC 8914, code 15) carries ``why``.
    """
    response = dns.message.make_response(query, recursion_available=True)
    question = query.question[0]
    address = {dns.rdatatype.A: BLOCKED_IPV4, dns.rdatatype.AAAA: BLOCKED_IPV6}
    if question.rdtype in address and question.rdclass == dns.rdataclass.IN:
        rrset = dns.rrset.from_text(
            question.name, BLOCKED_TTL, "IN", question.rdtype, address[question.rdtype]
        )
        response.answer.append(rrset)
    if response.edns >= 0:
        blocked = dns.edns.EDEOption(dns.edns.EDECode.BLOCKED, why[:200])
        response.use_edns(
            response.edns, response.ednsflags, response.payload, options=[blocked]
        )
    return response


def answer_addresses(
    response: dns.message.Message, qname: dns.name.Name
) -> AnswerAddresses:
    """The A/AAAA addresses of ``qname`` in ``response``, through its CNAMEs.

    Only records owned by the queried name or a name its CNAME chain leads
    to count (RFC 1034 section 3.6.2); anything else in the answer section
    says nothing about ``qname``.
    """
    # Walk the section rather than use Message.get_rrset: its index misses
    # rrsets appended directly, and an answer has only a handful of rrsets.
    cname_targets = {
        rrset.name: rrset[0].target
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.CNAME and rrset
    }
    owners = [qname]
    for _ in range(MAX_CNAME_CHAIN):
        target = cname_targets.get(owners[-1])
        if target is None or target in owners:
            break
        owners.append(target)

    ips: list[IPAddress] = []
    ttls: list[int] = []
    for rrset in response.answer:
        if rrset.rdtype in _ADDRESS_TYPES and rrset.name in owners:
            ips += [ipaddress.ip_address(rdata.address) for rdata in rrset]
            ttls.append(rrset.ttl)
    cnames = tuple(domain_text(name) for name in owners[1:])
    return AnswerAddresses(tuple(ips), cnames, min(ttls, default=0))


def to_wire_for(
    response: dns.message.Message, query: dns.message.Message, over_udp: bool
) -> bytes:
    """Render ``response`` within the size the client can take.

    Over UDP that is 512 bytes, or the client's EDNS payload size (RFC 6891
    section 6.2.5); a larger answer is truncated with TC set so that the
    client asks again over TCP (RFC 7766 section 5).
    """
    limit = MAX_TCP_SIZE
    if over_udp:
        limit = (
            max(CLASSIC_UDP_SIZE, query.payload)
            if query.edns >= 0
            else CLASSIC_UDP_SIZE
        )
    return response.to_wire(max_size=min(limit, MAX_TCP_SIZE), prefer_truncation=True)
