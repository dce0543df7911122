"""Command line: ``lthkit synth FILE.ml`` and ``lthkit synth bench DIR``.

The top-level ``lthkit`` CLI calls ``register(subparsers)``; ``python -m lthkit.synth ...``
behaves the same through ``main``.

    lthkit synth spec.ml --timeout 10
    lthkit synth bench ../shared/synth-bench/myth-pldi2015 --csv results.csv

Exit status: 0 a program was found (every spec solved, for ``bench``), 1 none was, 2 the
command line or the spec is wrong (one line on stderr, starting with ``file:line:col``).
With ``--timeout`` one spec is solved in a child process that is killed at the deadline, so
the whole command ends within the time given (plus a little grace), whatever the input.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import select
import signal
import sys
import time

from .bench import format_table, run_suite, write_csv
from .lexer import SynthInputError
from .parser import parse_file
from .synth import synthesize

HELP = "synthesise a program from a type and examples (Myth / POPL 2016 specs)"
MARGIN = 0.05           # of the timeout (at most 0.25 s): the search stops this early to report


def seconds(text):
    """A ``--timeout``: positive and finite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive, finite number of seconds, got {text}")
    return value


def add_arguments(p):
    p.add_argument("target", help="a spec FILE.ml, or the word 'bench' followed by a directory")
    p.add_argument("dir", nargs="?", help="with 'bench': the directory of specs")
    p.add_argument("--timeout", type=seconds, default=None, metavar="S",
                   help="give up on a spec after S seconds (default: no limit for one file, 30 s per spec in bench)")
    p.add_argument("--csv", metavar="FILE", help="with 'bench': also write the table as CSV")
    p.add_argument("--no-focusing", action="store_true",
                   help="keep product-typed variables whole instead of decomposing them (ablation)")
    p.set_defaults(func=run)


class OneLineParser(argparse.ArgumentParser):
    """Command-line mistakes as one line on stderr and exit status 2, without the usage."""

    def error(self, message):
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


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
            try:
                write_csv(rows, args.csv)
            except OSError as e:
                print(f"error: cannot write {args.csv}: {e.strerror}", file=sys.stderr)
                return 2
        return 0 if all(r["solved"] for r in rows) else 1
    if args.dir is not None:
        print(f"error: unexpected argument {args.dir!r} (did you mean 'synth bench DIR'?)", file=sys.stderr)
        return 2
    if args.timeout is None or not hasattr(os, "fork"):
        code, out, err = solve_file(args.target, None, focusing, args.timeout)
    else:
        code, out, err = solve_in_child(args.target, args.timeout, focusing)
    if out:
        print(out)
    if err:
        print(err, file=sys.stderr)
    return code


def solve_file(path, deadline, focusing, timeout):
    """(exit status, stdout text, stderr text) for one spec; never raises."""
    try:
        prog = parse_file(path)
        res = synthesize(prog, timeout=timeout, focusing=focusing, deadline=deadline)
    except SynthInputError as e:
        return 2, "", f"error: {e}"
    except Exception as e:      # a bug of ours: one line all the same, never a traceback
        return 2, "", f"error: {path}:1:1: internal error: {type(e).__name__}: {e}"
    if not res.solved:
        return 1, "", f"{path}: no program found: {res.limits} ({res.seconds:.2f} s)"
    return 0, res.text, ""


def command_start():
    """When this command started, on the ``time.monotonic`` clock: the process's start time
    (Linux ``/proc``), so interpreter start-up counts against ``--timeout`` too; now, where
    that is unknown or long past (called from a program that has run for a while)."""
    now = time.monotonic()
    try:
        with open("/proc/self/stat") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            age = float(fh.read().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return now
    return now - age if 0 <= age < 5.0 else now


def solve_in_child(path, timeout, focusing):
    """``solve_file`` in a forked child, killed if it has not answered by the deadline: a
    search can then be abandoned at once, without waiting for it to notice the time or for
    its memory to be freed."""
    start = command_start()
    limit = start + timeout
    deadline = limit - min(MARGIN * timeout, 0.25)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # the child: solve, report, vanish
        os.close(r)
        try:
            result = solve_file(path, deadline, focusing, timeout)
            data = json.dumps(result).encode()
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(0)
    os.close(w)
    chunks, done = [], False
    try:
        while not done:
            left = limit - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([r], [], [], min(left, 3600.0))
            if ready:
                chunk = os.read(r, 1 << 16)
                chunks.append(chunk)
                done = not chunk
    finally:
        os.close(r)
        if not done:
            os.kill(pid, signal.SIGKILL)
        reap(pid, wait=done)
    if done:
        try:
            code, out, err = json.loads(b"".join(chunks))
            return code, out, err
        except ValueError:
            return 1, "", f"{path}: no program found: the search process ended without a result"
    return 1, "", f"{path}: no program found: timeout after {timeout:g} s"


def reap(pid, wait):
    """Collect the child; a killed one is left to the kernel if it takes long to go."""
    for _ in range(1 if wait else 20):
        try:
            got, _ = os.waitpid(pid, 0 if wait else os.WNOHANG)
        except ChildProcessError:
            return
        if got:
            return
        time.sleep(0.01)


def main(argv=None) -> int:
    p = OneLineParser(prog="lthkit synth", description=HELP)
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:     # the reader went away (`| head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
