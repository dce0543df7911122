"""What the appendix's assignment needs beside ``lthkit.synth``: run a program that was found,
and compare it with a reference program on random inputs::

    prog = parse_text(spec)
    found = synthesize(prog, timeout=10).program
    output(prog, found, "[1; 0]")                    # '[1; 1; 0]'
    computes(prog, found, "let rec f (l:list) : list = ...")     # True, False or None

Inputs are written as in a spec's examples (``[1; 0]``, ``S O``, ``True``); a reference is a
``let`` declaration over the spec's own types, like the ``.intended`` files beside our problems.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from lthkit.synth.compare import agree, reference_program
from lthkit.synth.evaluate import Store
from lthkit.synth.parser import parse_expr


def _with_reference(text: str, use):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reference.intended"
        path.write_text(text)
        return use(str(path))


def output(prog, program, *inputs: str) -> str:
    """What ``program`` (a term found for ``prog``, or a reference's source text) gives for
    ``inputs``, shown as the spec would write it."""
    if isinstance(program, str):
        program = _with_reference(program, lambda path: reference_program(path, prog))
    store = Store(prog)
    value = store.eval(program, {})
    for text in inputs:
        value = store.apply(value, store.eval(parse_expr(text, prog), {}))
    return store.show(value)


def computes(prog, program, reference: str, trials: int = 300, size: int = 12,
             seed: int = 0) -> bool | None:
    """Whether ``program`` gives the reference's outputs on ``trials`` random inputs of at
    most ``size`` constructors (None when inputs of its type cannot be drawn)."""
    if program is None:
        return False
    return _with_reference(reference, lambda path: agree(prog, path, program, trials, size,
                                                         seed, lambda: None))
