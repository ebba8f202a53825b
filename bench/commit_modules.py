"""A commit's version of some of this tree's modules, loaded beside them (the ``--against`` benches).

Each module is read by ``git show`` and run as ``_old_<name>``; its imports of the modules loaded
before it (``from x.y import``, ``from x import y``) point at their old versions, so the old
modules call each other and this tree's for the rest.
"""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Iterable


def modules_at(commit: str, names: Iterable[str], *, missing_ok: bool = False) -> dict[str, types.ModuleType]:
    """``names`` (dotted, each after those it imports) at ``commit``; with ``missing_ok``, those it has."""
    loaded: dict[str, types.ModuleType] = {}
    for name in names:
        path = name.replace(".", "/") + ".py"
        shown = subprocess.run(["git", "show", f"{commit}:{path}"], capture_output=True, text=True)
        if shown.returncode != 0:
            if missing_ok:
                continue
            raise SystemExit(f"{commit} has no {path}: {shown.stderr.strip()}")
        source = shown.stdout
        for earlier in loaded:
            package, _, leaf = earlier.rpartition(".")
            source = source.replace(f"from {earlier} import", f"from {old_name(earlier)} import")
            source = source.replace(
                f"from {package} import {leaf}\n", f"import {old_name(earlier)} as {leaf}\n"
            )
        module = types.ModuleType(old_name(name))
        module.__file__ = f"{commit}:{path}"
        sys.modules[module.__name__] = module
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        loaded[name] = module
    return loaded


def old_name(name: str) -> str:
    """The name a module's old version is loaded as."""
    return "_old_" + name.replace(".", "_")
