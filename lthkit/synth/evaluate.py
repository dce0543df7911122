"""Values and the evaluator.

Values are hash-consed: every distinct value gets a small integer id, so the synthesiser
compares and hashes whole vectors of values cheaply.  A value is one of
``("C", ctor, arg_id)`` a constructor applied to its argument (unit for nullary ones),
``("T", (ids...))`` a tuple, ``("F", ((in_id, out_id), ...))`` a partial function given by
examples, or ``("K", fix_node, env)`` a closure; examples add the refinements of ``refine``
(⊤, unions, negations, abstract values).  A table applied to a value answers with every
example whose input contains it.  Applications are memoised, which makes the helper functions
of a spec (``compare``, ``append``...) cost one evaluation per distinct call.

    store = Store(prog); v = store.eval(expr, {})     # -> value id (UNDEF if it goes wrong)
    store.show(v)                                       # -> "[1; 0]"
"""
from __future__ import annotations

import sys

from .refine import exact, meet, sat
from .syntax import (App, Ctor, Fix, Let, Match, NatLit, PTuple, PVar, Proj, Tuple, Unit, Var,
                     free_vars, show_type)

UNDEF = -1


class EvalError(Exception):
    pass


class Store:
    def __init__(self, prog, tick=None):
        self.prog = prog
        self.vals = []
        self.index = {}
        self.tables = {}     # table id -> {in: out}
        self.fuzzy = {}      # table id -> [(in, out)] whose input is a refinement, not a value
        self.exact = {}      # value id -> no refinement inside (see refine.exact)
        self.nats = {}       # (n, zero, succ) -> the value of a number literal
        self.memo = {}       # (fn id, arg id) -> result id
        self.steps = 0       # closure calls
        self.tick = tick     # called every 1024 closure calls (it raises on a timeout)
        self.oracle = None   # answers applications of ("R", ...) random functions (compare.py)
        self.unit = self.intern(("T", ()))
        self.globals = {}
        for name, _t, expr, _pos in prog.globals:
            self.globals[name] = self.eval(expr, {})
        nat = prog.nat_ctors()
        self._nat = nat
        lst = prog.list_ctors()
        self._list = lst
        if sys.getrecursionlimit() < 20000:
            sys.setrecursionlimit(20000)

    # -- construction ------------------------------------------------------------------
    def intern(self, v):
        i = self.index.get(v)
        if i is None:
            i = len(self.vals)
            self.vals.append(v)
            self.index[v] = i
        return i

    def ctor(self, name, arg):
        return self.intern(("C", name, arg))

    def tup(self, ids):
        return self.intern(("T", tuple(ids)))

    def table(self, pairs):
        """A partial function from (input id, output id) pairs; the outputs of equal inputs
        meet (tables merge), and outputs with nothing in common raise EvalError."""
        merged = {}
        for a, r in pairs:
            if a in merged and merged[a] != r:
                m = meet(self, merged[a], r)
                if m is None:
                    raise EvalError(f"inconsistent examples for input {self.show(a)}: "
                                    f"{self.show(merged[a])} and {self.show(r)}")
                r = m
            merged[a] = r
        i = self.intern(("F", tuple(sorted(merged.items()))))
        if i not in self.tables:
            self.tables[i] = merged
            self.fuzzy[i] = [(a, r) for a, r in merged.items() if not exact(self, a)]
        return i

    def negative(self, excluded, typ):
        """Any value of ``typ`` but those in ``excluded``."""
        return self.intern(("N", tuple(sorted(set(excluded))), typ))

    def union(self, alts):
        return self.intern(("O", tuple(sorted(set(alts)))))

    def abstract(self, name):
        return self.intern(("X", name))

    def nat(self, n, zero, succ):
        key = (n, zero, succ)
        v = self.nats.get(key)
        if v is None:
            v = self.ctor(zero, self.unit)
            for _ in range(n):
                v = self.ctor(succ, v)
            self.nats[key] = v
        return v

    # -- evaluation ----------------------------------------------------------------------
    def apply(self, f, a):
        if f < 0 or a < 0:
            return UNDEF
        key = (f, a)
        r = self.memo.get(key)
        if r is not None:
            return r
        fv = self.vals[f]
        kind = fv[0]
        if kind == "F":
            r = self.tables[f].get(a, UNDEF)
            if self.fuzzy[f]:
                r = self.lookup(f, a, r)
        elif kind == "R" and self.oracle is not None:
            r = self.oracle(fv, a)
        elif kind == "K":
            self.steps += 1
            if self.steps & 1023 == 0 and self.tick is not None:
                self.tick()
            node, env = fv[1], dict(fv[2])
            if node.name:
                env[node.name] = f
            env[node.param] = a
            try:
                r = self.eval(node.body, env)
            except RecursionError:
                r = UNDEF
        else:
            r = UNDEF
        self.memo[key] = r
        return r

    def lookup(self, f, a, r):
        """A table applied to ``a`` (``r``: the output of an example on exactly ``a``): the
        meet of the outputs of every example whose input contains ``a`` (an example on ⊤
        answers for every value), UNDEF where none does."""
        for i, o in self.fuzzy[f]:
            if i != a and sat(self, a, i):
                r = o if r == UNDEF else meet(self, r, o)
                if r is None:
                    return UNDEF
        return r

    def closure(self, node, env):
        if node._free is None:
            node._free = tuple(sorted(free_vars(node)))
        captured = tuple((x, env[x]) for x in node._free if x in env)
        return self.intern(("K", node, captured))

    def eval(self, e, env):
        t = type(e)
        if t is Var:
            v = env.get(e.name)
            if v is None:
                v = self.globals.get(e.name)
                if v is None:
                    raise EvalError(f"unbound variable {e.name}")
            return v
        if t is App:
            f = self.eval(e.fn, env)
            if f < 0:
                return UNDEF
            a = self.eval(e.arg, env)
            return self.apply(f, a)
        if t is Ctor:
            if e.arg is None:
                return self.ctor(e.name, self.unit)
            a = self.eval(e.arg, env)
            return UNDEF if a < 0 else self.ctor(e.name, a)
        if t is Tuple:
            ids = [self.eval(x, env) for x in e.items]
            return UNDEF if min(ids) < 0 else self.tup(ids)
        if t is Proj:
            v = self.eval(e.expr, env)
            if v < 0:
                return UNDEF
            tv = self.vals[v]
            if tv[0] == "O":
                return UNDEF        # a union of tuples has no one component
            if tv[0] != "T" or e.index > len(tv[1]):
                raise EvalError(f"projection #{e.index} of a non-tuple value {self.show(v)}")
            return tv[1][e.index - 1]
        if t is Match:
            v = self.eval(e.scrut, env)
            if v < 0:
                return UNDEF
            cv = self.vals[v]
            for p, body in e.branches:
                if p.ctor == cv[1]:
                    if p.arg is not None:
                        env = dict(env)
                        self.bind(p.arg, cv[2], env)
                    return self.eval(body, env)
            return UNDEF
        if t is Fix:
            return self.closure(e, env)
        if t is Let:
            env2 = dict(env)
            env2[e.name] = self.eval(e.value, env)
            return self.eval(e.body, env2)
        if t is Unit:
            return self.unit
        if t is NatLit:
            return self.nat(e.value, e.zero, e.succ)
        raise EvalError(f"cannot evaluate {e!r}")

    def bind(self, p, v, env):
        if isinstance(p, PVar):
            env[p.name] = v
        elif isinstance(p, PTuple):
            items = self.vals[v][1]
            for q, x in zip(p.items, items):
                self.bind(q, x, env)

    # -- inspection ----------------------------------------------------------------------
    def head(self, v):
        return self.vals[v][1]

    def as_nat(self, v):
        if self._nat is None:
            return None
        n = 0
        while True:
            cv = self.vals[v]
            if cv[0] != "C":
                return None
            if cv[1] == self._nat[0]:
                return n
            if cv[1] != self._nat[1]:
                return None
            n, v = n + 1, cv[2]

    def show(self, v, top=True) -> str:
        if v < 0:
            return "<undefined>"
        cv = self.vals[v]
        if cv[0] == "C":
            n = self.as_nat(v)
            if n is not None and self.prog.ctors[cv[1]][0] == "nat":
                return str(n)
            if self._list and cv[1] in self._list and self.prog.ctors[cv[1]][0] == "list":
                items = []
                while self.vals[v][1] == self._list[1]:
                    pair = self.vals[self.vals[v][2]][1]
                    items.append(self.show(pair[0]))
                    v = pair[1]
                return "[" + "; ".join(items) + "]"
            if cv[2] == self.unit:
                return cv[1]
            s = f"{cv[1]} {self.show(cv[2], False)}"
            return s if top else f"({s})"
        if cv[0] == "T":
            return "(" + ", ".join(self.show(x) for x in cv[1]) + ")"
        if cv[0] == "F":
            return "{" + " | ".join(f"{self.show(a)} => {self.show(r)}" for a, r in cv[1]) + "}"
        if cv[0] == "N":
            return "not(" + ", ".join(self.show(x) for x in cv[1]) + ")"
        if cv[0] == "O":
            return "\\/(" + ", ".join(self.show(x) for x in cv[1]) + ")"
        if cv[0] == "U":
            return show_type(cv[1])
        if cv[0] == "X":
            return cv[1]
        return "<fun>"
