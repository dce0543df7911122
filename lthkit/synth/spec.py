"""What a spec file holds once parsed: declarations, helpers, and the goal with its examples.

    prog = parse_file("spec.ml"); prog.goal.name, prog.goal.type, prog.goal.examples
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .syntax import UNIT


class ExTable:
    """Examples of a function: a list of (input, output) pairs; outputs may be tables."""
    __slots__ = ("entries", "pos")

    def __init__(self, entries, pos=None):
        self.entries, self.pos = list(entries), pos


class Not:
    """A negative example ``in -> not(v)``: the output must differ from ``v``."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


@dataclass
class Goal:
    name: str
    type: tuple
    examples: object  # ExTable
    pos: tuple


@dataclass
class Program:
    path: str
    datatypes: dict = field(default_factory=dict)   # type name -> [(ctor, arg type)]
    ctors: dict = field(default_factory=dict)       # ctor -> (type name, arg type)
    globals: list = field(default_factory=list)     # [(name, type, expr, pos)]
    goal: Goal | None = None
    style: str = "myth"                             # "myth" or "products"

    def nat_ctors(self):
        return literal_ctors(self, "nat")

    def list_ctors(self):
        return literal_ctors(self, "list")


def literal_ctors(prog, tname):
    """(nil-like ctor, cons-like ctor) of the datatype ``tname`` used by literal sugar."""
    cs = prog.datatypes.get(tname)
    if not cs:
        return None
    zero = [c for c, a in cs if a == UNIT]
    succ = [c for c, a in cs if a != UNIT]
    if len(zero) != 1 or len(succ) != 1:
        return None
    return zero[0], succ[0]
