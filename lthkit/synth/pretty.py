"""Pretty-printer for synthesised programs, in Myth's output style or the POPL 2016 one.

    print(show_program("list_stutter", ("A", LIST, LIST), expr, style="myth"))

Myth style prints ``let rec f1 (l1:list) : list = ... in f1`` and tuple patterns
``Cons (n1, l2)``; the products style prints ``fix f1 (l1:list) : list -> ...``, unary
constructor patterns ``Cons t1`` and projections ``#1 t1``.  ``alpha_key`` gives a
name-independent rendering used to compare a program with a peer tool's output.
"""
from __future__ import annotations

from .syntax import (App, Ctor, Fix, Let, Match, NatLit, PCtor, PTuple, PVar, Proj, Tuple, Unit,
                     Var, free_vars, show_type)


def show_pattern(p, style):
    if isinstance(p, PCtor):
        if p.arg is None:
            return p.ctor
        inner = show_pattern(p.arg, style)
        if isinstance(p.arg, PTuple) or style == "products":
            return f"{p.ctor} {inner}"
        return f"{p.ctor} ({inner})"
    if isinstance(p, PTuple):
        return "(" + ", ".join(show_pattern(q, style) for q in p.items) + ")"
    if isinstance(p, PVar):
        return p.name
    return "_"


def inline(e, style, prec=0):
    """One-line rendering; prec 0 = top, 1 = function position, 2 = argument position."""
    if isinstance(e, Var):
        return e.name
    if isinstance(e, NatLit):
        return str(e.value)
    example = show_example(e, style)
    if example is not None:
        return example
    if isinstance(e, Unit):
        return "()"
    if isinstance(e, Ctor):
        if e.arg is None:
            return e.name
        a = e.arg
        if isinstance(a, Tuple):
            s = f"{e.name} {inline(a, style)}"
        elif style == "products":
            s = f"{e.name} {inline(a, style, 2)}"
        else:
            s = f"{e.name} ({inline(a, style)})"
        return s if prec < 2 else f"({s})"
    if isinstance(e, Tuple):
        return "(" + ", ".join(inline(x, style) for x in e.items) + ")"
    if isinstance(e, Proj):
        s = f"#{e.index} {inline(e.expr, style, 2)}"
        return s if prec < 2 else f"({s})"
    if isinstance(e, App):
        fp = 1 if style == "myth" else 2
        s = f"{inline(e.fn, style, fp)} {inline(e.arg, style, 2)}"
        return s if prec < 2 else f"({s})"
    if isinstance(e, Match):
        arms = " ".join(f"| {show_pattern(p, style)} -> {inline(b, style)}" for p, b in e.branches)
        return f"(match {inline(e.scrut, style)} with {arms})"
    if isinstance(e, Fix):
        heads = []
        while isinstance(e, Fix) and not (e.name and e.name in free_vars(e.body)):
            heads.append(f"fun ({e.param}:{show_type(e.ptype)}) ->")
            e = e.body
        if not heads:       # a recursive function inside a term: say so in the products form
            return f"(fix {e.name} ({e.param}:{show_type(e.ptype)}) : {show_type(e.rtype)} -> {inline(e.body, style)})"
        return "(" + " ".join(heads) + " " + inline(e, style) + ")"
    return "(" + " ".join(line.strip() for line in block(e, style, 0)) + ")"


def show_example(e, style):
    """Refinements in examples (``spec``): ⊤ and abstract values by name, unions, negations,
    tables; None for anything else."""
    from .spec import Abstract, ExTable, Not, Top, Union
    if isinstance(e, (Top, Abstract)):
        return e.name
    if isinstance(e, Not):
        return f"not({inline(e.value, style)})"
    if isinstance(e, Union):
        return "\\/(" + ", ".join(inline(a, style) for a in e.alts) + ")"
    if isinstance(e, ExTable):
        return "/\\(" + ", ".join(f"{inline(a, style)} -> {inline(r, style)}" for a, r in e.entries) + ")"
    return None


