"""The ``netwarden`` command line.

Every subcommand except ``run`` and ``lab`` talks to the daemon through the
local API (:mod:`netwarden.api.client`), never to its internals. ``main``
is the console script; each subcommand lives in a module of its own and
registers itself on the parser.
"""
