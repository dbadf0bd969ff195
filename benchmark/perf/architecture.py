"""The house drawn from the code's own imports (issue 17 item 4): floors, cycles, and a package-level graph.

Reads the sources of ``benchmark``, ``datasets`` and ``baselines`` with :mod:`ast` (nothing is imported) and
sorts every import into one of three kinds of arrow:

* ``module``: a statement that runs when the file is imported (at the top, in a class body, under ``if`` or
  ``try``). Imports under ``if TYPE_CHECKING:`` are left out: they never run.
* ``function``: a statement inside a function or lambda, run only when it is called. The CLI and its commands
  import this way on purpose, so that ``ticketbench --help`` loads no torch.
* ``named``: a string ``"package.module:function"`` naming an internal module, which the CLI imports with
  :func:`importlib.import_module` (the command table in :mod:`benchmark.cli.parsers`). Method plug-ins reached
  through the ``ticketbench.methods`` entry points are not arrows: the harness finds them by name at run time.

``from pkg import name`` is an arrow to ``pkg.name`` where that is a module, else to ``pkg`` (its
``__init__``). Arrows go between modules; a package's ``__init__`` is a module of its own, and the implicit
import of a module's parent packages is not an arrow (it is counted only for :func:`loads`, which answers "what
runs when this module is imported").

**Floors** are counted on module-level arrows only, between modules, outside ``benchmark.perf``: a module that
imports nothing internal is on floor 1, any other on one floor above the highest module it imports; the house's
floors are the highest floor, i.e. the number of modules on the longest import chain. (A cycle's modules share
one floor.) Lazy arrows do not raise a floor, since they do not run at import time, but they are still arrows:
:func:`cycles` takes any graph, and ``house.all_edges()`` gives both kinds.

``benchmark.perf`` (these benchmarks, and this file) is drawn but kept out of the floors: it is not part of the
product and sits above everything it measures.

Run ``python -m benchmark.perf.architecture [--root DIR] [--mermaid]``: the floors with their modules, the
cycles, the nn/pipeline → mip arrows, and the Mermaid graph that ``docs/architecture.md`` shows.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("benchmark", "datasets", "baselines")
OFF_THE_FLOORS = ("benchmark.perf",)  # drawn, but not a floor of the product
NAMED = re.compile(r"^([A-Za-z_][\w.]*):[A-Za-z_]\w*$")
KINDS = ("module", "function", "named")

Graph = Mapping[str, Iterable[str]]


@dataclass
class House:
    """Modules (dotted name → file) and their internal arrows by kind, with the external top-level imports."""

    root: Path
    modules: dict[str, Path] = field(default_factory=dict)
    edges: dict[str, dict[str, set[str]]] = field(default_factory=lambda: {kind: defaultdict(set) for kind in KINDS})
    external: dict[str, dict[str, set[str]]] = field(
        default_factory=lambda: {kind: defaultdict(set) for kind in KINDS})
    lines: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (kind, source, target) → first line

    def graph(self, *kinds: str, product_only: bool = False) -> dict[str, set[str]]:
        """The arrows of the given kinds (default: module level) as ``module → {modules}``."""
        kinds = kinds or ("module",)
        keep = (lambda m: not in_perf(m)) if product_only else (lambda m: True)
        out: dict[str, set[str]] = {m: set() for m in self.modules if keep(m)}
        for kind in kinds:
            for source, targets in self.edges[kind].items():
                if keep(source):
                    out[source] |= {t for t in targets if keep(t) and t != source}
        return out

    def all_edges(self) -> dict[str, set[str]]:
        """Module-level, function-level and named arrows together."""
        return self.graph(*KINDS)

    def where(self, source: str, target: str) -> str:
        """``source:line (kind)`` of the first arrow from ``source`` to ``target``."""
        for kind in KINDS:
            if (kind, source, target) in self.lines:
                return f"{self.modules[source].relative_to(self.root)}:{self.lines[kind, source, target]} ({kind})"
        return f"{source} (no arrow to {target})"


def in_perf(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in OFF_THE_FLOORS)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(house: House, module: str) -> bool:
    return house.modules[module].name == "__init__.py"


def build(root: Path, packages: Iterable[str] = PACKAGES) -> House:
    """Parse every ``.py`` file under ``root/<package>`` and collect its arrows."""
    house = House(root=Path(root))
    for package in packages:
        for path in sorted((house.root / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                house.modules[module_name(path, house.root)] = path
    for module, path in house.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        _collect(house, module, tree)
    return house


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _collect(house: House, module: str, tree: ast.AST) -> None:
    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for stmt in child.orelse:  # the else branch does run
                    visit(stmt, lazy)
                continue
            kind = "function" if lazy else "module"
            if isinstance(child, ast.Import):
                for alias in child.names:
                    _arrow(house, kind, module, alias.name, None, child.lineno)
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(house, module, child.module, child.level)
                for alias in child.names:
                    _arrow(house, kind, module, base, alias.name, child.lineno)
            elif isinstance(child, ast.Constant) and isinstance(child.value, str):
                match = NAMED.match(child.value)
                if match and match.group(1) in house.modules:
                    _arrow(house, "named", module, match.group(1), None, child.lineno)
            visit(child, lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(tree, False)


def _absolute(house: House, module: str, name: str | None, level: int) -> str:
    if not level:
        return name or ""
    package = module if is_package(house, module) else module.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{name}" if name else package


def _arrow(house: House, kind: str, source: str, base: str, name: str | None, line: int) -> None:
    top = base.partition(".")[0]
    if top not in {m.partition(".")[0] for m in house.modules}:
        house.external[kind][source].add(top)
        return
    target = f"{base}.{name}" if name and f"{base}.{name}" in house.modules else base
    while target and target not in house.modules:  # an attribute path: the nearest module above it
        target = target.rpartition(".")[0]
    if target and target != source:
        house.edges[kind][source].add(target)
        house.lines.setdefault((kind, source, target), line)


# -- the shape of a graph -----------------------------------------------------------------------------------------

def components(graph: Graph) -> list[list[str]]:
    """Strongly connected components (Tarjan), each sorted; a component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                members.append(w)
                if w == v:
                    break
            out.append(sorted(members))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def cycles(graph: Graph) -> list[list[str]]:
    """One concrete cycle ``[a, b, ..., a]`` per strongly connected component of more than one module."""
    found = []
    for members in components(graph):
        if len(members) < 2:
            continue
        inside = set(members)
        start, path, seen = members[0], [members[0]], {members[0]}
        while True:  # walk inside the component until a module repeats
            step = sorted(w for w in graph.get(path[-1], ()) if w in inside)
            unseen = [w for w in step if w not in seen]
            if start in step:
                found.append([*path, start])
                break
            if not unseen:
                back = next(w for w in step if w in seen)
                found.append([*path[path.index(back):], back])
                break
            path.append(unseen[0])
            seen.add(unseen[0])
    return found


