"""The ``lthkit`` command.

    lthkit book [--notebooks NB ...] [--force]        execute the chapters, build the HTML book
    lthkit run NOTEBOOK [-p NAME VALUE]... [--out DIR] rerun one chapter with other parameters
    lthkit rerun NOTEBOOK --grid NAME=V1,V2 ... --out runs/NAME   a batch over a grid
    lthkit collect runs/NAME [--csv F | --parquet F]   claims of runs as one table (+ HTML)
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


SLURM_OPTIONS = ("partition", "gpus_per_job", "cpus_per_job", "time", "mem")


def _rerun(args: argparse.Namespace) -> int:
    from lthkit import batch, cells, slurm
    try:
        grid = batch.parse_grid(args.grid, parse_value)
        fixed = {name: parse_value(value) for name, value in args.parameters}
        given = [f"--{k.replace('_', '-')}" for k in SLURM_OPTIONS if getattr(args, k) is not None]
        if given and args.executor != "slurm":
            raise ValueError(f"{', '.join(given)}: only with --executor slurm")
        options = slurm.Options(args.partition, args.gpus_per_job or 0, args.cpus_per_job,
                                slurm.parse_time(args.time or "60"),
                                slurm.parse_mem(args.mem) if args.mem else None)
        plan = batch.plan(args.notebook, args.out, grid, fixed, kernel=args.kernel)
    except (ValueError, batch.BadBatch) as e:
        print(f"lthkit rerun: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        states = [cells.status(c) for c in plan.cells]
        print(f"{len(plan.cells)} cells in {plan.out}/ "
              f"({states.count('done')} finished, {len(states) - states.count('done')} to run)")
        for cell, state in zip(plan.cells, states):
            print(f"  {cell.name}  {state:<11}  " + " ".join(f"{k}={v!r}" for k, v in
                                                              cell.params.items()))
        return 0
    try:
        report = batch.run(plan, executor=args.executor, jobs=args.jobs, slurm=options,
                           progress=not args.no_progress)
    except (batch.BadBatch, slurm.SlurmError) as e:
        print(f"lthkit rerun: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nlthkit rerun: interrupted; finished cells are kept in {plan.out}/: run the "
              "same command again to run the rest", file=sys.stderr)
        return 130
    print(f"{report.total} cells: {report.earlier} finished earlier, {len(report.done)} now, "
          f"{len(report.failed)} failed. Results: lthkit collect {args.out}")
    return 0 if report.ok else 1


def _collect(args: argparse.Namespace) -> int:
    from lthkit import claims, summary
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"lthkit collect: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    one_batch = len(args.paths) == 1 and summary.is_batch(args.paths[0])
    if args.html and not one_batch:
        print("lthkit collect: --html needs one batch folder (made by lthkit rerun)",
              file=sys.stderr)
        return 2
    df = summary.table(args.paths[0]) if one_batch else claims.collect(args.paths)
    if one_batch:
        page = summary.write_html(df, args.html or Path(args.paths[0]) / "summary.html",
                                  title=f"Batch {args.paths[0]}")
        print(f"lthkit collect: summary {page}", file=sys.stderr)
    if args.parquet:
        try:
            df.to_parquet(args.parquet, index=False)
        except ImportError:
            print("lthkit collect: --parquet needs pyarrow: pip install -e '.[cluster]'",
                  file=sys.stderr)
            return 2
    elif args.markdown:
        print(df.to_markdown(index=False) if _has_tabulate() else df.to_string(index=False))
    else:
        df.to_csv(args.csv or sys.stdout, index=False)
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

    re_ = sub.add_parser("rerun", help="execute a chapter over a grid of parameters",
                         description="Execute NOTEBOOK once per cell of the grid (the product "
                         "of the --grid values, plus the -p values) into OUT/<hash of the "
                         "cell's parameters>/. Every cell is validated before anything runs; "
                         "finished cells are skipped, so rerunning the command resumes a "
                         "killed or failed batch. Exit status 0 only if every cell succeeded.")
    re_.add_argument("notebook", help="a chapter notebook, e.g. notebooks/01_lottery_tickets.ipynb")
    re_.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                     help="a parameter and its values, read as YAML ([1, 2] stays one value); "
                          "repeat for more, e.g. --grid first_seed=0,4 --grid rewind_step=0it,100it")
    re_.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append",
                     default=[], metavar=("NAME", "VALUE"), help="a parameter every cell shares")
    re_.add_argument("--out", required=True, metavar="DIR", help="the batch folder, e.g. runs/NAME")
    re_.add_argument("--executor", choices=["local", "slurm"], default="local",
                     help="local: worker processes here (default); slurm: an array job via submitit")
    re_.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="cells run at once (local: at most the cores, default 1; slurm: "
                          "default all)")
    re_.add_argument("--dry-run", action="store_true", help="list the cells and their state")
    slurm_opts = re_.add_argument_group("slurm", "with --executor slurm (needs the cluster extra)")
    slurm_opts.add_argument("--partition", help="Slurm partition (default: the cluster's)")
    slurm_opts.add_argument("--gpus-per-job", type=int, metavar="N")
    slurm_opts.add_argument("--cpus-per-job", type=int, metavar="N")
    slurm_opts.add_argument("--time", help="limit per job: minutes, H:MM:SS or D-H:MM:SS "
                            "(default 60)")
    slurm_opts.add_argument("--mem", default=None, help="memory per job, e.g. 16G")
    re_.set_defaults(func=_rerun)

    col = sub.add_parser("collect", help="gather the claims of many runs into one table",
                         description="Read metrics.json files (or folders searched for them) "
                         "and print one row per claim per run, with the run's parameters, "
                         "as CSV. Given one batch folder (lthkit rerun --out), the table has a "
                         "row per cell and claim with the headline metrics, and an HTML "
                         "summary with charts is written beside it.")
    col.add_argument("paths", nargs="+", metavar="PATH", help="metrics.json or a folder")
    fmt = col.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="a readable table, not CSV")
    fmt.add_argument("--csv", metavar="FILE", help="write the table to FILE, not stdout")
    fmt.add_argument("--parquet", metavar="FILE", help="write the table as Parquet (pyarrow)")
    col.add_argument("--html", metavar="FILE",
                     help="where the summary of a batch goes (default: BATCH/summary.html)")
    col.set_defaults(func=_collect)

    for p in (run, bk, re_):
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
