import ipaddress
import ssl

import pytest
from cryptography import x509

from netwarden.lab.pki import issue_server_cert, make_test_ca


def test_server_certificate_names_addresses_and_chains_to_the_ca() -> None:
    ca = make_test_ca("netwarden lab CA")
    cert_pem, key_pem = issue_server_cert(
        ca, ["dns.lab.test"], ["192.0.2.53", "2001:db8::53"]
    )

    cert = x509.load_pem_x509_certificate(cert_pem)
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.DNSName) == ["dns.lab.test"]
    assert alt.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("192.0.2.53"),
        ipaddress.ip_address("2001:db8::53"),
    ]
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    cert.verify_directly_issued_by(ca_cert)
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert b"PRIVATE KEY" in key_pem


def test_python_tls_trusts_the_ca_and_checks_the_name(tmp_path) -> None:
    ca = make_test_ca("netwarden lab CA")
    server = issue_server_cert(ca, ["dns.lab.test"])
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "cert.pem").write_bytes(server.cert_pem)
    (tmp_path / "key.pem").write_bytes(server.key_pem)

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_context = ssl.create_default_context(cafile=tmp_path / "ca.pem")
    for name, accepted in (("dns.lab.test", True), ("other.lab.test", False)):
        assert _handshake(client_context, server_context, name) is accepted


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext, name: str) -> bool:
    """A TLS handshake in memory; True when the client accepts the server."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(c_in, c_out, server_hostname=name)
    server_side = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (client_side, server_side):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError:
                return False
            except ssl.SSLError:
                if side is server_side:
                    return False
                raise
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if client_side.version() and server_side.version():
            return True
    return False


def test_a_certificate_needs_a_name_or_an_address() -> None:
    with pytest.raises(ValueError, match="at least one"):
        issue_server_cert(make_test_ca("ca"), [], [])
