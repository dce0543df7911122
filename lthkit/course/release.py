"""The student versions, made by nbgrader itself::

    release(".", "course")     # course/source/<a>/<a>.ipynb, then course/release/<a>/<a>.ipynb

``nbgrader(course, "autograde", "01_lottery_tickets")`` runs any other nbgrader command in a
course folder, with this environment's Jupyter kernels first (the assignments name the
``lthkit`` kernel, as the chapters do).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from lthkit import book

from .source import write_sources

CONFIG = Path("course") / "nbgrader_config.py"


def nbgrader(course: str | Path, *args: str) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` run in ``course``; raises with nbgrader's output when it fails."""
    # nbgrader runs `alembic` (its gradebook's migrations) from PATH: this environment's, even
    # when it is not activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    with book.kernel_environment():
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                              capture_output=True, text=True, env={**os.environ, "PATH": path})
    if done.returncode:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed in {course} "
                           f"(exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def release(root: str | Path = ".", course: str | Path = "course",
            names: list[str] | None = None) -> list[Path]:
    """Write the source assignments into ``course/source/`` and generate the student versions
    into ``course/release/`` (and the gradebook, ``course/gradebook.db``); ``names``: only
    those assignments. Returns the released notebooks."""
    root, course = Path(root).resolve(), Path(course).resolve()
    course.mkdir(parents=True, exist_ok=True)
    if not (course / "nbgrader_config.py").exists():
        shutil.copy(root / CONFIG, course / "nbgrader_config.py")
    sources = write_sources(root, course)
    released = []
    for source in sources:
        name = source.parent.name
        if names is None or name in names:
            nbgrader(course, "generate_assignment", name, "--force")
            released.append(course / "release" / name / source.name)
    return released
