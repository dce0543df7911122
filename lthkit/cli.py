"""The ``lthkit`` command.

    lthkit book [--notebooks NB ...] [--force]        execute the chapters, build the HTML book
    lthkit run NOTEBOOK [-p NAME VALUE]... [--out DIR] rerun one chapter with other parameters
    lthkit rerun NOTEBOOK --grid NAME=V1,V2 ... --out runs/NAME   a batch over a grid
    lthkit collect runs/NAME [--csv F | --parquet F]   claims of runs as one table (+ HTML)
    lthkit synth ...                                   the type-directed synthesiser (appendix)

Exit status: 0 done; 1 a notebook, a cell of a batch or the build failed; 2 a bad command
line, bad parameters, or data or a device they name missing here; 130 / 143 interrupted by
SIGINT (Ctrl-C) / SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml


class _Yaml12(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where ``010`` is octal 8, ``1:30`` is 90 and ``yes`` is True.
    This loader resolves plain scalars by the YAML 1.2 core schema instead: ``010`` is 10,
    ``1e-3`` a float, only true/false are booleans, and dates stay strings."""


_REPLACED = {f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "timestamp")}
_Yaml12.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _tag, _pattern, _first in (
        ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
        ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
        ("float", r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                  r"|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN", "-+.0123456789")):
    _Yaml12.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(f"^(?:{_pattern})$"),
                                  list(_first))


def _yaml12_int(loader, node) -> int:
    text = loader.construct_scalar(node)
    return int(text, 0) if text.startswith(("0o", "0x")) else int(text, 10)


_Yaml12.add_constructor("tag:yaml.org,2002:int", _yaml12_int)


def parse_value(text: str) -> Any:
    """A ``-p`` value as YAML 1.2: ``3`` → 3, ``010`` → 10, ``0.5`` and ``1e-3`` → float,
    ``true`` → True, ``[1, 2]`` → list, anything else a string."""
    try:
        value = yaml.load(text, Loader=_Yaml12)
    except yaml.YAMLError:
        return text
    return text if value is None and text.strip() not in ("null", "Null", "NULL", "~", "") \
        else value


class _Usage(Exception):
    """A mistake on the command line: ``main`` prints it as one line and exits 2."""


def _run(args: argparse.Namespace) -> int:
    from lthkit import book, procs
    notebook = _notebook(Path(args.notebook))
    params = {name: parse_value(value) for name, value in args.parameters}
    out = Path(args.out) if args.out else Path("runs") / notebook.stem
    try:
        checked = book.validate_parameters(notebook, params)
    except book.BadParameters as e:
        raise _Usage(f"{notebook}: {e}") from None
    _check_kernel(args.kernel)
    _check_store()
    _check_output(out, notebook)
    if not checked:
        print(f"lthkit run: note: {notebook} names no metadata.lthkit.chapter; "
              "parameters are checked only by the notebook itself", file=sys.stderr)
    shown = " ".join(f"{k}={v!r}" for k, v in params.items()) or "notebook defaults"
    print(f"lthkit run: {notebook} ({shown}) -> {out}/", flush=True)
    try:
        with procs.interruptible():
            executed = book.execute(notebook, out, params, kernel=args.kernel,
                                    progress=not args.no_progress)
    except book.NotebookError as e:
        print(f"lthkit run: {e}", file=sys.stderr)
        return 1
    except procs.Interrupted as e:
        return _interrupted("run", f"executing {notebook}", e, "Rerun the same command to "
                            f"resume: finished results are kept in the store "
                            f"({book.store_root()}).")
    print(executed)
    metrics = executed.parent / "metrics.json"
    if metrics.exists():
        print(metrics)
    return 0


def _notebook(path: Path) -> Path:
    if not path.is_file():
        raise _Usage(f"{path}: no such notebook")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise _Usage(f"{path}: not a Jupyter notebook ({e})") from None
    meta = doc.get("metadata", {}) if isinstance(doc, dict) else None
    if not (isinstance(meta, dict) and isinstance(meta.get("lthkit", {}), dict)
            and isinstance(doc.get("cells"), list)):
        raise _Usage(f"{path}: not a Jupyter notebook (no list of cells and metadata)")
    return path


def _check_kernel(name: str) -> None:
    from lthkit import book
    try:
        book.check_kernel(name)
    except book.NotebookError as e:
        raise _Usage(str(e)) from None


def _check_store() -> None:
    from lthkit import book
    store = book.store_root()
    if store.exists() and not store.is_dir():
        raise _Usage(f"the result store {store} ($LTHKIT_STORE, else ./.lthkit) is not a folder")


