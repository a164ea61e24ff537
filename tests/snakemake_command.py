"""The command that runs this repository's workflow from a test: ``[*SNAKEMAKE, "--directory", workdir, ...]``.

Snakemake runs as a module of the interpreter running the tests (the project's virtualenv), on the
repository's Snakefile, so a test's working directory holds only that test's config and results.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
