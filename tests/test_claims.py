"""claims: verdicts, the claims table, and metrics.json."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
import torch

from lthkit import claims


def test_verdicts_follow_holds():
    assert claims.claim("a", 1, 0, True).verdict == "pass"
    assert claims.claim("a", 1, 0, False).verdict == "fail"
    assert claims.claim("a", None, 0, None).verdict == "inconclusive"
    assert claims.claim("a", 1, 0, np.bool_(True)).verdict == "pass"
    assert claims.claim("a", 1, 0, torch.tensor(1.0) > 2).verdict == "fail"


@pytest.mark.parametrize("holds", ["yes", 1.5, [True]])
def test_holds_must_be_a_truth_value(holds):
    with pytest.raises(TypeError):
        claims.claim("a", 1, 0, holds)


def test_table_has_one_row_per_claim():
    df = claims.table([claims.claim("faster", 120, "< 200", True),
                       claims.claim("unknown", None, "> 0", None)])
    assert list(df.columns) == ["claim", "measured", "expected", "verdict"]
    assert df["verdict"].tolist() == ["pass", "inconclusive"]
    assert df["measured"].tolist() == [120, "—"]   # an int stays an int; missing is a dash
    assert df.index.tolist() == [1, 2]


def test_metrics_json_has_the_agreed_shape_and_plain_values(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recs = [claims.claim("acc", np.float32(0.5), "> 0.4", np.bool_(True)),
            claims.claim("iters", torch.tensor(7), (1, 2), False),
            claims.claim("nan", float("nan"), "finite", None)]
    path = claims.write_metrics(
        recs, {"preset": "default", "seeds": np.int64(3), "widths": np.array([2, 4])},
        {"curve": torch.tensor([0.25, 0.5]), "best": np.float64(math.inf)})
    assert path.name == "metrics.json" and path.parent.resolve() == tmp_path.resolve()
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert doc == {
        "claims": [
            {"claim": "acc", "measured": 0.5, "expected": "> 0.4", "verdict": "pass"},
            {"claim": "iters", "measured": 7, "expected": [1, 2], "verdict": "fail"},
            {"claim": "nan", "measured": None, "expected": "finite",
             "verdict": "inconclusive"}],
        "params": {"preset": "default", "seeds": 3, "widths": [2, 4]},
        "metrics": {"curve": [0.25, 0.5], "best": None}}
    assert os.stat(path).st_mode & 0o044, "readable by others, like any written file"


def test_metrics_are_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    claims.write_metrics([claims.claim("old", 1, 1, True)], {}, path=path)
    before = path.read_text()

    def crash(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        claims.write_metrics([claims.claim("new", 2, 2, False)], {}, path=path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


def test_collect_gathers_claims_of_many_runs(tmp_path):
    for seed, acc in ((0, 0.97), (1, 0.99)):
        claims.write_metrics([claims.claim("beats dense", acc, "> 0.98", acc > 0.98),
                              claims.claim("faster", None, "< 1000", None)],
                             {"preset": "default", "seed": seed},
                             path=tmp_path / "runs" / f"s{seed}" / "metrics.json")
    df = claims.collect([tmp_path / "runs"])
    assert list(df.columns) == ["run", "preset", "seed", "claim", "measured", "expected",
                                "verdict"]
    assert df["seed"].tolist() == [0, 0, 1, 1]
    assert df["verdict"].tolist() == ["fail", "inconclusive", "pass", "inconclusive"]
    one = claims.collect([tmp_path / "runs" / "s1" / "metrics.json"])
    assert len(one) == 2 and one["run"].iloc[0].endswith("s1")


LONG = ("XOR: H=10 succeeds more often than H=2 from scratch, over every trial of the run "
        "& with <no> truncation")


def test_claims_table_shows_full_text_formatted_numbers_and_marked_verdicts():
    records = [claims.claim(LONG, (0.8125, 0.57, 0.93), "> 0.5", True, fmt="share"),
               claims.claim("tickets reach dense", 0.98125, 0.978, False, fmt="accuracy"),
               claims.claim("undecided", None, "> 0", None)]
    df = claims.table(records)
    assert df["measured"].tolist()[1] == 0.98125          # the cells keep the numbers
    html = df._repr_html_()
    assert "XOR: H=10 succeeds more often than H=2 from scratch, over every trial of the run " \
           "&amp; with &lt;no&gt; truncation" in html      # full text, escaped
    assert "81.2% [57.0%, 93.0%]" in html
    assert "0.981" in html and "0.978" in html and "0.98125" not in html
    for verdict in ("pass", "fail", "inconclusive"):
        assert f'class="lthkit-verdict lthkit-verdict-{verdict}"' in html
    assert f">{claims.tables.MISSING}<" in html
    assert LONG in repr(df)                                # plain text is not cut either


def test_a_derived_frame_is_plain_and_formats_its_own_cells():
    df = claims.table([claims.claim("a", 0.5, 1, True, fmt="share")])
    assert type(df[df["verdict"] == "pass"]) is pd.DataFrame
    df.loc[2] = ["added by hand", 0.123456, "x", "fail"]  # rows no longer match the records
    assert "0.123" in df._repr_html_()


def test_metrics_json_records_the_shown_value_only_with_a_format(tmp_path):
    path = claims.write_metrics([claims.claim("acc", 0.98125, "> 0.978", True, fmt="accuracy"),
                                 claims.claim("raw", 0.98125, "> 0.978", True)],
                                {}, path=tmp_path / "metrics.json")
    first, second = json.loads(path.read_text())["claims"]
    assert first == {"claim": "acc", "measured": 0.98125, "expected": "> 0.978",
                     "verdict": "pass", "shown": "0.981"}
    assert "shown" not in second and second["measured"] == 0.98125


def test_a_bad_format_fails_when_the_claim_is_made():
    with pytest.raises(ValueError, match="unknown format"):
        claims.claim("a", 0.5, 1, True, fmt="percentage")
