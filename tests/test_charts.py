"""charts: theme and renderer on import, helpers, and the offline HTML + Vega bundle."""

from __future__ import annotations

import json
import re

import altair as alt
import pandas as pd
import pytest

from lthkit import charts

DF = pd.DataFrame({"w": [100.0, 51.2, 21.0, 3.6], "acc": [0.97, 0.975, 0.98, 0.96],
                   "lo": [0.96, 0.97, 0.975, 0.95], "hi": [0.975, 0.98, 0.985, 0.97],
                   "kind": ["ticket"] * 4})


def spec_from_html(html: str) -> dict:
    m = re.search(r'<script type="application/json">(.*?)</script>', html, re.S)
    assert m, html[:200]
    return json.loads(m.group(1))


def test_import_enables_theme_and_renderer():
    assert alt.renderers.active == charts.RENDERER
    spec = alt.Chart(DF).mark_point().encode(x="w", y="acc").to_dict()
    assert spec["config"]["range"]["category"] == charts.PALETTE
    assert "system-ui" in spec["config"]["font"]


def test_displayed_chart_is_offline_html_with_spec_and_static_svg():
    chart = alt.Chart(DF).mark_line().encode(x="w:Q", y="acc:Q").properties(
        title="a </script> in a title")
    bundle = chart._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    html = bundle["text/html"]
    assert html.startswith(f'<div class="{charts.MARKER}">')
    assert "<svg" in html                       # static rendering for JupyterLab & co.
    assert not re.search(r"<script[^>]*\bsrc=", html)   # nothing is fetched
    assert html.count("</script>") == 1         # the title cannot close the JSON early
    spec = spec_from_html(html)
    assert spec["title"] == "a </script> in a title"
    assert spec["mark"]["type"] == "line" if isinstance(spec["mark"], dict) else spec["mark"]


def test_static_svg_can_be_turned_off():
    assert "<svg" not in charts.chart_html(alt.Chart(DF).mark_point().to_dict(), static=False)


def test_line_band_layers_a_band_under_the_line_on_a_log_axis():
    spec = charts.line_band(DF, x="w:Q", y="acc:Q", lower="lo", upper="hi", color="kind:N",
                            log_x=True, reverse_x=True, title="t").to_dict()
    band, line = spec["layer"]
    assert band["mark"]["type"] == "area" and line["mark"]["type"] == "line"
    assert band["encoding"]["y"]["field"] == "lo" and band["encoding"]["y2"]["field"] == "hi"
    assert line["encoding"]["x"]["scale"] == {"type": "log", "reverse": True}
    assert line["encoding"]["color"]["field"] == "kind"
    assert line["encoding"]["y"]["title"] == band["encoding"]["y"]["title"] == "acc"
    assert spec["title"] == "t"


def test_line_band_without_band_and_half_a_band():
    spec = charts.line_band(DF, x="w:Q", y="acc:Q").to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line"]
    assert spec["layer"][0]["encoding"]["x"]["scale"] == {"reverse": False}
    with pytest.raises(ValueError):
        charts.line_band(DF, x="w:Q", y="acc:Q", lower="lo")


def test_rule_is_a_labelled_reference_line():
    spec = charts.rule(0.978, label="dense").to_dict()
    rule, text = spec["layer"]
    assert rule["mark"]["type"] == "rule" and "y" in rule["encoding"]
    assert text["mark"]["type"] == "text" and text["encoding"]["text"]["field"] == "label"
    vertical = charts.rule(21.1, axis="x").to_dict()
    assert len(vertical["layer"]) == 1 and "x" in vertical["layer"][0]["encoding"]
    with pytest.raises(ValueError):
        charts.rule(1, axis="z")
    # layered over a chart, one spec
    combined = (charts.line_band(DF, x="w:Q", y="acc:Q") + charts.rule(0.97)).to_dict()
    assert len(combined["layer"]) == 2


def test_bundle_is_a_classic_script_written_once(tmp_path):
    path = charts.write_bundle(tmp_path)
    text = path.read_text()
    assert path.name == charts.BUNDLE_NAME and len(text) > 100_000
    assert text.splitlines()[1] == "(function () {"   # wrapped: no module needed
    assert "lthkit-vega-view" in text and "vegaEmbed" in text
    assert not re.search(r"^\s*(import|export)\s", text, re.M)
    mtime = path.stat().st_mtime_ns
    charts.write_bundle(tmp_path)
    assert path.stat().st_mtime_ns == mtime      # same versions: not regenerated


def test_a_band_without_any_interval_is_left_out():
    import math

    df = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.6, 0.7], "lo": [math.nan] * 3,
                       "hi": [math.nan] * 3})
    chart = charts.line_band(df, x="x:Q", y="y:Q", lower="lo", upper="hi")
    assert [layer.mark.type if hasattr(layer.mark, "type") else layer.mark
            for layer in chart.layer] == ["line"]
    df.loc[1, ["lo", "hi"]] = [0.55, 0.65]
    with_band = charts.line_band(df, x="x:Q", y="y:Q", lower="lo", upper="hi")
    assert len(with_band.layer) == 2 and len(with_band.layer[0].data) == 1
