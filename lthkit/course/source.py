"""nbgrader source assignments, built from ``course/assignments/<chapter>.py`` and the chapter::

    nb = build("notebooks/01_lottery_tickets.ipynb", "course/assignments/01_lottery_tickets.py")
    check(".")      # every problem that stops a build, for every chapter: [] when in step

An assignment file is a sequence of cells, each opened by a header line:

- ``# %% [markdown]``: text, each line a comment (``# ...``);
- ``# %%``: code the student runs (a demonstration, an experiment to try);
- ``# %% [setup]``: code the student cannot edit (imports, small parameters);
- ``# %% [exercise N sha=XXXXXXXX]``: exercise N of the chapter, its text copied from the
  chapter's ``## Exercises`` section; ``sha`` pins the text the tasks after it were written for,
  and any markdown body is added below the text (e.g. "for discussion, not graded");
- ``# %% [answer ID]``: an answer cell (the instructor's solution between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; nbgrader replaces it with a stub);
- ``# %% [tests ID points=P]``: autograder tests worth P points (wrap hidden ones in
  ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``);
- ``# %% [wrong ANSWER_ID breaks=TEST,...] what is wrong``: a plausible wrong answer, never
  shown to students: the tests grade it through nbgrader and require it to lose exactly the
  points of the tests it names.

Drift: a chapter without an assignment, an exercise missing from its assignment, an exercise
whose text no longer matches its ``sha``, an assignment for an exercise or a chapter that is
gone: each is a problem that ``check`` reports and ``build`` refuses.
"""
from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat

ASSIGNMENTS = Path("course") / "assignments"
_HEADER = re.compile(r"^# %%(?:\s*\[(?P<kind>\w+)(?P<args>[^\]]*)\])?\s*(?P<title>.*)$")
_KINDS = {None: "code", "markdown": "markdown", "setup": "setup", "exercise": "exercise",
          "answer": "answer", "tests": "tests", "wrong": "wrong"}
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_ITEM = re.compile(r"^(\d+)\.\s+")
SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


class DriftError(ValueError):
    """The assignments and the chapters are out of step; ``problems`` says how, one per item."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n\n".join(problems))


@dataclass
class Cell:
    """One cell of an assignment file."""

    kind: str                   # markdown, code, setup, exercise, answer, tests, wrong
    source: str
    line: int                   # of its header, for messages
    id: str | None = None       # answer and tests: the nbgrader grade_id; wrong: the answer's
    points: float | None = None
    number: int | None = None   # exercise
    sha: str | None = None      # exercise
    breaks: tuple = ()          # wrong
    title: str = ""             # wrong: what is wrong with it


def fingerprint(text: str) -> str:
    """8 hex digits of the exercise text, whitespace-insensitive (reflowing is no change)."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:8]


def exercises(chapter: str | Path) -> dict[int, str]:
    """The numbered items of the chapter's ``## Exercises`` section (to the next heading of
    level 1 or 2, or the first code cell after it), as markdown."""
    nb = nbformat.read(str(chapter), as_version=4)
    lines, inside = [], False
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            if inside:
                break
            continue
        for line in cell.source.splitlines():
            heading = _HEADING.match(line)
            if heading and len(heading.group(1)) <= 2:
                if inside:
                    break
                inside = heading.group(2).lower() == "exercises"
            elif inside:
                lines.append(line)
        else:
            continue
        break
    items: dict[int, list[str]] = {}
    current = None
    for line in lines:
        if item := _ITEM.match(line):
            current = int(item.group(1))
            items[current] = [line[item.end():]]
        elif current is not None:
            items[current].append(line)
    return {n: "\n".join([first, textwrap.dedent("\n".join(rest))]).strip()
            for n, (first, *rest) in items.items()}


def chapter_title(chapter: str | Path) -> str:
    nb = nbformat.read(str(chapter), as_version=4)
    for cell in nb.cells:
        for line in cell.source.splitlines() if cell.cell_type == "markdown" else ():
            if line.startswith("# "):
                return line[2:].strip()
    return Path(chapter).stem


def read_spec(path: str | Path) -> list[Cell]:
    """The cells of an assignment file (lines before the first header are its own notes)."""
    cells: list[Cell] = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            cells.append(_cell(header, number, path))
        elif cells:
            cells[-1].source += line + "\n"
    for cell in cells:
        cell.source = cell.source.strip("\n")
        if cell.kind in ("markdown", "exercise"):
            cell.source = _uncomment(cell, path)
    return cells


