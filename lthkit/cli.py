"""The ``lthkit`` command.

    lthkit book [--notebooks NB ...] [--force]        execute the chapters, build the HTML book
    lthkit run NOTEBOOK [-p NAME VALUE]... [--out DIR] rerun one chapter with other parameters
    lthkit collect runs/                               every run's claims as one CSV table
    lthkit synth ...                                   the type-directed synthesiser (appendix)

Exit status: 0 done; 1 a notebook or the build failed; 2 bad command line or parameters.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, Sequence

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def parse_value(text: str) -> Any:
    """A ``-p`` value as YAML: ``3`` → 3, ``0.5`` → 0.5, ``true`` → True, ``[1, 2]`` → list,
    anything else a string. ``1e-3`` is a float too (YAML 1.1 alone would keep a string)."""
    import yaml
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return text if value is None and text.strip() not in ("null", "~", "") else value


def _run(args: argparse.Namespace) -> int:
    from lthkit import book
    notebook = Path(args.notebook)
    if not notebook.is_file():
        print(f"lthkit run: {notebook}: no such notebook", file=sys.stderr)
        return 2
    params = {name: parse_value(value) for name, value in args.parameters}
    out = Path(args.out) if args.out else Path("runs") / notebook.stem
    try:
        checked = book.validate_parameters(notebook, params)
    except book.BadParameters as e:
        print(f"lthkit run: {notebook}: {e}", file=sys.stderr)
        return 2
    if not checked:
        print(f"lthkit run: note: {notebook} names no metadata.lthkit.chapter; "
              "parameters are checked only by the notebook itself", file=sys.stderr)
    shown = " ".join(f"{k}={v!r}" for k, v in params.items()) or "notebook defaults"
    print(f"lthkit run: {notebook} ({shown}) -> {out}/", flush=True)
    try:
        executed = book.execute(notebook, out, params, kernel=args.kernel,
                                progress=not args.no_progress)
    except book.NotebookError as e:
        print(f"lthkit run: {e}", file=sys.stderr)
        return 1
    print(executed)
    metrics = executed.parent / "metrics.json"
    if metrics.exists():
        print(metrics)
    return 0


def _book(args: argparse.Namespace) -> int:
    from lthkit import book
    try:
        index = book.build_book(args.root, args.notebooks, force=args.force,
                                build=not args.no_build, kernel=args.kernel,
                                progress=not args.no_progress)
    except (book.NotebookError, book.BuildError) as e:
        print(f"lthkit book: {e}", file=sys.stderr)
        return 1
    if index is not None:
        print(f"\nThe book: {index}")
    return 0


def _collect(args: argparse.Namespace) -> int:
    from lthkit import claims
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"lthkit collect: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    df = claims.collect(args.paths)
    if args.markdown:
        print(df.to_markdown(index=False) if _has_tabulate() else df.to_string(index=False))
    else:
        df.to_csv(sys.stdout, index=False)
    return 0


def _has_tabulate() -> bool:
    return importlib.util.find_spec("tabulate") is not None


def _add_synth(subparsers, wanted: bool) -> None:
    """``lthkit synth`` belongs to lthkit.synth.cli; it is imported only when asked for."""
    if wanted:
        try:
            synth_cli = importlib.import_module("lthkit.synth.cli")
        except ModuleNotFoundError as e:
            if e.name not in ("lthkit.synth", "lthkit.synth.cli"):
                raise
        else:
            synth_cli.register(subparsers)
            return

    def missing(args: argparse.Namespace) -> int:
        print("lthkit synth: lthkit.synth.cli is not installed in this checkout",
              file=sys.stderr)
        return 2

    p = subparsers.add_parser("synth", help="type-directed program synthesis (appendix)",
                              add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=missing)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lthkit", description="Run the lottery-ticket chapters and build the book.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="execute one chapter notebook with parameters",
                         description="Execute NOTEBOOK with papermill into DIR/<stem>.ipynb; "
                         "the chapter writes DIR/metrics.json beside it. Results are cached "
                         "in $LTHKIT_STORE (else ./.lthkit).")
    run.add_argument("notebook", help="a chapter notebook, e.g. notebooks/01-lottery.ipynb")
    run.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append",
                     default=[], metavar=("NAME", "VALUE"),
                     help="set a parameter; VALUE is read as YAML (3, 0.5, true, [1, 2], "
                          "paper). Repeat for several, e.g. -p preset paper -p rounds 5")
    run.add_argument("--out", metavar="DIR", help="output folder (default: runs/<stem>)")
    run.set_defaults(func=_run)

    bk = sub.add_parser("book", help="execute every chapter and build the HTML book",
                        description="Execute notebooks/*.ipynb on the default preset into "
                        "book/chapters/ (skipping chapters whose notebook, parameters and "
                        "lthkit code are unchanged) and build book/_build/html.")
    bk.add_argument("--notebooks", nargs="+", metavar="NB",
                    help="execute only these notebooks (the others keep their last run)")
    bk.add_argument("--force", action="store_true", help="re-execute even if up to date")
    bk.add_argument("--no-build", action="store_true", help="execute only; skip the HTML")
    bk.add_argument("--root", default=".", help="repository root (default: .)")
    bk.set_defaults(func=_book)

    col = sub.add_parser("collect", help="gather the claims of many runs into one table",
                         description="Read metrics.json files (or folders searched for them) "
                         "and print one row per claim per run, with the run's parameters, "
                         "as CSV.")
    col.add_argument("paths", nargs="+", metavar="PATH", help="metrics.json or a folder")
    col.add_argument("--markdown", action="store_true", help="a readable table, not CSV")
    col.set_defaults(func=_collect)

    for p in (run, bk):
        p.add_argument("--kernel", default=None,
                       help="Jupyter kernel (default: $LTHKIT_KERNEL or 'lthkit')")
        p.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")

    first = next((a for a in argv if not a.startswith("-")), None)
    _add_synth(sub, wanted=first == "synth")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if getattr(args, "kernel", "unset") is None:
        from lthkit.book import KERNEL
        args.kernel = KERNEL
    if hasattr(args, "func"):
        return int(args.func(args) or 0)
    if args.command == "synth":  # a synth parser that dispatches its own way
        return int(importlib.import_module("lthkit.synth.cli").main(argv[1:]) or 0)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
