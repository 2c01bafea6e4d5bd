"""``python -m astrolab`` runs the command line."""

import sys

from astrolab.cli import main

sys.exit(main())
