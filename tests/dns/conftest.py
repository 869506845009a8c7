"""Fixtures of the DNS tests: one test CA and a DoT server certificate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from netwarden.lab.pki import issue_server_cert, make_test_ca

SERVER_NAME = "dns.test"  # the name in the test DoT server certificate


@dataclass(frozen=True)
class TestPKI:
    server_name: str
    ca_file: Path
    cert_pem: bytes
    key_pem: bytes
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_test_ca("netwarden test CA")
    cert = issue_server_cert(ca, [SERVER_NAME], ["127.0.0.1", "::1"])
    paths = [directory / name for name in ("ca.pem", "server.pem", "server.key")]
    for path, pem in zip(
        paths, (ca.cert_pem, cert.cert_pem, cert.key_pem), strict=True
    ):
        path.write_bytes(pem)
    return TestPKI(
        SERVER_NAME, paths[0], cert.cert_pem, cert.key_pem, paths[1], paths[2]
    )
