"""Type checker for specs: helper definitions, and examples against the goal's type.

    check_program(prog)        # raises SynthTypeError naming the expression and both types

Every binder is annotated, so checking is syntax-directed; type variables make it a little
Hindley-Milner: a constructor of ``'a list`` or a polymorphic helper gets fresh unknowns at each
use, solved by unification.  Type variables of the goal's type (and of a helper's own
annotations, inside its body) are rigid: they stand for one unknown type.  Examples are read
as refinements: a type name becomes ``Top`` (any value of it), a name like ``a1`` where a type
variable is expected an ``Abstract`` value; the goal's examples are replaced by that reading.
"""
from __future__ import annotations

import itertools

from .lexer import SynthInputError
from .pretty import inline
from .spec import Abstract, ExTable, Not, Top, Union
from .syntax import (UNIT, App, Ctor, Fix, Let, Match, NatLit, PTuple, PVar, Proj, Tuple, Unit,
                     Var, base, show_type, subst_type, type_args, type_vars)


class SynthTypeError(SynthInputError):
    pass


class Mismatch(Exception):
    pass


class Checker:
    def __init__(self, prog, where):
        self.prog, self.where = prog, where
        self.gtypes = {}
        self.metas = {}                 # unknown ("M", n) -> its type, once known
        self.fresh_ids = itertools.count()
        self.abstract = {}              # abstract example value -> its type variable

    # -- types ---------------------------------------------------------------------------------
    def fail(self, msg):
        raise SynthTypeError(f"{self.where}: {msg}")

    def err(self, e, got, want):
        self.fail(f"expression `{inline(e, self.prog.style)}` has type {show(self.resolve(got))} "
                  f"but {show(self.resolve(want))} was expected")

    def known(self, t, e):
        if t[0] == "B" and t[1] not in self.prog.datatypes:
            self.fail(f"unknown type {t[1]} in `{inline(e, self.prog.style)}`")
        if t[0] == "B" and len(type_args(t)) != len(self.prog.params.get(t[1], ())):
            self.fail(f"type {t[1]} takes {len(self.prog.params[t[1]])} type argument(s), "
                      f"given {len(type_args(t))}, in `{inline(e, self.prog.style)}`")
        for x in (t[1:] if t[0] == "A" else t[1] if t[0] == "T" else type_args(t)):
            self.known(x, e)

    def resolve(self, t):
        if not self.metas:
            return t
        k = t[0]
        if k == "M":
            got = self.metas.get(t[1])
            return t if got is None else self.resolve(got)
        if k == "A":
            return ("A", self.resolve(t[1]), self.resolve(t[2]))
        if k == "T":
            return ("T", tuple(self.resolve(x) for x in t[1]))
        if k == "B" and len(t) > 2:
            return base(t[1], [self.resolve(x) for x in t[2]])
        return t

    def unify(self, a, b):
        if a == b:
            return
        a, b = self.resolve(a), self.resolve(b)
        if a == b:
            return
        if a[0] == "M" or b[0] == "M":
            m, t = (a, b) if a[0] == "M" else (b, a)
            if m in metas_of(t):
                raise Mismatch()
            self.metas[m[1]] = t
            return
        if a[0] != b[0] or a[0] == "V":
            raise Mismatch()
        if a[0] == "A":
            self.unify(a[1], b[1]), self.unify(a[2], b[2])
            return
        xs, ys = (a[1], b[1]) if a[0] == "T" else (type_args(a), type_args(b))
        if (a[0] == "B" and a[1] != b[1]) or len(xs) != len(ys):
            raise Mismatch()
        for x, y in zip(xs, ys):
            self.unify(x, y)

    def instantiate(self, t, params=None):
        """``t`` with its type variables (or ``params``) replaced by fresh unknowns."""
        names = type_vars(t) if params is None else params
        return subst_type(t, {v: ("M", next(self.fresh_ids)) for v in names})

    def ctor_type(self, name):
        """(argument type, result type) of a constructor, instantiated afresh."""
        tname, arg = self.prog.ctors[name]
        params = self.prog.params.get(tname, ())
        if not params:
            return arg, ("B", tname)
        sub = {v: ("M", next(self.fresh_ids)) for v in params}
        return subst_type(arg, sub), base(tname, [sub[v] for v in params])

    # -- expressions ---------------------------------------------------------------------------
    def check(self, e, want, ctx):
        got = self.infer(e, ctx, want)
        try:
            self.unify(got, want)
        except Mismatch:
            self.err(e, got, want)

    def infer(self, e, ctx, hint=None):
        if isinstance(e, Var):
            if e.name in ctx:
                return ctx[e.name]
            t = self.gtypes.get(e.name)
            if t is None:
                self.fail(f"unbound variable {e.name}")
            return self.instantiate(t)
        if isinstance(e, Unit):
            return UNIT
        if isinstance(e, NatLit):
            return base(self.prog.ctors[e.zero][0])
        if isinstance(e, Ctor):
            arg, result = self.ctor_type(e.name)
            if e.arg is None:
                if arg != UNIT:
                    self.fail(f"constructor {e.name} needs an argument of type {show(arg)}")
            else:
                self.check(e.arg, arg, ctx)
            return result
        if isinstance(e, Tuple):
            hint = self.resolve(hint) if hint else None
            hints = hint[1] if hint and hint[0] == "T" and len(hint[1]) == len(e.items) else [None] * len(e.items)
            return ("T", tuple(self.infer(x, ctx, h) for x, h in zip(e.items, hints)))
        if isinstance(e, Proj):
            t = self.resolve(self.infer(e.expr, ctx))
            if t[0] != "T" or not 1 <= e.index <= len(t[1]):
                self.fail(f"`{inline(e, self.prog.style)}` projects from "
                          f"`{inline(e.expr, self.prog.style)}` of type {show(t)}")
            return t[1][e.index - 1]
        if isinstance(e, App):
            ft = self.resolve(self.infer(e.fn, ctx))
            if ft[0] == "M":
                self.unify(ft, ("A", ("M", next(self.fresh_ids)), ("M", next(self.fresh_ids))))
                ft = self.resolve(ft)
            if ft[0] != "A":
                self.fail(f"`{inline(e.fn, self.prog.style)}` of type {show(ft)} is applied but is not a function")
            self.check(e.arg, ft[1], ctx)
            return ft[2]
        if isinstance(e, Match):
            return self.infer_match(e, ctx, hint)
        if isinstance(e, Fix):
            self.known(e.ptype, e)
            c2 = dict(ctx)
            c2[e.param] = e.ptype
            hint = self.resolve(hint) if hint else None
            rt = e.rtype if e.rtype is not None else (hint[2] if hint and hint[0] == "A" else None)
            if e.name:
                if rt is None:
                    self.fail(f"recursive function {e.name} needs a result type")
                c2[e.name] = ("A", e.ptype, rt)
            bt = self.infer(e.body, c2, rt)
            if rt is not None:
                try:
                    self.unify(bt, rt)
                except Mismatch:
                    self.err(e.body, bt, rt)
            return ("A", e.ptype, bt)
        if isinstance(e, Let):
            c2 = dict(ctx)
            c2[e.name] = self.infer(e.value, ctx)
            return self.infer(e.body, c2, hint)
        self.fail(f"`{inline(e, self.prog.style)}` is not an expression")

    def infer_match(self, e, ctx, hint):
        st = self.resolve(self.infer(e.scrut, ctx))
        if st[0] != "B":
            self.fail(f"cannot match on `{inline(e.scrut, self.prog.style)}` of type {show(st)}")
        out = hint
        for p, b in e.branches:
            tname, arg = self.prog.ctors[p.ctor]
            if tname != st[1]:
                self.fail(f"pattern {p.ctor} has type {tname} but the scrutinee "
                          f"`{inline(e.scrut, self.prog.style)}` has type {show(st)}")
            arg = subst_type(arg, dict(zip(self.prog.params.get(tname, ()), type_args(st))))
            c2 = dict(ctx)
            if p.arg is not None:
                self.bind(p.arg, arg, c2, e)
            bt = self.infer(b, c2, out)
            if out is not None:
                try:
                    self.unify(bt, out)
                except Mismatch:
                    self.err(b, bt, out)
            out = bt
        return out

    def bind(self, p, t, ctx, e):
        t = self.resolve(t)
        if isinstance(p, PVar):
            ctx[p.name] = t
        elif isinstance(p, PTuple):
            if t[0] != "T" or len(t[1]) != len(p.items):
                self.fail(f"tuple pattern of {len(p.items)} in `{inline(e, self.prog.style)}` "
                          f"for type {show(t)}")
            for q, x in zip(p.items, t[1]):
                self.bind(q, x, ctx, e)

    # -- examples ------------------------------------------------------------------------------
    def example(self, ex, want):
        """Check an example against ``want`` (a type without unknowns) and return its reading
        as a refinement."""
        kind = type(ex)
        if kind is Ctor and ex.arg is not None:     # the common case first
            arg, result = self.ctor_type(ex.name)
            if result != want:
                try:
                    self.unify(result, want)
                except Mismatch:
                    self.err(ex, result, want)
                arg = self.resolve(arg)
            return Ctor(ex.name, self.example(ex.arg, arg))
        if kind is Tuple:
            if want[0] != "T" or len(want[1]) != len(ex.items):
                self.err(ex, self.infer(ex, {}), want)
            return Tuple([self.example(x, t) for x, t in zip(ex.items, want[1])])
        if kind is NatLit or kind is Ctor:
            self.check(ex, want, {})
            return ex
        if isinstance(ex, ExTable):
            if want[0] != "A":
                self.fail(f"examples of a function given where a value of type {show(want)} is expected")
            entries, where = [], self.where
            for (a, r), pos in zip(ex.entries, ex.positions):
                self.where = f"{pos[0]}:{pos[1]}:{pos[2]}" if pos else where
                entries.append((self.example(a, want[1]), self.example(r, want[2])))
            self.where = where
            return ExTable(entries, ex.pos, ex.positions)
        if isinstance(ex, Not):
            return Not(self.example(ex.value, want), want)
        if isinstance(ex, Union):
            self.prog.unions = True
            return Union([self.example(a, want) for a in ex.alts], ex.pos)
        if isinstance(ex, Top):
            return self.top(ex.name, want, ex.pos)
        if isinstance(ex, Abstract):
            return self.abstract_value(ex.name, want)
        if isinstance(ex, Var) and ex.name not in self.gtypes:
            if ex.name in self.prog.datatypes:
                return self.top(ex.name, want, None)
            return self.abstract_value(ex.name, want)
        self.check(ex, want, {})
        return ex

    def top(self, name, want, pos):
        fits = want[1] == name and want[0] == ("V" if name.startswith("'") else "B")
        if not fits:
            where = f" at {pos[1]}:{pos[2]}" if pos else ""
            self.fail(f"`{name}`{where} stands for any value of type {name}, but a value of type "
                      f"{show(want)} is expected")
        return Top(name, want, pos)

    def abstract_value(self, name, want):
        if want[0] != "V":
            self.fail(f"unbound variable {name} (a name in an example is an abstract value, "
                      f"which must have a type variable's type; here {show(want)} is expected)")
        if self.abstract.setdefault(name, want) != want:
            self.fail(f"abstract value {name} is used with types {show(self.abstract[name])} "
                      f"and {show(want)}")
        return Abstract(name, want)


