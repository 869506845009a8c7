"""The daemon's local API, the only way the CLI (and later the web UI) talk
to it.

For now the API listens on a Unix socket in the state directory, created
with mode 0600 inside a 0700 directory, so only root can reach it; the file
system is the authentication. A Unix socket is also reachable from the
host's namespace whatever network namespace the daemon protects. The TCP
listener on 127.0.0.1 for the web UI, with its token, Host/Origin checks
and CSRF protection, comes with the web UI.
"""

API_SOCKET_NAME = "api.sock"
