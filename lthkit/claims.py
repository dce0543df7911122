"""A chapter's claims: what the paper says, what this run measured, and a verdict.

Each chapter ends with a claims table and writes it, with its parameters and headline
metrics, to ``metrics.json`` beside the executed notebook, so a batch of reruns can be
collected without parsing notebooks::

    from lthkit import claims
    records = [
        claims.claim("Tickets beat the dense network at 21% weights",
                     measured=0.981, expected="> 0.978 (dense)", holds=0.981 > 0.978,
                     fmt="accuracy"),
    ]
    claims.table(records)    # a DataFrame (claim, measured, expected, verdict) shown as a table
    claims.write_metrics(records, params={"preset": preset}, metrics={"dense_acc": 0.978})
    claims.collect(["runs"])                   # every runs/**/metrics.json, one row per claim
"""

from __future__ import annotations

import json
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from lthkit import tables

VERDICTS = ("pass", "fail", "inconclusive")
COLUMNS = ["claim", "measured", "expected", "verdict"]


@dataclass(frozen=True)
class Claim:
    """One claim of a paper checked against one run."""

    claim: str
    measured: Any
    expected: Any
    verdict: str
    fmt: tables.Format = None  # how measured (and a numeric expected) reads: see tables

    def shown(self) -> tuple[str, str]:
        """(measured, expected) as a reader sees them."""
        return (tables.format_value(self.measured, self.fmt),
                tables.format_value(self.expected, self.fmt))

    def as_dict(self) -> dict:
        """The claim in metrics.json; ``shown`` (the measured value as displayed) is there
        when the claim has a format, so the scoreboard shows what the chapter shows."""
        out = {"claim": self.claim, "measured": to_jsonable(self.measured),
               "expected": to_jsonable(self.expected), "verdict": self.verdict}
        if self.fmt is not None:
            out["shown"] = self.shown()[0]
        return out


def claim(text: str, measured: Any, expected: Any, holds: bool | None, *,
          fmt: tables.Format = None) -> Claim:
    """A claim with its verdict: ``holds`` True → pass, False → fail, None → inconclusive.

    Use ``holds=None`` when the run cannot decide (too few trials, a metric that is NaN, a
    sparsity the run did not reach) rather than forcing a pass or a fail. ``measured`` may be
    a number, an estimate ``(mean, lo, hi)`` or text; ``fmt`` says how its numbers read: a
    name in ``tables.FORMATS`` (``"accuracy"``: 0.981, ``"percent"``: 13.5%, ``"share"``:
    0.69 → 68.8%, ``"pp"``, ``"count"``, ``"ratio"``, ``"seconds"``), a format spec
    (``".2f"``) or a function; without one, numbers keep three significant digits.
    """
    if holds is None:
        verdict = "inconclusive"
    else:
        holds = to_jsonable(holds)  # numpy.bool_ / 0-d tensors → bool
        if not isinstance(holds, bool):
            raise TypeError(f"holds must be True, False or None, not {holds!r}")
        verdict = "pass" if holds else "fail"
    if fmt is not None:
        tables.format_value(1.0, fmt)  # a bad format fails here, not when displayed
    return Claim(str(text), measured, expected, verdict, fmt)


