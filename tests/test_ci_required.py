"""Under DDL_CI=true (.ci/run) a check that cannot run fails instead of skipping; elsewhere it skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHECK = '''
from ci_required import skip_unless_ci


def test_needs_a_browser():
    skip_unless_ci("no browser here")
'''


def _pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_check.py").write_text(CHECK)
    env = {k: v for k, v in os.environ.items() if k != "DDL_CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    if ci is not None:
        env["DDL_CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_a_ci_required_check_skips_in_a_users_clone_and_fails_in_ci(tmp_path):
    assert _pytest(tmp_path, None).returncode == 0
    ci = _pytest(tmp_path, "true")
    assert ci.returncode == 1 and "no browser here; CI (DDL_CI=true) must run this check" in ci.stdout
