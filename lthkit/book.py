"""Execute chapter notebooks with papermill and build the book with Jupyter Book 1.

    from lthkit import book
    book.execute("notebooks/01-lottery.ipynb", "runs/lth-paper", {"preset": "paper"})
    book.build_book(".")        # what `lthkit book` / `make book` do

``execute`` runs one notebook with the kernel's working directory set to the output folder, so
the chapter's ``metrics.json`` lands beside the executed copy. ``build_book`` executes every
``notebooks/*.ipynb`` on its default parameters into ``book/chapters/<stem>/``, skipping those
whose inputs (notebook, parameters, lthkit's source) have not changed since their last
successful run, then ``build_html`` prepares the pages (``prepare_pages``: long code cells
hidden by ``lthkit.pages``' rule, the scoreboard written from the chapters' ``metrics.json``,
``book/_toc.yml``), builds the HTML with warnings as errors and checks that no page loads
anything from a CDN.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from lthkit import pages, scoreboard

KERNEL = os.environ.get("LTHKIT_KERNEL", "lthkit")
STAMP = ".lthkit-stamp.json"


class NotebookError(RuntimeError):
    """A notebook failed to execute; the message names the notebook and the cell."""


class BadParameters(ValueError):
    """Parameters rejected by ``lthkit.hparams.resolve`` before anything ran."""


class BuildError(RuntimeError):
    """The book did not build, or its HTML loads something from the network."""


# --- one notebook ------------------------------------------------------------------------

def notebook_metadata(path: str | os.PathLike) -> dict:
    """The notebook's ``metadata["lthkit"]`` (chapter name, CI parameters, ...)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f).get("metadata", {}).get("lthkit", {})


def validate_parameters(notebook: str | os.PathLike, parameters: Mapping[str, Any]) -> bool:
    """Check parameters with ``hparams.resolve(chapter, **parameters)``, and the data and
    device they name with ``preflight.check``, before any run.

    Returns False when the notebook names no chapter (nothing to check against).
    Raises ``BadParameters`` with the message when a value, a name, data or a device is wrong.
    """
    chapter = notebook_metadata(notebook).get("chapter")
    if not chapter:
        return False
    from lthkit import hparams, preflight
    try:
        preflight.check(hparams.resolve(chapter, **dict(parameters)))
    except hparams.ParameterError as e:
        raise BadParameters(str(e)) from e
    return True


def store_root() -> Path:
    """Absolute result-store root: ``$LTHKIT_STORE``, else ``.lthkit`` in the current folder."""
    return Path(os.environ.get("LTHKIT_STORE") or ".lthkit").resolve()


@contextmanager
def kernel_environment(store: str | os.PathLike | None = None) -> Iterator[None]:
    """Environment the kernel inherits: an absolute LTHKIT_STORE, and this environment's
    kernels first on JUPYTER_PATH (a user-wide kernel of the same name would shadow it)."""
    saved = {k: os.environ.get(k) for k in ("LTHKIT_STORE", "JUPYTER_PATH")}
    os.environ["LTHKIT_STORE"] = str(Path(store).resolve() if store else store_root())
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(Path(sys.prefix) / "share" / "jupyter"), saved["JUPYTER_PATH"]) if p)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_kernel(name: str = KERNEL) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise NotebookError(
            f"no Jupyter kernel named {name!r}; register this environment's Python with "
            f"`{sys.executable} -m ipykernel install --sys-prefix --name {name}` "
            f"(`make book` and `make test` do this)") from None


