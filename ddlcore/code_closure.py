"""Which ddlcore source files a piece of code can run: the import closure, and a fingerprint of it.

The workflow gives each rule the fingerprint of the modules its command runs, so that editing a
module re-runs exactly the jobs whose code imports it (Snakemake's own code trigger sees only the
rule's text). The closure is found statically from the source (``ast``): every ``import`` and
``from ... import`` of a ``ddlcore`` module, at the top of a module or inside a function, followed
transitively; ``from package import name`` counts ``package.name`` when that is a module. A module
imported by a string (``importlib.import_module``), as the dataset registry imports its adapters, is
not followed: the caller names it.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Iterable

PACKAGE = "ddlcore"
PACKAGE_ROOT = Path(__file__).resolve().parent


def module_file(module: str, root: Path = PACKAGE_ROOT) -> Path | None:
    """The source file of a dotted ``ddlcore`` module (a package's ``__init__.py``); None if there is none."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parents(module: str) -> list[str]:
    """``a.b.c`` -> ``[a, a.b]``: the packages Python imports before the module itself."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _direct_imports(path: Path, module: str, root: Path) -> frozenset[str]:
    """The ``ddlcore`` modules that one source file imports anywhere in its body."""
    stat = path.stat()
    return _parsed_imports(path, module, root, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=None)
def _parsed_imports(path: Path, module: str, root: Path, mtime_ns: int, size: int) -> frozenset[str]:
    """:func:`_direct_imports` of one version of the file (cached by modification time and size)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return frozenset(m for m in found if m.split(".")[0] == PACKAGE and module_file(m, root) is not None)


def module_closure(modules: Iterable[str], root: Path = PACKAGE_ROOT) -> list[Path]:
    """Source files of ``modules`` and of every ddlcore module they import, transitively.

    modules: dotted names (``ddlcore.train.trainer``); root: the ``ddlcore`` folder to read.
    Returns the files sorted by path. Raises ValueError for a name that is no ddlcore module.
    """
    pending = []
    for name in modules:
        if module_file(name, root) is None:
            raise ValueError(f"not a {PACKAGE} module: {name}")
        pending.append(name)
    seen: dict[str, Path] = {}
    while pending:
        name = pending.pop()
        for candidate in [*_parents(name), name]:
            if candidate in seen:
                continue
            path = module_file(candidate, root)
            if path is None:
                continue
            seen[candidate] = path
            pending.extend(_direct_imports(path, candidate, root) - seen.keys())
    return sorted(set(seen.values()))


def code_fingerprint(modules: Iterable[str], root: Path = PACKAGE_ROOT) -> str:
    """A 16-hex-digit hash of the paths and contents of :func:`module_closure` of ``modules``."""
    digest = hashlib.sha256()
    for path in module_closure(modules, root):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
