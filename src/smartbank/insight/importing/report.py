"""The data-quality report: one self-contained HTML file, charts as inline SVG (matplotlib)."""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from smartbank.insight.importing.mapping import Mapping
from smartbank.insight.importing.rules import RULES, Cleaned
from smartbank.money import format_minor

if TYPE_CHECKING:
    from smartbank.insight.importing.service import ImportResult


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _charts(res: ImportResult, amounts: pl.Series | None) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    fig, ax = plt.subplots(figsize=(6, 1.6))
    parts = [("loaded", res.rows_loaded, "#2e7d32"), ("rejected", res.rows_rejected, "#c62828"),
             ("merged", res.rows_merged, "#f9a825")]
    left = 0
    for label, n, color in parts:
        ax.barh([0], [n], left=left, color=color, label=f"{label} {n:,}")
        left += n
    ax.set_yticks([])
    ax.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    ax.set_title(f"{res.rows_read:,} rows read")
    out.append(("Batch totals", _svg(fig)))
    plt.close(fig)
    if res.hits:
        items = sorted(res.hits.items(), key=lambda kv: kv[1])
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(items) + 1))
        colors = {"reject": "#c62828", "fix": "#1565c0", "impute": "#6a1b9a", "merge": "#f9a825",
                  "info": "#757575"}
        ax.barh([k for k, _ in items], [v for _, v in items],
                color=[colors[RULES[k].severity] if k in RULES else "#757575" for k, _ in items])
        ax.set_xscale("symlog")
        ax.set_xlabel("hits (symmetric log scale)")
        out.append(("Rule hits", _svg(fig)))
        plt.close(fig)
    if amounts is not None and amounts.len():
        fig, ax = plt.subplots(figsize=(7, 3))
        major = amounts.cast(pl.Float64) / 100  # display only: the loaded values are integer minor units
        ax.hist(major.to_numpy(), bins=60, color="#1565c0")
        ax.set_yscale("log")
        ax.set_xlabel("amount (major units)")
        ax.set_ylabel("rows (log)")
        out.append(("Amount distribution (accepted rows)", _svg(fig)))
        plt.close(fig)
    return out


def write_report(path: Path, res: ImportResult, raw: pl.DataFrame, cleaned: Cleaned, mapping: Mapping) -> None:
    amount_col = {"transactions": "f_amount", "accounts": "f_opening_balance", "customers": "f_annual_income"}
    col = amount_col[mapping.kind]
    accepted = cleaned.df.filter(~pl.col("_rejected")) if "_rejected" in cleaned.df.columns else cleaned.df
    amounts = accepted.get_column(col).drop_nulls() if col in accepted.columns else None
    nulls = raw.select([(pl.col(c).is_null() | (pl.col(c).cast(pl.String).str.strip_chars() == "")).mean().alias(c)
                        for c in raw.columns]).row(0, named=True) if raw.height else {}
    e = html.escape
    rows_rules = "".join(
        f"<tr><td><code>{e(k)}</code></td><td>{e(RULES[k].severity if k in RULES else '')}</td>"
        f"<td>{e(RULES[k].text if k in RULES else '')}</td><td class=n>{v:,}</td></tr>"
        for k, v in sorted(res.hits.items()))
    rows_nulls = "".join(f"<tr><td>{e(str(k))}</td><td class=n>{(v or 0) * 100:.2f}%</td></tr>"
                         for k, v in nulls.items())
    stats = ""
    if amounts is not None and amounts.len():
        cur = "CNY"
        q = [int(amounts.quantile(x, "nearest") or 0) for x in (0.0, 0.25, 0.5, 0.75, 0.99, 1.0)]
        stats = ("<table><tr><th>min</th><th>p25</th><th>median</th><th>p75</th><th>p99</th><th>max</th>"
                 "<th>sum</th></tr><tr>" + "".join(f"<td class=n>{format_minor(v, cur, grouping=True)}</td>" for v in q)
                 + f"<td class=n>{format_minor(int(amounts.sum()), cur, grouping=True)}</td></tr></table>")
    charts = "".join(f"<h2>{e(t)}</h2><div class=chart>{svg}</div>" for t, svg in _charts(res, amounts))
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Import report: {e(res.source)} {e(res.kind)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}
.n{{text-align:right;font-variant-numeric:tabular-nums}}
.chart svg{{max-width:100%;height:auto}}</style></head><body>
<h1>Import report: {e(res.source)} / {e(res.kind)}</h1>
<p>File <code>{e(res.file)}</code>, batch {res.batch_id}, {res.seconds:.2f} s.</p>
<table><tr><th>rows read</th><th>loaded</th><th>rejected</th><th>merged</th><th>customers created</th></tr>
<tr><td class=n>{res.rows_read:,}</td><td class=n>{res.rows_loaded:,}</td><td class=n>{res.rows_rejected:,}</td>
<td class=n>{res.rows_merged:,}</td><td class=n>{res.customers_created:,}</td></tr></table>
<p>rows read = loaded + rejected + merged. Rejected and merged rows are in <code>{e(res.rejects or '')}</code>
with their rule codes.</p>
<h2>Rules</h2><table><tr><th>code</th><th>severity</th><th>meaning</th><th>hits</th></tr>{rows_rules}</table>
<h2>Amounts (accepted rows)</h2>{stats or '<p>no amounts</p>'}
<h2>Null or blank rate per source column</h2><table><tr><th>column</th><th>null rate</th></tr>{rows_nulls}</table>
{charts}
</body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
