"""netwarden: a privacy suite and application firewall for Linux.

The daemon (``netwarden.daemon``) intercepts the first packets of every new
connection, attributes them to a process, decides with rules and filter
lists, and answers the machine's DNS itself. The CLI talks to it through the
local API. See ``docs/architecture.md`` for the path of a connection.
"""

__version__ = "0.1.0"
