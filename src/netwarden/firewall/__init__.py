"""The firewall's decisions: typed connections and queries in, verdicts out.

:mod:`netwarden.firewall.decide` runs a fixed order of pure deciders over a
view of a connection (or a DNS query) and a policy built from the settings,
and returns a :class:`~netwarden.network.connection.Decision` whose reason
names the option, rule or list entry that decided. No I/O happens here; the
intercept and DNS layers call in and act on the verdict.
"""
