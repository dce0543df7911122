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
    # YAML 1.2, not PyYAML's 1.1: no octal from a leading zero, no sexagesimal, no yes/no.
    ("010", 10), ("-010", -10), ("0o10", 8), ("0x10", 16), ("1E3", 1000.0), (".5", 0.5),
    ("[010, 2]", [10, 2]), ("1:30", "1:30"), ("yes", "yes"), ("off", "off"),
    ("2024-01-02", "2024-01-02"), ("1_000", "1_000"),
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
    (tmp_path / "o").mkdir()  # an earlier run's results, which must not look current
    (tmp_path / "o" / "metrics.json").write_text('{"claims": [], "params": {}}')
    (tmp_path / "o" / "broken.ipynb").write_text("{}")
    rc = cli.main(["run", str(nb), "-p", "fail", "true", "--out", str(tmp_path / "o"),
                   "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    assert str(nb) in err and "cell 4" in err and "asked to fail" in err
    assert not (tmp_path / "o" / "broken.ipynb").exists()
    assert not (tmp_path / "o" / "metrics.json").exists()
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


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _no_execution(monkeypatch):
    monkeypatch.setattr(book, "execute", lambda *a, **k: pytest.fail("must not execute"))
    monkeypatch.setattr(book, "build_book", lambda *a, **k: pytest.fail("must not execute"))


def test_integers_are_yaml_1_2_on_their_way_to_the_chapter(demo_notebook, monkeypatch, capsys):
    seen = {}

    def resolve(chapter, preset="default", **overrides):
        seen.update(overrides)
        raise hparams.ParameterError("stop here")
    monkeypatch.setattr(hparams, "resolve", resolve)
    nb = demo_notebook("demo", chapter="lottery")
    assert cli.main(["run", str(nb), "-p", "first_seed", "010", "-p", "lr", "1e-3"]) == 2
    assert seen == {"first_seed": 10, "lr": 1e-3}


LOTTERY = ROOT / "notebooks" / "01_lottery_tickets.ipynb"


@pytest.mark.parametrize("value, hint", [("20", "'20it'"), ("100000000it", "1000000 iterations"),
                                         ("20 iterations", "'500it'")])
def test_a_bad_step_exits_2_with_a_hint(value, hint, tmp_path, monkeypatch, capsys):
    _no_execution(monkeypatch)
    rc = cli.main(["run", str(LOTTERY), "-p", "train_steps", value, "--out", str(tmp_path / "o")])
    assert rc == 2 and hint in _one_line(capsys)
    assert not (tmp_path / "o").exists()


def test_the_paper_preset_without_its_data_stops_before_papermill(tmp_path, monkeypatch, capsys):
    _no_execution(monkeypatch)
    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path / "no-data"))
    rc = cli.main(["run", str(LOTTERY), "-p", "preset", "paper", "--out", str(tmp_path / "o")])
    err = _one_line(capsys)
    assert rc == 2 and "mnist" in err and str(tmp_path / "no-data") in err
    assert not (tmp_path / "o").exists()


def test_out_that_cannot_be_a_folder_exits_2(demo_notebook, tmp_path, monkeypatch, capsys):
    _no_execution(monkeypatch)
    nb = demo_notebook("demo")
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    for out, says in ((a_file, "not a folder"), (a_file / "below", "cannot create"),
                      (nb.parent, "overwrite")):
        assert cli.main(["run", str(nb), "--out", str(out)]) == 2
        assert says in _one_line(capsys)
    assert a_file.read_text() == "mine"


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\xff", b"[1, 2]", b'{"cells": 3}'])
def test_a_file_that_is_not_a_notebook_exits_2(content, tmp_path, monkeypatch, capsys):
    _no_execution(monkeypatch)
    path = tmp_path / "x.ipynb"
    path.write_bytes(content)
    assert cli.main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "not a Jupyter notebook" in _one_line(capsys)


def test_an_unknown_kernel_exits_2(demo_notebook, tmp_path, monkeypatch, capsys):
    _no_execution(monkeypatch)
    rc = cli.main(["run", str(demo_notebook()), "--kernel", "no-such-kernel",
                   "--out", str(tmp_path / "o")])
    assert rc == 2 and "no-such-kernel" in _one_line(capsys)
    assert not (tmp_path / "o").exists()


def test_a_store_that_is_not_a_folder_exits_2(demo_notebook, tmp_path, monkeypatch, capsys):
    _no_execution(monkeypatch)
    (tmp_path / "store").write_text("not a folder")
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "store"))
    assert cli.main(["run", str(demo_notebook()), "--out", str(tmp_path / "o")]) == 2
    assert str(tmp_path / "store") in _one_line(capsys)


def test_book_mistakes_exit_2_before_anything_runs(demo_notebook, tmp_path, monkeypatch,
                                                   capsys):
    _no_execution(monkeypatch)
    assert cli.main(["book", "--root", str(tmp_path)]) == 2
    assert "book/_config.yml" in _one_line(capsys)
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "_config.yml").write_text("title: x\n")
    demo_notebook("01-demo", folder=tmp_path / "notebooks")
    assert cli.main(["book", "--root", str(tmp_path), "--notebooks", "01-demo", "nope"]) == 2
    assert "nope" in _one_line(capsys)


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


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"claims": 5}', '{"params": {}}'])
def test_collect_names_a_file_that_is_not_a_metrics_json(content, tmp_path, capsys):
    from lthkit import claims
    claims.write_metrics([claims.claim("c", 1, "> 0", True)], {"seed": 0},
                         path=tmp_path / "good" / "metrics.json")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "metrics.json").write_text(content)
    assert cli.main(["collect", str(tmp_path)]) == 2
    assert str(tmp_path / "bad" / "metrics.json") in _one_line(capsys)


def test_collect_into_a_closed_pipe_is_quiet(tmp_path):
    import subprocess
    from lthkit import claims
    records = [claims.claim(f"claim {i}", i, "> 0", True) for i in range(5000)]
    claims.write_metrics(records, {"seed": 0}, path=tmp_path / "r" / "metrics.json")
    collect = subprocess.Popen([sys.executable, "-m", "lthkit.cli", "collect", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    collect.stdout.readline()
    collect.stdout.close()  # what `| head -1` does
    err = collect.stderr.read().decode()
    assert collect.wait(timeout=60) == 0 and err == "", err
