"""A chapter's claims: what the paper says, what this run measured, and a verdict.

Each chapter ends with a claims table and writes it, with its parameters and headline
metrics, to ``metrics.json`` beside the executed notebook, so a batch of reruns can be
collected without parsing notebooks::

    from lthkit import claims
    records = [
        claims.claim("Tickets beat the dense network at 21% weights",
                     measured=0.981, expected="> 0.978 (dense)", holds=0.981 > 0.978),
    ]
    claims.table(records)                      # a DataFrame: claim, measured, expected, verdict
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

VERDICTS = ("pass", "fail", "inconclusive")
COLUMNS = ["claim", "measured", "expected", "verdict"]


@dataclass(frozen=True)
class Claim:
    """One claim of a paper checked against one run."""

    claim: str
    measured: Any
    expected: Any
    verdict: str

    def as_dict(self) -> dict:
        return {"claim": self.claim, "measured": to_jsonable(self.measured),
                "expected": to_jsonable(self.expected), "verdict": self.verdict}


def claim(text: str, measured: Any, expected: Any, holds: bool | None) -> Claim:
    """A claim with its verdict: ``holds`` True → pass, False → fail, None → inconclusive.

    Use ``holds=None`` when the run cannot decide (too few trials, a metric that is NaN, a
    sparsity the run did not reach) rather than forcing a pass or a fail.
    """
    if holds is None:
        verdict = "inconclusive"
    else:
        holds = to_jsonable(holds)  # numpy.bool_ / 0-d tensors → bool
        if not isinstance(holds, bool):
            raise TypeError(f"holds must be True, False or None, not {holds!r}")
        verdict = "pass" if holds else "fail"
    return Claim(str(text), measured, expected, verdict)


def table(records: Iterable[Claim]) -> pd.DataFrame:
    """The claims as a DataFrame (claim, measured, expected, verdict), one row per claim."""
    rows = [r.as_dict() for r in records]
    df = pd.DataFrame(rows, columns=COLUMNS, dtype=object)  # object: 36 stays 36, not 36.0
    df = df.where(df.notna(), "—")  # an undecided measurement reads as a dash, not NaN
    df.index = pd.RangeIndex(1, len(df) + 1)
    return df


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
