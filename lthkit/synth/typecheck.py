"""Type checker for specs: helper definitions, and examples against the goal's type.

    check_program(prog)        # raises SynthTypeError naming the expression and both types

The language is monomorphic and every binder is annotated, so checking is syntax-directed.
"""
from __future__ import annotations

from .parser import ExTable, Not
from .pretty import inline
from .syntax import (UNIT, App, Ctor, Fix, Let, Match, PTuple, PVar, Proj, Tuple,
                     Unit, Var, show_type)


class SynthTypeError(Exception):
    pass


class Checker:
    def __init__(self, prog, where):
        self.prog, self.where = prog, where
        self.gtypes = {}

    def err(self, e, got, want):
        raise SynthTypeError(f"{self.where}: expression `{inline(e, self.prog.style)}` has type "
                             f"{show_type(got)} but {show_type(want)} was expected")

    def known(self, t, e):
        if t[0] == "B" and t[1] not in self.prog.datatypes:
            raise SynthTypeError(f"{self.where}: unknown type {t[1]} in `{inline(e, self.prog.style)}`")
        if t[0] == "A":
            self.known(t[1], e)
            self.known(t[2], e)
        if t[0] == "T":
            for x in t[1]:
                self.known(x, e)

    def check(self, e, want, ctx):
        got = self.infer(e, ctx, want)
        if got != want:
            self.err(e, got, want)

    def infer(self, e, ctx, hint=None):
        if isinstance(e, Var):
            t = ctx.get(e.name, self.gtypes.get(e.name))
            if t is None:
                raise SynthTypeError(f"{self.where}: unbound variable {e.name}")
            return t
        if isinstance(e, Unit):
            return UNIT
        if isinstance(e, Ctor):
            tname, arg = self.prog.ctors[e.name]
            if e.arg is None:
                if arg != UNIT:
                    raise SynthTypeError(f"{self.where}: constructor {e.name} needs an argument of type {show_type(arg)}")
            else:
                self.check(e.arg, arg, ctx)
            return ("B", tname)
        if isinstance(e, Tuple):
            hints = hint[1] if hint and hint[0] == "T" and len(hint[1]) == len(e.items) else [None] * len(e.items)
            return ("T", tuple(self.infer(x, ctx, h) for x, h in zip(e.items, hints)))
        if isinstance(e, Proj):
            t = self.infer(e.expr, ctx)
            if t[0] != "T" or not 1 <= e.index <= len(t[1]):
                raise SynthTypeError(f"{self.where}: `{inline(e, self.prog.style)}` projects from "
                                     f"`{inline(e.expr, self.prog.style)}` of type {show_type(t)}")
            return t[1][e.index - 1]
        if isinstance(e, App):
            ft = self.infer(e.fn, ctx)
            if ft[0] != "A":
                raise SynthTypeError(f"{self.where}: `{inline(e.fn, self.prog.style)}` of type "
                                     f"{show_type(ft)} is applied but is not a function")
            self.check(e.arg, ft[1], ctx)
            return ft[2]
        if isinstance(e, Match):
            st = self.infer(e.scrut, ctx)
            if st[0] != "B":
                raise SynthTypeError(f"{self.where}: cannot match on `{inline(e.scrut, self.prog.style)}` of type {show_type(st)}")
            out = hint
            for p, b in e.branches:
                tname, arg = self.prog.ctors[p.ctor]
                if ("B", tname) != st:
                    raise SynthTypeError(f"{self.where}: pattern {p.ctor} has type {tname} but the "
                                         f"scrutinee `{inline(e.scrut, self.prog.style)}` has type {show_type(st)}")
                c2 = dict(ctx)
                if p.arg is not None:
                    self.bind(p.arg, arg, c2, e)
                bt = self.infer(b, c2, out)
                if out is not None and bt != out:
                    self.err(b, bt, out)
                out = bt
            return out
        if isinstance(e, Fix):
            self.known(e.ptype, e)
            c2 = dict(ctx)
            c2[e.param] = e.ptype
            rt = e.rtype if e.rtype is not None else (hint[2] if hint and hint[0] == "A" else None)
            if e.name:
                if rt is None:
                    raise SynthTypeError(f"{self.where}: recursive function {e.name} needs a result type")
                c2[e.name] = ("A", e.ptype, rt)
            bt = self.infer(e.body, c2, rt)
            if rt is not None and bt != rt:
                self.err(e.body, bt, rt)
            return ("A", e.ptype, bt)
        if isinstance(e, Let):
            c2 = dict(ctx)
            c2[e.name] = self.infer(e.value, ctx)
            return self.infer(e.body, c2, hint)
        raise SynthTypeError(f"{self.where}: cannot type {e!r}")

    def bind(self, p, t, ctx, e):
        if isinstance(p, PVar):
            ctx[p.name] = t
        elif isinstance(p, PTuple):
            if t[0] != "T" or len(t[1]) != len(p.items):
                raise SynthTypeError(f"{self.where}: tuple pattern of {len(p.items)} in "
                                     f"`{inline(e, self.prog.style)}` for type {show_type(t)}")
            for q, x in zip(p.items, t[1]):
                self.bind(q, x, ctx, e)

    def check_examples(self, ex, want):
        if isinstance(ex, ExTable):
            if want[0] != "A":
                raise SynthTypeError(f"{self.where}: examples of a function given where a value "
                                     f"of type {show_type(want)} is expected")
            for a, r in ex.entries:
                self.check_examples(a, want[1])
                self.check_examples(r, want[2])
        elif isinstance(ex, Not):
            self.check(ex.value, want, {})
        else:
            self.check(ex, want, {})


def check_program(prog):
    """Type-check every helper definition and the goal's examples; returns the globals' types."""
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
        c.check_examples(g.examples, g.type)
    return gtypes
