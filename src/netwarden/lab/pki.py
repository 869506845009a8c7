"""A throw-away certificate authority for the lab and the tests.

The lab's DoT upstream (unbound) and the in-process test upstreams need a
server certificate that netwarden trusts, without touching the host's
trust store: a CA is made per run, written next to the lab's files, and
netwarden is pointed at it. Keys are ECDSA P-256 because they are made in
about a millisecond, and every TLS stack in use accepts them.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=30)
# Issue certificates a little in the past so a clock that is slightly
# behind (a fresh namespace, a VM after resume) still accepts them.
BACKDATE = datetime.timedelta(hours=1)


class CertificateAuthority(NamedTuple):
    cert_pem: bytes
    key_pem: bytes


class ServerCertificate(NamedTuple):
    cert_pem: bytes
    key_pem: bytes


def make_test_ca(common_name: str) -> CertificateAuthority:
    """A self-signed CA certificate and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    usage = _key_usage(cert_sign=True)
    builder = (
        _builder(subject, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
            critical=False,
        )
    )
    cert = builder.sign(key, hashes.SHA256())
    return CertificateAuthority(_cert_pem(cert), _key_pem(key))


def issue_server_cert(
    ca: CertificateAuthority | tuple[bytes, bytes],
    names: Iterable[str],
    ips: Iterable[str | ipaddress.IPv4Address | ipaddress.IPv6Address] = (),
) -> ServerCertificate:
    """A TLS server certificate for ``names`` and ``ips``, signed by ``ca``."""
    ca_cert = x509.load_pem_x509_certificate(ca[0])
    ca_key = serialization.load_pem_private_key(ca[1], password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an EC key made by make_test_ca")

    names = list(names)
    alt_names = _alt_names(names, ips)
    key = ec.generate_private_key(ec.SECP256R1())
    common_name = names[0] if names else "netwarden lab server"
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        _builder(subject, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    cert = builder.sign(ca_key, hashes.SHA256())
    return ServerCertificate(_cert_pem(cert), _key_pem(key))


def _alt_names(
    names: list[str],
    ips: Iterable[str | ipaddress.IPv4Address | ipaddress.IPv6Address],
) -> list[x509.GeneralName]:
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if not alt_names:
        raise ValueError("a server certificate needs at least one name or address")
    return alt_names


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