def execute(notebook: str | os.PathLike, out_dir: str | os.PathLike,
            parameters: Mapping[str, Any] | None = None, *, kernel: str = KERNEL,
            progress: bool = True, store: str | os.PathLike | None = None) -> Path:
    """Execute ``notebook`` into ``out_dir/<stem>.ipynb``, the kernel running in ``out_dir``.

    The copy is written as ``<stem>.partial.ipynb`` while cells run and renamed when all
    succeeded, so an interrupted run never leaves a finished-looking notebook. A previous run's
    notebook and ``metrics.json`` are removed first: a run that fails leaves no stale results.
    On a failing cell the partial copy is kept as ``<stem>.failed.ipynb`` and ``NotebookError``
    says where; on Ctrl-C or SIGTERM (``procs.Interrupted``) it is kept as
    ``<stem>.interrupted.ipynb``, named by the exception's ``partial``. The kernel and every
    process it started are gone when this returns or raises.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from lthkit import procs

    notebook, out_dir = Path(notebook).resolve(), Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{notebook.stem}.ipynb"
    if final == notebook:
        raise NotebookError(f"{notebook}: the output would overwrite the notebook itself")
    partial = out_dir / f"{notebook.stem}.partial.ipynb"
    failed = out_dir / f"{notebook.stem}.failed.ipynb"
    interrupted = out_dir / f"{notebook.stem}.interrupted.ipynb"
    for stale in (final, partial, failed, interrupted, out_dir / "metrics.json"):
        stale.unlink(missing_ok=True)
    with kernel_environment(store), procs.kernel_guard() as kernel_manager:
        check_kernel(kernel)
        try:
            papermill.execute_notebook(
                str(notebook), str(partial), parameters=dict(parameters or {}),
                kernel_name=kernel, cwd=str(out_dir), progress_bar=progress,
                kernel_manager_class=kernel_manager)
        except PapermillExecutionError as e:
            if partial.exists():
                os.replace(partial, failed)
            first_line = next((ln for ln in str(e.source).splitlines() if ln.strip()), "")
            raise NotebookError(
                f"{notebook}: cell {e.cell_index} (In [{e.exec_count}]) raised "
                f"{e.ename}: {e.evalue}\n  cell starts: {first_line[:100]}\n"
                f"  executed copy with the traceback: {failed}") from None
        except KeyboardInterrupt as e:
            if partial.exists():
                os.replace(partial, interrupted)
            raise procs.Interrupted(getattr(e, "signum", signal.SIGINT),
                                    interrupted if interrupted.exists() else None) from None
    os.replace(partial, final)
    return final


# --- the book ----------------------------------------------------------------------------

def source_hash() -> str:
    """Hash of lthkit's own files: a change to the code re-executes the chapters."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            h.update(p.relative_to(root).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def chapter_key(notebook: Path, parameters: Mapping[str, Any], code: str, kernel: str) -> dict:
    return {"notebook": hashlib.sha256(notebook.read_bytes()).hexdigest(),
            "parameters": json.loads(json.dumps(dict(parameters), sort_keys=True, default=str)),
            "code": code, "kernel": kernel}


def execute_chapter(notebook: Path, chapters_dir: Path, *, force: bool = False,
                    parameters: Mapping[str, Any] | None = None, code: str | None = None,
                    kernel: str = KERNEL, progress: bool = True) -> bool:
    """Execute one chapter into ``chapters_dir/<stem>/`` unless it is up to date.

    Returns True if it ran. The chapter is executed in a staging folder that replaces the
    old one only on success, with its stamp inside: a crash at any point leaves either the
    previous complete chapter or nothing, never a half-written one that counts as done.
    """
    notebook = Path(notebook).resolve()
    stem, parameters = notebook.stem, dict(parameters or {})
    dest = chapters_dir / stem
    key = chapter_key(notebook, parameters, code or source_hash(), kernel)
    stamp = dest / STAMP
    if not force and (dest / f"{stem}.ipynb").exists() and stamp.exists():
        try:
            if json.loads(stamp.read_text())["key"] == key:
                return False
        except (ValueError, KeyError):
            pass
    staging, old = chapters_dir / f".{stem}.staging", chapters_dir / f".{stem}.old"
    for d in (staging, old):
        shutil.rmtree(d, ignore_errors=True)
    start = time.monotonic()
    execute(notebook, staging, parameters, kernel=kernel, progress=progress)
    (staging / STAMP).write_text(json.dumps(
        {"key": key, "seconds": round(time.monotonic() - start, 1)}, indent=1))
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)
    return True


def chapters(book_dir: Path) -> list[Path]:
    """Executed chapters in ``book_dir/chapters/<stem>/<stem>.ipynb``, by file name."""
    found = (book_dir / "chapters").glob("*/*.ipynb")
    return sorted((p for p in found if p.stem == p.parent.name), key=lambda p: p.stem)


def book_order(book_dir: Path) -> tuple[list[Path], list[Path]]:
    """The executed chapters in the book's order: (chapters, appendix), the appendix being
    the names starting with A."""
    found = chapters(book_dir)
    return ([p for p in found if not p.stem.startswith("A")],
            [p for p in found if p.stem.startswith("A")])


def toc(book_dir: Path) -> dict:
    """The table of contents: intro, the scoreboard, the chapters, the appendix, then the
    references."""
    main, appendix = book_order(book_dir)
    parts = [{"caption": "At a glance", "chapters": [{"file": scoreboard.PAGE}]}]
    parts += [{"caption": c, "chapters": [{"file": f"chapters/{p.stem}/{p.stem}"} for p in ch]}
              for c, ch in (("Chapters", main), ("Appendix", appendix)) if ch]
    parts.append({"caption": "Back matter", "chapters": [{"file": "references"}]})
    return {"format": "jb-book", "root": "intro", "parts": parts}


