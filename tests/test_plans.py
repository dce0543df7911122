"""Every setting a chapter accepts reaches what it computes.

For every field of every chapter's hyperparameters, a changed (valid) value must change the
chapter's plan — the store keys and arguments of everything it computes — and the chapter
notebook must resolve the value it was given, whether or not its parameters cell lists it."""
import dataclasses
import json
from pathlib import Path

import pytest

from lthkit import hparams, plans
from lthkit.steps import Step

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _candidates(field, value):
    """Other values for ``field``, in the order tried; resolve decides which are valid."""
    meta = field.metadata
    if meta.get("choices"):
        return [c for c in meta["choices"] if c != value]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, list):
        longer = [[*value, max(value) + 1]] if value and all(
            isinstance(v, int) for v in value) else []   # a list that must keep its values
        return [[v + 1 for v in value], value[:-1], [max(1, v - 1) for v in value], *longer]
    if meta.get("step"):
        step = Step.parse(value)
        return [s for s in (f"{step.its + 10}it", f"{max(0, step.its - 10)}it", "1ep")
                if Step.parse(s) != step]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, float):
        return [value * 1.5, value / 1.5, value + 0.1]
    return []


def _changes():
    for chapter, cls in hparams.CHAPTERS.items():
        if cls not in plans.BUILDERS:
            continue
        for field in dataclasses.fields(cls):
            yield pytest.param(chapter, field, id=f"{chapter}.{field.name}")


def _changed(chapter, field, base):
    if field.name == "preset":
        others = [p for p in hparams.presets(chapter) if p != base.preset]
        return [hparams.resolve(chapter, p) for p in others]
    changed = []
    for value in _candidates(field, getattr(base, field.name)):
        if value == getattr(base, field.name):  # 0.0 × 1.5 is no change
            continue
        try:
            changed.append(hparams.resolve(chapter, base.preset, **{field.name: value}))
        except hparams.ParameterError:
            continue
    return changed


def test_every_chapter_has_a_plan():
    missing = [c for c, cls in hparams.CHAPTERS.items() if cls not in plans.BUILDERS]
    assert missing == [], missing


@pytest.mark.parametrize("chapter, field", list(_changes()))
def test_changing_a_setting_changes_the_plan(chapter, field):
    base = hparams.resolve(chapter)
    changed = _changed(chapter, field, base)
    if not changed:
        choices = field.metadata.get("choices")
        assert choices is not None and len(choices) == 1, (
            f"no valid other value found for {chapter}.{field.name}: extend _candidates")
        pytest.skip(f"{field.name} accepts one value only ({choices[0]!r})")
    plan = plans.build(base)
    for hp in changed:
        assert plans.build(hp) != plan, f"{field.name}={getattr(hp, field.name)!r} is ignored"


def _chapter_notebooks():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        chapter = json.loads(path.read_text()).get("metadata", {}).get("lthkit", {}).get("chapter")
        if chapter in hparams.CHAPTERS and hparams.CHAPTERS[chapter] in plans.BUILDERS:
            yield pytest.param(path, chapter, id=path.stem)


def _resolving_cells(path):
    """The notebook's code up to the cell that builds the plan."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    sources = []
    for cell in cells:
        sources.append("".join(cell["source"]))
        if "plans.build(" in sources[-1]:
            return sources
    pytest.fail(f"{path.name} never calls plans.build(hp)")


@pytest.mark.parametrize("path, chapter", list(_chapter_notebooks()))
def test_the_notebook_resolves_every_setting_it_is_given(path, chapter, monkeypatch):
    # The values tried include the paper's data and device, which this machine may lack.
    monkeypatch.setattr("lthkit.preflight.check", lambda hp: None)
    sources = _resolving_cells(path)
    base = hparams.resolve(chapter)
    for field in dataclasses.fields(base):
        for hp in _changed(chapter, field, base)[:1]:
            value = getattr(hp, field.name)
            namespace = {}
            # what papermill does: the parameters cell, then the injected values, then the rest
            exec(sources[0], namespace)
            exec(f"{field.name} = {value!r}", namespace)
            for source in sources[1:]:
                exec(source, namespace)
            assert namespace["plan"] == plans.build(hp), field.name
