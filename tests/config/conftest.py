import pytest

from netwarden.lab.pki import make_test_ca


@pytest.fixture(scope="session")
def ca_pem() -> bytes:
    """A real CA certificate, PEM: the config refuses a CA file without one."""
    return make_test_ca("netwarden config test CA").cert_pem
