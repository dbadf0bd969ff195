"""One self-contained report page (inline CSS, base64 PNGs, no external links) beside its tables and figures."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

import pandas as pd

from benchmark.report.claims import CONFIRMED, NOT_CONFIRMED, Claim, evaluate_claims
from benchmark.report.plots import MIN_POINTS, short_curves, write_plots
from benchmark.report.tables import build_tables, write_tables
from benchmark.store.export import markdown_table

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1180px; margin: 2em auto; color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #446; } h2 { margin-top: 2em; color: #334; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; } td { white-space: nowrap; }
th { background: #eef; } .wide { overflow-x: auto; }
td:nth-child(-n+4), th:nth-child(-n+4) { text-align: left; }
.verdict { font-weight: bold; padding: 1px 8px; border-radius: 4px; color: white; background: #888; }
.confirmed { background: #2a7d3b; } .not-confirmed { background: #b03a2e; }
.claim { border-left: 4px solid #ccd; padding-left: 1em; margin: 1.5em 0; } .note { color: #555; }
img { max-width: 100%; }
"""
TITLES = {
    "table0_main": "Main table: Table 1 at each method's primary operating point (the paper's τ)",
    "table1_pruning": "Table 1: pruning, per model, dataset, method and operating point",
    "table2_transfer": "Table 2: ticket transfer, source × target, beside the dense target net and a random mask",
    "accuracy_vs_params": "Test accuracy without fine-tuning vs parameters removed (band: ±1 std over seeds)",
    "accuracy_vs_speedup": "Test accuracy without fine-tuning vs the compacted ticket's measured CPU speed-up, beside "
                           "vs parameters removed (error bars: ±1 std over seeds)",
    "transfer_heatmap": "Accuracy on the target dataset (%), mean over seeds",
    "mip_solve_time": "MIP solve time vs network size",
}


def html_table(table: pd.DataFrame) -> str:
    """``table`` as an escaped HTML table; an empty one as a short note."""
    if table.empty:
        return '<p class="note">No rows in the results for this table.</p>'
    return f'<div class="wide">{table.to_html(index=False, escape=True, border=0, na_rep="–")}</div>'


def claim_html(number: int, claim: Claim) -> str:
    """One claim: statement, rule, verdict badge, what is missing, and the evidence rows."""
    badge = {CONFIRMED: "confirmed", NOT_CONFIRMED: "not-confirmed"}.get(claim.verdict, "")
    return (f'<div class="claim"><h3>Claim {number}: {escape(claim.statement)}</h3>'
            f'<p><span class="verdict {badge}">{escape(claim.verdict)}</span> {escape(claim.rule)}</p>'
            + (f'<p class="note">Missing: {escape(claim.gaps)}.</p>' if claim.gaps else "")
            + html_table(claim.evidence) + "</div>")


def figure_html(name: str, png: Path) -> str:
    """A figure embedded as a base64 PNG, with its caption."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<figure><img alt="{escape(name)}" src="data:image/png;base64,{data}"><figcaption>' \
           f"{escape(TITLES[name])}</figcaption></figure>"


def provenance_html(frame: pd.DataFrame) -> str:
    """Row counts per stage and the distinct manifest values (code version, libraries, devices)."""
    counts = frame["stage"].value_counts().to_dict() if "stage" in frame else {}
    items = [f"{len(frame)} results: " + ", ".join(f"{n} {stage}" for stage, n in sorted(counts.items()))]
    for column in sorted(c for c in frame.columns if c.startswith("manifest.") and c != "manifest.seed"):
        values = sorted({str(v) for v in frame[column].dropna()})
        items.append(f"{column.removeprefix('manifest.')}: {', '.join(values) or '–'}")
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def claims_markdown(claims: list[Claim]) -> str:
    """The claims section as Markdown (written beside the page as ``claims.md``)."""
    parts = []
    for number, claim in enumerate(claims, 1):
        missing = f"\n\nMissing: {claim.gaps}." if claim.gaps else ""
        parts.append(f"## Claim {number}: {claim.statement}\n\n**{claim.verdict}**: {claim.rule}{missing}\n\n"
                     + (markdown_table(claim.evidence) if not claim.evidence.empty else "No rows.\n"))
    return "\n".join(parts)


def write_report(frame: pd.DataFrame, suite: str, out_dir: Path) -> Path:
    """Write tables (md, csv, tex), figures (png, pdf), ``claims.md`` and ``report.html``; return the page path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = build_tables(frame)
    write_tables(tables, out_dir)
    figures = write_plots(frame, out_dir)
    claims = evaluate_claims(frame)
    (out_dir / "claims.md").write_text(claims_markdown(claims), encoding="utf-8")
    short = short_curves(frame)
    short_note = (f'<p class="note">Fewer than {MIN_POINTS} operating points (ShrinkBench asks for at least '
                  f"{MIN_POINTS}): {escape(', '.join(short))}.</p>" if short else "")
    body = [f"<h1>ticketbench report: {escape(suite)}</h1>", provenance_html(frame), "<h2>Claims</h2>",
            *(claim_html(number, claim) for number, claim in enumerate(claims, 1))]
    for name, table in tables.items():
        body += [f"<h2>{escape(TITLES[name])}</h2>", html_table(table)]
    body += ["<h2>Figures</h2>", short_note, *(figure_html(name, png) for name, png in figures.items())]
    page = out_dir / "report.html"
    page.write_text(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>ticketbench: '
                    f"{escape(suite)}</title><style>{STYLE}</style></head><body>\n" + "\n".join(body)
                    + "\n</body></html>\n", encoding="utf-8")
    return page
