"""One self-contained report page (inline CSS, base64 PNGs, no external links) beside its tables and figures,
rendered from the Jinja2 template ``templates/report.html.j2`` shipped with the package.

The page opens with the four claim verdicts (each with its deciding interval and number of seeds) and a summary
figure, then says what was run (:mod:`benchmark.report.run_info`), then the main table, the accuracy curves,
where the pruning went (units kept per layer, the MIP's score levels), transfer and solve time; the claims'
evidence and the long Table 1, grouped per model and dataset, come last.
"""

from __future__ import annotations

import base64
import itertools
import re
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup
from pandas.io.formats.style import Styler

from benchmark.report.claims import STATISTICS, Claim, evaluate_claims
from benchmark.report.layers import layer_table
from benchmark.report.plots import MIN_POINTS, short_curves, write_plots
from benchmark.report.run_info import run_info
from benchmark.report.tables import build_tables, write_tables
from benchmark.store.export import markdown_table

TITLES = {
    "table0_main": "Main table: Table 1 at each method's primary operating point (the suite's first τ or sparsity)",
    "table1_pruning": "Table 1: pruning, per model, dataset, method and operating point",
    "table2_transfer": "Table 2: ticket transfer, source × target, beside the dense target net and a random mask",
    "table3_layers": "Table 3: units kept per layer, per method and operating point (mean ± std over seeds)",
    "summary": "Accuracy at each method's primary operating point: without fine-tuning and the ticket retrained "
               "from θ₀ (mean ± 1 std over seeds; dashed: the dense network)",
    "accuracy_vs_params": "Test accuracy vs parameters removed, without fine-tuning, fine-tuned and retrained from "
                          "θ₀ (error bars and band: ±1 std over seeds)",
    "accuracy_vs_speedup": "Test accuracy without fine-tuning vs the compacted ticket's measured CPU speed-up, beside "
                           "vs parameters removed (error bars: ±1 std over seeds)",
    "kept_per_layer": "Units kept per layer at each method's own operating points (±1 std over seeds); methods at "
                      "match= points keep the MIP's counts and are in Table 3",
    "score_levels": "Where the scores fall, per layer: units scoring 0, strictly between, and 1 (mean over seeds)",
    "transfer_heatmap": "Accuracy on the target dataset (%, mean over seeds); colour and second line: the "
                        "difference from the dense network trained on that target (pp)",
    "mip_solve_time": "MIP solve time vs the program's size",
}
GROUP_BY = ("Model", "Dataset")


def slug(text: str) -> str:
    """``"insufficient seeds"`` -> ``"insufficient-seeds"``: a verdict as a CSS class."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def is_text(column: pd.Series) -> bool:
    """Whether a column holds labels (left-aligned) rather than numbers or ``mean ± std`` cells."""
    values = column.dropna().astype(str)
    return not values.empty and not values.str.match(r"^[-+−]?[\d,.]+( ± .*)?$|^–$").all()


def html_table(table: pd.DataFrame) -> Markup:
    """``table`` as an escaped HTML table through pandas' Styler (labels left-aligned); an empty one as a note."""
    if table is None or table.empty:
        return Markup('<p class="note">No rows in the results for this table.</p>')
    classes = pd.DataFrame({c: "text" if is_text(table[c]) else "" for c in table.columns}, index=table.index)
    styler = Styler(table, cell_ids=False, uuid="t").hide(axis="index").set_td_classes(classes)
    styler = styler.format(na_rep="–", escape="html", precision=2)
    text = styler.to_html(doctype_html=False)
    return Markup(re.sub(r'<style type="text/css">\s*</style>\s*| id="T_t[^"]*"', "", text))


def grouped_tables(table: pd.DataFrame, open: bool = False) -> Markup:
    """``table`` as one collapsible section per model and dataset (the group's columns dropped from its rows)."""
    keys = [k for k in GROUP_BY if k in table.columns] if table is not None else []
    if not keys or table.empty:
        return html_table(table)
    parts = []
    for values, rows in table.groupby(keys, sort=False):
        title = " on ".join(map(str, values if isinstance(values, tuple) else (values,)))
        parts.append(f'<details{" open" if open else ""}><summary>{Markup.escape(title)} ({len(rows)} rows)'
                     f"</summary>{html_table(rows.drop(columns=keys).reset_index(drop=True))}</details>")
    return Markup("\n".join(parts))


def figure_html(name: str, png: Path) -> Markup:
    """A figure embedded as a base64 PNG, with its caption."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return Markup(f'<figure><img alt="{Markup.escape(name)}" src="data:image/png;base64,{data}"><figcaption>'
                  f"{Markup.escape(TITLES[name])}</figcaption></figure>")


def provenance(frame: pd.DataFrame) -> list[str]:
    """Row counts per stage and the distinct manifest values (code version, libraries, platforms, devices)."""
    counts = frame["stage"].value_counts().to_dict() if "stage" in frame else {}
    items = [f"{len(frame)} results: " + ", ".join(f"{n} {stage}" for stage, n in sorted(counts.items()))]
    for column in sorted(c for c in frame.columns if c.startswith("manifest.") and c != "manifest.seed"):
        values = sorted({str(v) for v in frame[column].dropna()})
        items.append(f"{column.removeprefix('manifest.')}: {', '.join(values) or '–'}")
    return items


def claims_markdown(claims: list[Claim]) -> str:
    """The claims section as Markdown (written beside the page as ``claims.md``)."""
    parts = [f"How verdicts are reached: {STATISTICS}\n"]
    for number, claim in enumerate(claims, 1):
        missing = f"\n\nMissing: {claim.gaps}." if claim.gaps else ""
        parts.append(f"## Claim {number}: {claim.statement}\n\n**{claim.verdict}**: {claim.rule}{missing}\n\n"
                     + (markdown_table(claim.evidence, missing="–") if not claim.evidence.empty else "No rows.\n"))
    return "\n".join(parts)


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the packaged templates, autoescaping HTML."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("benchmark.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["slug"] = slug
    env.globals.update(table=html_table, grouped=grouped_tables)
    return env


def write_report(frame: pd.DataFrame, suite, out_dir: Path) -> Path:
    """Write tables (md, csv, tex), figures (png, pdf), ``claims.md`` and ``report.html`` under ``out_dir``; return
    the page path. ``suite`` is the :class:`~benchmark.pipeline.suites.Suite` the rows belong to (its settings
    fill "what was run"), or only its name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = suite if isinstance(suite, str) else suite.name
    tables = {**build_tables(frame), "table3_layers": layer_table(frame)}
    write_tables(tables, out_dir)
    figures = write_plots(frame, out_dir)
    claims = evaluate_claims(frame)
    (out_dir / "claims.md").write_text(claims_markdown(claims), encoding="utf-8")
    page = environment().get_template("report.html.j2").render(
        suite=name, description="" if isinstance(suite, str) else suite.description, claims=claims,
        run=run_info(frame, None if isinstance(suite, str) else suite), provenance=provenance(frame),
        tables=tables, titles=TITLES, short=short_curves(frame), min_points=MIN_POINTS, statistics=STATISTICS,
        figures={key: key in figures for key in itertools.chain(TITLES, figures)},
        figure=lambda key: figure_html(key, figures[key]))
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
