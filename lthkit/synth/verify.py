"""Checking a synthesised program against its spec, by evaluation with real recursion.

An example with exact inputs is checked by running the program on them.  An input refinement
-- ⊤ (``nat``), a negation (``not(1)``) or a value with ⊤ inside (``[S nat; 0]``) -- means the
output must hold for *every* value it stands for; those are checked on an enumeration of the
small values it contains (naturals, lists, trees... of at most ``MAX_SIZE`` constructors, and
for a type variable the spec's abstract values and two fresh ones).  The result says which.

    ok, how = verify(syn, program)     # (True, "on its 6 examples") ...
"""
from __future__ import annotations

import itertools
import random

from .refine import exact, sat
from .syntax import UNIT

MAX_SIZE = 5            # constructors in an enumerated value
PER_TYPE = 24           # enumerated values of one type
PER_EXAMPLE = 200       # inputs one example is checked on (sampled beyond that)


def verify(syn, program):
    """(True if the program satisfies every example, how it was checked)."""
    st = syn.store
    st.memo = {}
    fn = st.eval(program, {})
    small = SmallValues(syn)
    n_exact = n_refined = cases = 0
    sampled = False
    for inputs, out in paths(st, syn.goal_value, ()):
        choices = [small.instances(v) for v in inputs]
        if all(len(c) == 1 and c[0] == v for c, v in zip(choices, inputs)):
            n_exact += 1
        else:
            n_refined += 1
        combos = itertools.product(*choices)
        total = 1
        for c in choices:
            total *= len(c)
        if total > PER_EXAMPLE:
            sampled = True
            rng = random.Random(len(inputs))
            combos = [tuple(rng.choice(c) for c in choices) for _ in range(PER_EXAMPLE)]
        for args in combos:
            v = fn
            for a in args:
                v = st.apply(v, a)
            cases += 1
            if v < 0 or not sat(st, v, out):
                return False, f"fails on {', '.join(st.show(a) for a in args)}"
    if not n_refined:
        return True, f"on its {plural(n_exact, 'example')}"
    how = (f"on {cases} inputs: {plural(n_exact, 'exact example')} and {n_refined} with ⊤ or "
           f"negated inputs, enumerated up to {MAX_SIZE} constructors")
    return True, how + (f" ({PER_EXAMPLE} drawn per example)" if sampled else "")


def plural(n, word):
    return f"{n} {word}{'s' * (n != 1)}"


def paths(st, g, prefix):
    """(inputs, output) for every example, nested tables unfolded."""
    if g in st.tables:
        for a, r in st.tables[g].items():
            yield from paths(st, r, prefix + (a,))
    else:
        yield prefix, g


class SmallValues:
    """The exact values an input refinement stands for, smallest first."""

    def __init__(self, syn):
        self.st, self.prog = syn.store, syn.prog
        self.memo = {}
        self.abstract = {}
        for name, t in getattr(syn.prog, "abstract", {}).items():
            self.abstract.setdefault(t, []).append(name)

    def instances(self, v):
        st = self.st
        if exact(st, v) or st.vals[v][0] in ("F", "K"):
            return [v]
        cv = st.vals[v]
        kind = cv[0]
        if kind == "U":
            return self.of_type(cv[1])
        if kind == "N":
            return [x for x in self.of_type(cv[2]) if sat(st, x, v)]
        if kind == "O":
            return list(dict.fromkeys(x for a in cv[1] for x in self.instances(a)))[:PER_TYPE * 4]
        if kind == "C":
            return [st.ctor(cv[1], a) for a in self.instances(cv[2])]
        parts = [self.instances(x) for x in cv[1]]
        return [st.tup(c) for c in itertools.islice(itertools.product(*parts), PER_TYPE * 4)]

    def of_type(self, typ):
        out = []
        for s in range(1, MAX_SIZE + 1):
            out.extend(self.sized(typ, s))
            if len(out) >= PER_TYPE:
                break
        return out[:PER_TYPE]

    def sized(self, typ, s):
        """Values of ``typ`` with exactly ``s`` constructors (a tuple's are its components')."""
        if s < 1:
            return []
        key = (typ, s)
        got = self.memo.get(key)
        if got is not None:
            return got
        st, out = self.st, []
        self.memo[key] = out            # a type that refers to itself sees no values yet
        if typ == UNIT:
            out = [st.unit] if s == 1 else []
        elif typ[0] == "V":
            names = self.abstract.get(typ, []) + [f"{typ[1][1:]}_{i}" for i in (1, 2)]
            out = [st.abstract(n) for n in names] if s == 1 else []
        elif typ[0] == "A":
            out = [st.table([])] if s == 1 else []
        elif typ[0] == "T":
            out = self.tuples(typ[1], s)
        else:
            for c, a in self.prog.ctors_of(typ):
                if a == UNIT:
                    out += [st.ctor(c, st.unit)] if s == 1 else []
                else:
                    out += [st.ctor(c, x) for x in self.sized(a, s - 1)]
        out = out[:PER_TYPE * 4]
        self.memo[key] = out
        return out

    def tuples(self, comps, s):
        if len(comps) == 1:
            return [self.st.tup([x]) for x in self.sized(comps[0], s)]
        out = []
        for k in range(1, s):
            for x in self.sized(comps[0], k):
                for rest in self.tuples(comps[1:], s - k):
                    out.append(self.st.tup([x] + list(self.st.vals[rest][1])))
                    if len(out) >= PER_TYPE * 4:
                        return out
        return out
