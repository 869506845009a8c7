#!/bin/sh
# The README's first command: install, then netwarden protecting the lab.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/netwarden lab demo "$@"
