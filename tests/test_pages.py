"""pages: the rule that hides long code cells, and the Sphinx fixes for clean pages."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from lthkit import pages

LIMIT = pages.MAX_VISIBLE_LINES


def code(lines: int, tags=(), comments: int = 0, blanks: int = 0) -> dict:
    source = "\n".join([f"x{i} = {i}" for i in range(lines)] + ["# why"] * comments
                       + [""] * blanks)
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def test_code_lines_skip_blanks_and_comments():
    assert pages.code_lines("a = 1\n\n# note\n  # indented note\nb = 2  # trailing\n") == 2


@pytest.mark.parametrize("cell, hidden", [
    (code(LIMIT), False),                                   # short: stays
    (code(LIMIT + 1), True),                                # long: behind the toggle
    (code(LIMIT, comments=5, blanks=5), False),             # comments and blanks don't count
    (code(40, ["parameters"]), False),
    (code(40, ["injected-parameters"]), False),
    (code(40, ["show-input"]), False),                      # the author asks to show it
    (code(40, ["remove-input"]), False),                    # the author's choice is kept
    (code(40, ["hide-cell"]), False),
    (code(40, ["hide-input"]), False),                      # already hidden: no second tag
    (code(40, ["remove-stderr"]), True),                    # other tags change nothing
    (nbformat.v4.new_markdown_cell("\n".join(["text"] * 40)), False),
])
def test_the_hide_rule(cell, hidden):
    assert pages.hides(cell) is hidden


def test_hide_code_tags_in_place_and_only_once(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [code(3), code(30), code(30, ["remove-stderr"]), code(30, ["parameters"]),
                code(30, ["remove-input"])]
    path = tmp_path / "ch.ipynb"
    nbformat.write(nb, str(path))
    assert pages.hide_code(path) == 2
    tags = [c.metadata.get("tags", []) for c in nbformat.read(str(path), as_version=4).cells]
    assert tags == [[], ["hide-input"], ["remove-stderr", "hide-input"], ["parameters"],
                    ["remove-input"]]
    os.utime(path, ns=(1, 1))
    assert pages.hide_code(path) == 0
    assert path.stat().st_mtime_ns == 1, "an unchanged chapter is not rewritten"
    assert [p.name for p in tmp_path.iterdir()] == ["ch.ipynb"]


def asset(filename, **attributes):
    return SimpleNamespace(filename=filename, attributes=attributes)


def test_pages_lose_thebe_and_duplicated_inline_scripts():
    thebe_config = 'const THEBE_JS_URL = "https://unpkg.com/thebe"; const thebe_selector = "x"'
    toggle = "var togglebuttonSelector = '.toggle';"
    scripts = [asset("_static/doctools.js"), asset(None, body=toggle),
               asset(None, body=thebe_config), asset("_static/sphinx-thebe.js"),
               asset("", body=toggle), asset("", body=thebe_config),
               asset("_static/lthkit-vega.js")]
    css = [asset("_static/sphinx-thebe.css"), asset("_static/lthkit.css")]
    context = {"script_files": scripts, "css_files": css}
    pages._drop_unused_scripts(None, "p", "page.html", context, None)
    assert [(s.filename, s.attributes.get("body")) for s in scripts] == [
        ("_static/doctools.js", None), (None, toggle), ("_static/lthkit-vega.js", None)]
    assert [c.filename for c in css] == ["_static/lthkit.css"]


def fake_app(outdir, root_doc="intro", builder="html"):
    config = SimpleNamespace(root_doc=root_doc, html_title="A <book>", project="p")
    return SimpleNamespace(outdir=str(outdir), config=config,
                           builder=SimpleNamespace(name=builder))


def test_index_redirect_asks_for_no_icon(tmp_path):
    pages._write_index_redirect(fake_app(tmp_path), None)
    text = (tmp_path / "index.html").read_text()
    assert 'url=intro.html' in text and 'href="intro.html"' in text
    assert '<link rel="icon" href="data:,">' in text and "A &lt;book&gt;" in text
    for app, exc in ((fake_app(tmp_path / "a", root_doc="index"), None),
                     (fake_app(tmp_path / "b", builder="latex"), None),
                     (fake_app(tmp_path / "c"), RuntimeError("build failed"))):
        Path(app.outdir).mkdir()
        pages._write_index_redirect(app, exc)
        assert not (Path(app.outdir) / "index.html").exists()
