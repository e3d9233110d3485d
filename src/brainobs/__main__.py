"""``python -m brainobs`` runs the command-line interface."""

import sys

from brainobs.cli import main

sys.exit(main())
