"""The install descriptions agree: pyproject.toml and environment.yml list the same
dependencies with the same version ranges; CI runs exactly the README's test command."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def as_map(lines) -> dict[str, SpecifierSet]:
    out = {}
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in out, f"{name} listed twice"
        out[name] = req.specifier
    return out


def conda_spec(line: str) -> str:
    # conda and pip write these specs alike (name then >=,<=,<,== clauses); allow spaces
    return re.sub(r"\s+", "", line)


def environment() -> tuple[dict[str, SpecifierSet], str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip, python = [], [], None
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += [d for d in dep["pip"] if not d.startswith("-e")]
        elif dep.startswith("python") and not dep.startswith("python-"):
            python = dep[len("python"):]
        elif dep != "pip":
            conda.append(conda_spec(dep))
    both = as_map(conda + pip)
    return both, python


def test_environment_mirrors_pyproject():
    project = pyproject()["project"]
    extras = project["optional-dependencies"]
    wanted = as_map(project["dependencies"] + extras["dev"] + extras["cluster"]
                    + extras["browser"])
    got, python = environment()
    assert got == wanted
    assert SpecifierSet(python) == SpecifierSet(project["requires-python"])


def test_torch_ranges_admit_the_wheels_on_this_machine():
    deps = as_map(pyproject()["project"]["dependencies"])
    assert "2.14.1" in deps["torch"] and "0.29.1" in deps["torchvision"]
    assert "1.0.4" in deps["jupyter-book"] and "2.0" not in deps["jupyter-book"]


def test_extras_and_entry_point():
    project = pyproject()["project"]
    assert set(project["optional-dependencies"]) == {"dev", "browser", "course", "cluster"}
    assert project["scripts"]["lthkit"] == "lthkit.cli:main"


def test_make_installs_the_extras_the_tests_need():
    """The conda environment mirrors what `make test` installs: the dev and cluster extras."""
    makefile = (ROOT / "Makefile").read_text()
    assert "-e '.[dev,cluster]'" in makefile


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    assert "set -euo pipefail" in ci
    commands = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands[-1] == "make test"
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    commands = [ln.split("#")[0].strip() for ln in first_block.splitlines()]
    assert commands[:2] == ["make book", "make test"]