def write_toc(book_dir: Path) -> Path:
    """Write ``_toc.yml`` from the executed chapters; left untouched when unchanged, so an
    incremental build stays incremental."""
    path = book_dir / "_toc.yml"
    text = ("# Generated by `lthkit book` from notebooks/*.ipynb: do not edit.\n"
            + yaml.safe_dump(toc(book_dir), sort_keys=False))
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def prepare_pages(book_dir: Path) -> None:
    """Turn the executed chapters into pages: hide their long code cells (the rule in
    ``lthkit.pages``), write the scoreboard from their metrics.json, write ``_toc.yml``."""
    main, appendix = book_order(book_dir)
    for nb in main + appendix:
        pages.hide_code(nb)
    scoreboard.write(book_dir, main + appendix)
    write_toc(book_dir)


def build_html(book_dir: Path, *, quiet: bool = False) -> Path:
    """``jupyter-book build`` with warnings as errors; returns ``_build/html/index.html``."""
    book_dir = Path(book_dir).resolve()
    prepare_pages(book_dir)
    script = Path(sys.executable).with_name("jupyter-book")
    cmd = ([str(script)] if script.exists() else
           [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"])
    cmd += ["build", str(book_dir), "-W", "-n", "--keep-going"] + (["-q"] if quiet else [])
    if subprocess.run(cmd).returncode != 0:
        raise BuildError(f"jupyter-book build {book_dir} failed (warnings are errors): "
                         "see the messages above")
    index = book_dir / "_build" / "html" / "index.html"
    if not index.exists():
        raise BuildError(f"the build wrote no {index}")
    remote = find_remote_loads(index.parent)
    if remote:
        listing = "\n".join(f"  {f}: {ref}" for f, ref in remote[:20])
        raise BuildError(f"the book loads {len(remote)} resource(s) from the network:\n{listing}")
    return index


_TAG = re.compile(r"<(script|link|img|iframe|embed|source)\b[^>]*>", re.I)
_ATTR = re.compile(r"""\b(src|href|rel)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.I)
_CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])((?:https?:)?//[^"')\s]+)""", re.I)
_NOT_LOADED = {"canonical", "alternate", "author", "license", "next", "prev", "search",
               "index", "help", "copyright", "me"}


def find_remote_loads(html_dir: str | os.PathLike) -> list[tuple[str, str]]:
    """(file, url) for every script, stylesheet, font, image or frame an HTML page or a CSS
    file would fetch from another host. Plain links (``<a href>``) are not loads."""
    html_dir, found = Path(html_dir), []
    for page in sorted(html_dir.rglob("*.html")):
        for tag in _TAG.finditer(page.read_text(encoding="utf-8", errors="replace")):
            attrs = {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(tag.group(0))}
            url = attrs.get("src") or attrs.get("href") or ""
            rels = set(attrs.get("rel", "").lower().split())
            if re.match(r"(https?:)?//", url, re.I) and not (rels and rels <= _NOT_LOADED):
                found.append((str(page.relative_to(html_dir)), url))
    for css in sorted(html_dir.rglob("*.css")):
        for url in _CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace")):
            found.append((str(css.relative_to(html_dir)), url))
    return found


def _find_notebook(name: str, nb_dir: Path) -> Path:
    """A path, or a name in notebooks/ with or without ``.ipynb``."""
    for p in (Path(name), nb_dir / name, nb_dir / f"{name}.ipynb"):
        if p.is_file():
            return p.resolve()
    return Path(name).resolve()


def build_book(root: str | os.PathLike = ".", notebooks: list[str] | None = None, *,
               force: bool = False, build: bool = True, kernel: str = KERNEL,
               progress: bool = True) -> Path | None:
    """Execute the chapters (default preset) into ``book/chapters`` and build the HTML."""
    root = Path(root).resolve()
    book_dir, nb_dir = root / "book", root / "notebooks"
    if not (book_dir / "_config.yml").exists():
        raise BuildError(f"{root} has no book/_config.yml: run from the repository root")
    every = sorted(nb_dir.glob("*.ipynb"))
    chapters_dir = book_dir / "chapters"
    chapters_dir.mkdir(parents=True, exist_ok=True)
    # A chapter whose notebook is gone leaves the book.
    stems = {p.stem for p in every}
    for d in chapters_dir.iterdir():
        if d.is_dir() and not d.name.startswith(".") and d.name not in stems:
            shutil.rmtree(d)
    selected = every if not notebooks else [_find_notebook(n, nb_dir) for n in notebooks]
    code = source_hash()
    for i, nb in enumerate(selected, 1):
        if not nb.exists():
            raise NotebookError(f"{nb}: no such notebook")
        label = f"[{i}/{len(selected)}] {nb.name}"
        print(f"{label}: checking", flush=True)
        start = time.monotonic()
        ran = execute_chapter(nb, chapters_dir, force=force, code=code, kernel=kernel,
                              progress=progress)
        took = time.monotonic() - start
        print(f"{label}: {'executed in %.0f s' % took if ran else 'up to date, not re-run'}",
              flush=True)
    if not build:
        return None
    print("building the HTML with jupyter-book (warnings are errors)", flush=True)
    return build_html(book_dir)
