"""The test lab: netwarden protecting a network namespace, never the host.

``Lab`` builds two namespaces joined by a veth pair: a *device* namespace,
the machine netwarden's daemon protects and where ``netwarden lab exec``
runs programs, and an *internet* namespace that routes for it and holds the
simulated hosts: an unbound upstream (plain DNS and DoT, with a certificate
from the lab's own CA), a web server that names the host it was asked for,
and a LAN host. ``plan`` holds the address plan, ``namespaces`` and
``processes`` the two kinds of thing the lab creates and must remove, and
``demo`` the scripted tour behind ``netwarden lab demo``. The demo and the
end-to-end tests use it; nothing in the daemon depends on it.
"""
