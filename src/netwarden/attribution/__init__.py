"""Attribution: which process made a connection.

A flow read off a packet is turned into the socket that sent it
(:mod:`~netwarden.attribution.sock_diag`, netlink ``sock_diag`` inside the
protected network namespace), the socket into the pid that holds it
(:mod:`~netwarden.attribution.proc_fd`, an incrementally refreshed index of
``/proc/<pid>/fd``) and the pid into a
:class:`~netwarden.attribution.process.Process` (:mod:`.process_info`).
:class:`~netwarden.attribution.attributor.Attributor` chains the three for
the packet path and the nameserver. :mod:`.fake_proc` builds a fake
``/proc`` tree for tests that run without root.
"""
