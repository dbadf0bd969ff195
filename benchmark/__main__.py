"""``python -m benchmark`` runs the ticketbench CLI."""

import sys

from benchmark.cli.main import main

sys.exit(main())
