#!/bin/sh
# Installs everything netwarden's demo and tests need on Debian 12, as root:
# the system packages, then a virtual environment .venv at the repository
# root with netwarden and its test tools. Safe to run again.
set -eu

cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

PACKAGES="python3 python3-venv ca-certificates iproute2 iptables nftables
    conntrack procps unbound curl dnsutils knot-dnsutils
    webext-ublock-origin-firefox"

# Debian enables a service's units when its package is installed. Undo that
# for the unbound this script installed: with systemd, as an administrator
# would; without it (a container or chroot), by removing the links.
disable_unbound_units() {
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable --quiet unbound.service unbound-resolvconf.service \
            >/dev/null 2>&1 || true
    fi
    rm -f /etc/systemd/system/multi-user.target.wants/unbound.service \
        /etc/systemd/system/unbound.service.wants/unbound-resolvconf.service
}

missing=""
for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
        grep -q "install ok installed" || missing="$missing $package"
done

if [ -n "$missing" ]; then
    # The lab starts its own unbound inside a namespace: Debian must neither
    # start nor enable the host's unbound service when it is installed.
    # policy-rc.d (exit 101) forbids starting; the units are disabled below.
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        own_policy=yes
    fi
    trap 'if [ -n "$own_policy" ]; then rm -f "$policy"; fi' EXIT
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086 # the list is meant to split into words
    apt-get install -y -q --no-install-recommends $missing
    case "$missing" in
        *unbound*) disable_unbound_units ;;
    esac
fi

if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv .venv
fi
# Reinstall only when the project's dependencies changed since the last run.
stamp=.venv/.netwarden-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
    echo "$wanted" > "$stamp"
fi
