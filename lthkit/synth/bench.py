"""Run a directory of specs and tabulate the results (``lthkit synth bench DIR``).

    rows = run_suite("/path/to/myth-pldi2015", timeout=10)
    print(format_table(rows)); write_csv(rows, "out.csv")

Each row records whether the spec was solved, the in-process time, the number of examples, the
program's size, whether it was verified and how (``checked``), and -- where a reference sits
beside the spec -- whether our program is the peer's up to renaming (``same_as_peer``) and
whether it computes the same function on random inputs (``same_function``; see ``compare``).
A spec that cannot be read or checked is a row with its ``error``; the suite carries on.
"""
from __future__ import annotations

import csv
import glob
import os
import time

from .compare import reference, reference_program, same_function
from .lexer import SynthInputError
from .parser import parse_file
from .pretty import alpha_key
from .synth import count_examples, synthesize

COLUMNS = ["name", "solved", "seconds", "examples", "size", "verified", "checked",
           "same_as_peer", "same_function", "error"]
OPTIONAL = ("same_as_peer", "same_function", "error")      # shown when some row has one


def run_spec(path, timeout=None, focusing=True, compare=True, generalise=True):
    """One spec's row; never raises for a bad spec (its error is in the row)."""
    name = os.path.basename(path)[:-3]
    row = {"name": name, "solved": False, "seconds": 0.0, "examples": 0, "size": 0,
           "verified": False, "checked": "", "same_as_peer": None, "same_function": None,
           "error": "", "limits": "", "terms": 0, "program": "", "term": None, "relevance": ""}
    t0 = time.perf_counter()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        prog = parse_file(path)
        row["examples"] = count_examples(prog.goal.examples)
        res = synthesize(prog, timeout=timeout, focusing=focusing, deadline=deadline,
                         generalise=generalise)
    except SynthInputError as e:
        row.update(error=str(e), seconds=time.perf_counter() - t0)
        return row
    except Exception as e:      # a bug of ours must not lose the rest of the suite
        row.update(error=f"{path}:1:1: internal error: {type(e).__name__}: {e}",
                   seconds=time.perf_counter() - t0)
        return row
    row.update(solved=res.solved, seconds=res.seconds, examples=res.examples, size=res.size,
               verified=res.verified, checked=res.checked, limits=res.limits,
               terms=res.stats.get("terms", 0), program=res.text, term=res.program,
               relevance=" ".join(res.stats.get("relevance", ())))
    if compare and res.program is not None:
        ref = reference(path)
        try:
            if ref is not None and ref[1] == "peer":
                row["same_as_peer"] = alpha_key(res.program) == alpha_key(reference_program(ref[0], prog))
            row["same_function"] = same_function(path, res.program)
        except Exception as e:  # a reference we cannot read says nothing about our program
            row["error"] = f"{ref[0]}:1:1: reference not usable: {e}"
    return row


def run_suite(directory, timeout=None, focusing=True, names=None, progress=None, compare=True,
              generalise=True):
    paths = sorted(glob.glob(os.path.join(directory, "*.ml")))
    if names is not None:
        paths = [p for p in paths if os.path.basename(p)[:-3] in set(names)]
    rows = []
    for p in paths:
        row = run_spec(p, timeout=timeout, focusing=focusing, compare=compare, generalise=generalise)
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


def columns(rows):
    return [c for c in COLUMNS if c not in OPTIONAL or any(r[c] not in (None, "") for r in rows)]


def format_table(rows) -> str:
    cols = columns(rows)
    head = f"{'name':28s} {'solved':>6s} {'seconds':>8s} {'examples':>8s} {'size':>4s} {'verified':>8s}"
    extra = [c for c in ("same_as_peer", "same_function") if c in cols]
    head += "".join(f" {c:>13s}" for c in extra)
    lines = [head]
    for r in rows:
        line = (f"{r['name']:28s} {str(r['solved']):>6s} {r['seconds']:8.3f} {r['examples']:8d} "
                f"{r['size']:4d} {str(r['verified']):>8s}")
        line += "".join(f" {'-' if r[c] is None else str(r[c]):>13s}" for c in extra)
        note = r["error"] or r["limits"]
        if note:
            line += f"  ({note})"
        lines.append(line)
    solved = sum(r["solved"] for r in rows)
    total = sum(r["seconds"] for r in rows)
    summary = f"solved {solved}/{len(rows)}, verified {sum(r['verified'] for r in rows)}, total {total:.2f} s"
    for c in extra:
        summary += f", {c.replace('_', ' ')} {sum(r[c] is True for r in rows)}/{sum(r[c] is not None for r in rows)}"
    errors = sum(bool(r["error"]) for r in rows)
    if errors:
        summary += f", {errors} with errors"
    lines.append(summary)
    return "\n".join(lines)


def write_csv(rows, path):
    cols = columns(rows)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([f"{r[c]:.4f}" if c == "seconds" else ("" if r[c] is None else r[c]) for c in cols])


PROBLEMS = os.path.join(os.path.dirname(__file__), "problems")
SUITES = ("myth-pldi2015", "popl2016-products", "popl2016-min", "popl2016-poly")


def external_suite(name):
    """Folder of an external suite (one of SUITES): under ``$LTHKIT_SYNTH_BENCH`` if set, else
    ``../shared/synth-bench`` beside the repository.  None when it is not there (the files are
    not ours to ship)."""
    root = os.environ.get("LTHKIT_SYNTH_BENCH")
    if not root:
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        root = os.path.join(os.path.dirname(repo), "shared", "synth-bench")
    path = os.path.join(root, name)
    return path if os.path.isdir(path) else None


def myth_times(name="myth-pldi2015-times.tsv"):
    """Myth's own per-benchmark seconds, {name: seconds}, or None when absent."""
    folder = external_suite("myth-pldi2015")
    if folder is None:
        return None
    path = os.path.join(os.path.dirname(folder), name)
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return {r["benchmark"]: float(r["myth_seconds"]) for r in rows}
