"""``lthkit synth FILE.ml`` and ``lthkit synth bench DIR`` (and ``python -m lthkit.synth``)."""
import csv
import os
import subprocess
import sys

import pytest

from lthkit.synth.bench import PROBLEMS, external_suite
from lthkit.synth.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_synth_file_prints_the_program(capsys):
    assert main([os.path.join(PROBLEMS, "list_stutter.ml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("let list_stutter : list -> list =")
    assert "let rec f1 (l1:list) : list =" in out and "match l1 with" in out


def test_bench_prints_a_table_and_writes_csv(tmp_path, capsys):
    path = tmp_path / "r.csv"
    assert main(["bench", PROBLEMS, "--timeout", "30", "--csv", str(path)]) == 0
    out = capsys.readouterr().out
    n = len([f for f in os.listdir(PROBLEMS) if f.endswith(".ml")])
    assert f"solved {n}/{n}, verified {n}" in out
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["name", "solved", "seconds", "examples", "size", "verified", "checked",
                       "same_function"]      # our problems come with their intended functions
    assert len(rows) == n + 1
    assert all(r[1] == "True" and r[5] == "True" and float(r[2]) >= 0 and int(r[3]) > 0
               and r[6].startswith("on ") and r[7] == "True" for r in rows[1:])


def test_bench_compares_with_peer_outputs_when_present(tmp_path, capsys):
    folder = external_suite("myth-pldi2015")
    if folder is None:
        pytest.skip("myth-pldi2015 not found: set LTHKIT_SYNTH_BENCH")
    sub = tmp_path / "few"
    sub.mkdir()
    for name in ("list_stutter", "list_append"):      # links, not copies, of the external files
        for ext in (".ml", ".out"):
            os.symlink(os.path.join(folder, name + ext), sub / (name + ext))
    path = tmp_path / "r.csv"
    assert main(["bench", str(sub), "--csv", str(path)]) == 0
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0].keys())[-2:] == ["same_as_peer", "same_function"]
    assert {r["same_as_peer"] for r in rows} <= {"True", "False"}
    assert {r["same_function"] for r in rows} == {"True"}


def test_syntax_error_exit_code_and_message(tmp_path, capsys):
    spec = tmp_path / "bad.ml"
    spec.write_text("type nat =\n | O\n | S of nat\nlet f : nat -> nat |> { 0 => } = ?\n")
    assert main([str(spec)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:4:30: expected an expression" in err
    assert "Traceback" not in err


def test_unsolvable_spec_exit_code_and_limits(tmp_path, capsys):
    from test_synth_synth import HARD
    spec = tmp_path / "hard.ml"
    spec.write_text(HARD)
    assert main([str(spec), "--timeout", "0.3"]) == 1
    err = capsys.readouterr().err
    assert "no program found: timeout after 0.3 s" in err


def test_missing_file(capsys):
    assert main(["/nonexistent/spec.ml"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_python_dash_m_and_the_top_level_cli():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    spec = os.path.join(PROBLEMS, "nat_double.ml")
    r = subprocess.run([sys.executable, "-m", "lthkit.synth", spec], capture_output=True, text=True,
                       env=env, cwd=ROOT)
    assert r.returncode == 0 and "S (S (f1 n2))" in r.stdout
    top = pytest.importorskip("lthkit.cli")
    r2 = subprocess.run([sys.executable, "-m", "lthkit.cli", "synth", spec], capture_output=True,
                        text=True, env=env, cwd=ROOT)
    assert r2.returncode == 0 and r2.stdout == r.stdout
