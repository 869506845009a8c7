"""Endpoint rules: the user's own ``+``/``-`` lines and their matching.

A rule is parsed once, at the boundary, into a frozen
:class:`~netwarden.rules.endpoint.EndpointRule` that can render itself back
to the same text; :class:`~netwarden.rules.ruleset.EndpointRules` holds an
ordered list where the first matching rule wins. The grammar is
Portmaster's, so rules written for it read the same here. Entity types that
need data netwarden does not have yet (countries, ASNs, scopes, lists) are
parsed, but a rule set refuses them with a clear message.
"""
