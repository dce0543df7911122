"""Run a directory of specs and tabulate the results (``lthkit synth bench DIR``).

    rows = run_suite("/path/to/myth-pldi2015", timeout=10)
    print(format_table(rows)); write_csv(rows, "out.csv")

Each row records whether the spec was solved, the in-process time, the number of examples, the
program's size, whether it was verified on every example, and -- where a peer tool's output
``NAME.out`` sits beside the spec -- whether our program is the peer's up to renaming.
"""
from __future__ import annotations

import copy
import csv
import glob
import os

from .parser import Parser, SynthSyntaxError, parse_expr, parse_file
from .pretty import alpha_key
from .synth import count_examples, synthesize
from .typecheck import SynthTypeError

COLUMNS = ["name", "solved", "seconds", "examples", "size", "verified", "same_as_peer"]


def peer_program(out_path, prog):
    """The program in a peer's ``.out`` file, parsed with the spec's declarations."""
    with open(out_path) as fh:
        text = fh.read()
    p2 = copy.copy(prog)
    p2.globals = []
    if text.lstrip().startswith("let") or "\nlet " in text:
        parser = Parser(text, out_path, p2)
        while not parser.at("let"):
            parser.i += 1
        parser.letdecl()
        return p2.globals[-1][2]
    body = text[text.index("*)") + 2:] if text.lstrip().startswith("(*") else text
    return parse_expr(body, p2, out_path)


def run_spec(path, timeout=None, focusing=True):
    name = os.path.basename(path)[:-3]
    row = {"name": name, "solved": False, "seconds": 0.0, "examples": 0, "size": 0,
           "verified": False, "same_as_peer": None, "limits": "", "terms": 0, "program": "",
           "term": None}
    try:
        prog = parse_file(path)
    except (SynthSyntaxError, SynthTypeError) as e:
        row["limits"] = str(e)
        return row
    try:
        res = synthesize(prog, timeout=timeout, focusing=focusing)
    except (SynthSyntaxError, SynthTypeError) as e:
        row["limits"] = str(e)
        row["examples"] = count_examples(prog.goal.examples)
        return row
    row.update(solved=res.solved, seconds=res.seconds, examples=res.examples, size=res.size,
               verified=res.verified, limits=res.limits, terms=res.stats.get("terms", 0),
               program=res.text, term=res.program)
    out = path[:-3] + ".out"
    if res.program is not None and os.path.exists(out):
        try:
            row["same_as_peer"] = alpha_key(res.program) == alpha_key(peer_program(out, prog))
        except SynthSyntaxError:
            row["same_as_peer"] = None
    return row


def run_suite(directory, timeout=None, focusing=True, names=None, progress=None):
    paths = sorted(glob.glob(os.path.join(directory, "*.ml")))
    if names is not None:
        paths = [p for p in paths if os.path.basename(p)[:-3] in set(names)]
    rows = []
    for p in paths:
        row = run_spec(p, timeout=timeout, focusing=focusing)
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


def format_table(rows) -> str:
    has_peer = any(r["same_as_peer"] is not None for r in rows)
    head = f"{'name':28s} {'solved':>6s} {'seconds':>8s} {'examples':>8s} {'size':>4s} {'verified':>8s}"
    head += f" {'same_as_peer':>12s}" if has_peer else ""
    lines = [head]
    for r in rows:
        line = (f"{r['name']:28s} {str(r['solved']):>6s} {r['seconds']:8.3f} {r['examples']:8d} "
                f"{r['size']:4d} {str(r['verified']):>8s}")
        if has_peer:
            line += f" {str(r['same_as_peer']) if r['same_as_peer'] is not None else '-':>12s}"
        if r["limits"]:
            line += f"  ({r['limits']})"
        lines.append(line)
    solved = sum(r["solved"] for r in rows)
    total = sum(r["seconds"] for r in rows)
    summary = f"solved {solved}/{len(rows)}, verified {sum(r['verified'] for r in rows)}, total {total:.2f} s"
    if has_peer:
        summary += f", same as peer {sum(bool(r['same_as_peer']) for r in rows)}"
    lines.append(summary)
    return "\n".join(lines)


def write_csv(rows, path):
    cols = COLUMNS if any(r["same_as_peer"] is not None for r in rows) else COLUMNS[:-1]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([f"{r[c]:.4f}" if c == "seconds" else ("" if r[c] is None else r[c]) for c in cols])


PROBLEMS = os.path.join(os.path.dirname(__file__), "problems")


def external_suite(name):
    """Folder of an external suite (``myth-pldi2015``, ``popl2016-products``): under
    ``$LTHKIT_SYNTH_BENCH`` if set, else ``../shared/synth-bench`` beside the repository.
    None when it is not there (the files are not ours to ship)."""
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


def random_value(store, prog, typ, depth, rng):
    """A random value of a first-order type, at most ``depth`` constructors deep."""
    if typ[0] == "T":
        return store.tup([random_value(store, prog, t, depth, rng) for t in typ[1]])
    ctors = prog.datatypes[typ[1]]
    if depth <= 0:
        ctors = [c for c in ctors if c[1] == ("T", ())] or ctors
    name, arg = rng.choice(ctors)
    if arg == ("T", ()):
        return store.ctor(name, store.unit)
    return store.ctor(name, random_value(store, prog, arg, depth - 1, rng))


def agreement(path, program, trials=200, depth=4, seed=0):
    """Whether ``program`` computes what the peer's ``.out`` program computes on random inputs
    (beyond the examples): True, False, or None when the function takes a function argument
    or there is no peer output.  Tells a program that generalises from one that only fits."""
    import random

    from .evaluate import Store
    from .syntax import arg_types
    out = path[:-3] + ".out"
    if program is None or not os.path.exists(out):
        return None
    prog = parse_file(path)
    args, _ = arg_types(prog.goal.type)
    if any(a[0] == "A" for a in args):
        return None
    st = Store(prog)
    ours, peer = st.eval(program, {}), st.eval(peer_program(out, prog), {})
    rng = random.Random(seed)
    for _ in range(trials):
        a, b = ours, peer
        for t in args:
            x = random_value(st, prog, t, depth, rng)
            a, b = st.apply(a, x), st.apply(b, x)
        if a != b:
            return False
    return True
