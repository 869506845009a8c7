"""The light resolver URL check of dns/nameservers."""

from __future__ import annotations

import pytest

from netwarden.config.nameserver import check_nameserver


@pytest.mark.parametrize(
    "url",
    [
        "dot://192.0.2.53",
        "dot://192.0.2.53:853?verify=dns.example&name=Lab",
        "dns://198.51.100.1",
        "tcp://[2001:db8::1]:5353",
        "DNS://203.0.113.9/",
    ],
)
def test_accepted(url: str) -> None:
    assert check_nameserver(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("doh://192.0.2.1", "DNS over HTTPS upstreams are not supported yet"),
        ("https://dns.example/dns-query", "not supported yet"),
        ("tls://192.0.2.1", "write dot://"),
        ("udp://192.0.2.1", "scheme 'udp'"),
        ("192.0.2.1", "scheme ''"),
        ("dot://", "names no server"),
        ("dot://dns.example", "must be an IP address"),
        ("dns://192.0.2.1:99999", "not a URL"),
        ("dns://192.0.2.1:0", "port 0"),
        ("dns://2001:db8::1", "IPv6 addresses go in brackets"),
        ("dns://192.0.2.1/dns-query", "no path"),
        ("dot://192.0.2.1?ip=192.0.2.2", "'ip' is not supported yet"),
        ("dot://192.0.2.1?colour=blue", "unknown parameter 'colour'"),
        ("dot://192.0.2.1?name=a&name=b", "given twice"),
        ("dns://192.0.2.1?verify=x.example", "only applies to dot://"),
        ("dot://192.0.2.1?verify=bad..name", "not a host name"),
    ],
)
def test_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_nameserver(url)
    assert message in str(caught.value)
