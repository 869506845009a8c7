#!/bin/sh
# The README's second command: install, then the whole test suite.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
