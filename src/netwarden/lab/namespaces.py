"""Creating and removing the lab's namespaces, links, addresses and routes.

Every command goes through :func:`run_command`, which logs it and turns a
failure into a :class:`LabError` carrying the command and its stderr. The
veth pair is created inside the device namespace with its peer placed
directly in the internet namespace, so no end ever exists in the host's
namespace; deleting a namespace destroys the veth end inside it and, with
it, the peer (veth(4)), and the netfilter rules of that namespace.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

from netwarden.errors import LabError
from netwarden.lab import plan
from netwarden.system.netns import netns_path

logger = logging.getLogger(__name__)

COMMAND_TIMEOUT = 15.0
NETNS_ETC_DIR = Path("/etc/netns")  # ip-netns(8) bind-mounts these over /etc


def run_command(
    argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run one setup command; raise LabError naming it if it fails."""
    logger.debug("lab: %s", shlex.join(argv))
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise LabError(f"{shlex.join(argv)}: {err}") from err
    if result.returncode != 0:
        detail = result.stderr.strip() or f"exit code {result.returncode}"
        raise LabError(f"{shlex.join(argv)}: {detail}")
    return result


def namespace_exists(name: str) -> bool:
    return netns_path(name).exists()


def namespace_pids(name: str) -> list[int]:
    """Processes living in namespace ``name`` (none if it does not exist)."""
    if not namespace_exists(name):
        return []
    result = run_command(["ip", "netns", "pids", name])
    return [int(word) for word in result.stdout.split()]


def create_namespace(name: str) -> None:
    run_command(["ip", "netns", "add", name])
    run_command(["ip", "-n", name, "link", "set", "lo", "up"])
    # Duplicate address detection would keep IPv6 addresses "tentative" for
    # about a second (RFC 4862 section 5.4); on a link the lab owns it only
    # delays start-up.
    for scope in ("all", "default"):
        set_sysctl(name, f"net.ipv6.conf.{scope}.accept_dad", "0")


def delete_namespace(name: str) -> None:
    if namespace_exists(name):
        run_command(["ip", "netns", "delete", name])


def set_sysctl(namespace: str, key: str, value: str) -> None:
    # /proc/sys/net is per network namespace, so this changes only the lab.
    run_command(
        ["ip", "netns", "exec", namespace, "sysctl", "-q", "-w", f"{key}={value}"]
    )


def build_network(names: plan.LabNames) -> None:
    """The veth link, addresses, routes and forwarding of both namespaces."""
    device, internet = names.device, names.internet
    veth = ["type", "veth", "peer", "name", plan.ROUTER_DOWNLINK, "netns", internet]
    run_command(["ip", "-n", device, "link", "add", plan.DEVICE_UPLINK, *veth])
    _add_addresses(device, plan.DEVICE_UPLINK, [plan.DEVICE_V4, plan.DEVICE_V6])
    router_addresses = [plan.ROUTER_V4, plan.ROUTER_V6, f"{plan.LAN_HOST_V4}/24"]
    _add_addresses(internet, plan.ROUTER_DOWNLINK, router_addresses)
    hosts = [plan.host_address(address) for address in plan.INTERNET_HOSTS]
    _add_addresses(internet, "lo", hosts)
    for namespace, link in (
        (device, plan.DEVICE_UPLINK),
        (internet, plan.ROUTER_DOWNLINK),
    ):
        run_command(["ip", "-n", namespace, "link", "set", link, "up"])
    _add_default_routes(device)
    set_sysctl(internet, "net.ipv4.ip_forward", "1")
    set_sysctl(internet, "net.ipv6.conf.all.forwarding", "1")


def _add_addresses(namespace: str, link: str, addresses: Sequence[str]) -> None:
    for address in addresses:
        flags = ["nodad"] if ":" in address else []
        run_command(
            ["ip", "-n", namespace, "address", "add", address, "dev", link, *flags]
        )


def _add_default_routes(device: str) -> None:
    for gateway, family in ((plan.ROUTER_V4, "-4"), (plan.ROUTER_V6, "-6")):
        via = plan.without_prefix(gateway)
        run_command(["ip", "-n", device, family, "route", "add", "default", "via", via])


def write_resolv_conf(namespace: str, nameserver: str) -> Path:
    """The namespace's own resolv.conf, which ``ip netns exec`` mounts."""
    directory = NETNS_ETC_DIR / namespace
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "resolv.conf"
    # Every port-53 query of the device is redirected to netwarden anyway;
    # this only gives programs an address to send to.
    path.write_text(f"# written by netwarden lab\nnameserver {nameserver}\n")
    return path


def remove_netns_etc(namespace: str) -> None:
    directory = NETNS_ETC_DIR / namespace
    for name in ("resolv.conf",):
        (directory / name).unlink(missing_ok=True)
    if directory.is_dir():
        try:
            os.rmdir(directory)
        except OSError as err:
            raise LabError(f"cannot remove {directory}: {err}") from err
    # /etc/netns itself may have been made by the lab; another lab's files
    # keep it (rmdir fails on a directory that is not empty).
    with contextlib.suppress(OSError):
        NETNS_ETC_DIR.rmdir()
