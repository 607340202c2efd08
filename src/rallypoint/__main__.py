"""``python -m rallypoint`` runs the command line."""

import sys

from rallypoint.cli import main

sys.exit(main())
