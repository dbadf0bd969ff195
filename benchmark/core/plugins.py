"""The method plug-ins as entry points of ``ticketbench.methods``: their names and one-line descriptions, read
without importing them (a plug-in module loads torch; ``ticketbench list methods`` and the command line's
parser must not wait for that). :mod:`benchmark.methods` loads them.
"""

from __future__ import annotations

import ast
import importlib.util
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

ENTRY_POINT_GROUP = "ticketbench.methods"


def method_entry_points() -> dict[str, EntryPoint]:
    """The entry points of ``ticketbench.methods`` by name, in name order; none is loaded."""
    return {ep.name: ep for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)}


def module_source(module: str) -> Path | None:
    """The source file of ``module`` found without importing it or its parent packages, or None."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin else None
    for folder in spec.submodule_search_locations or ():
        path = Path(folder, *rest[:-1], rest[-1] + ".py")
        if path.is_file():
            return path
    return None


def static_description(ep: EntryPoint) -> str:
    """The ``description`` the plug-in class assigns as a string literal, read from its source; the entry point
    itself (``module:Class``) when the source cannot say."""
    path = module_source(ep.module)
    classes = ast.parse(path.read_text()).body if path else []
    for node in classes:
        if isinstance(node, ast.ClassDef) and node.name == ep.attr:
            for item in node.body:
                if (isinstance(item, ast.Assign) and [getattr(t, "id", None) for t in item.targets] == ["description"]
                        and isinstance(item.value, ast.Constant) and isinstance(item.value.value, str)):
                    return item.value.value
    return ep.value