def show(t):
    return show_type(rename_metas(t))


def metas_of(t, out=None):
    out = set() if out is None else out
    if t[0] == "M":
        out.add(t)
    elif t[0] == "A":
        metas_of(t[1], out), metas_of(t[2], out)
    else:
        for x in (t[1] if t[0] == "T" else type_args(t) if t[0] == "B" else ()):
            metas_of(x, out)
    return out


def rename_metas(t):
    if t[0] == "M":
        return ("V", f"'_{t[1]}")
    if t[0] == "A":
        return ("A", rename_metas(t[1]), rename_metas(t[2]))
    if t[0] == "T":
        return ("T", tuple(rename_metas(x) for x in t[1]))
    if t[0] == "B":
        return base(t[1], [rename_metas(x) for x in type_args(t)])
    return t


def check_program(prog):
    """Type-check every helper definition and the goal's examples, replacing the examples by
    their reading as refinements; returns the globals' types."""
    for tname, ctors in prog.datatypes.items():
        pos = prog.positions.get(tname, (prog.path, 1, 1))
        c = Checker(prog, f"{pos[0]}:{pos[1]}:{pos[2]} (type {tname})")
        for cname, arg in ctors:
            c.known(arg, Var(cname))
    gtypes = {}
    for name, t, expr, pos in prog.globals:
        c = Checker(prog, f"{pos[0]}:{pos[1]}:{pos[2]} (in {name})")
        c.gtypes = gtypes
        c.known(t, expr)
        c.check(expr, t, {})
        gtypes[name] = t
    if prog.goal is not None:
        g = prog.goal
        c = Checker(prog, f"{g.pos[0]}:{g.pos[1]}:{g.pos[2]} (examples of {g.name})")
        c.gtypes = gtypes
        c.known(g.type, Var(g.name))
        g.examples = c.example(g.examples, g.type)
        prog.abstract = dict(c.abstract)
    return gtypes
