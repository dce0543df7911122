"""``python -m lthkit.course [--check]``: the course's student versions (what ``make course``
runs), or with ``--check`` only the check that every chapter has an assignment in step."""
from __future__ import annotations

import argparse
import sys

from .release import release
from .source import DriftError, check


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lthkit.course", description=__doc__)
    parser.add_argument("--root", default=".", help="the lthkit checkout (default: .)")
    parser.add_argument("--course", default="course", help="nbgrader's course folder")
    parser.add_argument("--check", action="store_true",
                        help="only check that the assignments are in step with the chapters")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.root)
            if problems:
                raise DriftError(problems)
            print("every chapter has an assignment in step with its exercises")
            return 0
        for path in release(args.root, args.course):
            print(f"released {path}")
    except DriftError as e:
        print(f"the course assignments are out of step with the chapters:\n\n{e}",
              file=sys.stderr)
        return 1
    print(f"gradebook: {args.course}/gradebook.db (SQLite); instructor notes: README.md, "
          f"'Course assignments'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
