"""Abstract syntax of the synthesis language: types, patterns and expressions.

Types are plain tuples so that they hash fast (the synthesiser keys dictionaries on them):
``("B", "nat")`` a declared datatype, ``("B", "list", (t,))`` one applied to type arguments,
``("V", "'a")`` a type variable, ``("A", t1, t2)`` an arrow, ``("T", (t1, ..., tn))`` a tuple
(``UNIT`` is the empty tuple).  Build them with ``base``, ``arrow`` and ``tuple_type`` so that
equal types are equal tuples.  Expressions and patterns are small slotted classes.

A user rarely builds these by hand; ``lthkit.synth.parser.parse_file(path)`` returns them.
"""
from __future__ import annotations

UNIT = ("T", ())


def base(name: str, args=()) -> tuple:
    return ("B", name, tuple(args)) if args else ("B", name)


def type_args(t) -> tuple:
    """The type arguments of a datatype: ``()`` for ``nat``, ``(nat,)`` for ``nat list``."""
    return t[2] if len(t) > 2 else ()


def subst_type(t, sub):
    """``t`` with the type variables named in ``sub`` replaced."""
    if not sub:
        return t
    k = t[0]
    if k == "V":
        return sub.get(t[1], t)
    if k == "A":
        return ("A", subst_type(t[1], sub), subst_type(t[2], sub))
    if k == "T":
        return ("T", tuple(subst_type(x, sub) for x in t[1]))
    return base(t[1], [subst_type(x, sub) for x in type_args(t)])


def type_vars(t, out=None) -> set:
    out = set() if out is None else out
    if t[0] == "V":
        out.add(t[1])
    elif t[0] == "A":
        type_vars(t[1], out), type_vars(t[2], out)
    else:
        for x in (t[1] if t[0] == "T" else type_args(t)):
            type_vars(x, out)
    return out


def arrow(*ts) -> tuple:
    """``arrow(a, b, c)`` is ``a -> b -> c``."""
    t = ts[-1]
    for a in reversed(ts[:-1]):
        t = ("A", a, t)
    return t


def tuple_type(items) -> tuple:
    items = tuple(items)
    return items[0] if len(items) == 1 else ("T", items)


def show_type(t, top=True) -> str:
    if t[0] == "V":
        return t[1]
    if t[0] == "B":
        args = type_args(t)
        if not args:
            return t[1]
        if len(args) == 1:
            a = args[0]
            return f"{show_type(a, False) if a[0] in ('B', 'V') else '(' + show_type(a) + ')'} {t[1]}"
        return f"({', '.join(show_type(a) for a in args)}) {t[1]}"
    if t[0] == "A":
        s = f"{show_type(t[1], False) if t[1][0] != 'A' else '(' + show_type(t[1]) + ')'} -> {show_type(t[2])}"
        return s if top else f"({s})"
    if not t[1]:
        return "unit"
    s = " * ".join(show_type(x, False) for x in t[1])
    return s if top else f"({s})"


def arg_types(t):
    """The argument types and result of a curried arrow type."""
    args = []
    while t[0] == "A":
        args.append(t[1])
        t = t[2]
    return args, t


class Pattern:
    __slots__ = ()


class PVar(Pattern):
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class PWild(Pattern):
    __slots__ = ()


class PTuple(Pattern):
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = tuple(items)


class PCtor(Pattern):
    """``C``, ``C x``, ``C (x, y)``: ``arg`` is None for a constructor carrying unit."""
    __slots__ = ("ctor", "arg")

    def __init__(self, ctor, arg=None):
        self.ctor, self.arg = ctor, arg


class Expr:
    __slots__ = ()


class Var(Expr):
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class App(Expr):
    __slots__ = ("fn", "arg")

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg


class Ctor(Expr):
    """A constructor applied to its single argument (None: the constructor carries unit)."""
    __slots__ = ("name", "arg")

    def __init__(self, name, arg=None):
        self.name, self.arg = name, arg


class Tuple(Expr):
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = tuple(items)


class Proj(Expr):
    """``#i e``, 1-based."""
    __slots__ = ("index", "expr")

    def __init__(self, index, expr):
        self.index, self.expr = index, expr


class Match(Expr):
    __slots__ = ("scrut", "branches")

    def __init__(self, scrut, branches):
        self.scrut, self.branches = scrut, tuple(branches)


class Fix(Expr):
    """``fix f (x:T) : R -> body``; ``fun`` is a Fix whose ``name`` is None."""
    __slots__ = ("name", "param", "ptype", "rtype", "body", "_free")

    def __init__(self, name, param, ptype, rtype, body):
        self.name, self.param, self.ptype, self.rtype, self.body = name, param, ptype, rtype, body
        self._free = None


class Let(Expr):
    __slots__ = ("name", "value", "body")

    def __init__(self, name, value, body):
        self.name, self.value, self.body = name, value, body


class Unit(Expr):
    __slots__ = ()


class NatLit(Expr):
    """A natural-number literal, kept as a number: the evaluator builds its unary value
    without a chain of ``Ctor`` nodes (a literal 1000 is one node, not a thousand)."""
    __slots__ = ("value", "zero", "succ")

    def __init__(self, value, zero, succ):
        self.value, self.zero, self.succ = value, zero, succ


def free_vars(e, bound=frozenset()) -> set:
    if isinstance(e, Var):
        return set() if e.name in bound else {e.name}
    if isinstance(e, App):
        return free_vars(e.fn, bound) | free_vars(e.arg, bound)
    if isinstance(e, Ctor):
        return free_vars(e.arg, bound) if e.arg is not None else set()
    if isinstance(e, Tuple):
        out = set()
        for x in e.items:
            out |= free_vars(x, bound)
        return out
    if isinstance(e, Proj):
        return free_vars(e.expr, bound)
    if isinstance(e, Match):
        out = free_vars(e.scrut, bound)
        for p, b in e.branches:
            out |= free_vars(b, bound | pattern_vars(p))
        return out
    if isinstance(e, Fix):
        inner = bound | {e.param} | ({e.name} if e.name else set())
        return free_vars(e.body, inner)
    if isinstance(e, Let):
        return free_vars(e.value, bound) | free_vars(e.body, bound | {e.name})
    return set()


def pattern_vars(p) -> frozenset:
    if isinstance(p, PVar):
        return frozenset([p.name])
    if isinstance(p, PTuple):
        out = frozenset()
        for q in p.items:
            out |= pattern_vars(q)
        return out
    if isinstance(p, PCtor) and p.arg is not None:
        return pattern_vars(p.arg)
    return frozenset()


def size(e) -> int:
    """Term size as the synthesiser counts it: one per variable, constructor, application,
    projection, binder and match branch; a tuple costs only its components."""
    if isinstance(e, (Var, Unit)):
        return 1
    if isinstance(e, App):
        return size(e.fn) + size(e.arg)
    if isinstance(e, Ctor):
        return 1 + (size(e.arg) if e.arg is not None else 0)
    if isinstance(e, Tuple):
        return sum(size(x) for x in e.items)
    if isinstance(e, Proj):
        return 1 + size(e.expr)
    if isinstance(e, Match):
        return 1 + size(e.scrut) + sum(size(b) for _, b in e.branches)
    if isinstance(e, Fix):
        return 1 + size(e.body)
    if isinstance(e, Let):
        return 1 + size(e.value) + size(e.body)
    if isinstance(e, NatLit):
        return 1 + e.value
    return 1
