"""A goal's examples as values of the store, checked for contradictions.

In input position a union is distributed: ``\\/(a, b) -> r`` is the two examples ``a -> r`` and
``b -> r`` (also inside a constructor: ``Node \\/(x, y)``), so each example world the search
splits by input is one input refinement.  In output position a union stays a union.  Two
examples whose inputs may overlap must have outputs with something in common; otherwise the
spec is contradictory and the error names both examples by ``file:line:col``.

    ev = ExampleValues(store); goal = ev.value(prog.goal.examples)    # a table id
"""
from __future__ import annotations

import itertools
import math

from .lexer import SynthInputError
from .pretty import inline
from .refine import disjoint, exact, top
from .spec import Abstract, ExTable, Not, Top, Union
from .syntax import Ctor, NatLit, Tuple, Unit

MAX_ALTERNATIVES = 1024     # inputs one example may expand to through its unions


class ExampleError(SynthInputError):
    pass


def at(pos):
    return f"{pos[0]}:{pos[1]}:{pos[2]}" if pos else "<examples>"


class ExampleValues:
    def __init__(self, store):
        self.st = store
        self.rows = {}          # table id -> [(input, output, position)] it was built from

    def value(self, ex, pos=None):
        """The refinement an example denotes, as a value id."""
        st = self.st
        if isinstance(ex, ExTable):
            return self.table(ex)
        if isinstance(ex, Not):
            return st.negative([self.value(ex.value, pos)], ex.type)
        if isinstance(ex, Union):
            return st.union([self.value(a, pos) for a in ex.alts])
        if isinstance(ex, Top):
            return top(st, ex.type)
        if isinstance(ex, Abstract):
            return st.abstract(ex.name)
        if isinstance(ex, Ctor):
            return st.ctor(ex.name, st.unit if ex.arg is None else self.value(ex.arg, pos))
        if isinstance(ex, Tuple):
            return st.tup([self.value(x, pos) for x in ex.items])
        if isinstance(ex, (NatLit, Unit)):
            return st.eval(ex, {})
        v = st.eval(ex, {})             # an expression over the spec's helpers
        if v < 0:
            raise ExampleError(f"{at(pos)}: example `{inline(ex, st.prog.style)}` has no value "
                               f"(a helper runs forever, or a match has no branch for it)")
        return v

    def alternatives(self, ex, pos):
        """The input refinements an input example stands for, its unions distributed."""
        if not self.st.prog.unions:
            return [self.value(ex, pos)]
        if isinstance(ex, Union):
            out = [v for a in ex.alts for v in self.alternatives(a, pos)]
        elif isinstance(ex, Ctor) and ex.arg is not None:
            out = [self.st.ctor(ex.name, a) for a in self.alternatives(ex.arg, pos)]
        elif isinstance(ex, Tuple):
            parts = [self.alternatives(x, pos) for x in ex.items]
            if math.prod(len(p) for p in parts) > MAX_ALTERNATIVES:
                self.too_many(pos)
            out = [self.st.tup(c) for c in itertools.product(*parts)]
        else:
            out = [self.value(ex, pos)]
        if len(out) > MAX_ALTERNATIVES:
            self.too_many(pos)
        return out

    @staticmethod
    def too_many(pos):
        raise ExampleError(f"{at(pos)}: this example's unions stand for more than "
                           f"{MAX_ALTERNATIVES} inputs")

    def table(self, ex):
        rows = []
        for (a, r), pos in zip(ex.entries, ex.positions):
            out = self.value(r, pos)
            rows.extend((alt, out, pos) for alt in self.alternatives(a, pos))
        self.check(rows)
        t = self.st.table([(a, r) for a, r, _ in rows])
        self.rows[t] = rows
        return t

    def check(self, rows):
        """Raise ExampleError when two examples whose inputs may meet have outputs with
        nothing in common (for outputs that are tables: when their examples do)."""
        st = self.st
        by_input, refined = {}, []
        for j, row in enumerate(rows):
            a2, r2, p2 = row
            # distinct exact inputs never meet: an exact input is compared with the equal
            # inputs (curried examples share them) and the refinements only
            fixed = exact(st, a2)
            others = by_input.get(a2, []) + refined if fixed else rows[:j]
            for a1, r1, p1 in others:
                if a1 != a2 and disjoint(st, a1, a2):
                    continue
                if st.vals[r1][0] == "F" and st.vals[r2][0] == "F":
                    self.check(self.rows.get(r1, []) + self.rows.get(r2, []))
                elif disjoint(st, r1, r2):
                    raise ExampleError(
                        f"{at(p2)}: examples contradict each other: input {st.show(a2)} gives "
                        f"{st.show(r2)} here but {st.show(r1)} at {at(p1)} (for input {st.show(a1)})")
            by_input.setdefault(a2, []).append(row)
            if not fixed:
                refined.append(row)