def _cell(header: re.Match, line: int, path) -> Cell:
    kind = header.group("kind")
    if kind not in _KINDS:
        raise ValueError(f"{path}:{line}: unknown cell kind [{kind}]; known: "
                         f"{', '.join(k for k in _KINDS if k)}")
    words = (header.group("args") or "").split()
    named = dict(w.split("=", 1) for w in words if "=" in w)
    plain = [w for w in words if "=" not in w]
    cell = Cell(_KINDS[kind], "", line, title=header.group("title").strip())
    try:
        if cell.kind == "exercise":
            cell.number, cell.sha = int(plain[0]), named.get("sha", "")
        elif cell.kind in ("answer", "tests", "wrong"):
            cell.id = plain[0]
        if cell.kind == "tests":
            cell.points = float(named["points"])
        if cell.kind == "wrong":
            cell.breaks = tuple(t for t in named["breaks"].split(",") if t)
    except (IndexError, KeyError, ValueError):
        raise ValueError(f"{path}:{line}: a [{kind}] header needs "
                         f"{_USAGE[cell.kind]}, not {header.group(0)!r}") from None
    return cell


_USAGE = {"exercise": "a number and sha=XXXXXXXX", "answer": "an id", "tests": "an id and points=P",
          "wrong": "an answer id and breaks=TEST,...", "markdown": "", "setup": "", "code": ""}


def _uncomment(cell: Cell, path) -> str:
    out = []
    for offset, line in enumerate(cell.source.splitlines(), 1):
        if line and not line.startswith("#"):
            raise ValueError(f"{path}:{cell.line + offset}: a {cell.kind} cell's lines are "
                             f"comments ('# text'), not {line!r}")
        out.append(line[2:] if line.startswith("# ") else line[1:])
    return "\n".join(out)


def problems(chapter: str | Path, spec: str | Path) -> list[str]:
    """Why ``spec`` cannot be built against ``chapter`` now; [] when it can."""
    chapter, spec = Path(chapter), Path(spec)
    texts = exercises(chapter)
    try:
        cells = read_spec(spec)
    except ValueError as e:
        return [str(e)]
    if not texts:
        return [f"{chapter} has no '## Exercises' section with numbered exercises, so its "
                f"assignment {spec} has nothing to follow"]
    out, seen = [], {}
    for cell in (c for c in cells if c.kind == "exercise"):
        where = f"{spec}:{cell.line}"
        if cell.number in seen:
            out.append(f"{where}: exercise {cell.number} appears twice")
        seen[cell.number] = cell
        if cell.number not in texts:
            out.append(f"{where}: exercise {cell.number} is not in {chapter} any more "
                       f"(it has {_numbers(texts)}): remove it and its tasks")
        elif cell.sha != fingerprint(texts[cell.number]):
            quoted = textwrap.indent(texts[cell.number], "    > ")
            out.append(
                f"{where}: exercise {cell.number} of {chapter} is not the text its tasks were "
                f"written for (sha={cell.sha or 'missing'}, the chapter's text now has "
                f"sha={fingerprint(texts[cell.number])}). It now reads:\n{quoted}\n"
                f"Check that the tasks after it still fit (`git log -p {chapter}` shows what "
                f"changed), then set sha={fingerprint(texts[cell.number])}.")
    for number in sorted(set(texts) - set(seen)):
        out.append(f"{spec}: exercise {number} of {chapter} has no cell in its assignment: add "
                   f"`# %% [exercise {number} sha={fingerprint(texts[number])}]` with its tasks "
                   f"after it (or a note that it is for discussion)")
    return out + _structure(cells, spec)


def _numbers(texts) -> str:
    return ", ".join(map(str, texts)) or "none"


def _structure(cells: list[Cell], spec: Path) -> list[str]:
    """Authoring mistakes nbgrader would reject or grade wrongly."""
    out, ids = [], {}
    for cell in cells:
        where = f"{spec}:{cell.line}"
        if cell.kind in ("answer", "tests"):
            if cell.id in ids or cell.id == "setup" or not re.fullmatch(r"[\w-]{1,60}", cell.id):
                out.append(f"{where}: the id {cell.id!r} is used twice or is not a plain name")
            ids[cell.id] = cell.kind
        markers = {"answer": SOLUTION}.get(cell.kind, ()) + ({"tests": HIDDEN}.get(cell.kind, ()))
        for marker in SOLUTION + HIDDEN:
            if marker in cell.source and marker not in markers:
                out.append(f"{where}: {marker} belongs in "
                           f"{'an answer' if marker in SOLUTION else 'a tests'} cell")
        if cell.kind == "answer" and not all(m in cell.source for m in SOLUTION):
            out.append(f"{where}: answer {cell.id} has no {SOLUTION[0]} ... {SOLUTION[1]}")
        if cell.kind == "tests" and not cell.points > 0:
            out.append(f"{where}: tests {cell.id} must be worth some points")
    for cell in (c for c in cells if c.kind == "wrong"):
        if ids.get(cell.id) != "answer":
            out.append(f"{spec}:{cell.line}: wrong answer for {cell.id!r}, which is no answer")
        unknown = [t for t in cell.breaks if ids.get(t) != "tests"]
        if unknown or not cell.breaks:
            out.append(f"{spec}:{cell.line}: a wrong answer breaks some tests cells; "
                       f"{unknown or 'none'} named")
    if "answer" not in ids.values() or "tests" not in ids.values():
        out.append(f"{spec}: an assignment needs at least one answer and one tests cell")
    return out