def _check_output(out: Path, notebook: Path) -> None:
    if out.exists() and not out.is_dir():
        raise _Usage(f"--out {out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _Usage(f"--out {out}: cannot create this folder ({e.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise _Usage(f"--out {out}: cannot write in this folder")
    if (out / f"{notebook.stem}.ipynb").resolve() == notebook.resolve():
        raise _Usage(f"--out {out}: the executed copy would overwrite {notebook} itself")


def _interrupted(command: str, doing: str, e, resume: str) -> int:
    kept = f"; the partly executed notebook is {e.partial}" if e.partial else ""
    print(f"lthkit {command}: interrupted by {e.name} while {doing}{kept}. {resume}",
          file=sys.stderr)
    return e.exit_code


def _book(args: argparse.Namespace) -> int:
    from lthkit import book, procs
    root = Path(args.root)
    if not (root / "book" / "_config.yml").is_file():
        raise _Usage(f"--root {root}: no book/_config.yml there; run from the repository root")
    for name in args.notebooks or []:
        if not book._find_notebook(name, root / "notebooks").is_file():
            raise _Usage(f"--notebooks {name}: no such notebook, here or in {root / 'notebooks'}")
    _check_kernel(args.kernel)
    _check_store()
    try:
        with procs.interruptible():
            index = book.build_book(args.root, args.notebooks, force=args.force,
                                    build=not args.no_build, kernel=args.kernel,
                                    progress=not args.no_progress)
    except (book.NotebookError, book.BuildError) as e:
        print(f"lthkit book: {e}", file=sys.stderr)
        return 1
    except procs.Interrupted as e:
        return _interrupted("book", "building the book", e, "Run it again to resume: "
                            "chapters already executed are kept, and finished results are in "
                            f"the store ({book.store_root()}).")
    if index is not None:
        print(f"\nThe book: {index}")
    return 0


SLURM_OPTIONS = ("partition", "gpus_per_job", "cpus_per_job", "time", "mem")


def _rerun(args: argparse.Namespace) -> int:
    from lthkit import batch, cells, procs, slurm
    try:
        grid = batch.parse_grid(args.grid, parse_value)
        fixed = {name: parse_value(value) for name, value in args.parameters}
        given = [f"--{k.replace('_', '-')}" for k in SLURM_OPTIONS
                 if getattr(args, k) is not None]
        if given and args.executor != "slurm":
            raise ValueError(f"{', '.join(given)}: only with --executor slurm")
        options = slurm.Options(args.partition, args.gpus_per_job or 0, args.cpus_per_job,
                                slurm.parse_time(args.time or "60"),
                                slurm.parse_mem(args.mem) if args.mem else None)
        plan = batch.plan(args.notebook, args.out, grid, fixed, kernel=args.kernel,
                          here=args.executor == "local")
    except (ValueError, batch.BadBatch) as e:
        raise _Usage(str(e)) from None
    if args.dry_run:
        states = [cells.status(c) for c in plan.cells]
        print(f"{len(plan.cells)} cells in {plan.out}/ "
              f"({states.count('done')} finished, {len(states) - states.count('done')} to run)")
        for cell, state in zip(plan.cells, states):
            print(f"  {cell.name}  {state:<11}  {cells.show(cell.params)}")
        return 0
    _check_kernel(args.kernel)
    _check_store()
    _check_output(plan.out, plan.notebook)
    try:
        with procs.interruptible():
            report = batch.run(plan, executor=args.executor, jobs=args.jobs, slurm=options,
                               progress=not args.no_progress)
    except (batch.BadBatch, slurm.SlurmError) as e:
        raise _Usage(str(e)) from None
    except procs.Interrupted as e:  # SIGINT or SIGTERM: the cells are stopped
        return _interrupted("rerun", f"running {plan.out}", e, "Finished cells are kept: "
                            "run the same command again to run the rest.")
    print(f"{report.total} cells: {report.earlier} finished earlier, {len(report.done)} now, "
          f"{len(report.failed)} failed. Results: lthkit collect {args.out}")
    return 0 if report.ok else 1


def _collect(args: argparse.Namespace) -> int:
    from lthkit import claims, summary
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise _Usage(f"no such file or folder: {', '.join(missing)}")
    one_batch = len(args.paths) == 1 and summary.is_batch(args.paths[0])
    if args.html and not one_batch:
        raise _Usage("--html needs one batch folder (made by lthkit rerun)")
    try:
        df = summary.table(args.paths[0]) if one_batch else claims.collect(args.paths)
    except ValueError as e:  # a file that is not a metrics.json
        raise _Usage(str(e)) from None
    if one_batch:
        page = summary.write_html(df, args.html or Path(args.paths[0]) / "summary.html",
                                  title=f"Batch {args.paths[0]}")
        print(f"lthkit collect: summary {page}", file=sys.stderr)
    if args.parquet:
        try:
            df.to_parquet(args.parquet, index=False)
        except ImportError:
            raise _Usage("--parquet needs pyarrow: pip install -e '.[cluster]'") from None
        return 0
    if args.csv:
        df.to_csv(args.csv, index=False)
        return 0
    try:
        if args.markdown:
            print(df.to_markdown(index=False) if _has_tabulate() else df.to_string(index=False))
        else:
            df.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
    except BrokenPipeError:  # `lthkit collect runs | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
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
                          "repeat for more, e.g. --grid first_seed=0,4 "
                          "--grid rewind_step=0it,100it")
    re_.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append",
                     default=[], metavar=("NAME", "VALUE"), help="a parameter every cell shares")
    re_.add_argument("--out", required=True, metavar="DIR", help="the batch folder, e.g. runs/NAME")
    re_.add_argument("--executor", choices=["local", "slurm"], default="local",
                     help="local: worker processes here (default); slurm: an array job "
                          "through submitit")
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
    slurm_opts.add_argument("--mem", help="memory per job, e.g. 16G")
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
    try:
        if hasattr(args, "func"):
            return int(args.func(args) or 0)
    except _Usage as e:
        print(f"lthkit {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before a command's own handling began, e.g. while importing
        print("lthkit: interrupted", file=sys.stderr)
        return 130
    if args.command == "synth":  # a synth parser that dispatches its own way
        return int(importlib.import_module("lthkit.synth.cli").main(argv[1:]) or 0)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
