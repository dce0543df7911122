"""tables: numbers formatted for readers, verdict spans, escaped HTML tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lthkit import tables


@pytest.mark.parametrize("value, fmt, shown", [
    (0.98125, "accuracy", "0.981"),
    (13.456789, "percent", "13.5%"),
    (0.6875, "share", "68.8%"),
    (0.3, "pp", "+0.3 pp"),
    (-1.25, "pp", "-1.2 pp"),
    (1234.0, "count", "1,234"),
    (1.754, "ratio", "1.75×"),
    (0.5, ".2f", "0.50"),
    (0.5, "{:.0%}", "50%"),
    (2.0, lambda x: f"{x:g} units", "2 units"),
    (7, "accuracy", "7.000"),
])
def test_formats_named_spec_and_function(value, fmt, shown):
    assert tables.format_value(value, fmt) == shown


@pytest.mark.parametrize("value, shown", [
    (0.98125, "0.981"), (13.456789, "13.5"), (80.037566, "80.0"), (1234.5, "1,234"),
    (0.012345, "0.0123"), (1.5e-5, "1.50e-05"), (2.5e7, "2.50e+07"), (0.0, "0"),
    (36, "36"), (12000, "12,000"),
])
def test_default_keeps_three_significant_digits(value, shown):
    assert tables.format_value(value) == shown


def test_missing_values_strings_bools_and_numpy():
    assert tables.format_value(None) == tables.MISSING
    assert tables.format_value(float("nan"), "accuracy") == tables.MISSING
    assert tables.format_value(math.inf) == tables.MISSING
    assert tables.format_value("0.81 [0.57, 0.93]", "accuracy") == "0.81 [0.57, 0.93]"
    assert tables.format_value(True) == "yes"
    assert tables.format_value(np.float32(0.98125), "accuracy") == "0.981"
    assert tables.format_value(np.int64(3)) == "3"


def test_an_estimate_reads_mean_then_interval():
    assert tables.format_value((0.981, 0.9752, 0.987), "accuracy") == "0.981 [0.975, 0.987]"
    assert tables.format_value([0.5, None, None], "share") == "50.0%"    # no interval (1 seed)
    assert tables.format_value((0.5, float("nan"), 0.7)) == "0.500"
    assert tables.format_value([1, 2]) == "1, 2"                        # not an estimate
    assert tables.format_value(("a", 1, 2)) == "a, 1, 2"


@pytest.mark.parametrize("fmt", ["accuracyy", ".q", 3])
def test_a_bad_format_is_a_clear_error(fmt):
    with pytest.raises((ValueError, TypeError)) as e:
        tables.format_value(0.5, fmt)
    assert "format" in str(e.value)


def test_formatted_styles_cells_and_index_but_keeps_the_numbers():
    df = pd.DataFrame({"ticket": [0.86451, 0.8785], "trials": [16, 16]},
                      index=pd.Index([80.037566, 64.063862], name="weights_remaining"))
    styler = tables.formatted(df, "accuracy", index="percent", columns={"trials": "count"})
    html = styler.to_html()
    assert "80.0%" in html and "64.1%" in html and "80.037566" not in html
    assert "0.865" in html and "0.864510" not in html and ">16<" in html
    assert styler.data is df and df.iloc[0, 0] == 0.86451
    assert 'class="dataframe"' in html          # styled by the book's theme like pandas tables


def test_verdict_span_and_table_escape_text():
    assert tables.verdict_html("pass") == \
        '<span class="lthkit-verdict lthkit-verdict-pass">✓ pass</span>'
    assert "✗ fail" in tables.verdict_html("fail")
    assert "? inconclusive" in tables.verdict_html("inconclusive")
    html = tables.html_table(["a<b", "raw"], [["x < y & z", "<i>kept</i>"]], css="demo",
                             raw_columns=[1])
    assert "a&lt;b" in html and "x &lt; y &amp; z" in html and "<i>kept</i>" in html
    assert 'class="dataframe lthkit-table demo"' in html