def check(root: str | Path = ".") -> list[str]:
    """Every problem between ``root/notebooks/*.ipynb`` and ``root/course/assignments/*.py``."""
    root = Path(root)
    chapters = {p.stem: p for p in sorted((root / "notebooks").glob("*.ipynb"))}
    specs = {p.stem: p for p in sorted((root / ASSIGNMENTS).glob("*.py"))}
    out = []
    for stem, chapter in chapters.items():
        if stem not in specs:
            listed = "; ".join(f"{n}: sha={fingerprint(t)}" for n, t in exercises(chapter).items())
            out.append(f"chapter {chapter.relative_to(root)} has no course assignment: write "
                       f"{ASSIGNMENTS / (stem + '.py')} (README, 'Course assignments'), with a "
                       f"cell per exercise ({listed or 'the chapter has no Exercises section'})")
        else:
            out += problems(chapter, specs[stem])
    out += [f"{spec.relative_to(root)} has no chapter notebooks/{stem}.ipynb"
            for stem, spec in specs.items() if stem not in chapters]
    return out


def _nbgrader(grade_id: str, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def build(chapter: str | Path, spec: str | Path) -> nbformat.NotebookNode:
    """The nbgrader source notebook (the instructor's version, with solutions and hidden
    tests); raises ``DriftError`` when the assignment and the chapter are out of step."""
    chapter, spec = Path(chapter), Path(spec)
    trouble = problems(chapter, spec)
    if trouble:
        raise DriftError(trouble)
    texts, cells = exercises(chapter), read_spec(spec)
    nb = nbformat.v4.new_notebook()
    chapter_nb = nbformat.read(str(chapter), as_version=4)
    nb.metadata["kernelspec"] = chapter_nb.metadata.get("kernelspec", {})
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["lthkit"] = {"assignment": spec.stem, "chapter": f"notebooks/{chapter.name}",
                             "exercises": {str(c.number): c.sha for c in cells
                                           if c.kind == "exercise"}}
    out = [nbformat.v4.new_markdown_cell(_introduction(chapter, spec.stem, cells))]
    for cell in cells:
        if cell.kind == "markdown":
            out.append(nbformat.v4.new_markdown_cell(cell.source))
        elif cell.kind == "exercise":
            text = f"## Exercise {cell.number}\n\n{texts[cell.number]}"
            out.append(nbformat.v4.new_markdown_cell(text + (f"\n\n{cell.source}" if cell.source
                                                              else "")))
        elif cell.kind == "code":
            out.append(nbformat.v4.new_code_cell(cell.source))
        elif cell.kind == "setup":
            out.append(nbformat.v4.new_code_cell(cell.source, metadata={"nbgrader": _nbgrader(
                f"setup-{len(out)}", locked=True)}))
        elif cell.kind == "answer":
            out.append(nbformat.v4.new_code_cell(cell.source, metadata={"nbgrader": _nbgrader(
                cell.id, solution=True)}))
        elif cell.kind == "tests":
            out.append(nbformat.v4.new_code_cell(cell.source, metadata={"nbgrader": _nbgrader(
                cell.id, grade=True, locked=True, points=cell.points)}))
    for number, cell in enumerate(out):       # stable ids: a rebuild changes nothing
        cell["id"] = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell-{number}")
    nb.cells = out
    return nb


def _introduction(chapter: Path, stem: str, cells: list[Cell]) -> str:
    answers = [c.id for c in cells if c.kind == "answer"]
    points = sum(c.points for c in cells if c.kind == "tests")
    return (
        f"# Assignment: {chapter_title(chapter)}\n\n"
        f"**What to fill in:** the {len(answers)} cells that say `# YOUR CODE HERE` (one per "
        f"task below): replace the `raise NotImplementedError()` under it with your code. "
        f"**How to check your work:** restart the kernel and run all cells; the visible tests "
        f"after each answer pass silently when it is right, or run `nbgrader validate "
        f"{stem}.ipynb` in a shell. When your instructor grades it, hidden tests check more "
        f"({points:g} points in all).\n\n"
        f"The exercises are those at the end of the chapter (`notebooks/{chapter.name}` in the "
        f"lthkit repository), with small parameters so that every cell runs in seconds.")


def write_sources(root: str | Path = ".", course: str | Path = "course") -> list[Path]:
    """Write every chapter's source notebook to ``course/source/<stem>/<stem>.ipynb``;
    raises ``DriftError`` with every problem first, writing nothing, when any is out of step."""
    root, course = Path(root), Path(course)
    trouble = check(root)
    if trouble:
        raise DriftError(trouble)
    written = []
    for spec in sorted((root / ASSIGNMENTS).glob("*.py")):
        nb = build(root / "notebooks" / f"{spec.stem}.ipynb", spec)
        path = course / "source" / spec.stem / f"{spec.stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
        written.append(path)
    return written
