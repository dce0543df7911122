"""The results of a batch rerun as one tidy table and an HTML summary, behind ``lthkit collect``::

    from lthkit import summary
    df = summary.table("runs/rewind")        # a row per cell and claim
    summary.write_html(df, "runs/rewind/summary.html", title="runs/rewind")

The table has a column per parameter of the cells (lists as JSON text), then ``status``
(``done``; ``stale`` when the cell finished with another version of the notebook or lthkit;
``failed``; ``interrupted``; ``new``), the claim (``claim_no``, ``claim``, ``measured`` and
``expected`` as text, ``shown`` as the chapter displays it when it says, ``measured_value``,
``verdict``), a column per headline metric of the chapter's ``metrics.json`` (nested ones
flattened as ``xor_success.ticket_2``) and the ``error`` of a failed cell. A cell without
metrics has one row, with no claim. ``measured_value`` is the measurement as a number: itself
when it is one, the estimate of a ``(mean, lo, hi)`` triple, else the first number of its text,
which the chapters write as the estimate before its interval (``+0.12 pp [-0.3, +0.5]`` →
0.12).

The HTML page draws the verdicts, the measured values and the headline metrics across the
grid with ``lthkit.charts`` (a static SVG per chart, and the Vega bundle written beside the
page as ``lthkit-vega.js``): it loads nothing from the network.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pandas as pd

from lthkit import batch, cells

CLAIM_COLUMNS = ["claim_no", "claim", "measured", "shown", "measured_value", "expected",
                 "verdict"]
VERDICT_COLOURS = {"pass": "#009E73", "fail": "#D55E00", "inconclusive": "#BBBBBB"}
_LEADING_NUMBER = re.compile(r"\s*([+-−]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")


def is_batch(path: str | os.PathLike) -> bool:
    return (Path(path) / batch.BATCH).is_file()


def number(measured) -> float | None:
    """``measured`` as a number (see the module's doc), or None."""
    if isinstance(measured, (list, tuple)) and measured:  # an estimate: (mean, lo, hi)
        measured = measured[0]
    if isinstance(measured, bool) or measured is None:
        return None
    if isinstance(measured, (int, float)):
        return float(measured)
    m = _LEADING_NUMBER.match(str(measured))
    return float(m.group(1).replace("−", "-")) if m else None


def flatten(metrics: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in metrics.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.dumps(v) if isinstance(v, list) else v
    return out


def table(out: str | os.PathLike) -> pd.DataFrame:
    """A row per cell and claim of the batch in ``out`` (see the module's doc)."""
    found = cells.cells_in(out)
    names = list(dict.fromkeys(k for c in found for k in c.params))
    rows = []
    for cell in sorted(found, key=lambda c: [_order(c.params.get(n)) for n in names]):
        state = cells.status(cell)
        base = {"cell": cell.name, **{n: _plain(cell.params.get(n)) for n in names},
                "status": state}
        doc = cells.read_json(cell.dir / cells.METRICS) if state in ("done", "stale") else None
        if doc is None:
            rows.append({**base, "error": cells.error(cell) if state == "failed" else None})
            continue
        metrics = {(f"metric.{k}" if k in base or k in CLAIM_COLUMNS else k): v
                   for k, v in flatten(doc.get("metrics", {})).items()}
        for no, c in enumerate(doc.get("claims", []), 1):
            rows.append({**base, "claim_no": no, "claim": c.get("claim"),
                         "measured": _text(c.get("measured")), "shown": c.get("shown"),
                         "measured_value": number(c.get("measured")),
                         "expected": _text(c.get("expected")), "verdict": c.get("verdict"),
                         **metrics})
    df = pd.DataFrame(rows)
    columns = ["cell", *names, "status", *CLAIM_COLUMNS]
    extra = [c for c in df.columns if c not in columns and c != "error"]
    df = df.reindex(columns=columns + extra + ["error"])
    df["claim_no"] = df["claim_no"].astype("Int64")  # 1, not 1.0, beside cells without claims
    return df


def _text(value) -> str | None:
    # One type per column, whatever the chapters measure: text, numbers, (mean, lo, hi).
    return value if value is None or isinstance(value, str) else json.dumps(value)


def _plain(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _order(value):
    # numbers by value, before everything else by text, so 2 < 10 and "0it" < "20it"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    text = json.dumps(value, sort_keys=True, default=str)
    m = re.match(r'"?(\d+)', text)
    return (1, int(m.group(1)) if m else float("inf"), text)


# --- the HTML summary --------------------------------------------------------------------

def varying(df: pd.DataFrame) -> list[str]:
    """The parameter columns whose value differs between cells: the grid."""
    params = list(df.columns[1:df.columns.get_loc("status")])
    per_cell = df.drop_duplicates("cell")
    return [p for p in params if per_cell[p].astype(str).nunique() > 1]


def charts_of(df: pd.DataFrame) -> list[tuple[str, str, dict]]:
    """(heading, sentence, Vega-Lite spec) for each chart of the summary."""
    import altair as alt

    import lthkit.charts  # noqa: F401  (registers the lthkit theme)

    grid = varying(df)
    data = df.copy()
    data["cells"] = (data[grid].astype(str).apply(lambda r: " ".join(
        f"{k}={v}" for k, v in r.items()), axis=1) if grid else data["cell"])
    claimed = data[data["claim_no"].notna()].copy()
    claimed["claim_label"] = [f"{int(n)}. {_short(t)}" for n, t in
                              zip(claimed["claim_no"], claimed["claim"])]
    out = []
    if len(claimed):
        claim_order = sorted(claimed["claim_label"].unique(), key=lambda s: int(s.split(".")[0]))
        verdicts = alt.Chart(claimed).mark_rect(stroke="white").encode(
            x=alt.X("cells:N", title=None, sort=list(dict.fromkeys(claimed["cells"]))),
            y=alt.Y("claim_label:N", title=None, sort=claim_order),
            color=alt.Color("verdict:N", scale=alt.Scale(domain=list(VERDICT_COLOURS),
                                                         range=list(VERDICT_COLOURS.values()))),
            tooltip=["cells", "claim", "measured", "expected", "verdict"])
        out.append(("Verdicts", "Each claim's verdict in each cell of the grid.",
                    verdicts.properties(width=max(160, 48 * claimed["cells"].nunique()))
                    .to_dict()))
        values = claimed[claimed["measured_value"].notna()]
        if len(values):
            out.append(("Measured values", "The number each claim measured (its estimate, "
                        "before the interval), one panel per claim.",
                        _across(values, "measured_value", "claim_label", grid)))
    per_cell = data.drop_duplicates("cell")
    metric_cols = [c for c in data.columns[data.columns.get_loc("verdict") + 1:]
                   if c != "error" and pd.api.types.is_numeric_dtype(data[c])
                   and per_cell[c].nunique() > 1]
    if metric_cols:
        per_cell = per_cell.melt(id_vars=["cell", "cells", *grid], value_vars=metric_cols,
                                 var_name="metric")
        out.append(("Headline metrics", "The chapter's headline metrics that vary across the "
                    "grid, one panel each (the others are in the table).",
                    _across(per_cell.dropna(subset=["value"]), "value", "metric", grid)))
    return out


def _across(data: pd.DataFrame, y: str, panel: str, grid: list[str]) -> dict:
    """``y`` against the first grid parameter, a colour per value of the second, a panel per
    ``panel``; with more (or fewer) grid parameters, against the cells."""
    import altair as alt

    x_field = grid[0] if len(grid) in (1, 2) else "cells"
    enc = {"x": alt.X(f"{x_field}:O", title=x_field if x_field != "cells" else None,
                      axis=alt.Axis(labelAngle=0 if x_field != "cells" else -40)),
           "y": alt.Y(f"{y}:Q", title=None, scale=alt.Scale(zero=False),
                      axis=alt.Axis(format="~g", tickCount=4)),
           "tooltip": ["cells", alt.Tooltip(f"{y}:Q", format=".4g")]}
    if len(grid) == 2:
        enc["color"] = alt.Color(f"{grid[1]}:N")
    data = data.assign(**{g: data[g].astype(str) for g in grid})
    chart = alt.Chart(data).mark_line(point=True).encode(**enc).properties(width=220, height=140)
    return (chart.facet(facet=alt.Facet(f"{panel}:N", title=None), columns=2)
            .resolve_scale(y="independent").to_dict())


def _short(text, width: int = 70) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


_STYLE = """body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;
margin:2em;max-width:80em;color:#222}table{border-collapse:collapse;font-size:12px}
td,th{border:1px solid #ddd;padding:2px 6px;vertical-align:top}th{background:#f4f4f4}
.lthkit-vega{margin:1em 0}"""


def write_html(df: pd.DataFrame, path: str | os.PathLike, title: str) -> Path:
    """The summary page at ``path``, with ``lthkit-vega.js`` beside it."""
    from lthkit import charts

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    per_cell = df.drop_duplicates("cell")
    counts = per_cell["status"].value_counts()
    grid = varying(df)
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{len(per_cell)} cells: " + ", ".join(
                 f"{n} {html.escape(str(s))}" for s, n in counts.items()) + ". Grid: "
             + (", ".join(html.escape(f"{g} = {', '.join(per_cell[g].astype(str).unique())}")
                          for g in grid) or "one cell") + ".</p>"]
    for heading, sentence, spec in charts_of(df):
        parts += [f"<h2>{heading}</h2>", f"<p>{sentence}</p>", charts.chart_html(spec)]
    unfinished = per_cell[per_cell["status"] != "done"]
    if len(unfinished):
        parts += ["<h2>Cells without a current result</h2>",
                  unfinished[["cell", *grid, "status", "error"]].to_html(index=False)]
    parts += ["<h2>The table</h2>", df.to_html(index=False, na_rep="")]
    charts.write_bundle(path.parent)
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
            f'<script defer src="{charts.BUNDLE_NAME}"></script></head>\n<body>\n'
            + "\n".join(parts) + "\n</body></html>\n")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