def block(e, style, ind):
    """Multi-line rendering as a list of lines (without trailing newline)."""
    pad = " " * ind
    if isinstance(e, Fix):
        recursive = e.name is not None and e.name in free_vars(e.body)
        head_t = f"({e.param}:{show_type(e.ptype)})"
        if recursive and style == "myth":
            lines = [f"{pad}let rec {e.name} {head_t} : {show_type(e.rtype)} ="]
            lines += block(e.body, style, ind + 2)
            lines += [f"{pad}in", f"{pad}  {e.name}"]
            return lines
        if recursive:
            lines = [f"{pad}fix {e.name} {head_t} : {show_type(e.rtype)} ->"]
        else:
            lines = [f"{pad}fun {head_t} ->"]
        return lines + block(e.body, style, ind + 2)
    if isinstance(e, Match):
        lines = [f"{pad}match {inline(e.scrut, style)} with"]
        bpad = pad + ("  " if style == "myth" else "")
        for p, b in e.branches:
            head = f"{bpad}| {show_pattern(p, style)} -> "
            if isinstance(b, (Match, Fix, Let)):
                sub = block(b, style, len(head) + 1)
                first = sub[0].lstrip()
                if isinstance(b, Match) and b is not e.branches[-1][1] or style == "myth":
                    lines.append(head + "(" + first)
                    lines += sub[1:]
                    lines[-1] += ")"
                else:
                    lines.append(head + first)
                    lines += sub[1:]
            else:
                lines.append(head + inline(b, style))
        return lines
    if isinstance(e, Let):
        lines = [f"{pad}let {e.name} ="] + block(e.value, style, ind + 2) + [f"{pad}in"]
        return lines + block(e.body, style, ind + 2)
    return [pad + inline(e, style)]


def show_expr(e, style="myth") -> str:
    return "\n".join(block(e, style, 0))


def show_program(name, typ, e, style="myth") -> str:
    if style == "myth":
        body = "\n".join(block(e, style, 2))
        return f"let {name} : {show_type(typ)} =\n{body}\n;;"
    return show_expr(e, style)


def alpha_key(e) -> str:
    """A rendering with bound names replaced by their binding order and functions that never
    call themselves written as ``fun``; ``let rec f ... in f`` is read as ``fix f``."""
    names = {}

    def nm(x):
        return names.get(x, x)

    def bind(x):
        names[x] = f"v{len(names)}"
        return names[x]

    def pat(p):
        if isinstance(p, PVar):
            return bind(p.name)
        if isinstance(p, PTuple):
            return "(" + ",".join(pat(q) for q in p.items) + ")"
        if isinstance(p, PCtor):
            return p.ctor + ("" if p.arg is None else " " + pat(p.arg))
        return "_"

    def go(e):
        if isinstance(e, Let) and isinstance(e.value, Fix) and isinstance(e.body, Var) \
                and e.body.name == e.name:
            return go(e.value)
        if isinstance(e, Var):
            return nm(e.name)
        if isinstance(e, Unit):
            return "()"
        if isinstance(e, NatLit):
            key = e.zero
            for _ in range(e.value):
                key = f"({e.succ} {key})"
            return key
        if isinstance(e, Ctor):
            if e.arg is None or isinstance(e.arg, Unit):
                return e.name
            return f"({e.name} {go(e.arg)})"
        if isinstance(e, Tuple):
            return "(" + ",".join(go(x) for x in e.items) + ")"
        if isinstance(e, Proj):
            return f"(#{e.index} {go(e.expr)})"
        if isinstance(e, App):
            return f"({go(e.fn)} {go(e.arg)})"
        if isinstance(e, Match):
            s = go(e.scrut)
            saved = dict(names)
            bs = []
            for p, b in e.branches:
                if isinstance(p, PCtor) and p.arg is not None and not isinstance(p.arg, PTuple) \
                        and isinstance(p.arg, PVar) and p.arg.name not in free_vars(b):
                    p = PCtor(p.ctor)        # an unused unit binder: `Nil u1` is `Nil`
                bs.append(f"{pat(p)}->{go(b)}")
                names.clear()
                names.update(saved)
            return f"(match {s} with {' | '.join(bs)})"
        if isinstance(e, Fix):
            rec = e.name is not None and e.name in free_vars(e.body)
            f = bind(e.name) if rec else "_"
            x = bind(e.param)
            return f"(fix {f} {x} -> {go(e.body)})"
        if isinstance(e, Let):
            v = go(e.value)
            return f"(let {bind(e.name)} = {v} in {go(e.body)})"
        return "?"

    return go(e)
