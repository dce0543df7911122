"""`lthkit collect` of a batch: the tidy table (CSV, Parquet) and the offline HTML summary."""

from __future__ import annotations

import importlib.util
import io
import json
import re

import pandas as pd
import pytest

from conftest import LOTTERY_GRID
from lthkit import batch, book, cells, claims, cli, summary


@pytest.mark.parametrize("measured, value", [
    (0.5, 0.5), (36, 36.0), ("+0.12 pp [-0.30, +0.50]", 0.12), ("-1.45 pp, mean over 1", -1.45),
    ("0.81 [0.57, 0.93] vs 0.12", 0.81), ("−2.5 pp", -2.5), ("+nan pp", None),
    ("no controls ran", None), (None, None), (True, None), ("1e-3 loss", 1e-3),
    ([0.02, -0.01, 0.05], 0.02), ([], None),
])
def test_the_measured_value_is_the_leading_number(measured, value):
    assert summary.number(measured) == value


def test_nested_metrics_are_flattened():
    assert summary.flatten({"a": 1, "b": {"c": 2, "d": {"e": 3}}, "f": [1, 2]}) == {
        "a": 1, "b.c": 2, "b.d.e": 3, "f": "[1, 2]"}


def test_a_row_per_cell_and_claim_with_the_parameters_and_headline_metrics(lottery_batch):
    out, _ = lottery_batch
    df = summary.table(out)
    docs = {c.name: json.loads((c.dir / "metrics.json").read_text())
            for c in cells.cells_in(out)}
    assert len(df) == sum(len(d["claims"]) for d in docs.values())
    assert list(df.columns[:3]) == ["cell", "first_seed", "rewind_step"]
    assert set(df["status"]) == {"done"}
    assert set(df["verdict"]) <= set(claims.VERDICTS)
    # cells in grid order, claims in their order
    firsts = df.drop_duplicates("cell")[["first_seed", "rewind_step"]].values.tolist()
    assert firsts == [[s, r] for s in LOTTERY_GRID["first_seed"]
                      for r in LOTTERY_GRID["rewind_step"]]
    for row in df.to_dict("records"):
        doc = docs[row["cell"]]
        c = doc["claims"][row["claim_no"] - 1]
        assert [row[k] for k in ("claim", "measured", "verdict")] == [
            c["claim"], c["measured"], c["verdict"]]
        assert row["dense_test_acc"] == doc["metrics"]["dense_test_acc"]
        assert row["xor_success.ticket_2"] == doc["metrics"]["xor_success"]["ticket_2"]
    assert summary.varying(df) == ["first_seed", "rewind_step"]


def test_collect_a_batch_as_csv_parquet_and_an_offline_html_summary(lottery_batch, tmp_path,
                                                                    capsys):
    pytest.importorskip("pyarrow")
    out, _ = lottery_batch
    expected = summary.table(out)
    assert cli.main(["collect", str(out)]) == 0
    captured = capsys.readouterr()
    from_stdout = pd.read_csv(io.StringIO(captured.out))
    assert len(from_stdout) == len(expected)
    assert from_stdout["verdict"].tolist() == expected["verdict"].tolist()
    page = out / "summary.html"
    assert str(page) in captured.err

    assert cli.main(["collect", str(out), "--csv", str(tmp_path / "t.csv"),
                     "--html", str(tmp_path / "s.html")]) == 0
    assert pd.read_csv(tmp_path / "t.csv")["claim"].tolist() == expected["claim"].tolist()
    assert cli.main(["collect", str(out), "--parquet", str(tmp_path / "t.parquet")]) == 0
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert back["measured_value"].tolist() == pytest.approx(
        expected["measured_value"].tolist(), nan_ok=True)

    html = page.read_text()
    assert html.count('class="lthkit-vega"') == 3  # verdicts, measured values, metrics
    assert all("<svg" in chart for chart in html.split('class="lthkit-vega"')[1:])
    assert '<script defer src="lthkit-vega.js">' in html and (out / "lthkit-vega.js").exists()
    assert book.find_remote_loads(out) == []
    # every claim and every cell is in the verdict chart's data
    spec = json.loads(re.search(r'<script type="application/json">(.*?)</script>', html,
                                re.S).group(1))
    values = next(iter(spec["datasets"].values()))
    assert len(values) == len(expected)
    assert {v["cells"] for v in values} == {"first_seed=0 rewind_step=0it",
                                            "first_seed=0 rewind_step=10it",
                                            "first_seed=1 rewind_step=0it",
                                            "first_seed=1 rewind_step=10it"}


def test_failed_and_unfinished_cells_are_rows_with_their_state(demo_notebook, tmp_path):
    nb = demo_notebook("demo")
    plan = batch.plan(nb, tmp_path / "b", {"points": [2, 3, 4]})
    batch.prepare(plan)
    done, failed, new = plan.cells
    claims.write_metrics([claims.claim("grows", 4, "> 0", True),
                          claims.claim("gains", (0.02, -0.01, 0.05), 0.0, None, fmt=".2f")],
                         {"points": 2}, {"area": 1.5, "nested": {"x": 2}},
                         path=done.dir / "metrics.json")
    (done.dir / "demo.ipynb").write_text("{}")
    (done.dir / "done.json").write_text(json.dumps({"key": done.key}))
    (failed.dir / "failed.json").write_text(json.dumps({"error": "cell 4 raised Boom"}))
    df = summary.table(tmp_path / "b")
    assert df[["points", "status"]].values.tolist() == [[2, "done"], [2, "done"],
                                                        [3, "failed"], [4, "new"]]
    assert df.loc[0, ["claim", "measured", "measured_value", "area", "nested.x"]].tolist() == [
        "grows", "4", 4.0, 1.5, 2]
    assert df.loc[1, ["measured", "shown", "measured_value", "verdict"]].tolist() == [
        "[0.02, -0.01, 0.05]", "0.02 [-0.01, 0.05]", 0.02, "inconclusive"]
    assert df.loc[2, "error"] == "cell 4 raised Boom" and pd.isna(df.loc[2, "claim"])
    if importlib.util.find_spec("pyarrow"):  # one type per column, so Parquet takes it
        df.to_parquet(tmp_path / "t.parquet")
        back = pd.read_parquet(tmp_path / "t.parquet")
        assert back["measured"].tolist() == df["measured"].tolist()
    page = summary.write_html(df, tmp_path / "b" / "summary.html", title="demo")
    html = page.read_text()
    assert "Cells without a current result" in html and "cell 4 raised Boom" in html
    assert book.find_remote_loads(tmp_path / "b") == []


def test_collect_of_several_folders_keeps_the_plain_table(tmp_path, capsys):
    for seed in (0, 1):
        claims.write_metrics([claims.claim("c", seed, "> 0", seed > 0)], {"seed": seed},
                             path=tmp_path / f"r{seed}" / "metrics.json")
    assert cli.main(["collect", str(tmp_path / "r0"), str(tmp_path / "r1"),
                     "--csv", str(tmp_path / "all.csv")]) == 0
    df = pd.read_csv(tmp_path / "all.csv")
    assert list(df.columns) == ["run", "seed", "claim", "measured", "expected", "verdict"]
    assert not (tmp_path / "summary.html").exists()
    assert cli.main(["collect", str(tmp_path), "--html", str(tmp_path / "s.html")]) == 2
    assert "--html needs one batch folder" in capsys.readouterr().err
