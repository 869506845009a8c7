"""The DNS half of netwarden: its own nameserver and the upstreams it asks.

Every DNS query of the protected machine is redirected to
:class:`~netwarden.dns.nameserver.Nameserver`, which asks the daemon which
process sent it and whether that process may resolve the name, answers
blocked names with addresses that lead nowhere, forwards the rest to the
configured upstreams (:mod:`~netwarden.dns.upstream`, named by resolver
URLs as in :mod:`~netwarden.dns.resolver_url`) over DNS over TLS, and notes
in the :class:`~netwarden.dns.name_map.NameMap` which domain each returned
address belongs to, so the connection that follows carries its domain.
:mod:`~netwarden.dns.testing` holds an in-process upstream for tests.
"""
