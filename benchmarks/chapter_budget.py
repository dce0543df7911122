"""Time every chapter on its default preset with a cold result store, against the budget.

    python benchmarks/chapter_budget.py [NOTEBOOK ...]

DESIGN.md's budget: one chapter on the default preset within 5 minutes on a 2-core CPU. Each
chapter runs through ``lthkit run`` (papermill, the ``lthkit`` kernel) into a temporary folder
with its own empty store, so nothing cached is reused; the table reports wall seconds and the
chapter's verdicts from its metrics.json.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 300
ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    notebooks = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    lthkit = Path(sys.executable).with_name("lthkit")
    over = 0
    print(f"{'chapter':40s} {'seconds':>8s} {'budget':>7s}  verdicts")
    for notebook in notebooks:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "LTHKIT_STORE": str(Path(tmp) / "store")}
            started = time.perf_counter()
            done = subprocess.run([str(lthkit), "run", str(notebook), "--out", str(Path(tmp) / "out")],
                                  env=env, cwd=ROOT, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            metrics = Path(tmp) / "out" / "metrics.json"
            verdicts = ([c["verdict"] for c in json.loads(metrics.read_text())["claims"]]
                        if metrics.exists() else [f"failed (exit {done.returncode})"])
        over += seconds > BUDGET_SECONDS
        print(f"{notebook.stem:40s} {seconds:8.1f} {'ok' if seconds <= BUDGET_SECONDS else 'OVER':>7s}"
              f"  {', '.join(verdicts)}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
