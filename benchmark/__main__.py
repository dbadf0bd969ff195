"""``python -m benchmark`` runs the ticketbench CLI."""

import sys

from benchmark.cli import main

sys.exit(main())
