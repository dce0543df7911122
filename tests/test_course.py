"""Course assignments (lthkit.course): every chapter has one, in step with its exercises, and
nbgrader itself grades them as it should: full marks for the instructor's solution, zero on
every graded cell for the untouched student version, and for each plausible wrong answer the
loss of exactly the points of the tests it breaks."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lthkit.course import source
from lthkit.course.source import DriftError, build, check, fingerprint, read_spec

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted((ROOT / source.ASSIGNMENTS).glob("*.py"))

EXERCISES = """## Exercises

1. **First.** Prune the network
   and count what is left.
2. **Second.** Train it again.

## After
Not an exercise.
"""

SPEC = """# notes before the first cell are the author's own

# %% [setup]
import math

# %% [exercise 1 sha={one}]

# %% [answer half]
def half(x):
    ### BEGIN SOLUTION
    return x / 2
    ### END SOLUTION

# %% [tests test_half points=2]
assert half(4) == 2
### BEGIN HIDDEN TESTS
assert half(1) == 0.5
### END HIDDEN TESTS

# %% [exercise 2 sha={two}]
# *For discussion.*

# %% [wrong half breaks=test_half] doubles
def half(x):
    return 2 * x
"""


def chapter(folder: Path, stem: str = "02_demo", exercises: str = EXERCISES) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "lthkit", "display_name": "lthkit", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# 2. A demo chapter\n\n## Question\n\nWhy?"),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_markdown_cell(exercises)]
    path = folder / "notebooks" / f"{stem}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def assignment(folder: Path, stem: str = "02_demo", text: str | None = None) -> Path:
    texts = source.exercises(folder / "notebooks" / f"{stem}.ipynb")
    path = folder / source.ASSIGNMENTS / f"{stem}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text or SPEC.format(one=fingerprint(texts[1]), two=fingerprint(texts[2])))
    return path


@pytest.fixture
def demo(tmp_path):
    return chapter(tmp_path), assignment(tmp_path)


def test_every_chapter_has_an_assignment_in_step():
    problems = check(ROOT)
    assert not problems, "\n\n".join(problems)


def test_exercises_are_read_from_the_chapter(demo):
    texts = source.exercises(demo[0])
    assert texts == {1: "**First.** Prune the network\nand count what is left.",
                     2: "**Second.** Train it again."}
    assert check(demo[0].parents[1]) == []


def test_a_chapter_without_an_assignment_fails_loudly(tmp_path):
    chapter(tmp_path, "03_new")
    [problem] = check(tmp_path)
    assert "notebooks/03_new.ipynb has no course assignment" in problem
    assert "course/assignments/03_new.py" in problem
    first = fingerprint(source.exercises(tmp_path / "notebooks" / "03_new.ipynb")[1])
    assert f"1: sha={first}" in problem


def test_changed_exercise_text_is_drift_and_shows_the_new_text(demo, tmp_path):
    chapter(tmp_path, exercises=EXERCISES.replace("Train it again.", "Train it twice."))
    [problem] = check(tmp_path)
    assert "exercise 2" in problem and "Train it twice." in problem
    new = fingerprint("**Second.** Train it twice.")
    assert f"set sha={new}" in problem
    with pytest.raises(DriftError, match="exercise 2"):
        build(demo[0], demo[1])


def test_reflowing_an_exercise_is_no_drift(demo, tmp_path):
    chapter(tmp_path, exercises=EXERCISES.replace("network\n   and", "network and"))
    assert check(tmp_path) == []


def test_added_and_removed_exercises_are_drift(demo, tmp_path):
    chapter(tmp_path, exercises=EXERCISES.replace("## After", "3. **Third.** New.\n\n## After"))
    [added] = check(tmp_path)
    assert "exercise 3" in added and "has no cell in its assignment" in added
    chapter(tmp_path, exercises=EXERCISES.replace("2. **Second.** Train it again.\n", ""))
    [removed] = check(tmp_path)
    assert "exercise 2 is not in" in removed
    chapter(tmp_path, exercises="## Exercises\n\nNone yet.\n")
    assert "no '## Exercises' section" in check(tmp_path)[0]


def test_an_assignment_without_a_chapter_is_drift(demo, tmp_path):
    demo[0].unlink()
    assert check(tmp_path) == [f"{source.ASSIGNMENTS / '02_demo.py'} has no chapter "
                               f"notebooks/02_demo.ipynb"]


@pytest.mark.parametrize("edit, message", [
    (("    ### END SOLUTION\n", ""), "has no ### BEGIN SOLUTION"),
    (("breaks=test_half", "breaks=test_nothing"), "['test_nothing'] named"),
    (("[tests test_half points=2]", "[tests half points=2]"), "used twice"),
    (("points=2", "points=0"), "must be worth some points"),
    (("# %% [setup]\nimport math", "# %% [setup]\n### BEGIN HIDDEN TESTS"), "belongs in a tests"),
    (("# %% [exercise 1 sha", "# %% [exercise sha"), "needs a number and sha"),
    (("# *For discussion.*", "For discussion."), "are comments"),
])
def test_authoring_mistakes_are_reported(demo, edit, message):
    spec = demo[1]
    spec.write_text(spec.read_text().replace(*edit))
    assert any(message in p for p in check(spec.parents[2])), check(spec.parents[2])


def test_the_source_notebook_is_marked_for_nbgrader(demo):
    nb = build(*demo)
    kinds = {c.id: c.metadata.get("nbgrader") for c in nb.cells}
    assert kinds["half"]["solution"] and not kinds["half"]["grade"]
    assert kinds["test_half"]["grade"] and kinds["test_half"]["points"] == 2
    assert kinds["test_half"]["locked"] and kinds["setup-1"]["locked"]
    text = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert text[0].startswith("# Assignment: 2. A demo chapter")
    assert "`# YOUR CODE HERE`" in text[0] and "nbgrader validate 02_demo.ipynb" in text[0]
    assert "## Exercise 1\n\n**First.** Prune the network\nand count what is left." in text
    assert "## Exercise 2\n\n**Second.** Train it again.\n\n*For discussion.*" in text
    assert not any("return 2 * x" in c.source for c in nb.cells), "a wrong answer was released"
    assert nb.metadata["kernelspec"]["name"] == "lthkit"
    assert nbformat.writes(build(*demo)) == nbformat.writes(nb), "two builds differ"


def test_check_command_exits_1_with_the_problems(tmp_path):
    chapter(tmp_path, "03_new")
    done = subprocess.run([sys.executable, "-m", "lthkit.course", "--check", "--root",
                           str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 1 and "03_new.ipynb has no course assignment" in done.stderr
    assignment(tmp_path, "03_new")
    done = subprocess.run([sys.executable, "-m", "lthkit.course", "--check", "--root",
                           str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- the real assignments, graded by nbgrader ---------------------------------------------

def answered(student: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The student's notebook with these answer cells (grade_id → code) filled in."""
    nb = nbformat.from_dict(json.loads(nbformat.writes(student)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def wrong_submissions(cells) -> list[list]:
    """The wrong answers, grouped so that no submission holds two for one answer cell (the
    tests of different answers are independent, so each test's expected score stays exact)."""
    groups: list[list] = []
    for wrong in (c for c in cells if c.kind == "wrong"):
        group = next((g for g in groups if wrong.id not in {w.id for w in g}), None)
        if group is None:
            groups.append(group := [])
        group.append(wrong)
    return groups


@pytest.mark.parametrize("spec", ASSIGNMENTS, ids=lambda p: p.stem)
def test_nbgrader_grades_solutions_blanks_and_wrong_answers(spec, tmp_path):
    pytest.importorskip("nbgrader", reason="the course extra is not installed "
                                           "(pip install -e '.[course]'; `make test` does)")
    from nbgrader.api import Gradebook

    from lthkit.course.release import nbgrader, release

    name, course = spec.stem, tmp_path / "course"
    [released] = release(ROOT, course, names=[name])
    student = nbformat.read(str(released), as_version=4)
    for cell in student.cells:
        assert not any(m in cell.source for m in source.SOLUTION + source.HIDDEN), cell.source
    cells = read_spec(spec)
    points = {c.id: c.points for c in cells if c.kind == "tests"}
    solutions = {c.id: c.source for c in cells if c.kind == "answer"}
    expected = {"solution": points, "blank": dict.fromkeys(points, 0.0)}
    submissions = {"solution": answered(student, solutions), "blank": student}
    for number, group in enumerate(wrong_submissions(cells), 1):
        broken = {t for wrong in group for t in wrong.breaks}
        submissions[f"wrong{number}"] = answered(student, {**solutions,
                                                           **{w.id: w.source for w in group}})
        expected[f"wrong{number}"] = {t: 0.0 if t in broken else p for t, p in points.items()}
    for who, nb in submissions.items():
        folder = course / "submitted" / who / name
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / released.name))

    nbgrader(course, "autograde", name)
    # what the student can run: nbgrader validate, in the folder of the notebook
    checked = nbgrader(course / "submitted" / "solution" / name, "validate", released.name)
    assert "Success! Your notebook passes all the tests." in checked.stdout + checked.stderr

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {who: {g.name: g.score for g in gradebook.find_submission_notebook(
                      released.stem, name, who).grades} for who in submissions}
    for who, wanted in expected.items():
        what = next((f"wrong answers: {'; '.join(f'{w.id} {w.title}' for w in group)}"
                     for n, group in enumerate(wrong_submissions(cells), 1)
                     if who == f"wrong{n}"), who)
        assert scores[who] == wanted, f"{what}: scores {scores[who]}, expected {wanted}"

    grades = tmp_path / "grades.csv"
    nbgrader(course, "export", f"--to={grades}")
    rows = {row["student_id"]: row for row in csv.DictReader(grades.open())}
    assert set(rows) == set(submissions)
    assert float(rows["solution"]["score"]) == float(rows["solution"]["max_score"]) == sum(
        points.values())
    assert float(rows["blank"]["score"]) == 0.0
