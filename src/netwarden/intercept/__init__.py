"""Packet interception: netfilter rules, the NFQUEUE socket and its reader.

The kernel sends the first packet(s) of every undecided outbound TCP and
UDP connection to an NFQUEUE (:mod:`.nfqueue`, raw netlink, no C library).
The :class:`~.queue_reader.QueueReader` parses each one into a
:class:`~netwarden.network.packet.FlowKey` (:mod:`.packet_parse`), asks a
decider for a verdict and answers the kernel with a mark (:mod:`.marks`).
The rules that :mod:`.backend` installs (text from :mod:`.rules`) save the
mark in the connection's conntrack entry, so every later packet of the
connection is handled in the kernel and never reaches Python again.
"""
