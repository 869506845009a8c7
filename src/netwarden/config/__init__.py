"""Settings: the option registry, the config file and what it loads.

Each option is declared once in :mod:`netwarden.config.options` with its
key, type, default, help text and parser; the config file
(:mod:`netwarden.config.file`), and later the CLI, the API and the
generated docs, are driven by that registry. A file is applied whole or
not at all: the first bad line raises
:class:`~netwarden.errors.ConfigError` naming file, line and key, and no
setting changes. The walking skeleton keeps global settings only; per-app
values and the SQLite store come with the settings issue.
"""
