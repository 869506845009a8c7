"""Value objects that travel along the path of a connection.

A :class:`~netwarden.network.packet.FlowKey` is what the intercept layer
reads off the first packet; a :class:`~netwarden.network.connection.Connection`
is that flow once attribution and the name map have filled in who made it
and which domain it is for, and the firewall has attached its verdict.
"""
