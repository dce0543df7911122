"""Does a program compute the intended function beyond its examples?  Random inputs tell.

Examples underdetermine a program; two programs that fit them may still differ elsewhere.
``same_function`` runs ours and a reference -- the intended function we ship beside our own
problems (``NAME.intended``), else a peer tool's output (``NAME.out``) -- on the same random
inputs: values of at most ``size`` constructors, for a type variable one of a few abstract
values (a program that is right on them is right at every type, by parametricity), and for a
function argument a random function (a fixed pseudo-random answer for each argument).

    same_function(path, program)    # True, False, or None when there is no reference
"""
from __future__ import annotations

import copy
import os
import random
import time
import zlib

from .evaluate import Store
from .parser import Parser, parse_expr, parse_file, read_spec
from .syntax import UNIT, arg_types

ABSTRACT_POOL = 3       # abstract values per type variable: few, so that equal keys occur
STOP = (0.05, 0.15, 0.3, 0.5)


def reference(path):
    """(file, kind) of the program a spec's result is compared with, or None."""
    for ext, kind in ((".intended", "intended"), (".out", "peer")):
        if os.path.exists(path[:-3] + ext):
            return path[:-3] + ext, kind
    return None


def reference_program(ref_path, prog):
    """The program in a ``.out`` or ``.intended`` file, parsed with the spec's declarations."""
    text = read_spec(ref_path)
    decls = copy.copy(prog)
    decls.globals, decls.goal = [], None
    if text.lstrip().startswith("let") or "\nlet " in text:
        parser = Parser(text, ref_path, decls)
        while not parser.at("let"):
            parser.i += 1
        parser.letdecl()
        return decls.globals[-1][2]
    body = text[text.index("*)") + 2:] if text.lstrip().startswith("(*") else text
    return parse_expr(body, decls, ref_path)


def random_value(st, prog, typ, fuel, rng):
    """A random value of ``typ`` of at most ``fuel[0]`` constructors (a budget shared with the
    caller and split evenly between a tuple's components, as QuickCheck sizes them), that
    stops at a constructor without argument with chance ``fuel[1]`` at each step; None when
    the type has no finite value."""
    if typ == UNIT:
        return st.unit
    if typ[0] == "T":           # the budget shared evenly between the components
        share = max(fuel[0], 0) // len(typ[1])
        fuel[0] = 0
        items = [random_value(st, prog, t, [share, fuel[1]], rng) for t in typ[1]]
        return None if None in items else st.tup(items)
    if typ[0] == "V":
        return st.abstract(f"{typ[1][1:]}{rng.randrange(ABSTRACT_POOL) + 1}")
    if typ[0] == "A":
        return st.intern(("R", rng.randrange(1 << 30), typ))
    ctors = prog.ctors_of(typ)
    leaves = [c for c in ctors if c[1] == UNIT]
    if leaves and rng.random() < fuel[1]:
        ctors = leaves
    elif fuel[0] <= 0:          # out of budget: the constructors that end soonest
        sizes = [min_size(prog, a) for _, a in ctors]
        if min(sizes) == INF:
            return None
        ctors = [c for c, n in zip(ctors, sizes) if n == min(sizes)]
    fuel[0] -= 1
    name, arg = rng.choice(ctors)
    if arg == UNIT:
        return st.ctor(name, st.unit)
    v = random_value(st, prog, arg, fuel, rng)
    return None if v is None else st.ctor(name, v)


INF = float("inf")


def min_size(prog, typ, seen=frozenset()):
    """The fewest constructors a value of ``typ`` takes (INF: none without going through a
    type of ``seen`` again)."""
    if typ == UNIT or typ[0] in ("V", "A"):
        return 0
    if typ[0] == "T":
        return sum(min_size(prog, t, seen) for t in typ[1])
    if typ in seen:
        return INF
    return 1 + min((min_size(prog, a, seen | {typ}) for _, a in prog.ctors_of(typ)), default=INF)


def oracle(st, prog, size):
    """Answers for random functions: the same argument always gets the same answer."""
    def answer(fv, a):
        _, seed, typ = fv
        rng = random.Random(seed ^ zlib.crc32(st.show(a).encode()))
        v = random_value(st, prog, typ[2], [size, 0.3], rng)
        return -1 if v is None else v
    return answer


class OutOfTime(Exception):
    pass


def same_function(path, program, trials=1000, size=30, seed=0, seconds=10.0):
    """Whether ``program`` agrees with the spec's reference on random inputs: True, False, or
    None when there is no reference (or no program), or the comparison takes more than
    ``seconds``."""
    ref = reference(path)
    if program is None or ref is None:
        return None
    deadline = time.monotonic() + seconds

    def tick():
        if time.monotonic() > deadline:
            raise OutOfTime()
    try:
        return agree(parse_file(path), ref[0], program, trials, size, seed, tick)
    except OutOfTime:
        return None


def agree(prog, ref_path, program, trials, size, seed, tick):
    """``same_function`` once the reference is found; ``tick`` raises when time is up."""
    st = Store(prog, tick=tick)
    st.oracle = oracle(st, prog, size)
    ours, theirs = st.eval(program, {}), st.eval(reference_program(ref_path, prog), {})
    args, _ = arg_types(prog.goal.type)
    rng = random.Random(seed)
    for trial in range(trials):
        if trial % 64 == 0:
            tick()
        a, b = ours, theirs
        for t in args:
            # sizes and the chance to stop at a leaf vary by trial, so both long lists and
            # wide trees of large numbers occur
            x = random_value(st, prog, t, [rng.randint(0, size), rng.choice(STOP)], rng)
            if x is None:
                return None
            a, b = st.apply(a, x), st.apply(b, x)
        if a != b:
            return False
    return True
