"""The lthkit command: `run` with parameters, bad parameters, failures, and `synth` wiring."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from lthkit import book, cli, hparams

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("0.5", 0.5), ("1e-3", 1e-3), ("-2", -2), ("true", True), ("false", False),
    ("[1, 2]", [1, 2]), ("paper", "paper"), ("500it", "500it"), ("{a: 1}", {"a": 1}),
    ("null", None), ("a: b: c", "a: b: c"),
])
def test_parameter_values_are_read_as_yaml(text, value):
    got = cli.parse_value(text)
    assert got == value and type(got) is type(value)


def test_run_passes_typed_parameters_and_runs_in_the_output_folder(
        demo_notebook, tmp_path, monkeypatch, capsys):
    nb = demo_notebook("demo")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LTHKIT_STORE", raising=False)
    rc = cli.main(["run", str(nb), "-p", "points", "3", "-p", "ratio", "0.5", "-p", "flag",
                   "true", "-p", "xs", "[1, 2]", "-p", "name", "paper", "--out", "out/a",
                   "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    out = tmp_path / "out" / "a"
    assert (out / "demo.ipynb").exists()
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["params"] == {"preset": "default", "points": 3, "ratio": 0.5, "flag": True,
                             "xs": [1, 2], "name": "paper"}
    assert doc["metrics"]["types"] == {"points": "int", "ratio": "float", "flag": "bool",
                                       "xs": "list", "name": "str"}
    assert Path(doc["metrics"]["cwd"]).resolve() == out.resolve()
    # no $LTHKIT_STORE: the store is .lthkit in the folder lthkit was started from
    assert doc["metrics"]["store"] == str((tmp_path / ".lthkit").resolve())
    assert str(out / "metrics.json") in capsys.readouterr().out


def test_run_makes_a_relative_store_absolute(demo_notebook, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LTHKIT_STORE", "mystore")
    assert cli.main(["run", str(demo_notebook()), "--out", "o", "--no-progress"]) == 0
    doc = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert doc["metrics"]["store"] == str((tmp_path / "mystore").resolve())


def test_a_failing_cell_names_the_notebook_and_the_cell(demo_notebook, tmp_path, capsys):
    nb = demo_notebook("broken")
    rc = cli.main(["run", str(nb), "-p", "fail", "true", "--out", str(tmp_path / "o"),
                   "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    assert str(nb) in err and "cell 4" in err and "asked to fail" in err
    assert not (tmp_path / "o" / "broken.ipynb").exists()
    assert (tmp_path / "o" / "broken.failed.ipynb").exists()


def test_bad_parameters_stop_before_anything_runs(demo_notebook, tmp_path, monkeypatch,
                                                  capsys):
    """The contract with hparams: resolve(chapter, **params) raises ParameterError."""
    seen = {}

    def resolve(chapter, preset="default", **overrides):
        seen.update(chapter=chapter, preset=preset, **overrides)
        raise hparams.ParameterError("preset: 'gpu' is not one of 'default', 'paper'")
    monkeypatch.setattr(hparams, "resolve", resolve)
    monkeypatch.setattr(book, "execute", lambda *a, **k: pytest.fail("must not execute"))
    nb = demo_notebook("demo", chapter="demo-chapter")
    rc = cli.main(["run", str(nb), "-p", "preset", "gpu", "-p", "points", "2",
                   "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "preset: 'gpu' is not one of 'default', 'paper'" in capsys.readouterr().err
    assert seen == {"chapter": "demo-chapter", "preset": "gpu", "points": 2}
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_real_chapters_reject_bad_parameters(nb, tmp_path, capsys):
    for args, word in ((["-p", "preset", "no-such-preset"], "preset"),
                       (["-p", "no_such_knob", "1"], "no_such_knob")):
        rc = cli.main(["run", str(nb), *args, "--out", str(tmp_path / "o")])
        assert rc == 2
        assert word in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_run_a_missing_notebook(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "nope.ipynb")]) == 2
    assert "no such notebook" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "lthkit" in capsys.readouterr().out


def test_synth_subcommand_is_registered_by_lthkit_synth(monkeypatch, capsys):
    fake = types.ModuleType("lthkit.synth.cli")

    def register(subparsers):
        p = subparsers.add_parser("synth")
        p.add_argument("problem")
        p.set_defaults(func=lambda args: print(f"synthesising {args.problem}") or 0)
    fake.register = register
    monkeypatch.setitem(sys.modules, "lthkit.synth.cli", fake)
    assert cli.main(["synth", "list_append"]) == 0
    assert "synthesising list_append" in capsys.readouterr().out


def test_synth_without_lthkit_synth_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "lthkit.synth.cli", None)  # import fails: not found
    assert cli.main(["synth", "anything"]) == 2
    assert "lthkit.synth.cli" in capsys.readouterr().err


def test_other_commands_do_not_import_synth(monkeypatch):
    monkeypatch.setitem(sys.modules, "lthkit.synth.cli", None)
    parser = cli.build_parser(["book"])
    assert parser.parse_args(["book", "--force"]).force is True


def test_collect_prints_one_csv_row_per_claim(tmp_path, capsys):
    from lthkit import claims
    for seed in (0, 1):
        claims.write_metrics([claims.claim("c", seed, "> 0", seed > 0)], {"seed": seed},
                             path=tmp_path / f"r{seed}" / "metrics.json")
    assert cli.main(["collect", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "run,seed,claim,measured,expected,verdict"
    assert [ln.split(",")[-1] for ln in lines[1:]] == ["fail", "pass"]
    assert cli.main(["collect", str(tmp_path / "nope")]) == 2
