"""Training time as a value: ``Step.parse("1ep20it")``.

Papers state schedules in epochs and rewinding points in iterations; a ``Step`` holds both parts
and converts them exactly once the epoch length is known::

    Step.parse("2ep").iterations(iterations_per_epoch=59)   # 118
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERN = re.compile(r"^\s*(?:(\d+)\s*ep)?\s*(?:(\d+)\s*it)?\s*$")


@dataclass(frozen=True)
class Step:
    """``epochs`` whole epochs plus ``its`` further iterations."""

    epochs: int = 0
    its: int = 0

    def __post_init__(self):
        if self.epochs < 0 or self.its < 0:
            raise ValueError(f"a Step cannot be negative: {self.epochs}ep{self.its}it")

    @classmethod
    def parse(cls, text: str | int | Step) -> Step:
        """``"500it"``, ``"2ep"``, ``"1ep20it"``; an int counts iterations."""
        if isinstance(text, Step):
            return text
        if isinstance(text, int) and not isinstance(text, bool):
            return cls(0, text)
        match = _PATTERN.match(str(text)) if isinstance(text, str) else None
        if not match or not any(match.groups()):
            raise ValueError(
                f"cannot read {text!r} as a training step: write e.g. '500it', '2ep' or '1ep20it'"
            )
        epochs, its = match.groups()
        return cls(int(epochs or 0), int(its or 0))

    def iterations(self, iterations_per_epoch: int) -> int:
        """The absolute iteration this step names, for an epoch of the given length."""
        if iterations_per_epoch <= 0:
            raise ValueError("iterations_per_epoch must be positive")
        return self.epochs * iterations_per_epoch + self.its

    @classmethod
    def from_iterations(cls, iteration: int, iterations_per_epoch: int) -> Step:
        if iterations_per_epoch <= 0:
            raise ValueError("iterations_per_epoch must be positive")
        epochs, its = divmod(int(iteration), iterations_per_epoch)
        return cls(epochs, its)

    def __str__(self) -> str:
        if self.epochs and self.its:
            return f"{self.epochs}ep{self.its}it"
        if self.epochs:
            return f"{self.epochs}ep"
        return f"{self.its}it"