def floors(graph: Graph) -> dict[str, int]:
    """Each module's floor: 1 for a module importing nothing internal, else one above the highest it imports.
    The modules of one cycle share a floor."""
    comp_of = {m: i for i, members in enumerate(components(graph)) for m in members}
    level: dict[int, int] = {}
    for i, members in enumerate(components(graph)):  # Tarjan emits a component after all it reaches
        below = [level[comp_of[w]] for m in members for w in graph.get(m, ()) if comp_of[w] != i]
        level[i] = 1 + max(below, default=0)
    return {m: level[comp_of[m]] for m in graph}


def by_floor(graph: Graph) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for module, floor in floors(graph).items():
        out[floor].append(module)
    return {f: sorted(out[f]) for f in sorted(out)}


def longest_chain(graph: Graph) -> list[str]:
    """One import chain through every floor, from the top module down to floor 1."""
    floor = floors(graph)
    module = max(sorted(floor), key=floor.get)
    chain = [module]
    while floor[module] > 1:
        module = next(w for w in sorted(graph[module]) if floor[w] == floor[module] - 1)
        chain.append(module)
    return chain


def path(graph: Graph, start: str, goal) -> list[str] | None:
    """A shortest arrow path from ``start`` to a module for which ``goal(module)`` holds, or None."""
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    for v in queue:
        if goal(v) and v != start:
            out = [v]
            while previous[out[-1]] is not None:
                out.append(previous[out[-1]])
            return out[::-1]
        for w in sorted(graph.get(v, ())):
            if w not in previous:
                previous[w] = v
                queue.append(w)
    return None


