"""Code fingerprints follow the imports: the closure of a hand-made package, every ``ddl`` command's
modules at run time inside its closure, and every workflow rule fingerprinting the command it runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ddlcore.cli.main import COMMANDS, command_modules
from ddlcore.code_closure import code_fingerprint, module_closure
from ddlcore.errors import DDLError
from snakemake_command import REPO


def write_package(root: Path) -> Path:
    """A small ``ddlcore`` tree: a imports b inside a function, b imports c as ``from . import c``, d is alone."""
    pkg = root / "ddlcore"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import os\n\n\ndef run():\n    from .sub import b\n    return b\n")
    (pkg / "sub" / "b.py").write_text("from . import c\nfrom ..errors_like import NAME\n")
    (pkg / "sub" / "c.py").write_text("VALUE = 1\n")
    (pkg / "errors_like.py").write_text("NAME = 'x'\n")
    (pkg / "d.py").write_text("import ddlcore.a\n")
    return pkg


def test_closure_follows_relative_function_level_and_from_package_imports(tmp_path):
    pkg = write_package(tmp_path)
    files = {p.relative_to(pkg).as_posix() for p in module_closure(["ddlcore.a"], pkg)}
    assert files == {"__init__.py", "a.py", "sub/__init__.py", "sub/b.py", "sub/c.py", "errors_like.py"}
    assert {p.name for p in module_closure(["ddlcore.d"], pkg)} >= {"d.py", "a.py", "c.py"}
    with pytest.raises(ValueError, match="ddlcore.nothing"):
        module_closure(["ddlcore.nothing"], pkg)


def test_fingerprint_changes_with_an_imported_module_only(tmp_path):
    pkg = write_package(tmp_path)
    before = code_fingerprint(["ddlcore.a"], pkg)
    (pkg / "d.py").write_text("import ddlcore.a\n# edited\n")
    assert code_fingerprint(["ddlcore.a"], pkg) == before  # d is not imported by a
    (pkg / "sub" / "c.py").write_text("VALUE = 2\n")
    assert code_fingerprint(["ddlcore.a"], pkg) != before


def test_an_unknown_command_is_one_clear_error():
    with pytest.raises(DDLError, match="unknown ddl command 'trian'"):
        command_modules("trian")


# Each command in a fresh interpreter: the ddlcore modules loaded once its parser is built must all be
# in its fingerprint (its module's import closure). Modules a command imports only while it runs are
# function-level imports, which the closure includes too.
LOADED = """
import json, sys
from ddlcore.cli.main import build_parser
build_parser(sys.argv[1])
print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items()
                        if n.split(".")[0] == "ddlcore" and getattr(m, "__file__", None))))
"""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_module_a_command_loads_is_in_its_fingerprint(command):
    run = subprocess.run([sys.executable, "-c", LOADED, command], capture_output=True, text=True, timeout=120, check=True)
    loaded = {Path(p).resolve() for p in json.loads(run.stdout)}
    closure = set(module_closure(command_modules(command))) | {(REPO / "ddlcore" / "cli" / f).resolve() for f in ("__init__.py", "main.py")}
    assert loaded - closure == set()


def test_every_rule_fingerprints_the_command_it_runs():
    checked = 0
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=\s*rule \w+:)", path.read_text()):
            name = re.match(r"\s*rule (\w+):", block)
            command = re.search(r'ddl\(\s*"([\w-]+)', block)
            if not (name and command):
                continue
            fingerprinted = re.search(r'code=code_fingerprint\("([\w-]+)"', block)
            assert fingerprinted, f"rule {name.group(1)} ({path.name}) has no code fingerprint"
            assert fingerprinted.group(1) == command.group(1), f"rule {name.group(1)} fingerprints another command"
            checked += 1
    assert checked >= 15
