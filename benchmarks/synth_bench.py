"""The whole synthesis benchmark: every spec of every suite, timed in-process.

    python benchmarks/synth_bench.py                 # all suites, tables on stdout
    python benchmarks/synth_bench.py --profile 5     # and cProfile the five slowest PLDI specs
    python benchmarks/synth_bench.py --csv results/  # one CSV per suite

Suites: our own problems (lthkit/synth/problems), and when present (``$LTHKIT_SYNTH_BENCH`` or
``../shared/synth-bench``) Myth's 43 PLDI 2015 specs, compared per spec with Myth's own times,
the 45 POPL 2016 product specs with focusing on and off, and the POPL 2016 refinement-type
(popl2016-min) and polymorphic (popl2016-poly) suites.  Each suite also runs with the
preferences for programs that generalise turned off, to report solved count, time and the
same-function rate before and after them.  Not part of the test suite.
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

from lthkit.synth.bench import (PROBLEMS, external_suite, format_table, myth_times,  # noqa: E402
                                run_spec, run_suite, write_csv)

SUITES = {"own": None, "pldi": "myth-pldi2015", "popl": "popl2016-products",
          "min": "popl2016-min", "poly": "popl2016-poly"}


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


def summary(rows):
    checked = [r for r in rows if r["same_function"] is not None]
    differ = [r["name"] for r in checked if not r["same_function"]]
    return (f"solved {sum(r['solved'] for r in rows)}/{len(rows)}, "
            f"{sum(r['seconds'] for r in rows):.3f} s, same function as the reference "
            f"{len(checked) - len(differ)}/{len(checked)} (differ: {', '.join(differ) or 'none'})")


def profile(path, top=8):
    pr = cProfile.Profile()
    pr.enable()
    run_spec(path, timeout=120, compare=False)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    return s.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per spec")
    ap.add_argument("--suites", nargs="+", default=list(SUITES), choices=list(SUITES))
    ap.add_argument("--csv", metavar="DIR", help="write <suite>.csv files here")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="profile the N slowest PLDI specs")
    args = ap.parse_args(argv)
    failed = False
    for key in args.suites:
        folder = PROBLEMS if SUITES[key] is None else external_suite(SUITES[key])
        if folder is None:
            print(f"\n== {SUITES[key]}: not found (set LTHKIT_SYNTH_BENCH to the synth-bench folder)")
            continue
        t0 = time.perf_counter()
        rows = run_suite(folder, timeout=args.timeout)
        wall = time.perf_counter() - t0
        print(f"\n== {key}: {folder}")
        print(format_table(rows))
        print(f"wall time for the suite, parsing and comparisons included: {wall:.2f} s")
        failed |= not all(r["solved"] for r in rows)
        plain = run_suite(folder, timeout=args.timeout, generalise=False)
        print(f"generalisation preferences off: {summary(plain)}")
        print(f"generalisation preferences on : {summary(rows)}")
        if args.csv:
            os.makedirs(args.csv, exist_ok=True)
            write_csv(rows, os.path.join(args.csv, f"{key}.csv"))
        if key == "pldi":
            myth = myth_times()
            if myth:
                print("\n== per-benchmark time against Myth's (myth-pldi2015-times.tsv)")
                print(ratio_table(rows, myth))
            for r in sorted(rows, key=lambda r: -r["seconds"])[:args.profile]:
                print(f"\n== profile: {r['name']} ({r['seconds']:.3f} s)")
                print(profile(os.path.join(folder, r["name"] + ".ml")))
        if key == "popl":
            off = run_suite(folder, timeout=args.timeout, focusing=False, compare=False)
            print("\n== POPL 2016 product suite, focusing off (ablation)")
            print(format_table(off))
            if args.csv:
                write_csv(off, os.path.join(args.csv, "popl_nofocus.csv"))
            for label, rs in (("on ", rows), ("off", off)):
                print(f"focusing {label}: {sum(r['solved'] for r in rs)}/{len(rs)} solved, "
                      f"{sum(r['seconds'] for r in rs):.2f} s, {sum(r['terms'] for r in rs)} terms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
