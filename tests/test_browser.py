"""The built book as a reader sees it, in a real browser (Debian's Chromium, driven by Playwright).

The book is built from the real chapters, executed with their CI parameters (shared with
test_book.py), into a temporary folder, or taken from ``$LTHKIT_BOOK_HTML`` (e.g.
``book/_build/html`` after ``make book``), and served on 127.0.0.1. For every page:

- each chart draws: as many Vega views as the page has charts, each an ``svg``/``canvas``;
- no request leaves the machine (any other host is blocked and reported), none fails;
- no console error or warning, no uncaught exception (``ALLOWED_CONSOLE`` names any we allow);
- every internal link resolves, to a page that exists and an anchor on it;
- at 390 px wide the page does not scroll sideways and each chart fits its column;
- in dark mode verdicts keep a contrast of at least 4.5:1 and charts sit on a light card;
- on chapter pages no code cell longer than the hide rule's limit is shown unfolded;
and the search page finds a word of each chapter's title on that chapter.

Screenshots of every page (desktop light, 390 px, desktop dark) are written to
``test-artifacts/browser/`` (or ``$LTHKIT_ARTIFACTS/browser/``). Needs the ``playwright``
package (extra ``browser``) and ``/usr/bin/chromium`` (or ``$LTHKIT_CHROMIUM``); ``make test``
installs both where it can and this module is skipped, saying why, where it could not.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import ROOT, copy_book
from lthkit import pages

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the playwright package is not installed; `make test` installs it with "
           "pip install -e '.[browser]' (that step failed or was not run)")
CHROMIUM = Path(os.environ.get("LTHKIT_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium with apt "
                "when run as root; elsewhere install it or set LTHKIT_CHROMIUM",
                allow_module_level=True)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ARTIFACTS = Path(os.environ.get("LTHKIT_ARTIFACTS") or ROOT / "test-artifacts") / "browser"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Console messages we accept, each with the reason. Messages of type "log"/"info"/"debug"
# (the theme's "[PST]: Changed to auto mode ...", togglebutton's count) are never errors.
ALLOWED_CONSOLE: dict[str, str] = {}
# Flags that keep Chromium off the network: no background services, updates, first-run pages.
FLAGS = ["--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--no-default-browser-check", "--disable-default-apps", "--disable-sync",
         "--disable-domain-reliability", "--disable-client-side-phishing-detection",
         "--metrics-recording-only", "--disable-breakpad"]


# --- the book, the server, the browser ---------------------------------------------------

@pytest.fixture(scope="module")
def html_dir(executed, tmp_path_factory) -> Path:
    """The built book's HTML folder: ``$LTHKIT_BOOK_HTML``, else a book built here from the
    real chapters run with their CI parameters."""
    given = os.environ.get("LTHKIT_BOOK_HTML")
    if given:
        return Path(given).resolve()
    from lthkit import book

    book_dir = copy_book(tmp_path_factory.mktemp("browser") / "book")
    for nb in NOTEBOOKS:
        shutil.copytree(executed(nb), book_dir / "chapters" / nb.stem)
    return book.build_html(book_dir, quiet=True).parent


@pytest.fixture(scope="module")
def base_url(html_dir):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def handle(self):
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser stopped reading (it moved on to another page)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(html_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    args = FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else [])  # root has no sandbox
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page_paths(html_dir) -> list[str]:
    """Every page of the built book, relative to its root."""
    found = sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                   if not p.relative_to(html_dir).parts[0].startswith("_"))
    assert "scoreboard.html" in found and len(found) >= 5 + len(NOTEBOOKS), found
    return found


class Visit:
    """One browser context that records console messages and requests of each page."""

    def __init__(self, browser, base_url, *, viewport, scheme="light"):
        self.base, self.problems = base_url, []
        self.context = browser.new_context(viewport=viewport, color_scheme=scheme,
                                           service_workers="block")
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught exception: {e}"))
        self.page.on("requestfailed",
                     lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"HTTP {r.status}: {r.url}"))

    def _only_local(self, route):
        url = route.request.url
        if url.startswith(self.base) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.problems.append(f"request to another host (blocked): {url}")
            route.abort("blockedbyclient")

    def _console(self, msg):
        if msg.type in ("error", "warning", "assert"):
            if not any(text in msg.text for text in ALLOWED_CONSOLE):
                self.problems.append(f"console {msg.type}: {msg.text}")

    def open(self, path: str):
        self.problems = []
        self.page.goto(self.base + path, wait_until="networkidle")
        try:  # every chart drawn by the Vega bundle, or failed to be
            self.page.wait_for_function(
                "() => [...document.querySelectorAll('div.lthkit-vega')]"
                ".every(e => e.dataset.drawn === 'done' || e.dataset.drawn === 'error')",
                timeout=20_000)
        except sync_api.TimeoutError:
            self.problems.append("charts still not drawn after 20 s")
        return self.page

    def shot(self, path: str, kind: str) -> Path:
        out = ARTIFACTS / kind / (path.replace("/", "__").removesuffix(".html") + ".png")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(out), full_page=True)
        return out

    def close(self):
        self.context.close()


def report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n  " + "\n  ".join(p) for page, p in problems.items() if p)


# --- checks --------------------------------------------------------------------------------

CHARTS = """() => [...document.querySelectorAll('div.lthkit-vega')].map(el => {
  const view = el.querySelector('.lthkit-vega-view');
  const drawn = view ? view.querySelectorAll('svg.marks, canvas.marks') : [];
  const box = drawn.length ? drawn[0].getBoundingClientRect() : {width: 0, height: 0};
  return {state: el.dataset.drawn, drawn: drawn.length, width: box.width, height: box.height,
          room: el.clientWidth, overflow: el.scrollWidth - el.clientWidth,
          static: !!el.querySelector('.lthkit-vega-static')};
})"""


def chart_problems(page, html_text: str) -> list[str]:
    expected = html_text.count('class="lthkit-vega"')
    charts = page.evaluate(CHARTS)
    out = [] if len(charts) == expected else [f"{len(charts)} chart containers, {expected} in "
                                              "the HTML"]
    for i, c in enumerate(charts, 1):
        if c["state"] != "done" or c["drawn"] != 1 or not (c["width"] > 0 and c["height"] > 0):
            out.append(f"chart {i} not drawn: {c}")
        elif c["static"]:
            out.append(f"chart {i}: the static fallback was not replaced")
    return out


def link_problems(page, html_dir: Path, base: str) -> list[str]:
    out = []
    for href in sorted(set(page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"))):
        if not href.startswith(base):
            continue  # another host: a plain link (e.g. to a paper), never loaded
        parts = urlsplit(href)
        rel = unquote(parts.path[len(urlsplit(base).path):]) or "index.html"
        target = html_dir / (rel + "index.html" if rel.endswith("/") else rel)
        if not target.is_file():
            out.append(f"broken link: {href}")
        elif parts.fragment and target.suffix == ".html":
            text = target.read_text(encoding="utf-8", errors="replace")
            frag = re.escape(unquote(parts.fragment))
            if not re.search(rf"""\b(id|name)=["']{frag}["']""", text):
                out.append(f"link to a missing anchor: {href}")
    return out


def luminance(rgb: list[float]) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


COLOURS = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const background = el => {   // the first ancestor-or-self with an opaque background
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  return {
    theme: document.documentElement.dataset.theme,
    verdicts: [...document.querySelectorAll('.lthkit-verdict')].map(
      v => ({text: v.textContent, fg: rgb(getComputedStyle(v).color), bg: background(v)})),
    charts: [...document.querySelectorAll('div.lthkit-vega')].map(el => background(el)),
  };
}"""


# --- the tests -------------------------------------------------------------------------------

def check_every_page(browser, base_url, paths, check, *, kind, viewport=DESKTOP,
                     scheme="light") -> None:
    """Open each page, run ``check(page, path) -> [problem, ...]``, screenshot it into
    ``ARTIFACTS/kind/``; fail listing every problem of every page (console, requests too)."""
    visit, problems = Visit(browser, base_url, viewport=viewport, scheme=scheme), {}
    try:
        for path in paths:
            page = visit.open(path)
            found = check(page, path)
            visit.shot(path, kind)
            problems[path] = visit.problems + found
    finally:
        visit.close()
    assert not report(problems), report(problems)


def test_every_page_works_offline_without_errors(browser, base_url, html_dir, page_paths):
    def check(page, path):
        text = (html_dir / path).read_text(encoding="utf-8")
        return chart_problems(page, text) + link_problems(page, html_dir, base_url)
    check_every_page(browser, base_url, page_paths, check, kind="desktop")


def test_pages_fit_a_phone(browser, base_url, page_paths):
    def check(page, path):
        scroll = page.evaluate("document.documentElement.scrollWidth")
        found = [] if scroll <= PHONE["width"] else [f"the page scrolls sideways: {scroll} px"]
        return found + [f"chart {i} does not fit its column: {c}"
                        for i, c in enumerate(page.evaluate(CHARTS), 1)
                        if c["drawn"] != 1 or c["width"] > c["room"] + 1 or c["overflow"] > 1]
    check_every_page(browser, base_url, page_paths, check, kind="phone-390px", viewport=PHONE)


def test_dark_mode_keeps_verdicts_and_charts_readable(browser, base_url, page_paths):
    verdicts_seen = []

    def check(page, path):
        colours = page.evaluate(COLOURS)
        found = [] if colours["theme"] == "dark" else [f"theme is {colours['theme']!r}"]
        for v in colours["verdicts"]:
            light, dark = sorted((luminance(v["fg"]), luminance(v["bg"])), reverse=True)
            ratio = (light + 0.05) / (dark + 0.05)
            if ratio < 4.5:
                found.append(f"verdict {v['text']!r}: contrast {ratio:.1f}:1 < 4.5:1")
        verdicts_seen.extend(colours["verdicts"])
        return found + [f"chart {i} sits on a dark background {bg}"  # Vega's text is dark
                        for i, bg in enumerate(colours["charts"], 1) if luminance(bg) < 0.8]
    check_every_page(browser, base_url, page_paths, check, kind="desktop-dark", scheme="dark")
    assert verdicts_seen, "no verdict on any page: the scoreboard should show them"


def title_word(notebook: Path, html_dir: Path) -> str:
    """The longest word of the chapter page's title: what a reader might search for."""
    text = (html_dir / "chapters" / notebook.stem / f"{notebook.stem}.html").read_text()
    title = re.sub(r"<[^>]+>", "", re.search(r"<h1[^>]*>(.*?)</h1>", text, re.S).group(1))
    return max(re.findall(r"[A-Za-z]{4,}", title), key=len)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_search_finds_each_chapter(nb, browser, base_url, html_dir):
    word = title_word(nb, html_dir)
    visit = Visit(browser, base_url, viewport=DESKTOP)
    try:
        page = visit.open(f"search.html?q={word}")
        hit = page.wait_for_selector(f'#search-results li a[href*="{nb.stem}.html"]',
                                     timeout=30_000)
        assert hit is not None, f"searching {word!r} does not find {nb.stem}"
        assert not visit.problems, visit.problems
    finally:
        visit.close()


def test_chapters_show_no_wall_of_code(browser, base_url):
    """Code cells left unfolded are the parameters, those tagged show-input, and short ones."""
    visit, problems = Visit(browser, base_url, viewport=DESKTOP), {}
    keep = ", ".join(f".tag_{t}" for t in sorted(pages.KEEP_VISIBLE))
    try:
        for nb in NOTEBOOKS:
            path = f"chapters/{nb.stem}/{nb.stem}.html"
            page = visit.open(path)
            shown = page.evaluate(f"""() => [...document.querySelectorAll('div.cell')]
                .filter(c => !c.matches('{keep}') && c.querySelector('.cell_input')
                             && !c.querySelector('details.hide'))
                .map(c => c.querySelector('.cell_input').innerText)""")
            problems[path] = [f"{pages.code_lines(code)} lines shown: {code[:60]!r}..."
                              for code in shown if pages.code_lines(code) > pages.MAX_VISIBLE_LINES]
    finally:
        visit.close()
    assert not report(problems), report(problems)
