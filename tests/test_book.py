"""Notebook smoke tests and the book build.

Every notebook in notebooks/ runs through papermill with the tiny parameters it declares in
``metadata["lthkit"]["ci_parameters"]`` and must write a ``metrics.json`` of the agreed shape;
then the book builds, from a temporary copy of book/, with warnings as errors and no resource
loaded from the network. A demo notebook made by the test runs the same way, so the pipeline is
exercised even before any chapter exists.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import copy_book, make_demo_notebook
from lthkit import book, charts, pages

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
VERDICTS = {"pass", "fail", "inconclusive"}


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    return make_demo_notebook(tmp_path_factory.mktemp("nb") / "00-demo.ipynb")


def check_metrics(path: Path) -> dict:
    doc = json.loads(path.read_text())
    assert set(doc) >= {"claims", "params"}, doc.keys()
    assert isinstance(doc["params"], dict)
    assert isinstance(doc.get("metrics", {}), dict)
    assert isinstance(doc["claims"], list) and doc["claims"], "a chapter makes claims"
    for c in doc["claims"]:
        assert set(c) - {"shown"} == {"claim", "measured", "expected", "verdict"}, c
        assert isinstance(c.get("shown", ""), str), c
        assert c["verdict"] in VERDICTS, c
        assert isinstance(c["claim"], str) and c["claim"]
    return doc


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_declares_what_the_pipeline_needs(nb):
    meta = book.notebook_metadata(nb)
    assert meta.get("chapter"), f"{nb.name}: metadata.lthkit.chapter is missing"
    assert isinstance(meta.get("ci_parameters"), dict), \
        f"{nb.name}: metadata.lthkit.ci_parameters (tiny parameters for CI) is missing"
    cells = nbformat.read(str(nb), as_version=4).cells
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code", \
        f"{nb.name}: needs exactly one code cell tagged 'parameters'"
    assert not any(c.get("outputs") for c in cells if c.cell_type == "code"), \
        f"{nb.name}: commit notebooks with outputs stripped"
    assert book.validate_parameters(nb, meta["ci_parameters"])


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_runs_with_ci_parameters(nb, executed):
    out = executed(nb)
    assert (out / f"{nb.stem}.ipynb").exists()
    doc = check_metrics(out / "metrics.json")
    for name, value in book.notebook_metadata(nb)["ci_parameters"].items():
        if name in doc["params"]:
            assert doc["params"][name] == value, name


def test_demo_notebook_runs_in_its_output_folder(demo, executed, tmp_path_factory):
    out = executed(demo)
    doc = check_metrics(out / "metrics.json")
    assert [c["verdict"] for c in doc["claims"]] == ["pass", "inconclusive"]
    assert doc["params"]["points"] == 5                      # the CI parameter reached it
    assert Path(doc["metrics"]["cwd"]).resolve() == out.resolve()
    assert Path(doc["metrics"]["store"]).is_absolute()
    outputs = nbformat.read(str(out / f"{demo.stem}.ipynb"), as_version=4)
    html = [o["data"]["text/html"] for c in outputs.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert any(f'class="{charts.MARKER}"' in h and "<svg" in h for h in html), \
        "the chart is rendered by lthkit's offline renderer, with a static SVG"
    assert not list(out.glob("*partial*")), "no partial notebook is left behind"


def test_book_builds_offline(demo, executed, tmp_path):
    appendix = make_demo_notebook(tmp_path / "nb" / "A1-appendix-demo.ipynb")
    book_dir = copy_book(tmp_path / "book")
    for nb in [demo, *NOTEBOOKS]:                       # with their metrics.json
        shutil.copytree(executed(nb), book_dir / "chapters" / nb.stem)
    (book_dir / "chapters" / appendix.stem).mkdir()     # a chapter that left no metrics.json
    shutil.copy(executed(appendix) / f"{appendix.stem}.ipynb", book_dir / "chapters" / appendix.stem)
    index = book.build_html(book_dir, quiet=True)
    html = index.parent
    assert index.exists()
    assert book.find_remote_loads(html) == []
    toc = (book_dir / "_toc.yml").read_text()
    assert (toc.index("scoreboard") < toc.index("00-demo") < toc.index("Appendix")
            < toc.index("A1-appendix-demo"))
    # the scoreboard: each real chapter's claims link to its Claims section, verdicts marked
    board = (html / "scoreboard.html").read_text()
    for nb in NOTEBOOKS:
        claims_made = json.loads((executed(nb) / "metrics.json").read_text())["claims"]
        link = f'href="chapters/{nb.stem}/{nb.stem}.html#claims"'
        assert board.count(link) == len(claims_made), nb.stem
    assert 'href="chapters/00-demo/00-demo.html"' in board       # no Claims section: the page
    assert 'class="lthkit-verdict lthkit-verdict-pass"' in board
    assert "left no <code" in board                               # the appendix demo
    # the hide rule was applied to every placed chapter, and the pages fold those cells
    for nb in [demo, appendix, *NOTEBOOKS]:
        placed = book_dir / "chapters" / nb.stem / f"{nb.stem}.ipynb"
        cells = nbformat.read(str(placed), as_version=4).cells
        assert not any(pages.hides(c) for c in cells), nb.stem
        hidden = sum("hide-input" in c.metadata.get("tags", []) for c in cells)
        page_html = (html / "chapters" / nb.stem / f"{nb.stem}.html").read_text()
        assert page_html.count("tag_hide-input") == hidden, nb.stem
    for nb in NOTEBOOKS:
        assert (html / "chapters" / nb.stem / f"{nb.stem}.html").exists(), nb.stem
    page = (html / "chapters" / demo.stem / f"{demo.stem}.html").read_text()
    assert 'src="../../_static/lthkit-vega.js"' in page
    assert f'class="{charts.MARKER}"' in page
    assert "_static/mathjax/tex-chtml.js" in page
    bundle = (html / "_static" / charts.BUNDLE_NAME).read_text()
    assert "vegaEmbed" in bundle and "lthkit-vega-view" in bundle
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert 'href="../../references.html#ref-lth"' in page  # citation labels resolve
    assert "lthkit-vega.js" not in (html / "intro.html").read_text()  # only chart pages


def test_lthkit_book_skips_unchanged_chapters(demo_notebook, tmp_path, capsys):
    """`lthkit book` twice: the second run re-executes nothing and still builds."""
    root = tmp_path / "repo"
    copy_book(root / "book")
    demo_notebook("01-demo", folder=root / "notebooks")
    from lthkit import cli
    env_store = os.environ.get("LTHKIT_STORE")
    os.environ["LTHKIT_STORE"] = str(tmp_path / "store")
    try:
        assert cli.main(["book", "--root", str(root), "--no-progress"]) == 0
        first = capsys.readouterr().out
        executed_nb = root / "book" / "chapters" / "01-demo" / "01-demo.ipynb"
        stamp = executed_nb.stat().st_mtime_ns
        assert "executed in" in first and "index.html" in first
        assert cli.main(["book", "--root", str(root), "--no-progress"]) == 0
        second = capsys.readouterr().out
    finally:
        if env_store is None:
            os.environ.pop("LTHKIT_STORE", None)
        else:
            os.environ["LTHKIT_STORE"] = env_store
    assert "up to date" in second and "executed in" not in second
    assert executed_nb.stat().st_mtime_ns == stamp
    assert (root / "book" / "_build" / "html" / "index.html").exists()


# --- the bookkeeping, without a kernel -----------------------------------------------------

def fake_execute(calls, *, interrupt=False):
    def run(notebook, out_dir, parameters=None, **kw):
        calls.append(Path(notebook).name)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f".{Path(notebook).stem}.partial.ipynb").write_text("{}")
        if interrupt:
            raise KeyboardInterrupt
        (out_dir / f"{Path(notebook).stem}.ipynb").write_text(Path(notebook).read_text())
        (out_dir / "metrics.json").write_text("{}")
        return out_dir / f"{Path(notebook).stem}.ipynb"
    return run


def test_execute_chapter_reruns_only_when_inputs_change(demo_notebook, tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(book, "execute", fake_execute(calls))
    nb, chapters = demo_notebook("01-x"), tmp_path / "chapters"
    assert book.execute_chapter(nb, chapters, code="v1") is True
    assert book.execute_chapter(nb, chapters, code="v1") is False
    assert book.execute_chapter(nb, chapters, code="v2") is True          # code changed
    assert book.execute_chapter(nb, chapters, code="v2", parameters={"points": 3}) is True
    nb.write_text(nb.read_text().replace("points = 20", "points = 21"))
    assert book.execute_chapter(nb, chapters, code="v2", parameters={"points": 3}) is True
    assert book.execute_chapter(nb, chapters, code="v2", parameters={"points": 3},
                                force=True) is True
    assert len(calls) == 5
    assert sorted(p.name for p in chapters.iterdir()) == ["01-x"]  # no staging left over


def test_interrupted_chapter_never_counts_as_done(demo_notebook, tmp_path, monkeypatch):
    calls: list[str] = []
    nb, chapters = demo_notebook("01-x"), tmp_path / "chapters"
    monkeypatch.setattr(book, "execute", fake_execute(calls))
    book.execute_chapter(nb, chapters, code="v1")
    before = (chapters / "01-x" / "01-x.ipynb").read_text()
    monkeypatch.setattr(book, "execute", fake_execute(calls, interrupt=True))
    with pytest.raises(KeyboardInterrupt):
        book.execute_chapter(nb, chapters, code="v2")
    # the previous complete chapter is untouched, and the new one is not marked done
    assert (chapters / "01-x" / "01-x.ipynb").read_text() == before
    monkeypatch.setattr(book, "execute", fake_execute(calls))
    assert book.execute_chapter(nb, chapters, code="v2") is True
    assert not (chapters / ".01-x.staging").exists()


def test_execute_keeps_no_finished_notebook_when_interrupted(demo_notebook, tmp_path,
                                                             monkeypatch):
    import papermill

    def interrupted(input_path, output_path, **kw):
        Path(output_path).write_text("{}")    # papermill saves after every cell
        raise KeyboardInterrupt
    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    monkeypatch.setattr(book, "check_kernel", lambda name: None)
    with pytest.raises(KeyboardInterrupt):
        book.execute(demo_notebook("demo"), tmp_path / "out")
    assert not (tmp_path / "out" / "demo.ipynb").exists()


def test_toc_orders_chapters_and_puts_A_files_in_the_appendix(tmp_path):
    for stem in ["02-b", "A1-synth", "01-a", "A0-first"]:
        (tmp_path / "chapters" / stem).mkdir(parents=True)
        (tmp_path / "chapters" / stem / f"{stem}.ipynb").write_text("{}")
    (tmp_path / "chapters" / "03-c").mkdir()  # never executed: not in the toc
    toc = book.toc(tmp_path)
    assert toc["root"] == "intro"
    parts = {p["caption"]: [c["file"] for c in p["chapters"]] for p in toc["parts"]}
    assert list(parts)[0] == "At a glance"          # the scoreboard follows the introduction
    assert parts == {"At a glance": ["scoreboard"],
                     "Chapters": ["chapters/01-a/01-a", "chapters/02-b/02-b"],
                     "Appendix": ["chapters/A0-first/A0-first", "chapters/A1-synth/A1-synth"],
                     "Back matter": ["references"]}


def test_remote_loads_are_found_and_plain_links_are_not(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "a.html").write_text(
        '<script src="https://cdn.example.org/x.js"></script>'
        '<script src="_static/local.js"></script>'
        "<link rel='stylesheet' href='//fonts.example.org/f.css'>"
        '<link rel="canonical" href="https://book.example.org/a.html">'
        '<a href="https://arxiv.org/abs/1803.03635">paper</a>'
        '<img src=http://example.org/i.png>')
    (tmp_path / "_static" / "s.css").write_text(
        '@import url("https://fonts.example.org/css");\n.x{background:url(img.png)}')
    found = book.find_remote_loads(tmp_path)
    assert sorted(url for _, url in found) == [
        "//fonts.example.org/f.css", "http://example.org/i.png",
        "https://cdn.example.org/x.js", "https://fonts.example.org/css"]