def parents(module: str) -> list[str]:
    """``a.b.c`` → ``["a", "a.b"]``: the packages Python imports before the module."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def loading_graph(house: House, *kinds: str) -> dict[str, set[str]]:
    """The arrows of the given kinds (default: module level) plus, for every module, an arrow to each of its
    parent packages: what Python runs when the module is imported."""
    graph = house.graph(*(kinds or ("module",)))
    return {m: targets | {p for p in parents(m) if p in house.modules} for m, targets in graph.items()}


def loads(house: House, module: str, *kinds: str) -> list[str]:
    """What runs when ``module`` is imported, itself first, in breadth-first order."""
    return list(_walk(loading_graph(house, *kinds), module))


def _walk(graph: Graph, start: str):
    queue, seen = [start], {start}
    for v in queue:
        yield v
        for w in sorted(graph.get(v, ())):
            if w not in seen:
                seen.add(w)
                queue.append(w)


def external_chain(house: House, module: str, top: str) -> list[str] | None:
    """The chain of module-level imports (parent packages included) by which importing ``module`` imports the
    external package ``top``, ending in ``top``; None where it does not."""
    graph = loading_graph(house)
    imports_top = lambda m: top in house.external["module"].get(m, ())  # noqa: E731
    if imports_top(module):
        return [module, top]
    chain = path(graph, module, imports_top)
    return [*chain, top] if chain else None


# -- the package level --------------------------------------------------------------------------------------------

def package_of(house: House, module: str) -> str:
    """The folder a module lives in: a top-level package (``datasets``, ``baselines``), or a folder directly under
    ``benchmark/`` with everything below it (``benchmark.cli`` holds ``benchmark.cli.commands``: one concern).
    The flat files of ``benchmark/`` itself (its ``__init__`` and ``__main__``) are drawn on their own."""
    parts = module.split(".")
    if parts[0] != "benchmark":
        return parts[0]
    folder = ".".join(parts[:2])
    return folder if len(parts) > 1 and is_package(house, folder) else module


def package_graph(house: House, *kinds: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for source, targets in house.graph(*(kinds or ("module",))).items():
        a = package_of(house, source)
        out[a]
        for target in targets:
            b = package_of(house, target)
            if b != a:
                out[a].add(b)
    return dict(out)


def reduced(graph: Graph) -> dict[str, set[str]]:
    """The transitive reduction of an acyclic graph: an arrow ``a → b`` is dropped where a longer path from ``a``
    reaches ``b``. (A graph with a cycle is returned whole.)"""
    full = {a: set(bs) for a, bs in graph.items()}
    if cycles(full):
        return full
    reach: dict[str, set[str]] = {}

    def below(v: str) -> set[str]:
        if v not in reach:
            reach[v] = set()
            for w in full.get(v, ()):
                reach[v] |= {w} | below(w)
        return reach[v]

    return {a: {b for b in bs if not any(b in below(c) for c in bs if c != b)} for a, bs in full.items()}


def folder_graph(house: House, *kinds: str) -> dict[str, set[str]]:
    """:func:`package_graph` without ``benchmark.perf``: the house as the issue draws it."""
    return {a: {b for b in bs if not in_perf(b)} for a, bs in package_graph(house, *kinds).items()
            if not in_perf(a)}


def mermaid(house: House, full: bool = False) -> str:
    """A Mermaid ``graph`` of the folder-level module-level arrows, ``benchmark.perf`` left out and the flat
    ``benchmark/*.py`` modules in one box. Unless ``full``, an arrow implied by a longer path is left out (the
    transitive reduction), so the floors read top to bottom. Lazy (function-level or named) arrows between
    folders that no module-level path already gives are dotted."""
    strong = folder_graph(house, "module")
    everything = folder_graph(house, *KINDS)
    drawn = strong if full else reduced(strong)
    if full:
        lazy = {a: everything[a] - strong.get(a, set()) for a in everything}
    else:
        lazy = {a: {b for b in everything[a] - strong.get(a, set())
                    if not path(strong, a, lambda m, b=b: m == b)} for a in everything}
    ident = {name: name.replace(".", "_") for name in {*strong, *everything}}

    def flat_module(name: str) -> bool:
        return name == "benchmark" or name.startswith("benchmark.") and not is_package(house, name)

    def label(name: str) -> str:
        short = "__init__" if name == "benchmark" else name.removeprefix("benchmark.")
        return f'{ident[name]}["{short}.py"]' if flat_module(name) else f'{ident[name]}["{short}/"]'

    lines = ["graph TD"]
    flat = sorted(n for n in ident if flat_module(n))
    lines.append('  subgraph flat ["benchmark/ (flat modules)"]')
    lines += [f"    {label(n)}" for n in flat]
    lines.append("  end")
    lines += [f"  {label(n)}" for n in sorted(ident) if n not in flat]
    lines += [f"  {ident[a]} --> {ident[b]}" for a in sorted(drawn) for b in sorted(drawn[a])]
    lines += [f"  {ident[a]} -.-> {ident[b]}" for a in sorted(lazy) for b in sorted(lazy[a])]
    return "\n".join(lines)


def report(house: House) -> str:
    """The floors with their modules, the cycles (module level, and with lazy arrows), and the nn/pipeline → mip
    arrows."""
    folders = folder_graph(house, "module")
    out = [f"the house: {len(folders)} folders and flat benchmark/ modules on {len(by_floor(folders))} floors of "
           "module-level imports (benchmark.perf left out)",
           "longest chain: " + " -> ".join(longest_chain(folders)), ""]
    out += [f"floor {f:2d} ({len(ms):2d}): " + ", ".join(ms) for f, ms in reversed(by_floor(folders).items())]
    product = house.graph("module", product_only=True)
    floors_ = by_floor(product)
    out += ["", f"modules: {len(product)} on {len(floors_)} floors of module-level imports",
            "longest chain: " + " -> ".join(longest_chain(product)), ""]
    out += [f"floor {f:2d} ({len(ms):2d}): " + ", ".join(ms) for f, ms in reversed(floors_.items())]
    for title, graph in (("module-level cycles", house.graph("module")),
                         ("cycles with lazy (function-level, named) arrows too", house.all_edges()),
                         ("folder-level cycles, lazy arrows too", folder_graph(house, *KINDS))):
        found = cycles(graph)
        out += ["", f"{title}: {len(found) or 'none'}"] + ["  " + " -> ".join(c) for c in found]
    out += ["", "nn and pipeline -> mip (module level):"]
    for module in sorted(m for m in house.modules if m.startswith(("benchmark.nn.", "benchmark.pipeline."))):
        chain = path(house.graph("module"), module, lambda m: m == "benchmark.mip" or m.startswith("benchmark.mip."))
        out.append(f"  {module}: " + (" -> ".join(chain) + f"  [{house.where(chain[0], chain[1])}]"
                                      if chain else "none"))
    return "\n".join(out)


CORE = ("benchmark.core.config", "benchmark.core.specs", "benchmark.core.errors", "benchmark.core.options",
        "benchmark.core.records", "benchmark.core.paper", "benchmark.core.plugins", "benchmark.core.log",
        "benchmark.cli.main")  # load no torch when imported


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None,
                        help="the folder holding benchmark/, datasets/ and baselines/ (default: where the "
                             "installed benchmark package is)")
    parser.add_argument("--mermaid", action="store_true", help="print only the Mermaid graph")
    args = parser.parse_args(argv)
    root = args.root or Path(importlib.util.find_spec("benchmark").submodule_search_locations[0]).parent
    house = build(root)
    print(mermaid(house) if args.mermaid else report(house))


if __name__ == "__main__":
    main()
