"""The scoreboard: every chapter's claims, measured values and verdicts on one page.

``lthkit book`` writes it at build time, from the ``metrics.json`` each executed chapter left
in ``book/chapters/<stem>/``, as ``book/scoreboard.md`` (generated, git-ignored), the page
after the introduction::

    from lthkit import book, scoreboard
    scoreboard.write("book", book.chapters(Path("book")))     # → book/scoreboard.md

Each claim links to its chapter's Claims section, where the chapter says how the verdict was
reached. A chapter without a ``metrics.json`` (or with one that cannot be read, or that lists
no claims) is listed with a sentence saying so, never left out.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from lthkit import tables

PAGE = "scoreboard"
VERDICT_ROLE = "verdict"  # {verdict}`pass`: a marked, coloured verdict (registered in setup)
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation, escaped in Markdown text
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def md_text(text: Any) -> str:
    """``text`` as literal Markdown: punctuation escaped, on one line."""
    return _PUNCT.sub(r"\\\1", " ".join(str(text).split()))


def _plain(markdown: str) -> str:
    """A heading's text without link targets or emphasis marks."""
    return re.sub(r"[*_`]", "", _LINK.sub(r"\1", markdown)).strip()


def _slug(title: str) -> str:
    """The anchor MyST gives a heading (``myst_heading_anchors``), GitHub's rule."""
    return re.sub(r"[^\w\u4e00-\u9fff\- ]", "", title.lower().replace(" ", "-"))


def chapter_info(notebook: Path) -> dict:
    """From an executed chapter: its title, the anchor of its Claims section (None if it has
    none), the parameters papermill set for the run, and its metrics.json (or why not)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    headings = [(len(m.group(1)), _plain(m.group(2)))
                for c in nb.get("cells", []) if c.get("cell_type") == "markdown"
                for m in _HEADING.finditer("".join(c.get("source", "")))]
    title = next((t for level, t in headings if level == 1), notebook.stem)
    claims_anchor = next((_slug(t) for level, t in headings
                          if level > 1 and t.lower().startswith("claims")), None)
    info = {"stem": notebook.stem, "title": title, "anchor": claims_anchor,
            "set": nb.get("metadata", {}).get("papermill", {}).get("parameters", {}),
            "metrics": None, "problem": None}
    path = notebook.with_name("metrics.json")
    if not path.exists():
        info["problem"] = ("This chapter left no `metrics.json`, so there is nothing to show: "
                           "its run did not reach its claims, or it makes none.")
        return info
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or not isinstance(doc.get("claims", []), list):
            raise ValueError("not an object with a list of claims")
    except ValueError as e:
        info["problem"] = f"This chapter's `metrics.json` could not be read ({md_text(e)})."
        return info
    info["metrics"] = doc
    if not doc.get("claims"):
        info["problem"] = "This chapter's `metrics.json` lists no claims."
    return info


def _run_line(info: dict) -> str:
    """The run's parameters: preset and seeds, then what was set for this run."""
    params = (info["metrics"] or {}).get("params", {})
    preset = params.get("preset", info["set"].get("preset"))
    parts = [f"preset `{preset}`" if preset is not None else "preset not recorded"]
    parts += [f"{md_text(k)} {md_text(tables.format_value(v))}"
              for k, v in params.items() if "seed" in k.lower()]
    overrides = ", ".join(f"{md_text(k)} = {md_text(tables.format_value(v))}"
                          for k, v in info["set"].items())
    parts.append(f"set for this run: {overrides}" if overrides else "no parameter overridden")
    return "Run: " + "; ".join(parts) + "."


def _count(verdicts: Counter) -> str:
    n = sum(verdicts.values())
    spread = ", ".join(f"{verdicts.get(v, 0)} {v}" for v in ("pass", "fail", "inconclusive"))
    return f"{n} claim{'s' * (n != 1)}: {spread}"


def markdown(chapters: list[Path]) -> str:
    """The scoreboard page (MyST Markdown) for executed chapter notebooks, in book order."""
    infos = [chapter_info(Path(nb)) for nb in chapters]
    total = Counter(c.get("verdict") for i in infos if i["metrics"]
                    for c in i["metrics"].get("claims", []))
    out = ["# Scoreboard", "",
           "Every claim the chapters check, with the value this build's run measured and the "
           "verdict. The page is generated from each chapter's `metrics.json` when the book "
           "is built; a claim links to its chapter's Claims section, which says how the "
           "verdict was reached. *inconclusive* means the run could not decide.", ""]
    if not infos:
        out += ["No chapter has been executed yet: run `lthkit book`.", ""]
    else:
        out += [f"**{_count(total)}, in {len(infos)} chapter{'s' * (len(infos) != 1)}.**", ""]
    for info in infos:
        doc_path = f"chapters/{info['stem']}/{info['stem']}.ipynb"
        target = doc_path + (f"#{info['anchor']}" if info["anchor"] else "")
        out += [f"## [{md_text(info['title'])}]({doc_path})", "", _run_line(info), ""]
        if info["problem"]:
            out += [info["problem"], ""]
            continue
        records = info["metrics"]["claims"]
        out += [_count(Counter(c.get("verdict") for c in records)) + ".", "",
                "```{list-table}", ":header-rows: 1", ":class: lthkit-table lthkit-scoreboard",
                "", "* - claim", "  - measured", "  - expected", "  - verdict"]
        for c in records:
            measured = c.get("shown") or tables.format_value(c.get("measured"))
            out += [f"* - [{md_text(c.get('claim', ''))}]({target})",
                    f"  - {md_text(measured)}",
                    f"  - {md_text(tables.format_value(c.get('expected')))}",
                    f"  - {{{VERDICT_ROLE}}}`{c.get('verdict', 'inconclusive')}`"]
        out += ["```", ""]
    return "\n".join(out)


def write(book_dir: str | Path, chapters: list[Path]) -> Path:
    """Write ``book_dir/scoreboard.md`` for the executed ``chapters`` (in book order); left
    untouched when unchanged, so an incremental build stays incremental."""
    path = Path(book_dir) / f"{PAGE}.md"
    text = ("<!-- Generated by `lthkit book` from book/chapters/*/metrics.json: "
            "do not edit. -->\n" + markdown(chapters))
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


# --- Sphinx: the verdict role ------------------------------------------------------------

def verdict_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{verdict}`pass``` → a span with the verdict's mark and classes (styled in
    book/_static/lthkit.css, in light and dark themes)."""
    from docutils import nodes

    verdict = text.strip()
    mark = tables.VERDICT_MARKS.get(verdict, "")
    node = nodes.inline(rawtext, f"{mark} {verdict}".strip(),
                        classes=["lthkit-verdict", f"lthkit-verdict-{verdict}"])
    return [node], []


def setup(app) -> dict:
    """Sphinx entry point (``lthkit.scoreboard`` in the book's extensions)."""
    app.add_role(VERDICT_ROLE, verdict_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
