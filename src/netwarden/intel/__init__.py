"""Intelligence data: what netwarden knows about names and addresses.

Filter lists are parsed here from the formats people publish them in
(hosts files, plain domain lists, Adblock host rules) into frozen sets of
names, and merged into a :class:`~netwarden.intel.domain_index.DomainIndex`
that the firewall asks "is this domain listed, and by whom?". GeoIP, ASN,
scopes and signed updates will live here too. Nothing in this package
decides a verdict; it only answers questions about names.
"""
