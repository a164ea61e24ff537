"""``python -m ddlcore.cli``: the ``ddl`` command (how the workflow runs every stage)."""

import sys

from .main import main

sys.exit(main())
