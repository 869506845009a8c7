"""The iptables (iptables-nft) backend: probe, install, remove.

Every command that reads or changes the firewall goes through
:func:`run_firewall_command`, which logs it and turns any failure into a
:class:`~netwarden.errors.FirewallError`. The rule text comes from
:mod:`.rules`; the backend only applies it, for IPv4 and IPv6, with
``--noflush`` so that no foreign rule is touched.

A native nftables backend needs the nftables ``queue`` expression, which
some kernels lack while the xtables ``NFQUEUE`` target works through
iptables-nft; :meth:`IptablesBackend.probe` reports both.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from netwarden.errors import FirewallError
from netwarden.intercept.rules import Family, InterceptPlan, install_text, removal_text

log = logging.getLogger(__name__)

CommandRunner = Callable[[list[str], str | None], str]
COMMAND_TIMEOUT = 30.0
PROBE_CHAIN = "NETWARDEN-PROBE"
PROBE_NFT_TABLE = "netwarden_probe"


def run_firewall_command(argv: list[str], stdin_text: str | None = None) -> str:
    """Run one firewall command; its standard output, or FirewallError."""
    log.info("firewall: %s", " ".join(argv))
    if stdin_text:
        log.debug("firewall input:\n%s", stdin_text)
    try:
        done = subprocess.run(
            argv,
            input=stdin_text or "",
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise FirewallError(f"{' '.join(argv)}: could not run: {err}") from err
    if done.returncode != 0:
        stderr = done.stderr.strip() or "(no error output)"
        raise FirewallError(f"{' '.join(argv)}: exit code {done.returncode}: {stderr}")
    return done.stdout


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What this system's netfilter offers to netwarden."""

    iptables_restore: bool
    ip6tables_restore: bool
    nfqueue_target: bool
    nft_queue_expression: bool

    @property
    def usable(self) -> bool:
        return self.iptables_restore and self.ip6tables_restore and self.nfqueue_target


class IptablesBackend:
    """Installs and removes netwarden's chains with iptables-restore."""

    def __init__(self, run: CommandRunner = run_firewall_command) -> None:
        self._run = run

    @classmethod
    def probe(cls, run: CommandRunner = run_firewall_command) -> Capabilities:
        """Find out what works, changing nothing that stays (run it in the
        namespace to protect: it briefly creates a chain there)."""
        have_v4 = shutil.which(Family.IPV4.restore_command) is not None
        have_v6 = shutil.which(Family.IPV6.restore_command) is not None
        capabilities = Capabilities(
            iptables_restore=have_v4,
            ip6tables_restore=have_v6,
            nfqueue_target=have_v4 and nfqueue_target_available(run),
            nft_queue_expression=nft_queue_available(run),
        )
        log.info("netfilter capabilities: %s", capabilities)
        return capabilities

    def install(self, plan: InterceptPlan) -> None:
        """Replace whatever an earlier run left with the rules of ``plan``."""
        self.remove()
        try:
            for family in Family:
                self._run(
                    [family.restore_command, "--noflush"], install_text(plan, family)
                )
        except FirewallError:
            self._remove_quietly()
            raise
        log.info(
            "installed interception rules (queue %s, DNS port %s)",
            plan.queue_num,
            plan.dns_port,
        )

    def remove(self) -> None:
        """Delete every chain and jump of ours; a no-op when none is there."""
        for family in Family:
            saved = self._run([family.save_command], None)
            text = removal_text(saved)
            if text:
                self._run([family.restore_command, "--noflush"], text)
                log.info("removed interception rules (IPv%s)", family.value)

    def _remove_quietly(self) -> None:
        try:
            self.remove()
        except FirewallError as err:
            log.error("could not remove a partial install: %s", err)


def nfqueue_target_available(run: CommandRunner = run_firewall_command) -> bool:
    """Whether an NFQUEUE rule is accepted, tried in a chain nothing jumps to."""
    probe = (
        f"*mangle\n:{PROBE_CHAIN} - [0:0]\n"
        f"-A {PROBE_CHAIN} -j NFQUEUE --queue-num 0 --queue-bypass\nCOMMIT\n"
    )
    cleanup = f"*mangle\n-F {PROBE_CHAIN}\n-X {PROBE_CHAIN}\nCOMMIT\n"
    return _try_then_clean(run, ["iptables-restore", "--noflush"], probe, cleanup)


def nft_queue_available(run: CommandRunner = run_firewall_command) -> bool:
    """Whether the kernel has the nftables ``queue`` expression (informational)."""
    # A chain without a hook: the rule is checked by the kernel, never run.
    probe = (
        f"table inet {PROBE_NFT_TABLE} {{\n"
        "  chain probe {\n    queue num 0 bypass\n  }\n"
        "}\n"
    )
    cleanup = f"delete table inet {PROBE_NFT_TABLE}\n"
    if shutil.which("nft") is None:
        return False
    return _try_then_clean(run, ["nft", "-f", "-"], probe, cleanup)


def _try_then_clean(
    run: CommandRunner, argv: list[str], probe: str, cleanup: str
) -> bool:
    try:
        run(argv, probe)
    except FirewallError as err:
        log.info("probe failed: %s", err)
        return False
    try:
        run(argv, cleanup)
    except FirewallError as err:
        log.warning("could not remove probe rules: %s", err)
    return True
