"""``python -m netwarden`` runs the command line."""

import sys

from netwarden.cli.main import main

sys.exit(main())
