"""What a spec file holds once parsed: declarations, helpers, and the goal with its examples.

    prog = parse_file("spec.ml"); prog.goal.name, prog.goal.type, prog.goal.examples

Examples are refinements of the goal's type (Frankle et al., POPL 2016): besides values they
may hold ``ExTable`` (a function given by input/output pairs, an intersection of arrows),
``Top`` (any value of a type: a type name in example position), ``Union`` (one of several),
``Not`` (any value but these) and ``Abstract`` (an opaque value of a type variable, ``a1``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .syntax import UNIT, subst_type, type_args


class ExTable:
    """Examples of a function: (input, output) pairs; outputs may be tables.  ``positions``
    holds the ``(file, line, col)`` of each pair, for messages about contradictory examples."""
    __slots__ = ("entries", "pos", "positions")

    def __init__(self, entries, pos=None, positions=None):
        self.entries, self.pos = list(entries), pos
        self.positions = list(positions) if positions is not None else [pos] * len(self.entries)


class Not:
    """A negative example ``in -> not(v)``: the output must differ from ``v``."""
    __slots__ = ("value", "type")

    def __init__(self, value, typ=None):
        self.value, self.type = value, typ


class Union:
    """``\\/(r1, ..., rn)``: a value of any of the alternatives."""
    __slots__ = ("alts", "pos")

    def __init__(self, alts, pos=None):
        self.alts, self.pos = list(alts), pos


class Top:
    """Any value of a type: a type name in example position (``nat``, ``'a``, ``list``).
    ``name`` is what was written; ``type`` is filled in by the type checker."""
    __slots__ = ("name", "type", "pos")

    def __init__(self, name, typ=None, pos=None):
        self.name, self.type, self.pos = name, typ, pos


class Abstract:
    """An opaque example value of a type variable (``a1``, ``b1``): equal only to itself."""
    __slots__ = ("name", "type")

    def __init__(self, name, typ):
        self.name, self.type = name, typ


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
    params: dict = field(default_factory=dict)      # type name -> its type variables ('a, ...)
    ctors: dict = field(default_factory=dict)       # ctor -> (type name, arg type)
    positions: dict = field(default_factory=dict)   # type name -> (file, line, col) declared
    globals: list = field(default_factory=list)     # [(name, type, expr, pos)]
    goal: Goal | None = None
    style: str = "myth"                             # "myth" or "products"
    abstract: dict = field(default_factory=dict)    # abstract example value -> its type variable
    unions: bool = False                            # some example holds a union
    _ctors_of: dict = field(default_factory=dict, repr=False)

    def ctors_of(self, typ):
        """[(ctor, argument type)] of a datatype, its type variables instantiated by ``typ``'s
        arguments (``Cons`` of ``nat list`` carries ``nat * nat list``)."""
        got = self._ctors_of.get(typ)
        if got is None:
            sub = dict(zip(self.params.get(typ[1], ()), type_args(typ)))
            got = [(c, subst_type(a, sub)) for c, a in self.datatypes[typ[1]]]
            self._ctors_of[typ] = got
        return got

    def ctor_arg(self, cname, typ):
        """The argument type of constructor ``cname`` in the datatype ``typ``."""
        if not self.params.get(typ[1]):
            return self.ctors[cname][1]
        return dict(self.ctors_of(typ))[cname]

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
