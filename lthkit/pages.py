"""How an executed chapter reads as a book page: code out of the reader's way.

A reader scrolling a chapter should see its question, figures and claims, not the mechanism
that computes them. When ``lthkit book`` places the executed chapters into the book, it tags
each code cell by one rule (``hide_code``); the chapter notebooks themselves are not touched::

    from lthkit import pages
    pages.hide_code("book/chapters/01_x/01_x.ipynb")   # tags long cells 'hide-input'

The rule, for each code cell:

1. a cell its author tagged ``hide-input``, ``remove-input``, ``hide-cell`` or
   ``remove-cell`` keeps the author's choice;
2. the ``parameters`` cell (and papermill's ``injected-parameters``) and a cell tagged
   ``show-input`` stay visible;
3. any other cell with more than ``MAX_VISIBLE_LINES`` lines of code (lines that are neither
   blank nor only a comment) is tagged ``hide-input``: its output shows, its source sits
   behind a "show code" toggle. Shorter cells, the calls that say what is computed, stay.

This module is also a Sphinx extension (``lthkit.pages`` in ``book/_config.yml``) that keeps
the pages free of console errors and failed requests: see ``setup``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

MAX_VISIBLE_LINES = 8
HIDE = "hide-input"
KEEP_VISIBLE = frozenset({"parameters", "injected-parameters", "show-input"})
AUTHOR_CHOSE = frozenset({"hide-input", "remove-input", "hide-cell", "remove-cell"})


def code_lines(source: str) -> int:
    """Lines that hold code: neither blank nor only a comment."""
    return sum(1 for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))


def hides(cell: dict) -> bool:
    """Whether the rule (module doc) adds ``hide-input`` to this cell."""
    if cell.get("cell_type") != "code":
        return False
    tags = set(cell.get("metadata", {}).get("tags", []))
    if tags & (AUTHOR_CHOSE | KEEP_VISIBLE):
        return False
    return code_lines(cell.get("source", "")) > MAX_VISIBLE_LINES


def hide_code(notebook: str | os.PathLike) -> int:
    """Tag ``notebook``'s long code cells ``hide-input``, in place; the file is rewritten only
    when a tag is added, so an unchanged chapter keeps its timestamp (incremental builds).
    Returns how many cells were newly tagged."""
    nb = nbformat.read(str(notebook), as_version=4)
    hidden = 0
    for cell in nb.cells:
        if hides(cell):
            cell.setdefault("metadata", {}).setdefault("tags", []).append(HIDE)
            hidden += 1
    if hidden:
        tmp = Path(notebook).with_name(f".{Path(notebook).name}.tmp")
        nbformat.write(nb, str(tmp))
        os.replace(tmp, notebook)
    return hidden


# --- Sphinx: scripts a page must not carry ------------------------------------------------

def _drop_unused_scripts(app, pagename, templatename, context, doctree) -> None:
    """Remove sphinx-thebe's assets and duplicated inline scripts from the page.

    Jupyter Book 1 always loads sphinx-thebe, even with ``launch_buttons.thebe: false`` (our
    setting: the book runs no code). Its inline configuration ``const THEBE_JS_URL = ...``
    reaches each page twice, because Sphinx records a body-only script added after the
    builder starts under two names (``None`` and ``""``), and declaring a ``const`` twice is a
    SyntaxError in the browser console. The book does not use thebe, so its scripts go; any
    other inline script added twice is kept once.
    """
    scripts, seen = context.get("script_files"), set()
    if scripts is None:
        return
    kept = []
    for js in scripts:
        name = str(getattr(js, "filename", js) or "")
        body = getattr(js, "attributes", {}).get("body", "")
        if "thebe" in name or "THEBE_JS_URL" in body:
            continue
        key = (name, body)
        if body and key in seen:
            continue
        seen.add(key)
        kept.append(js)
    scripts[:] = kept
    css = context.get("css_files")
    if css is not None:
        css[:] = [c for c in css if "thebe" not in str(getattr(c, "filename", c))]


_REDIRECT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><link rel="icon" href="data:,">
<meta http-equiv="refresh" content="0; url={target}"></head>
<body><p><a href="{target}">{title}</a></p></body></html>
"""


def _write_index_redirect(app, exception) -> None:
    """Write ``index.html``, the redirect to the book's first page, with an empty icon.

    sphinx-external-toc's own redirect is a bare ``<meta>`` line, for which the browser asks
    the server for ``/favicon.ico`` (a 404), or, with a real icon, starts a request that the
    redirect then aborts: either is a failed request. An empty ``data:`` icon asks for
    nothing. External-toc writes its redirect only where there is none, so this runs first
    (priority 400).
    """
    import html

    if exception is not None or app.builder.name != "html" or app.config.root_doc == "index":
        return
    Path(app.outdir, "index.html").write_text(_REDIRECT.format(
        title=html.escape(app.config.html_title or app.config.project),
        target=f"{app.config.root_doc}.html"), encoding="utf-8")


def setup(app) -> dict:
    """Sphinx entry point (``lthkit.pages`` in the book's extensions)."""
    app.connect("html-page-context", _drop_unused_scripts)
    app.connect("build-finished", _write_index_redirect, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