class ClaimsTable(pd.DataFrame):
    """The claims DataFrame, displayed (in a notebook and in the book) as a table for people:
    full claim text, formatted numbers, marked and coloured verdicts. Anything derived from
    it (a selection, a copy) is a plain DataFrame."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def _shown(self) -> list[list[str]]:
        shown = self.attrs.get("lthkit_shown")
        if shown is None or len(shown) != len(self):  # edited by hand: format the cells
            shown = [[tables.format_value(r.measured), tables.format_value(r.expected)]
                     for r in self.itertuples()]
        return shown

    def _repr_html_(self) -> str:
        rows = [(r.Index, r.claim, m, e, tables.verdict_html(r.verdict))
                for r, (m, e) in zip(self.itertuples(), self._shown())]
        return tables.html_table(["", *COLUMNS], rows, css="lthkit-claims", raw_columns=[4])

    def __repr__(self) -> str:
        return pd.DataFrame(self).to_string(max_colwidth=None)


def table(records: Iterable[Claim]) -> ClaimsTable:
    """The claims as a DataFrame (claim, measured, expected, verdict), one row per claim,
    numbered from 1. The cells hold the values; the display formats them (``fmt``)."""
    records = list(records)
    rows = [{"claim": r.claim, "measured": r.measured, "expected": r.expected,
             "verdict": r.verdict} for r in records]
    df = pd.DataFrame(rows, columns=COLUMNS, dtype=object)  # object: 36 stays 36, not 36.0
    df = df.where(df.notna(), tables.MISSING)  # an undecided measurement reads as a dash
    df.index = pd.RangeIndex(1, len(df) + 1)
    out = ClaimsTable(df)
    out.attrs["lthkit_shown"] = [list(r.shown()) for r in records]
    return out


def write_metrics(records: Iterable[Claim], params: Mapping[str, Any],
                  metrics: Mapping[str, Any] | None = None,
                  path: str | os.PathLike = "metrics.json") -> Path:
    """Write ``{"claims": [...], "params": {...}, "metrics": {...}}`` to ``path`` atomically.

    The default path is relative to the current directory, which ``lthkit run`` and
    ``lthkit book`` set to the folder of the executed notebook.
    """
    doc = {
        "claims": [r.as_dict() for r in records],
        "params": to_jsonable(dict(params)),
        "metrics": to_jsonable(dict(metrics or {})),
    }
    text = json.dumps(doc, indent=2, sort_keys=False, allow_nan=False) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name opened normally (mkstemp would make the file private, 0600).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def to_jsonable(x: Any) -> Any:
    """Convert numpy/torch scalars and arrays, dataclasses, paths and NaN into plain JSON.

    NaN and infinities become None (JSON has no NaN); tuples and sets become lists.
    """
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        items = sorted(x, key=repr) if isinstance(x, (set, frozenset)) else x
        return [to_jsonable(v) for v in items]
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    if hasattr(x, "__dataclass_fields__") and not isinstance(x, type):
        from dataclasses import asdict
        return to_jsonable(asdict(x))
    # numpy and torch without importing either: 0-d → .item(), arrays → .tolist()
    if hasattr(x, "tolist") and callable(x.tolist):
        return to_jsonable(x.tolist())
    if hasattr(x, "item") and callable(x.item):
        return to_jsonable(x.item())
    if hasattr(x, "isoformat"):
        return x.isoformat()
    return str(x)


def collect(paths: Iterable[str | os.PathLike]) -> pd.DataFrame:
    """One row per claim per run from ``metrics.json`` files (or folders searched for them):
    columns ``run``, then every parameter seen, then claim, measured, expected, verdict."""
    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(p.rglob("metrics.json")) if p.is_dir() else [p]
    rows, params = [], []
    for f in files:
        doc = _read_metrics(f)
        for name in doc.get("params", {}):
            if name not in params:
                params.append(name)
        for c in doc.get("claims", []):
            rows.append({"run": str(f.parent), **doc.get("params", {}), **c})
    return pd.DataFrame(rows, columns=["run", *[p for p in params if p not in COLUMNS],
                                       *COLUMNS])


def _read_metrics(path: Path) -> dict:
    """A metrics.json as written by ``write_metrics``; ValueError naming the file otherwise."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable metrics.json ({e})") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("claims"), list)
            and all(isinstance(c, dict) for c in doc["claims"])
            and isinstance(doc.get("params", {}), dict)):
        raise ValueError(f"{path}: not a metrics.json (expected {{\"claims\": [{{...}}, ...], "
                         f"\"params\": {{...}}, \"metrics\": {{...}}}})")
    return doc
