"""Tables for people: numbers shown to the precision that means something, verdicts marked.

The claims tables, the scoreboard page and any results table a chapter shows format their
numbers here, so a reader sees ``0.981`` and ``13.5%``, never ``0.98125000`` or ``13.456789``::

    from lthkit import tables
    tables.format_value(0.98125, "accuracy")          # '0.981'
    tables.format_value((0.981, 0.975, 0.987))       # '0.981 [0.975, 0.987]' (mean, lo, hi)
    tables.formatted(pivot, values="accuracy", index="percent")   # a pandas Styler to display

A format is a name in ``FORMATS``, a Python format spec (``".2f"`` or ``"{:.1%}"``) or a
function of one number. Without one, a number keeps three significant digits.

Importing this module (``lthkit.claims`` does) lets pandas show every cell's full text
(``display.max_colwidth``): a chapter's tables wrap a long sentence, never cut it at 50
characters.
"""

from __future__ import annotations

import html
import math
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

# Named formats, for the quantities the chapters report.
FORMATS: dict[str, str] = {
    "accuracy": "{:.3f}",     # a fraction of correct answers: 0.981
    "percent": "{:.1f}%",     # a value already in percent, e.g. weights remaining: 13.5%
    "share": "{:.1%}",        # a fraction shown as a percentage: 0.6875 → 68.8%
    "pp": "{:+.1f} pp",       # a difference in percentage points: +0.3 pp
    "count": "{:,.0f}",       # iterations, trials: 1,200
    "ratio": "{:.2f}×",       # a factor: 1.75×
    "seconds": "{:.2f} s",
}
pd.set_option("display.max_colwidth", None)

MISSING = "—"  # what a missing or undefined number reads as (None, NaN)
VERDICT_MARKS = {"pass": "✓", "fail": "✗", "inconclusive": "?"}  # a cue besides colour

Format = str | Callable[[float], str] | None


def _formatter(fmt: Format) -> Callable[[float], str]:
    if fmt is None:
        return _significant
    if callable(fmt):
        return fmt
    if not isinstance(fmt, str):
        raise TypeError(f"a format is a name, a format spec or a function, not {fmt!r}")
    spec = FORMATS.get(fmt, fmt if "{" in fmt else "{:" + fmt + "}")
    try:
        spec.format(1.5)
    except (ValueError, IndexError, KeyError) as e:
        raise ValueError(f"unknown format {fmt!r}: use one of {sorted(FORMATS)} or a format "
                         f"spec such as '.3f' ({e})") from None
    return spec.format


def _significant(x: float) -> str:
    """Three significant digits, without exponent between 0.001 and a million."""
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if -3 <= magnitude < 6:
        return f"{x:,.{max(0, 2 - magnitude)}f}"
    return f"{x:.2e}"


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def format_value(value: Any, fmt: Format = None) -> str:
    """The text a reader sees for ``value``.

    Numbers (numpy scalars included) take ``fmt``; a 3-sequence of numbers is an estimate
    with its interval, ``(mean, lo, hi)`` → ``"mean [lo, hi]"`` (just the mean when the
    interval is undefined); other sequences are joined with commas; strings stay as they are;
    None and NaN read as a dash.
    """
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy / torch scalars
    if isinstance(value, str):
        return value
    if _missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _is_number(value):
        if isinstance(value, int) and fmt is None:
            return f"{value:,}"
        return _formatter(fmt)(value)
    if isinstance(value, (list, tuple)):
        if len(value) == 3 and all(_is_number(v) or _missing(v) for v in value):
            mean, lo, hi = (format_value(v, fmt) for v in value)
            return mean if MISSING in (lo, hi) else f"{mean} [{lo}, {hi}]"
        return ", ".join(format_value(v, fmt) for v in value)
    return str(value)


def formatted(df: pd.DataFrame, values: Format = None, *, index: Format = None,
              columns: Mapping[str, Format] | None = None):
    """``df`` as a pandas Styler that shows its numbers formatted, for display in a chapter.

    ``values`` formats every numeric cell, ``columns`` overrides it per column, ``index``
    formats the row labels (e.g. ``index="percent"`` for weights remaining). The numbers
    underneath are untouched: ``.data`` is ``df``.
    """
    per_column = {c: (columns or {}).get(c, values) for c in df.columns}
    styler = df.style.format({c: (lambda v, f=f: format_value(v, f))
                              for c, f in per_column.items()})
    if index is not None:
        styler = styler.format_index(lambda v: format_value(v, index), axis=0)
    # "dataframe": the book's theme styles it as it styles pandas tables, in both themes.
    return styler.set_table_attributes('class="dataframe"')


# --- HTML, styled by the book's CSS (book/_static/lthkit.css) ---------------------------

def verdict_html(verdict: str) -> str:
    """A verdict as a marked, classed span: ``<span class="lthkit-verdict pass">✓ pass</span>``."""
    mark = VERDICT_MARKS.get(verdict, "")
    return (f'<span class="lthkit-verdict lthkit-verdict-{html.escape(verdict)}">'
            f'{mark + " " if mark else ""}{html.escape(verdict)}</span>')


def html_table(header: Iterable[str], rows: Iterable[Iterable[str]], *, css: str,
               raw_columns: Iterable[int] = ()) -> str:
    """An HTML table of text cells, escaped except the columns in ``raw_columns`` (HTML)."""
    raw = set(raw_columns)
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if i in raw else html.escape(str(c))}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    # "dataframe": the theme styles it as it styles pandas tables, in light and dark mode.
    return (f'<table class="dataframe lthkit-table {css}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")
