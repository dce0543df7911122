"""A synthesiser no input can crash: every input gives a program or one line naming
``file:line:col``, exit status 2, no traceback (issue 18).  One test per hostile case, and a
fuzz test over mutations of our own problems."""
import os
import random
import re
import subprocess
import sys
import time

import pytest

from lthkit.synth.bench import PROBLEMS, run_suite, write_csv
from lthkit.synth.cli import main, solve_file
from test_synth_synth import HARD

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAT = "type nat =\n  | Z\n  | S of nat\n"
LIST = NAT + "type list =\n  | Nil\n  | Cons of nat * list\n"
LOCATED = re.compile(r"^error: [^\n]+:\d+:\d+( \([^)\n]*\))?: [^\n]+$")


def refused(path, capsys, *expected):
    """``lthkit synth PATH`` exits 2 with one located line that says ``expected``."""
    assert main([str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert LOCATED.match(err), err
    assert "Traceback" not in err
    for e in expected:
        assert e in err, err
    return err


def spec(tmp_path, name, content):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def test_binary_file(tmp_path, capsys):
    refused(spec(tmp_path, "b.ml", bytes(range(256)) * 4), capsys, "b.ml:2:", "not a text file")
    refused(spec(tmp_path, "n.ml", b"type nat =\x00 | Z\n"), capsys, "n.ml:1:11:", "'\\x00'")


@pytest.mark.parametrize("text", [
    NAT + "let f : nat -> nat |> { " + "(" * 5000 + "0" + ")" * 5000 + " => 0 } = ?",
    NAT + "let f : " + "(" * 5000 + "nat" + ")" * 5000 + " -> nat |> { 0 => 0 } = ?",
    NAT + "let f : nat -> nat |> { " + "S (" * 3000 + "Z" + ")" * 3000 + " => 0 } = ?",
    NAT + "let f : nat -> nat |> /\\(" + "/\\(0 -> " * 3000 + "0" + ")" * 3000 + ") = ?",
])
def test_deep_nesting_is_refused_before_any_recursion_limit(tmp_path, capsys, text):
    refused(spec(tmp_path, "deep.ml", text), capsys, "deep.ml:4:", "nested more than 200 levels")


def test_long_list_literal_is_refused_by_depth(tmp_path, capsys):
    text = LIST + "let f : list -> nat |> { [" + "; ".join(["0"] * 5000) + "] => 0 } = ?"
    refused(spec(tmp_path, "long.ml", text), capsys, "constructors deep")


def test_a_file_that_uses_itself(tmp_path, capsys):
    refused(spec(tmp_path, "self.ml", '#use "self.ml"\n'), capsys, "self.ml:1:6:", "#use cycle")
    spec(tmp_path, "a.decls", '#use "b.decls"\n')
    spec(tmp_path, "b.decls", '#use "a.decls"\n')
    refused(spec(tmp_path, "ab.ml", '#use "a.decls"\n'), capsys, "b.decls:1:6:", "#use cycle")


def test_use_of_a_directory_or_a_device(tmp_path, capsys):
    refused(spec(tmp_path, "dot.ml", '#use "."\n'), capsys, "dot.ml:1:6:", "is a directory")
    refused(spec(tmp_path, "dev.ml", '#use "/dev/zero"\n'), capsys, "not a regular file")
    refused(tmp_path, capsys, "is a directory")               # the spec itself


@pytest.mark.parametrize("literal", ["5000", "100000000", "9" * 5000])
def test_huge_literals_are_refused_unexpanded(tmp_path, capsys, literal):
    t0 = time.process_time()
    refused(spec(tmp_path, "lit.ml", NAT + f"let f : nat -> nat |> {{ {literal} => 0 }} = ?"),
            capsys, "lit.ml:4:25:", "too large")
    assert time.process_time() - t0 < 1.0      # refused as read: nothing was built


def test_contradictory_examples_name_both(tmp_path, capsys):
    err = refused(spec(tmp_path, "c.ml", NAT + "let f : nat -> nat |> { 0 => 1 | 1 => 2 | 0 => 2 } = ?"),
                  capsys, "c.ml:4:43: examples contradict", "at ", "c.ml:4:25")
    assert "input 0 gives 2 here but 1" in err
    # a refinement and a value that overlap: 1 is in `nat`, and 0 and 1 have nothing in common
    refused(spec(tmp_path, "r.ml", NAT + "let f : nat -> nat |> /\\(nat -> 0, 1 -> 1) = ?"),
            capsys, "r.ml:4:36: examples contradict")


def test_example_without_value_and_union_explosion(tmp_path, capsys):
    refused(spec(tmp_path, "loop.ml", NAT + "let rec loop (n:nat) : nat = loop n ;;\n"
                                            "let f : nat -> nat |> { 0 => loop 0 } = ?"),
            capsys, "loop.ml:5:25:", "has no value")
    bomb = "Cons(\\/(0,1,2,3), " * 8 + "Nil" + ")" * 8
    refused(spec(tmp_path, "u.ml", LIST + f"let f : list -> nat |> /\\({bomb} -> 0) = ?"),
            capsys, "more than 1024 inputs")


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf", "1e400", "ten"])
def test_timeout_must_be_positive_and_finite(capsys, value):
    with pytest.raises(SystemExit) as info:
        main([os.path.join(PROBLEMS, "nat_double.ml"), "--timeout", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--timeout" in err and "Traceback" not in err


# a spec whose search runs far longer than the timeout given (test_synth_synth's HARD, with more
# examples)
SLOW = HARD.replace("  | [0; 1; 2] =>", "  | [3] => ( [] => [0; 0; 3] | [2] => [1; 3] | [3; 3] => [0] )\n"
                    "  | [1; 2] => ( [0] => [3; 2; 1] | [1] => [2] | [3; 0] => [1; 1] )\n"
                    "  | [0; 1; 2] =>")


def test_timeout_bounds_the_whole_command(tmp_path):
    # the search would run far longer; the command must end at the deadline, memory freed or not
    path = spec(tmp_path, "slow.ml", SLOW)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "lthkit.synth", str(path), "--timeout", "1"],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    assert r.returncode == 1 and "timeout after 1 s" in r.stderr and "Traceback" not in r.stderr
    assert elapsed < 1.5, elapsed       # (the bound is 1.1 s on an idle machine; CI is shared)


def test_bench_keeps_a_row_for_a_spec_that_fails_and_carries_on(tmp_path, capsys):
    (tmp_path / "a_good.ml").write_text(open(os.path.join(PROBLEMS, "nat_double.ml")).read())
    (tmp_path / "b_binary.ml").write_bytes(b"\xff\xfe" * 10)
    (tmp_path / "c_contradict.ml").write_text(NAT + "let f : nat -> nat |> { 0 => 1 | 0 => 2 } = ?")
    (tmp_path / "d_good.ml").write_text(open(os.path.join(PROBLEMS, "list_count.ml")).read())
    out = tmp_path / "r.csv"
    assert main(["bench", str(tmp_path), "--csv", str(out)]) == 1
    text = capsys.readouterr().out
    assert "solved 2/4" in text and "2 with errors" in text
    rows = {r[0]: r for r in (line.split(",") for line in out.read_text().splitlines()[1:])}
    assert set(rows) == {"a_good", "b_binary", "c_contradict", "d_good"}
    header = out.read_text().splitlines()[0].split(",")
    errors = {name: row[header.index("error")] for name, row in rows.items()}
    assert "not a text file" in errors["b_binary"] and "contradict" in errors["c_contradict"]
    assert errors["a_good"] == "" and rows["d_good"][1] == "True"


def test_bench_survives_an_internal_error(tmp_path, monkeypatch):
    from lthkit.synth import bench
    (tmp_path / "x.ml").write_text(open(os.path.join(PROBLEMS, "nat_double.ml")).read())

    def broken(*a, **k):
        raise KeyError("a bug")
    monkeypatch.setattr(bench, "synthesize", broken)
    rows = run_suite(str(tmp_path))
    assert rows[0]["error"].startswith(f"{tmp_path}/x.ml:1:1: internal error: KeyError")
    write_csv(rows, str(tmp_path / "r.csv"))


def mutate(data, rng):
    """Delete, duplicate or swap a few bytes, or a run of them."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(data))
        n = rng.choice([1, 1, 2, 5, 40])
        op = rng.randrange(3)
        if op == 0:
            del data[i:i + n]
        elif op == 1:
            data[i:i] = data[i:i + n] * rng.choice([1, 2, 50])
        else:
            j = rng.randrange(len(data))
            data[i], data[j] = data[j], data[i]
    return bytes(data)


def test_fuzz_mutated_problems_never_give_a_traceback(tmp_path):
    rng = random.Random(20240518)
    sources = sorted(os.path.join(PROBLEMS, f) for f in os.listdir(PROBLEMS) if f.endswith(".ml"))
    seen = {0: 0, 1: 0, 2: 0}
    for i in range(600):
        with open(rng.choice(sources), "rb") as fh:
            data = mutate(fh.read(), rng)
        path = tmp_path / f"m{i}.ml"
        path.write_bytes(data)
        code, out, err = solve_file(str(path), time.monotonic() + 0.1, True, 0.1)
        seen[code] += 1
        assert code in (0, 1, 2)
        if code == 2:
            assert LOCATED.match(err), (data, err)
        assert "Traceback" not in err and "internal error" not in err, (data, err)
    assert seen[2] > 300 and seen[0] > 20, seen      # mostly refused, some still solved
