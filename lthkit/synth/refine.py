"""Refinements as values: what ⊤, unions, negations and abstract values mean to the search.

An example of the POPL 2016 kind denotes a *set* of values.  In the value store (see
``evaluate``) such sets are values of their own kinds: ``("U", type)`` any value of a type (⊤),
``("O", alts)`` a union, ``("N", excluded, type)`` any value but some, and ``("X", name)`` an
abstract value of a type variable (a single opaque value, equal only to itself).  A value
without U, O or N inside is *exact*.

    sat(st, v, goal)        # every value v denotes lies in goal (a candidate's value fits)
    disjoint(st, a, b)      # no value lies in both (used to find contradictory examples)
    meet(st, a, b)          # the values in both, or None when there is none
    split(st, v, typ)       # [(ctor, argument)] the branches of a match that v reaches

Each answer errs on the safe side where the exact one is out of reach (say ``not(1)`` against
``S nat``): ``sat`` and ``disjoint`` answer False, so the search only ever loses candidates,
never accepts a wrong one, and the final program is checked against the examples anyway.
"""
from __future__ import annotations

from .syntax import UNIT

REFINED = {"U", "O", "N"}


def exact(st, v):
    """True for a value that denotes one value (no ⊤, union or negation inside)."""
    got = st.exact.get(v)
    if got is None:
        cv = st.vals[v]
        k = cv[0]
        if k in REFINED:
            got = False
        elif k == "C":
            got = exact(st, cv[2])
        elif k == "T":
            got = all(exact(st, x) for x in cv[1])
        else:
            got = True
        st.exact[v] = got
    return got


def top(st, typ):
    """⊤ of a type: tuples are tuples of ⊤ (so projections work), unit is unit, a function
    type an empty table (any function)."""
    if typ == UNIT:
        return st.unit
    if typ[0] == "T":
        return st.tup([top(st, t) for t in typ[1]])
    if typ[0] == "A":
        return st.table([])
    return st.intern(("U", typ))


def sat(st, v, g):
    """Does every value ``v`` denotes lie in the refinement ``g``?"""
    if v == g:
        return True
    vals = st.vals
    gv = vals[g]
    kind = gv[0]
    if kind == "U":
        return True
    if kind == "N":
        return all(disjoint(st, v, e) for e in gv[1])
    if kind == "O":
        return any(sat(st, v, a) for a in gv[1])
    vv = vals[v]
    if vv[0] == "O":
        return all(sat(st, a, g) for a in vv[1])
    if kind != vv[0]:
        return False
    if kind == "C":
        return gv[1] == vv[1] and sat(st, vv[2], gv[2])
    if kind == "T":
        return all(sat(st, a, b) for a, b in zip(vv[1], gv[1]))
    return False            # distinct abstract values, functions: not provably inside


def disjoint(st, a, b):
    """Is there provably no value in both ``a`` and ``b``?"""
    if a == b:
        return False
    vals = st.vals
    av, bv = vals[a], vals[b]
    if av[0] == "U" or bv[0] == "U":
        return False
    if av[0] == "O":
        return all(disjoint(st, x, b) for x in av[1])
    if bv[0] == "O":
        return all(disjoint(st, a, x) for x in bv[1])
    if av[0] == "N" or bv[0] == "N":
        (n, other) = (av, b) if av[0] == "N" else (bv, a)
        return exact(st, other) and other in n[1]
    if av[0] != bv[0]:
        return av[0] in ("C", "T", "X") and bv[0] in ("C", "T", "X")
    if av[0] == "C":
        return av[1] != bv[1] or disjoint(st, av[2], bv[2])
    if av[0] == "T":
        return any(disjoint(st, x, y) for x, y in zip(av[1], bv[1]))
    return av[0] == "X"     # two different abstract values; functions: unknown


def meet(st, a, b):
    """The refinement of the values in both ``a`` and ``b``; None when provably none.  Two
    tables meet as the table of both sets of examples."""
    if a == b:
        return a
    vals = st.vals
    av, bv = vals[a], vals[b]
    if av[0] == "U":
        return b
    if bv[0] == "U":
        return a
    if av[0] == "F" and bv[0] == "F":
        from .evaluate import EvalError
        try:
            return st.table(list(av[1]) + list(bv[1]))
        except EvalError:
            return None
    if av[0] == "O" or bv[0] == "O":
        (o, other) = (av, b) if av[0] == "O" else (bv, a)
        alts = [m for m in (meet(st, x, other) for x in o[1]) if m is not None]
        return None if not alts else alts[0] if len(alts) == 1 else st.union(alts)
    if av[0] == "N" and bv[0] == "N":
        return st.negative(av[1] + bv[1], av[2])
    if av[0] == "N" or bv[0] == "N":
        (n, other) = (a, b) if av[0] == "N" else (b, a)
        return None if disjoint(st, n, other) else other
    if av[0] != bv[0]:
        return None
    if av[0] == "C":
        if av[1] != bv[1]:
            return None
        m = meet(st, av[2], bv[2])
        return None if m is None else st.ctor(av[1], m)
    if av[0] == "T":
        items = [meet(st, x, y) for x, y in zip(av[1], bv[1])]
        return None if None in items else st.tup(items)
    return None


def split(st, v, typ):
    """The branches of a match on a value of datatype ``typ`` that ``v`` reaches, with the
    value of the constructor's argument in each: one for a constructor value, every branch
    for ⊤ (each with ⊤ of the argument), the alternatives' branches for a union, and for
    ``not(...)`` every branch but those it rules out."""
    vv = st.vals[v]
    kind = vv[0]
    if kind == "C":
        return [(vv[1], vv[2])]
    ctors = st.prog.ctors_of(typ)
    if kind == "U":
        return [(c, top(st, a)) for c, a in ctors]
    if kind == "O":
        out = {}
        for alt in vv[1]:
            for c, arg in split(st, alt, typ):
                out.setdefault(c, []).append(arg)
        return [(c, args[0] if len(args) == 1 else st.union(args)) for c, args in out.items()]
    if kind == "N":
        out = []
        for c, atype in ctors:
            args = [st.vals[e][2] for e in vv[1] if st.vals[e][1] == c]
            if args and atype == UNIT:
                continue                        # `not(Nil)` never reaches the Nil branch
            if args and atype[0] not in ("T", "A"):
                out.append((c, st.negative(args, atype)))
            else:                               # `not((a, b))` is no product: keep ⊤
                out.append((c, top(st, atype)))
        return out
    return []
