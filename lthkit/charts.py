"""Altair charts for the chapters: one theme, a few helpers, and an offline renderer.

Importing this module registers and enables the ``lthkit`` theme and renderer, so a chart
displayed in a notebook renders without any network access::

    from lthkit import charts
    charts.line_band(df, x="weights_remaining:Q", y="accuracy:Q", lower="lo", upper="hi",
                     color="method:N", log_x=True, reverse_x=True) + charts.rule(0.978, label="dense")

How a chart reaches the reader without a CDN:

- In the notebook, the renderer emits one ``text/html`` output: a ``div.lthkit-vega`` holding
  the Vega-Lite spec as JSON and a static SVG drawn by vl-convert. JupyterLab, VS Code and
  GitHub show the SVG; nothing is fetched.
- In the book, this module is also a Sphinx extension (listed in ``book/_config.yml``). It
  writes the Vega/Vega-Lite/Vega-Embed bundle that vl-convert carries into the HTML output's
  ``_static/lthkit-vega.js`` and adds it, as a deferred script, to the pages that hold charts;
  the bundle replaces each static SVG with the interactive chart drawn from the spec.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

THEME = "lthkit"
RENDERER = "lthkit"
BUNDLE_NAME = "lthkit-vega.js"
MARKER = "lthkit-vega"  # the class of a chart's div, in notebooks and in the book's HTML
# Okabe–Ito: distinguishable with the common forms of colour blindness.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000"]
# System fonts only: a web font would be a download.
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def theme() -> dict:
    """The lthkit theme: quiet axes, a colour-blind-safe palette, system fonts."""
    return {
        "config": {
            "font": FONT,
            "view": {"continuousWidth": 420, "continuousHeight": 260, "stroke": None},
            "range": {"category": PALETTE},
            "axis": {"grid": True, "gridColor": "#e8e8e8", "domainColor": "#888",
                     "tickColor": "#888", "labelFontSize": 11, "titleFontSize": 12,
                     "titleFontWeight": "normal"},
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal"},
            "title": {"fontSize": 14, "fontWeight": "normal", "anchor": "start"},
            "line": {"strokeWidth": 2},
            "point": {"size": 30, "filled": True},
        }
    }


# --- helpers the chapters use -----------------------------------------------------------

def line_band(data: pd.DataFrame, x: str, y: str, *, lower: str | None = None,
              upper: str | None = None, color: str | None = None, log_x: bool = False,
              reverse_x: bool = False, points: bool = True, title: str | None = None,
              x_title: str | None = None, y_title: str | None = None,
              width: int | None = None, height: int | None = None) -> alt.LayerChart:
    """A line per ``color`` group with an optional shaded interval band from lower to upper.

    ``x``/``y``/``color`` are Altair shorthands (``"weights_remaining:Q"``); ``lower`` and
    ``upper`` are column names of the band's edges (e.g. min/max or a confidence interval over
    seeds). ``log_x`` puts x on a log scale; ``reverse_x`` runs it right-to-left, as the
    lottery-ticket papers plot weights remaining.
    """
    scale = alt.Scale(type="log", reverse=reverse_x) if log_x else alt.Scale(reverse=reverse_x)
    # Explicit titles: otherwise Vega-Lite joins the field names of every layer, a band's
    # and a rule's included ("lo, hi, acc, value").
    x_title = x_title if x_title is not None else x.split(":")[0]
    y_title = y_title if y_title is not None else y.split(":")[0]
    x_enc = alt.X(x, scale=scale, title=x_title)
    y_enc = alt.Y(y, title=y_title, scale=alt.Scale(zero=False))
    color_enc = {"color": alt.Color(color)} if color else {}
    base = alt.Chart(data)
    tooltip = [c for c in (x, y, color) if c]
    layers = []
    if lower is not None or upper is not None:
        if lower is None or upper is None:
            raise ValueError("a band needs both lower and upper")
        # The band is coloured through `fill`, a scale of its own with the same colours and
        # no legend: through `color` its pale swatches would become the legend's, unreadable.
        band_color = {"fill": alt.Fill(color, legend=None)} if color else {}
        # Only the points with an interval (one or two seeds have none): a band with no finite
        # edge at all is left out, since Vega-Lite would warn of an infinite extent.
        bounded = data[data[lower].notna() & data[upper].notna()]
        if len(bounded):
            layers.append(alt.Chart(bounded).mark_area(opacity=0.18).encode(
                x=x_enc, y=alt.Y(f"{lower}:Q", title=y_title), y2=alt.Y2(f"{upper}:Q"),
                **band_color))
    layers.append(base.mark_line(point=points).encode(x=x_enc, y=y_enc, tooltip=tooltip,
                                                      **color_enc))
    chart = alt.layer(*layers)
    props = {k: v for k, v in (("title", title), ("width", width), ("height", height)) if v}
    return chart.properties(**props) if props else chart


def rule(value: float, *, axis: str = "y", label: str | None = None,
         color: str = "#555555", dash: tuple[int, int] = (5, 4)) -> alt.LayerChart:
    """A dashed reference line at ``value`` (horizontal for axis="y", vertical for "x"),
    labelled, to layer over a chart with ``+`` (e.g. the dense network's accuracy)."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', not {axis!r}")
    df = pd.DataFrame({"value": [value], "label": [label or ""]})
    base = alt.Chart(df)
    layers = [base.mark_rule(color=color, strokeDash=list(dash)).encode(
        **{axis: alt.X("value:Q") if axis == "x" else alt.Y("value:Q")})]
    if label:
        layers.append(base.mark_text(align="left", baseline="bottom", dx=4, dy=-3,
                                     color=color).encode(
            **{axis: alt.X("value:Q") if axis == "x" else alt.Y("value:Q")}, text="label:N"))
    return alt.layer(*layers)


# --- the notebook side of the offline renderer ------------------------------------------

def vegalite_version() -> str | None:
    """The Vega-Lite version Altair writes, as vl-convert names it ("6.4"), if it has it."""
    import vl_convert
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    known = getattr(vl_convert, "get_vegalite_versions", lambda: [])()
    return major_minor if major_minor in known else None


def chart_html(spec: dict, static: bool = True) -> str:
    """The HTML of one chart: spec as JSON (drawn by the book's bundle) + static SVG."""
    # "<" escaped so that no "</script>" inside a string can close the tag early.
    spec_json = json.dumps(spec, separators=(",", ":")).replace("<", "\\u003c")
    svg = _static_svg(spec) if static else ""
    return (f'<div class="{MARKER}">'
            f'<div class="{MARKER}-view"></div>'
            f'<div class="{MARKER}-static">{svg}</div>'
            f'<script type="application/json">{spec_json}</script></div>')


def _static_svg(spec: dict) -> str:
    import vl_convert
    try:
        return vl_convert.vegalite_to_svg(spec, vl_version=vegalite_version())
    except Exception as e:  # a chart vl-convert cannot draw still renders in the book
        return f"<pre>static rendering failed: {html.escape(str(e))}</pre>"


def render(spec: dict, static: bool = True, **metadata: Any) -> dict:
    """Altair renderer: a ``text/html`` bundle that needs no network (see module doc)."""
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    return {"text/html": chart_html(spec, static=static),
            "text/plain": f"<lthkit chart{': ' + str(title) if title else ''}>"}


def enable(static: bool = True, max_rows: int = 20_000) -> None:
    """Register and enable the lthkit theme and renderer (done on import).

    ``static=False`` skips the SVG (smaller notebooks; then only the book draws charts).
    ``max_rows`` caps the rows Altair inlines per chart: aggregate before plotting.
    """
    theme_api = getattr(alt, "theme", None)
    if theme_api is not None and hasattr(theme_api, "register"):  # Altair >= 5.5
        theme_api.register(THEME, enable=True)(theme)
    else:
        alt.themes.register(THEME, theme)
        alt.themes.enable(THEME)
    alt.renderers.register(RENDERER, render)
    alt.renderers.enable(RENDERER, static=static)
    alt.data_transformers.enable("default", max_rows=max_rows)


# --- the book side: a Sphinx extension that ships the Vega bundle ------------------------

_DRAW = """
window.vegaEmbed = vegaEmbed;
var OPTIONS = {renderer: "svg",
               actions: {export: true, source: false, compiled: false, editor: false}};
var COMPOSITE = ["hconcat", "vconcat", "concat", "facet", "repeat"];
// Vega does not wrap titles: a long one is split into lines that fit the column.
function wrapped(title, width) {
  var text = title && typeof title === "object" ? title.text : title;
  if (typeof text !== "string") return title;
  var perLine = Math.max(12, Math.floor(width / 8)), lines = [], line = "";
  text.split(" ").forEach(function (word) {
    if (line && (line + " " + word).length > perLine) { lines.push(line); line = word; }
    else { line = line ? line + " " + word : word; }
  });
  lines.push(line);
  return typeof title === "object" ? Object.assign({}, title, {text: lines}) : lines;
}
// A chart wider than its column (a phone) is drawn again, narrower, with its legend below and
// its title wrapped, so nothing is cut off. The plot's width is set as a number measured from
// the overflow (Vega-Lite's width "container" warns for charts with a discrete axis); a
// composite chart (concat, facet) keeps its size and scrolls.
function fitted(spec, plotWidth, room) {
  var config = Object.assign({}, spec.config);
  config.legend = Object.assign({}, config.legend, {orient: "bottom", columns: 2});
  var out = Object.assign({}, spec, {width: plotWidth, config: config});
  if (spec.title) out.title = wrapped(spec.title, room);
  return out;
}
function draw(el, view, spec, plotWidth, tries) {
  var shown = plotWidth ? fitted(spec, plotWidth, el.clientWidth) : spec;
  return vegaEmbed(view, shown, OPTIONS).then(function (result) {
    var s = el.querySelector(".%(m)s-static"); if (s) s.remove();
    var over = el.scrollWidth - el.clientWidth;
    var composite = COMPOSITE.some(function (k) { return k in spec; });
    if (over > 1 && !composite && tries < 3) {
      // first the legend moves below at the same width, then the plot narrows by the overflow
      var width = plotWidth ? Math.max(80, Math.floor(result.view.width() - over - 2))
                            : result.view.width();
      result.finalize();
      return draw(el, view, spec, width, tries + 1);
    }
  });
}
function lthkitDraw() {
  document.querySelectorAll("div.%(m)s").forEach(function (el) {
    if (el.dataset.drawn) return;
    var data = el.querySelector('script[type="application/json"]');
    var view = el.querySelector(".%(m)s-view");
    if (!data || !view) return;
    el.dataset.drawn = "1";
    draw(el, view, JSON.parse(data.textContent), 0, 0)
      .then(function () { el.dataset.drawn = "done"; })
      .catch(function (err) { el.dataset.drawn = "error"; console.error(err); });
  });
}
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", lthkitDraw);
} else { lthkitDraw(); }
""" % {"m": MARKER}


def _bundle_id() -> str:
    import vl_convert
    return f"format 4, vega-lite {vegalite_version()}, vl-convert {vl_convert.__version__}"


def javascript_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script (~0.9 MB) that draws every chart."""
    import vl_convert
    version = vegalite_version()
    header = f"// lthkit vega bundle: {_bundle_id()}\n"
    # vl-convert writes an ES module without imports or exports. Wrapped in a strict function
    # it runs as a classic script, which browsers also load from file:// (a module is
    # refused there), so the book works when opened straight from disk.
    body = vl_convert.javascript_bundle(_DRAW, vl_version=version)
    return f'{header}(function () {{\n"use strict";\n{body}\n}})();\n'


def write_bundle(static_dir: str | os.PathLike) -> Path:
    """Write the bundle into ``static_dir`` unless the same version is already there."""
    path = Path(static_dir) / BUNDLE_NAME
    want = _bundle_id()
    if path.exists():
        with path.open(encoding="utf-8") as f:
            if want in f.readline():
                return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(javascript_bundle(), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _add_bundle_to_page(app, pagename, templatename, context, doctree) -> None:
    if f'class="{MARKER}"' in context.get("body", ""):
        app.add_js_file(BUNDLE_NAME, loading_method="defer")


def _write_bundle_after_build(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        write_bundle(Path(app.outdir) / "_static")


def setup(app) -> dict:
    """Sphinx entry point (``lthkit.charts`` in the book's extensions)."""
    app.connect("html-page-context", _add_bundle_to_page)
    app.connect("build-finished", _write_bundle_after_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


enable()
