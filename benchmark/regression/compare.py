"""Records against current values: one check per (configuration, metric), shown as a readable diff table.

CPU training and the MIP builder's float path are bit-reproducible on one machine kind, not across kinds (AVX2
against AVX-512, another BLAS): which checks apply depends on whether the record's platform fingerprint
(:func:`benchmark.store.manifest.platform_fingerprint`) is the installed one.

* Always: the record's library versions (torch, Python, PySCIPOpt, SCIP) must be the installed ones, else the
  one line of :func:`version_mismatch` replaces every check; the config hash and seed exactly; the accuracy
  within the record's ``accuracy_tolerance`` (3 std of the measured seed spread; on another platform the larger
  of that and the configuration's measured platform tolerance); the solver status and binary counts exactly and
  the objective within 1e-6 relative.
* Same platform: the units kept per layer, the mask hash, the solver's nodes and LP iterations and the built
  instance's digest exactly.
* Another platform: the units kept per layer within ``kept_units`` (``max(floor, ceil(fraction * layer
  size))``), the masks' agreement (the share of units with the same keep decision) at least ``mask_agreement``,
  and nodes and LP iterations within ``solver`` relative tolerances: the tolerances of ``platforms.json``,
  measured per configuration by :mod:`benchmark.regression.platforms`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchmark.store.manifest import same_platform

VERSIONS = ("torch", "python", "pyscipopt", "scip")
# metric: (kind, tolerance); "exact", "relative" (|now - ref| <= tol * max(1, |ref|)), "platform" (exact on the
# record's platform, else within the measured relative tolerance of platforms.json)
SOLVER_TOLERANCES = {
    "status": ("exact", 0),
    "nodes": ("platform", 0),
    "lp_iterations": ("platform", 0),
    "binaries_before_stable_removal": ("exact", 0),
    "binaries_after_stable_removal": ("exact", 0),
    "primal_bound": ("relative", 1e-6),
}
HEADER = ("config", "metric", "reference", "now", "tolerance", "")


@dataclass(frozen=True)
class Check:
    """One compared figure: where, what, the recorded and the current value, the tolerance, and the verdict."""

    config: str
    metric: str
    reference: object
    now: object
    tolerance: str
    ok: bool


def _exact(config: str, metric: str, reference, now) -> Check:
    return Check(config, metric, reference, now, "exact", reference == now)


def _presence(reference: dict, current: dict) -> list[Check]:
    return [Check(name, "record", "present" if name in reference else "missing",
                  "present" if name in current else "missing", "exact", False)
            for name in sorted(set(reference) ^ set(current))]


def _recorded_platform(record: dict) -> dict | None:
    return record.get("manifest", {}).get("platform")


def agreement(reference: dict[str, str], now: dict[str, str]) -> float:
    """The share of units whose keep decision is the same in two masks given as ``0``/``1`` strings per layer
    (0 when the layers or their sizes differ)."""
    if set(reference) != set(now) or any(len(reference[k]) != len(now[k]) for k in reference):
        return 0.0
    units = sum(len(bits) for bits in reference.values())
    same = sum(a == b for k in reference for a, b in zip(reference[k], now[k]))
    return same / max(1, units)


def platform_rule(name: str, tolerances: dict) -> tuple[float, float, int]:
    """(kept fraction, least mask agreement, floor in units) for configuration ``name`` on another platform: its
    own measured tolerances, or the worst measured for one not in ``tolerances["configs"]``."""
    own = tolerances.get("configs", {}).get(name)
    floor = int(tolerances["kept_units"]["floor"])
    if own is None:
        return tolerances["kept_units"]["fraction"], tolerances["mask_agreement"], floor
    return own["kept_fraction"], own["mask_agreement"], floor


def kept_tolerance(size: int, fraction: float, floor: int) -> int:
    """Units a layer of ``size`` units may keep more or fewer on another platform."""
    return max(floor, math.ceil(fraction * size - 1e-9))


def compare_mask(name: str, ref: dict, now: dict, installed_platform: dict | None,
                 tolerances: dict | None) -> list[Check]:
    """Kept units per layer and the mask: exact on the record's platform, within the platform tolerances
    elsewhere (see the module docstring)."""
    if same_platform(_recorded_platform(ref), installed_platform) or tolerances is None:
        checks = [_exact(name, f"kept[{layer}]", ref["kept"].get(layer), now["kept"].get(layer))
                  for layer in sorted(set(ref["kept"]) | set(now["kept"]))]
        return checks + [_exact(name, "mask_sha", ref["mask_sha"], now["mask_sha"])]
    checks = []
    fraction, least, floor = platform_rule(name, tolerances)
    for layer in sorted(set(ref["kept"]) | set(now["kept"])):
        a, b = ref["kept"].get(layer), now["kept"].get(layer)
        size = len(ref.get("mask", {}).get(layer, "")) or max(a or 0, b or 0)
        tol = kept_tolerance(size, fraction, floor)
        ok = a is not None and b is not None and abs(a - b) <= tol
        checks.append(Check(name, f"kept[{layer}]", a, b, f"±{tol} (other platform)", ok))
    share = agreement(ref.get("mask", {}), now.get("mask", {}))
    checks.append(Check(name, "mask agreement", 1.0, share, f">= {least:g} (other platform)", share >= least))
    return checks


def compare_accuracy(reference: dict[str, dict], current: dict[str, dict], installed_platform: dict | None = None,
                     tolerances: dict | None = None) -> list[Check]:
    """Every accuracy check of ``current`` records against ``reference`` records (both by name). Records made on
    ``installed_platform`` (or any, when ``tolerances`` is None) compare masks exactly; others by ``tolerances``
    (``platforms.json``)."""
    checks = _presence(reference, current)
    for name in sorted(set(reference) & set(current)):
        ref, now = reference[name], current[name]
        checks.append(_exact(name, "config_hash", ref["config_hash"], now["config_hash"]))
        checks.append(_exact(name, "seed", ref["seed"], now["seed"]))
        tol = ref.get("accuracy_tolerance", 0.0)
        if tolerances is not None and not same_platform(_recorded_platform(ref), installed_platform):
            tol = max(tol, tolerances.get("configs", {}).get(name, {}).get("accuracy", tol))
        ok = ref["accuracy"] is not None and now["accuracy"] is not None and abs(
            now["accuracy"] - ref["accuracy"]) <= tol + 1e-12
        checks.append(Check(name, ref.get("accuracy_metric", "accuracy"), ref["accuracy"], now["accuracy"],
                            f"±{tol:g}", ok))
        checks += compare_mask(name, ref, now, installed_platform, tolerances)
    return checks


def version_mismatch(reference: dict[str, dict], installed: dict) -> str | None:
    """One line when the records were made with another torch, Python, PySCIPOpt or SCIP than the installed ones
    (``installed`` is a manifest): no figure can be compared then."""
    differing = []
    for key in VERSIONS:
        recorded = sorted({str(r["manifest"].get(key)) for r in reference.values() if "manifest" in r})
        if recorded and recorded != [str(installed.get(key))]:
            differing.append((key, ", ".join(recorded), str(installed.get(key))))
    if not differing:
        return None
    return (f"re-baseline needed (records: {'; '.join(f'{k} {r}' for k, r, _ in differing)}; installed: "
            f"{'; '.join(f'{k} {i}' for k, _, i in differing)}): the records hold for one locked environment; "
            "install requirements.lock, or run `ticketbench baseline update` and say why")


def _within(kind: str, tol: float, ref, now) -> bool:
    if kind == "exact" or not isinstance(ref, int | float) or not isinstance(now, int | float):
        return ref == now
    return math.isfinite(now) and abs(now - ref) <= tol * max(1.0, abs(ref))


def compare_solver(reference: dict[str, dict], current: dict[str, dict], installed_platform: dict | None = None,
                   tolerances: dict | None = None) -> list[Check]:
    """Every solver-work check of the solver records (:mod:`.solver_work`) of ``current`` against ``reference``:
    :data:`SOLVER_TOLERANCES`, the instance digest, and the kept units and mask (as :func:`compare_mask`)."""
    checks = _presence(reference, current)
    for name in sorted(set(reference) & set(current)):
        ref, now = reference[name], current[name]
        home = same_platform(_recorded_platform(ref), installed_platform) or tolerances is None
        checks.append(_exact(name, "fixture_sha256", ref["fixture_sha256"], now["fixture_sha256"]))
        if home:
            checks.append(_exact(name, "instance_sha", ref["instance_sha"], now["instance_sha"]))
        for metric, (kind, tol) in SOLVER_TOLERANCES.items():
            if kind == "platform":
                kind, tol = ("exact", 0) if home else ("relative", tolerances["solver"][metric])
            label = "exact" if kind == "exact" else f"{tol:g} relative" + ("" if home else " (other platform)")
            a, b = ref["solver"].get(metric), now["solver"].get(metric)
            checks.append(Check(name, metric, a, b, label, _within(kind, tol, a, b)))
        checks += compare_mask(name, ref, now, installed_platform, tolerances)
    return checks


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


def format_table(checks: list[Check], failures_only: bool = True) -> str:
    """A fixed-width table: config, metric, reference, now, tolerance, and FAIL on failed checks."""
    shown = [c for c in checks if not (failures_only and c.ok)]
    rows = [HEADER] + [(c.config, c.metric, _cell(c.reference), _cell(c.now), c.tolerance, "" if c.ok else "FAIL")
                       for c in shown]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths).rstrip())
    return "\n".join(lines)


def summary(title: str, checks: list[Check], notes: list[str] = ()) -> str:
    """``title: N of M checks failed``, the notes, and the table of failed checks (empty when all pass)."""
    failed = [c for c in checks if not c.ok]
    if not failed:
        return ""
    return "\n".join([f"{title}: {len(failed)} of {len(checks)} checks failed", *notes, format_table(failed)])


def accuracy_report(reference: dict[str, dict], current: dict[str, dict], installed: dict,
                    tolerances: dict | None = None) -> str:
    """Empty when every accuracy check passes; the one "re-baseline needed" line when the versions differ; else
    the summary and diff table. ``installed`` is the running manifest (versions and platform)."""
    return version_mismatch(reference, installed) or summary(
        "accuracy regression", compare_accuracy(reference, current, installed.get("platform"), tolerances))


def solver_report(reference: dict[str, dict], current: dict[str, dict], installed: dict,
                  tolerances: dict | None = None) -> str:
    """Empty when the solver work matches; the one "re-baseline needed" line when the versions differ; else the
    summary and diff table."""
    return version_mismatch(reference, installed) or summary(
        "solver-work regression", compare_solver(reference, current, installed.get("platform"), tolerances))
