"""Records against current values: one check per (configuration, metric), shown as a readable diff table.

Accuracy checks: the config hash, the seed, the units kept per layer and the mask hash must match exactly (CPU
training is bit-reproducible for a seed); the accuracy must lie within the record's ``accuracy_tolerance``
(from the measured seed spread, see ``results/baselines/README.md``).

Solver-work checks (one SCIP version, settings, seed and thread): the tolerances of :data:`SOLVER_TOLERANCES`.
Records made with another SCIP version are not compared at all: :func:`scip_mismatch` gives one "re-baseline
needed" line instead of a failure per metric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# metric: (kind, tolerance); "exact", "relative" (|now - ref| <= tol * max(1, |ref|)).
# SCIP is deterministic for one build, settings, seed and thread; the objective is compared to 1e-6 relative
# because its last digits depend on the floating-point path of the platform.
SOLVER_TOLERANCES = {
    "status": ("exact", 0),
    "nodes": ("exact", 0),
    "lp_iterations": ("exact", 0),
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


def compare_accuracy(reference: dict[str, dict], current: dict[str, dict]) -> list[Check]:
    """Every accuracy check of ``current`` records against ``reference`` records (both by name)."""
    checks = _presence(reference, current)
    for name in sorted(set(reference) & set(current)):
        ref, now = reference[name], current[name]
        checks.append(_exact(name, "config_hash", ref["config_hash"], now["config_hash"]))
        checks.append(_exact(name, "seed", ref["seed"], now["seed"]))
        tol = ref.get("accuracy_tolerance", 0.0)
        ok = ref["accuracy"] is not None and now["accuracy"] is not None and abs(
            now["accuracy"] - ref["accuracy"]) <= tol + 1e-12
        checks.append(Check(name, ref.get("accuracy_metric", "accuracy"), ref["accuracy"], now["accuracy"],
                            f"±{tol:g}", ok))
        for layer in sorted(set(ref["kept"]) | set(now["kept"])):
            checks.append(_exact(name, f"kept[{layer}]", ref["kept"].get(layer), now["kept"].get(layer)))
        checks.append(_exact(name, "mask_sha", ref["mask_sha"], now["mask_sha"]))
    return checks


def scip_mismatch(reference: dict[str, dict], installed: str) -> str | None:
    """One line when the records' SCIP version is not the installed one (their solver work cannot compare)."""
    recorded = sorted({str(r["solver"]["scip_version"]) for r in reference.values() if "solver" in r})
    if recorded and recorded != [str(installed)]:
        return (f"re-baseline needed (records: SCIP {', '.join(recorded)}, installed: SCIP {installed}): "
                "solver work is only comparable on one SCIP version; run `ticketbench baseline update`")
    return None


def _within(kind: str, tol: float, ref, now) -> bool:
    if kind == "exact" or not isinstance(ref, int | float) or not isinstance(now, int | float):
        return ref == now
    return math.isfinite(now) and abs(now - ref) <= tol * max(1.0, abs(ref))


def compare_solver(reference: dict[str, dict], current: dict[str, dict]) -> list[Check]:
    """Every solver-work check of the MIP records (those with ``solver``) of ``current`` against ``reference``.
    Call :func:`scip_mismatch` first: across SCIP versions these checks mean nothing."""
    checks = []
    for name in sorted(n for n, r in reference.items() if "solver" in r):
        ref = reference[name]["solver"]
        now = current.get(name, {}).get("solver")
        if now is None:
            checks.append(Check(name, "solver", "present", "missing", "exact", False))
            continue
        for metric, (kind, tol) in SOLVER_TOLERANCES.items():
            label = "exact" if kind == "exact" else f"{tol:g} relative"
            checks.append(Check(name, metric, ref.get(metric), now.get(metric), label,
                                _within(kind, tol, ref.get(metric), now.get(metric))))
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


def version_notes(reference: dict[str, dict], installed: dict) -> list[str]:
    """A line per library whose recorded version (in the records' manifests) differs from the installed one."""
    notes = []
    for key in ("torch", "scip", "pyscipopt", "python"):
        recorded = sorted({str(r["manifest"].get(key)) for r in reference.values() if "manifest" in r})
        if recorded and recorded != [str(installed.get(key))]:
            notes.append(f"note: records made with {key} {', '.join(recorded)}, installed {installed.get(key)}; "
                         "if that explains the diff, re-baseline (ticketbench baseline update) and say so")
    return notes


def accuracy_report(reference: dict[str, dict], current: dict[str, dict], installed: dict) -> str:
    """Empty when every accuracy check passes; else the summary and diff table, headed by version notes."""
    return summary("accuracy regression", compare_accuracy(reference, current), version_notes(reference, installed))


def solver_report(reference: dict[str, dict], current: dict[str, dict], installed_scip: str) -> str:
    """Empty when the solver work matches; the one "re-baseline needed" line when the SCIP version differs;
    else the summary and diff table."""
    return scip_mismatch(reference, installed_scip) or summary("solver-work regression",
                                                               compare_solver(reference, current))
