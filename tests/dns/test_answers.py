import struct
from ipaddress import ip_address

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset

from netwarden.dns import answers


def _query(name: str, rdtype: str, **kwargs: object) -> dns.message.Message:
    return dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]


def test_blocked_a_and_aaaa_lead_nowhere_with_short_ttl() -> None:
    for rdtype, address in (("A", "0.0.0.17"), ("AAAA", "::17")):
        response = answers.blocked_response(_query("tracker.example", rdtype), "list")
        assert response.rcode() == dns.rcode.NOERROR
        (rrset,) = response.answer
        assert [rdata.address for rdata in rrset] == [address]
        assert rrset.ttl == answers.BLOCKED_TTL


def test_blocked_other_types_get_empty_noerror() -> None:
    response = answers.blocked_response(_query("tracker.example", "TXT"), "list")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []


def test_blocked_answer_carries_extended_error_when_client_uses_edns() -> None:
    query = _query("tracker.example", "A", use_edns=0)
    response = answers.blocked_response(query, "EasyPrivacy: ||tracker.example^")
    (option,) = response.options
    assert isinstance(option, dns.edns.EDEOption)
    assert option.code == dns.edns.EDECode.BLOCKED
    assert option.text == "EasyPrivacy: ||tracker.example^"
    assert not answers.blocked_response(_query("t.example", "A"), "x").options


def test_error_from_header_keeps_id_opcode_and_rd() -> None:
    wire = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0) + b"\xff\xff"
    reply = answers.error_from_header(wire, dns.rcode.FORMERR)
    assert reply is not None
    query_id, flags = struct.unpack("!HH", reply[:4])
    assert query_id == 0xBEEF
    assert flags & 0x8000 and flags & 0x0100
    assert flags & 0x000F == dns.rcode.FORMERR
    assert reply[4:] == bytes(8)


def test_error_from_header_ignores_short_messages_and_responses() -> None:
    assert answers.error_from_header(b"\x12\x34\x01", dns.rcode.FORMERR) is None
    response = struct.pack("!HHHHHH", 1, 0x8180, 0, 0, 0, 0)
    assert answers.error_from_header(response, dns.rcode.FORMERR) is None


def _response_with(query: dns.message.Message, *rrsets: str) -> dns.message.Message:
    response = dns.message.make_response(query)
    for text in rrsets:
        name, ttl, rdclass, rdtype, rdata = text.split()
        response.answer.append(
            dns.rrset.from_text(name, int(ttl), rdclass, rdtype, rdata)
        )
    return response


def test_answer_addresses_follow_the_cname_chain() -> None:
    query = _query("www.shop.example", "A")
    response = _response_with(
        query,
        "www.shop.example. 300 IN CNAME shop.cdn.example.",
        "shop.cdn.example. 60 IN CNAME Edge.CDN.example.",
        "edge.cdn.example. 30 IN A 198.51.100.7",
        "unrelated.example. 5 IN A 203.0.113.9",
    )
    found = answers.answer_addresses(response, query.question[0].name)
    assert found.ips == (ip_address("198.51.100.7"),)
    assert found.cnames == ("shop.cdn.example", "edge.cdn.example")
    assert found.ttl == 30


def test_answer_addresses_stop_at_a_cname_loop() -> None:
    query = _query("a.example", "A")
    response = _response_with(
        query,
        "a.example. 300 IN CNAME b.example.",
        "b.example. 300 IN CNAME a.example.",
    )
    found = answers.answer_addresses(response, query.question[0].name)
    assert found == answers.AnswerAddresses((), ("b.example",), 0)


def test_large_udp_answer_is_truncated_but_tcp_is_not() -> None:
    query = _query("big.example", "A")
    rdatas = [f"192.0.2.{n}" for n in range(1, 101)]
    response = dns.message.make_response(query)
    response.answer.append(
        dns.rrset.from_text_list("big.example.", 60, "IN", "A", rdatas)
    )
    udp = dns.message.from_wire(answers.to_wire_for(response, query, over_udp=True))
    assert udp.flags & dns.flags.TC
    assert len(answers.to_wire_for(response, query, over_udp=True)) <= 512
    tcp = dns.message.from_wire(answers.to_wire_for(response, query, over_udp=False))
    assert len(tcp.answer[0]) == 100


def test_edns_payload_size_lets_larger_udp_answers_through() -> None:
    query = _query("big.example", "A", use_edns=0, payload=4096)
    rdatas = [f"192.0.2.{n}" for n in range(1, 101)]
    response = dns.message.make_response(query)
    response.answer.append(
        dns.rrset.from_text_list("big.example.", 60, "IN", "A", rdatas)
    )
    udp = dns.message.from_wire(answers.to_wire_for(response, query, over_udp=True))
    assert not udp.flags & dns.flags.TC


def test_domain_text_is_lowercase_without_final_dot() -> None:
    assert (
        answers.domain_text(dns.name.from_text("WWW.Example.COM.")) == "www.example.com"
    )
    assert answers.domain_text(dns.name.root) == "."
