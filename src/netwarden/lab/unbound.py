"""The lab's upstream DNS server: unbound's configuration and zone.

unbound answers every name with the lab web server (a ``redirect`` local
zone on the root, unbound.conf(5)), so any real domain can be tried in the
lab. The fixed names of ``lab.test`` come from an authoritative zone
instead of local-data, because unbound does not follow a CNAME chain made
of local-data records, while an auth-zone answers the whole chain
(RFC 1034 section 4.3.2). The ``transparent`` local zone lets queries for
``lab.test`` past the catch-all to that auth-zone.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from netwarden.lab import plan

UNBOUND = "/usr/sbin/unbound"
APPARMOR_PROFILES = Path("/sys/kernel/security/apparmor/profiles")

# Every fixed name of the lab zone, as (name, type, value); docs/lab.md
# lists them for the tests that rely on them.
FIXED_RECORDS = (
    ("dns", "A", plan.RESOLVER_V4),
    ("dns", "AAAA", plan.RESOLVER_V6),
    ("lan", "A", plan.LAN_HOST_V4),
    ("private", "A", plan.PRIVATE_ANSWER_V4),
    ("cname", "CNAME", "alias"),
    ("alias", "CNAME", "target"),
    ("target", "A", plan.CNAME_TARGET_V4),
    ("target", "AAAA", plan.CNAME_TARGET_V6),
    ("*", "A", plan.WEB_V4),
    ("*", "AAAA", plan.WEB_V6),
)
TTL = 300


@dataclass(frozen=True)
class UnboundFiles:
    """Where one lab's unbound keeps its files."""

    directory: Path

    @property
    def config(self) -> Path:
        return self.directory / "unbound.conf"

    @property
    def zone(self) -> Path:
        return self.directory / f"{plan.LAB_ZONE}.zone"

    @property
    def pidfile(self) -> Path:
        return self.directory / "unbound.pid"


def render_lab_zone() -> str:
    """The zone file of ``lab.test`` (RFC 1035 section 5 master format)."""
    lines = [
        f"$ORIGIN {plan.LAB_ZONE}.",
        f"$TTL {TTL}",
        f"@ IN SOA dns hostmaster 1 3600 600 86400 {TTL}",
        "@ IN NS dns",
    ]
    lines += [f"{name} IN {rtype} {value}" for name, rtype, value in FIXED_RECORDS]
    return "\n".join(lines) + "\n"


def render_unbound_conf(files: UnboundFiles, tls_key: Path, tls_cert: Path) -> str:
    """unbound.conf for the lab: foreground, as root, no control socket."""
    interfaces = [
        f"    interface: {address}@{port}"
        for address in (plan.RESOLVER_V4, plan.RESOLVER_V6)
        for port in (plan.DNS_PORT, plan.DOT_PORT)
    ]
    server = [
        "server:",
        "    verbosity: 1",
        '    username: ""',
        '    chroot: ""',
        f'    directory: "{files.directory}"',
        f'    pidfile: "{files.pidfile}"',
        "    use-syslog: no",
        '    logfile: ""',
        "    do-daemonize: no",
        *interfaces,
        f"    tls-port: {plan.DOT_PORT}",
        f'    tls-service-key: "{tls_key}"',
        f'    tls-service-pem: "{tls_cert}"',
        "    access-control: 0.0.0.0/0 allow",
        "    access-control: ::/0 allow",
        # No validator: the lab's answers are made up and unsigned.
        '    module-config: "iterator"',
        '    local-zone: "." redirect',
        f'    local-data: ". {TTL} IN A {plan.WEB_V4}"',
        f'    local-data: ". {TTL} IN AAAA {plan.WEB_V6}"',
        f'    local-zone: "{plan.LAB_ZONE}." transparent',
    ]
    auth_zone = [
        "auth-zone:",
        f'    name: "{plan.LAB_ZONE}."',
        f'    zonefile: "{files.zone}"',
        "    for-downstream: yes",
        "    for-upstream: no",
        "    fallback-enabled: no",
    ]
    control = ["remote-control:", "    control-enable: no"]
    return "\n".join([*server, *auth_zone, *control]) + "\n"


def unbound_program(lab_dir: Path) -> str:
    """The unbound binary to run.

    Debian ships an AppArmor profile for /usr/sbin/unbound that confines
    its files to /etc/unbound and /var/lib/unbound. Where that profile is
    enforced, the lab runs a copy of the binary from its own directory,
    which the profile (attached by path) does not cover, rather than
    editing the host's AppArmor policy.
    """
    if not _apparmor_confines(UNBOUND):
        return UNBOUND
    copy = lab_dir / "bin" / "unbound"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(UNBOUND, copy)
    return str(copy)


def _apparmor_confines(program: str) -> bool:
    try:
        profiles = APPARMOR_PROFILES.read_text()
    except OSError:
        return False
    return any(
        line.startswith(("unbound ", f"{program} ")) and "(enforce)" in line
        for line in profiles.splitlines()
    )
