"""The whole synthesis benchmark: every spec of every suite, timed in-process.

    python benchmarks/synth_bench.py                 # all suites, tables on stdout
    python benchmarks/synth_bench.py --profile 5     # and cProfile the five slowest PLDI specs
    python benchmarks/synth_bench.py --csv results/  # one CSV per suite

Suites: our own problems (lthkit/synth/problems), and when present (``$LTHKIT_SYNTH_BENCH`` or
``../shared/synth-bench``) Myth's 43 PLDI 2015 specs, compared per spec with Myth's own times,
and the 45 POPL 2016 product specs with focusing on and off.  Not part of the test suite.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lthkit.synth.bench import (PROBLEMS, agreement, external_suite, format_table,  # noqa: E402
                                myth_times, run_spec, run_suite, write_csv)


def ratio_table(rows, myth):
    lines = [f"{'name':28s} {'ours_s':>8s} {'myth_s':>8s} {'ratio':>7s}"]
    for r in rows:
        m = myth.get(r["name"])
        ratio = f"{r['seconds'] / m:7.2f}" if m else f"{'-':>7s}"   # Myth's timer reads 0.000
        lines.append(f"{r['name']:28s} {r['seconds']:8.3f} {m:8.3f} {ratio}")
    ours = sum(r["seconds"] for r in rows)
    theirs = sum(myth.get(r["name"], 0.0) for r in rows)
    lines.append(f"{'TOTAL':28s} {ours:8.3f} {theirs:8.3f} {ours / theirs:7.2f}")
    return "\n".join(lines)


def generalisation(folder, rows):
    """Our programs against the peer's on 200 random first-order inputs each."""
    agree, differ, skipped = [], [], 0
    for r in rows:
        path = os.path.join(folder, r["name"] + ".ml")
        verdict = agreement(path, r["term"] if r["solved"] else None)
        if verdict is None:
            skipped += 1
        else:
            (agree if verdict else differ).append(r["name"])
    return (f"same function as the peer's on 200 random inputs: {len(agree)}/{len(agree) + len(differ)} "
            f"(higher-order or unsolved, not checked: {skipped}); differ: {', '.join(differ) or 'none'}")


def profile(path, top=8):
    pr = cProfile.Profile()
    pr.enable()
    run_spec(path, timeout=120)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    return s.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per spec")
    ap.add_argument("--suites", nargs="+", default=["own", "pldi", "popl"],
                    choices=["own", "pldi", "popl"])
    ap.add_argument("--csv", metavar="DIR", help="write <suite>.csv files here")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="profile the N slowest PLDI specs")
    args = ap.parse_args(argv)
    failed = False

    def emit(title, rows, csv_name):
        nonlocal failed
        print(f"\n== {title}")
        print(format_table(rows))
        failed |= not all(r["solved"] for r in rows)
        if args.csv:
            os.makedirs(args.csv, exist_ok=True)
            write_csv(rows, os.path.join(args.csv, csv_name))

    if "own" in args.suites:
        emit("lthkit's own problems", run_suite(PROBLEMS, timeout=args.timeout), "own.csv")

    pldi = external_suite("myth-pldi2015")
    if "pldi" in args.suites:
        if pldi is None:
            print("\n== myth-pldi2015: not found (set LTHKIT_SYNTH_BENCH to the synth-bench folder)")
        else:
            t0 = time.perf_counter()
            rows = run_suite(pldi, timeout=args.timeout)
            wall = time.perf_counter() - t0
            emit("Myth PLDI 2015 suite", rows, "pldi.csv")
            print(f"wall time for the suite, parsing and peer comparison included: {wall:.2f} s")
            print(generalisation(pldi, rows))
            myth = myth_times()
            if myth:
                print("\n== per-benchmark time against Myth's (myth-pldi2015-times.tsv)")
                print(ratio_table(rows, myth))
            if args.profile:
                for r in sorted(rows, key=lambda r: -r["seconds"])[:args.profile]:
                    print(f"\n== profile: {r['name']} ({r['seconds']:.3f} s)")
                    print(profile(os.path.join(pldi, r["name"] + ".ml")))

    popl = external_suite("popl2016-products")
    if "popl" in args.suites:
        if popl is None:
            print("\n== popl2016-products: not found (set LTHKIT_SYNTH_BENCH)")
        else:
            on = run_suite(popl, timeout=args.timeout)
            emit("POPL 2016 product suite, focusing on", on, "popl.csv")
            print(generalisation(popl, on))
            off = run_suite(popl, timeout=args.timeout, focusing=False)
            print("\n== POPL 2016 product suite, focusing off (ablation)")
            print(format_table(off))
            if args.csv:
                write_csv(off, os.path.join(args.csv, "popl_nofocus.csv"))
            t_on, t_off = (sum(r["seconds"] for r in x) for x in (on, off))
            n_on, n_off = (sum(r["terms"] for r in x) for x in (on, off))
            print(f"\nfocusing on : {sum(r['solved'] for r in on)}/{len(on)} solved, {t_on:.2f} s, "
                  f"{n_on} terms enumerated")
            print(f"focusing off: {sum(r['solved'] for r in off)}/{len(off)} solved, {t_off:.2f} s, "
                  f"{n_off} terms enumerated")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
