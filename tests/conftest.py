"""Shared fixtures for the pipeline tests (book, browser, cli): a small chapter-shaped notebook
made on the fly, so the pipeline is tested whether or not the real chapters are in notebooks/,
and the real chapters executed once per session with their CI parameters."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

DEMO_CELLS = [
    ("markdown", "# A demo chapter\n\nThe path between two solutions is "
                 "$\\theta(\\alpha) = (1-\\alpha)\\theta_1 + \\alpha\\theta_2$; see "
                 "[Frankle & Carbin, 2019](ref-lth).\n\n$$\\sum_{i=1}^n i = n(n+1)/2$$"),
    ("parameters", "preset = 'default'\npoints = 20\nratio = 0.25\nflag = False\n"
                   "xs = [0]\nname = 'x'\nfail = False"),
    ("code", "import os\nimport pandas as pd\nfrom lthkit import charts, claims\n"
             "df = pd.DataFrame({'x': range(1, points + 1)})\n"
             "df['y'] = df.x ** 2\ndf['lo'] = df.y - 1\ndf['hi'] = df.y + 1\n"
             "charts.line_band(df, x='x:Q', y='y:Q', lower='lo', upper='hi', log_x=True,"
             " title='Squares </script>') + charts.rule(10.0, label='ten')"),
    ("code", "assert not fail, 'asked to fail'"),
    ("code", "records = [claims.claim('squares grow', int(df.y.iloc[-1]), '> 0', "
             "bool(df.y.iloc[-1] > 0)),\n"
             "           claims.claim('cannot tell', None, 'anything', None)]\n"
             "types = {k: type(v).__name__ for k, v in dict(points=points, ratio=ratio, "
             "flag=flag, xs=xs, name=name).items()}\n"
             "claims.write_metrics(records, {'preset': preset, 'points': points, "
             "'ratio': ratio, 'flag': flag, 'xs': xs, 'name': name},\n"
             "                     {'cwd': os.getcwd(), 'store': os.environ.get('LTHKIT_STORE'),"
             " 'types': types})\nclaims.table(records)"),
]


def make_demo_notebook(path: Path, chapter: str | None = None,
                       ci_parameters: dict | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "lthkit", "display_name": "Python (lthkit)",
                                 "language": "python"}
    meta = {"ci_parameters": ci_parameters if ci_parameters is not None else {"points": 5}}
    if chapter:
        meta["chapter"] = chapter
    nb.metadata["lthkit"] = meta
    for kind, source in DEMO_CELLS:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def demo_notebook(tmp_path):
    """Factory: ``demo_notebook(name="demo", chapter=None)`` → path of a fresh demo notebook."""
    def make(name: str = "demo", chapter: str | None = None, folder: Path | None = None):
        return make_demo_notebook((folder or tmp_path / "notebooks") / f"{name}.ipynb", chapter)
    return make


@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module of tiny networks: on a busy 2-core machine a second
    intra-op thread only adds contention."""
    from lthkit.train import single_thread

    with single_thread():
        yield


@pytest.fixture(scope="module")
def mnist():
    """The embedded digits with the chapters' 500-image validation split."""
    from lthkit import data

    return data.load("mnist5k").split_validation(500, seed=0)


@pytest.fixture(scope="session")
def executed(tmp_path_factory):
    """Execute a notebook once per session with its CI parameters → its output folder."""
    from lthkit import book

    done: dict[Path, Path | BaseException] = {}
    store = tmp_path_factory.mktemp("store")

    def run(nb: Path) -> Path:
        if nb not in done:
            params = book.notebook_metadata(nb).get("ci_parameters", {})
            out = tmp_path_factory.mktemp(f"run-{nb.stem}")
            try:
                book.execute(nb, out, params, store=store, progress=False)
                done[nb] = out
            except BaseException as e:  # noqa: BLE001 - remembered, re-raised per test
                done[nb] = e
        if isinstance(done[nb], BaseException):
            raise done[nb]
        return done[nb]
    return run


def copy_book(dest: Path) -> Path:
    """A copy of book/'s sources, without what `lthkit book` generates."""
    shutil.copytree(ROOT / "book", dest, ignore=shutil.ignore_patterns(
        "_build", "chapters", "_toc.yml", "scoreboard.md", ".ipynb_checkpoints"))
    return dest


# --- a batch rerun of chapter 1, shared by the batch, summary and slurm tests -----------------

LOTTERY = Path(__file__).resolve().parents[1] / "notebooks" / "01_lottery_tickets.ipynb"
LOTTERY_GRID = {"first_seed": [0, 1], "rewind_step": ["0it", "10it"]}


def lottery_rerun_args(out: Path, jobs: int = 2) -> list[str]:
    """``lthkit rerun`` of chapter 1 over a 2×2 grid (seeds × rewind step) on the chapter's
    tiny CI parameters."""
    import json

    ci = json.loads(LOTTERY.read_text())["metadata"]["lthkit"]["ci_parameters"]
    args = ["rerun", str(LOTTERY), "--out", str(out), "--jobs", str(jobs), "--no-progress"]
    for name, values in LOTTERY_GRID.items():
        args += ["--grid", f"{name}={','.join(map(str, values))}"]
    for name, value in ci.items():
        if name not in LOTTERY_GRID:
            args += ["-p", name, str(value)]
    return args


@pytest.fixture(scope="session")
def lottery_batch(tmp_path_factory):
    """The uninterrupted 2×2 batch (``--jobs 2``), run once per session into a fresh store:
    (batch folder, store). Tests that reuse the store reuse its training results."""
    import os

    from lthkit import cli

    if not LOTTERY.exists():
        pytest.skip("chapter 1's notebook is not in this checkout")
    root = tmp_path_factory.mktemp("lottery-batch")
    saved = os.environ.get("LTHKIT_STORE")
    os.environ["LTHKIT_STORE"] = str(root / "store")
    try:
        rc = cli.main(lottery_rerun_args(root / "batch"))
    finally:
        if saved is None:
            os.environ.pop("LTHKIT_STORE", None)
        else:
            os.environ["LTHKIT_STORE"] = saved
    assert rc == 0
    return root / "batch", root / "store"
