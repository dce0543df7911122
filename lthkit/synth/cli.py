"""Command line: ``lthkit synth FILE.ml`` and ``lthkit synth bench DIR``.

The top-level ``lthkit`` CLI calls ``register(subparsers)``; ``python -m lthkit.synth ...``
behaves the same through ``main``.

    lthkit synth spec.ml --timeout 10
    lthkit synth bench ../shared/synth-bench/myth-pldi2015 --csv results.csv
"""
from __future__ import annotations

import argparse
import os
import sys

from .bench import format_table, run_suite, write_csv
from .parser import SynthSyntaxError, parse_file
from .synth import synthesize
from .typecheck import SynthTypeError

HELP = "synthesise a program from a type and examples (Myth / POPL 2016 specs)"


def add_arguments(p):
    p.add_argument("target", help="a spec FILE.ml, or the word 'bench' followed by a directory")
    p.add_argument("dir", nargs="?", help="with 'bench': the directory of specs")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="give up on a spec after S seconds (default: no limit for one file, 30 s per spec in bench)")
    p.add_argument("--csv", metavar="FILE", help="with 'bench': also write the table as CSV")
    p.add_argument("--no-focusing", action="store_true",
                   help="keep product-typed variables whole instead of decomposing them (ablation)")
    p.set_defaults(func=run)


def register(subparsers):
    """Add the ``synth`` subcommand to an argparse subparsers object."""
    add_arguments(subparsers.add_parser("synth", help=HELP, description=HELP))


def run(args) -> int:
    focusing = not args.no_focusing
    if args.target == "bench" and args.dir is not None:
        if not os.path.isdir(args.dir):
            print(f"error: {args.dir} is not a directory", file=sys.stderr)
            return 2
        timeout = 30.0 if args.timeout is None else args.timeout
        rows = run_suite(args.dir, timeout=timeout, focusing=focusing)
        if not rows:
            print(f"error: no .ml specs in {args.dir}", file=sys.stderr)
            return 2
        print(format_table(rows))
        if args.csv:
            write_csv(rows, args.csv)
        return 0 if all(r["solved"] for r in rows) else 1
    if args.dir is not None:
        print(f"error: unexpected argument {args.dir!r} (did you mean 'synth bench DIR'?)", file=sys.stderr)
        return 2
    try:
        prog = parse_file(args.target)
        res = synthesize(prog, timeout=args.timeout, focusing=focusing)
    except FileNotFoundError:
        print(f"error: no such file {args.target}", file=sys.stderr)
        return 2
    except (SynthSyntaxError, SynthTypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not res.solved:
        print(f"{args.target}: no program found: {res.limits} ({res.seconds:.2f} s)", file=sys.stderr)
        return 1
    print(res.text)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lthkit.synth", description=HELP)
    add_arguments(p)
    args = p.parse_args(argv)
    return args.func(args)
