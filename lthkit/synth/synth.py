"""The synthesiser: refinement trees searched by iterative deepening.

A *node* asks for a term of one type whose value in each example world is given (its goal
vector).  A node is solved by (1) guessing an elimination term of bounded size that agrees
with every example (``guess.Enumerator``), (2) introducing ``fix`` at an arrow type, which
splits the function examples into one world per input, (3) introducing a constructor when all
examples share its head, or a tuple (one sub-goal per component), or (4) introducing a match
on a scrutinee term, which distributes the worlds to the branches (each branch must receive at
least one).  Recursive calls are only made on pattern variables structurally smaller than the
function's argument.  The whole tree is searched with iterative deepening on match depth and
guess size; every solution is then checked by evaluating it on all the examples.

    result = synthesize(parse_file("list_stutter.ml"), timeout=10)
    print(result.text)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .evaluate import Store
from .parser import ExTable, Not
from .pretty import show_program
from .syntax import UNIT, Ctor, Fix, Match, Tuple, Var, size
from .tree import Atom, Scope, decompose, fresh
from .typecheck import check_program

ANY = -2                # an unconstrained world (e.g. a negative example already satisfied)
MAX_DEPTH = 3           # match depth limit
MAX_SIZE = 14           # guess size limit
MAX_SCRUTINEE = 3       # scrutinee size limit
FIRST_PASS = ((0, 8), (1, 10), (2, 11), (3, 12))    # (match depth, guess size cap)


class SynthTimeout(Exception):
    pass


@dataclass
class Result:
    name: str
    solved: bool
    program: object = None
    text: str = ""
    seconds: float = 0.0
    examples: int = 0
    size: int = 0
    verified: bool = False
    limits: str = ""
    stats: dict = field(default_factory=dict)


class Synth:
    """One synthesis problem: the store of values, the root node and the search."""

    def __init__(self, prog, focusing=True, timeout=None):
        check_program(prog)
        self.prog, self.style, self.focusing = prog, prog.style, focusing
        self.store = Store(prog)
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.stats = {"terms": 0, "nodes": 0, "scopes": 0}
        self._ticks = 0
        self.goal_value = self.example_value(prog.goal.examples)

    # -- examples --------------------------------------------------------------------------
    def example_value(self, ex):
        st = self.store
        if isinstance(ex, ExTable):
            return st.table([(self.example_value(a), self.example_value(r)) for a, r in ex.entries])
        if isinstance(ex, Not):
            return st.negative([st.eval(ex.value, {})])
        return st.eval(ex, {})

    def tick(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SynthTimeout()

    # -- search ----------------------------------------------------------------------------
    def plan(self):
        """(match depth, guess size) budgets in the order tried.  A first pass caps the guess
        size by depth, so a deeper tree of small terms is tried before huge guesses in a
        shallow one; the second pass covers the full limits.  Failures are memoised per node,
        so budgets already tried cost a lookup."""
        for d, cap in FIRST_PASS:
            if d <= MAX_DEPTH:
                for k in range(1, min(cap, MAX_SIZE) + 1):
                    yield d, k
        for d in range(0, MAX_DEPTH + 1):
            for k in range(1, MAX_SIZE + 1):
                yield d, k

    def run(self):
        atoms = [Atom(Var(name), t, (self.store.globals[name],))
                 for name, t, _e, _p in self.prog.globals]
        self.root_scope = Scope(self, 1, atoms, [], [], {})
        root = self.root = self.root_scope.node(self.prog.goal.type, (self.goal_value,))
        for d, k in self.plan():
            term = self.solve(root, d, k)
            if term is not None:
                return term
        return None

    def solve(self, node, d, k):
        if node.sol is not None and node.cost[0] <= d and node.cost[1] <= k:
            return node.sol
        for fd, fk in node.fails.items():
            if fd >= d and fk >= k:
                return None
        self._ticks += 1
        if self._ticks & 63 == 0:
            self.tick()
        found = self.attempt(node, d, k)
        if found is None:
            if node.fails.get(d, 0) < k:
                node.fails[d] = k
            return None
        term, cost, via = found
        if node.sol is None or cost <= node.cost:
            node.sol, node.cost, node.via = term, cost, via
        return term

    def attempt(self, node, d, k):
        t, goal = node.type, node.goal
        if t[0] == "A":
            return self.intro_fix(node, d, k)
        if t == UNIT:
            return UnitTerm, (0, 0), ("tuple", [])
        vals = self.store.vals
        g0 = goal[0]
        if g0 >= 0 and vals[g0][0] == "C" and vals[g0][2] == self.store.unit \
                and all(g == g0 for g in goal):
            return Ctor(vals[g0][1]), (0, 1), ("constructor", [])   # a constant: no guessing
        term = self.guess(node, k)
        if term is not None:
            return term, (0, size(term)), ("guess", [])
        # A constructor (or tuple) whose arguments need no match is preferred to a match here;
        # a match here is preferred to one repeated inside every argument.
        intro = self.intro_tuple if t[0] == "T" else self.intro_ctor
        found = intro(node, 0, k)
        if found is not None or d == 0:
            return found
        found = self.intro_match(node, d, k)
        if found is not None:
            return found
        return intro(node, d, k)

    def guess(self, node, k):
        enum = node.scope.enum
        if node.plain:
            return enum.lookup(node.type, node.goal, k)
        vals = self.store.vals
        goal = node.goal

        def accept(vec):
            for g, v in zip(goal, vec):
                if g == ANY:
                    continue
                if vals[g][0] == "N":
                    if v in vals[g][1]:
                        return False
                elif g != v:
                    return False
            return True
        return enum.search(node.type, accept, k)

    def intro_fix(self, node, d, k):
        scope, (_, ptype, rtype) = node.scope, node.type
        tables = self.store.tables
        parent, xs, outs = [], [], []
        for i, g in enumerate(node.goal):
            if g in tables:
                for a, r in tables[g].items():
                    parent.append(i)
                    xs.append(a)
                    outs.append(r)
        if not parent:
            return None
        key = ("fix", node.goal)
        child = scope._branches.get(key)
        if child is None:
            rep = lambda v: tuple(v[i] for i in parent)
            names = dict(scope.names)
            f = fresh(names, node.type)
            x = fresh(names, ptype)
            atoms = [Atom(a.expr, a.type, rep(a.vec), a.size, a.dec, a.param_of)
                     for a in scope.atoms if a.size == 1]
            atoms += [Atom(e.expr, e.type, e.vec, 1, frozenset(), frozenset([f]))
                      for e in decompose(self, Var(x), ptype, tuple(xs), frozenset())]
            vars_ = [(y, rep(v)) for y, v in scope.vars] + [(f, rep(node.goal)), (x, tuple(xs))]
            fixes = [(g, pt, rt, rep(fv)) for g, pt, rt, fv in scope.fixes]
            fixes.append((f, ptype, rtype, rep(node.goal)))
            child = Scope(self, len(parent), atoms, vars_, fixes, names)
            child.fix_names = (f, x)
            scope._branches[key] = child
        body = self.solve(child.node(rtype, tuple(outs)), d, k)
        if body is None:
            return None
        f, x = child.fix_names
        cnode = child.node(rtype, tuple(outs))
        return Fix(f, x, ptype, rtype, body), cnode.cost, ("fix", [cnode])

    def intro_tuple(self, node, d, k):
        vals = self.store.vals
        comps = node.type[1]
        items, cost, kids = [], (0, 0), []
        for j, ct in enumerate(comps):
            sub = tuple(vals[g][1][j] if g >= 0 and vals[g][0] == "T" else ANY for g in node.goal)
            cn = node.scope.node(ct, sub)
            term = self.solve(cn, d, k)
            if term is None:
                return None
            items.append(term)
            kids.append(cn)
            cost = max(cost, cn.cost)
        return Tuple(items), cost, ("tuple", kids)

    def intro_ctor(self, node, d, k):
        vals = self.store.vals
        heads = {vals[g][1] for g in node.goal if g >= 0 and vals[g][0] == "C"}
        if len(heads) != 1:
            return None
        (cname,) = heads
        atype = self.prog.ctors[cname][1]
        sub = []
        for g in node.goal:
            if g == ANY:
                sub.append(ANY)
            elif vals[g][0] == "C":
                sub.append(vals[g][2])
            else:               # a negative example `not v`
                same = [vals[v][2] for v in vals[g][1] if vals[v][1] == cname]
                if not same:
                    sub.append(ANY)
                elif atype == UNIT or atype[0] == "T":
                    return None  # cannot split `not (C (a, b))` into components
                else:
                    sub.append(self.store.negative(same))
        if atype == UNIT:
            return Ctor(cname), (0, 1), ("constructor", [])
        cn = node.scope.node(atype, tuple(sub))
        term = self.solve(cn, d, k)
        if term is None:
            return None
        return Ctor(cname, term), cn.cost, ("constructor", [cn])

    def intro_match(self, node, d, k):
        scope = node.scope
        for scrut in scope.scrutinees(MAX_SCRUTINEE):
            branches = scope.branches(scrut)
            if any(not idx for _, idx, _ in branches):
                continue
            arms, cost, kids = [], (d, 0), []
            for pat, idx, child in branches:
                cn = child.node(node.type, tuple(node.goal[i] for i in idx))
                term = self.solve(cn, d - 1, k)
                if term is None:
                    break
                arms.append((pat, term))
                kids.append(cn)
                cost = (max(cost[0], cn.cost[0] + 1), max(cost[1], cn.cost[1]))
            else:
                return Match(scrut[0], arms), cost, ("match", kids)
        return None


UnitTerm = Tuple(())


def count_examples(ex):
    if isinstance(ex, ExTable):
        return sum(count_examples(r) for _, r in ex.entries)
    return 1


def example_paths(ex, prefix=()):
    if isinstance(ex, ExTable):
        for a, r in ex.entries:
            yield from example_paths(r, prefix + (a,))
    else:
        yield prefix, ex


def verify(syn, program):
    """Evaluate the program on every example with real recursion; True if all agree."""
    st = syn.store
    st.memo = {}
    fn = st.eval(program, {})
    for inputs, out in example_paths(syn.prog.goal.examples):
        v = fn
        for a in inputs:
            v = st.apply(v, syn.example_value(a))
        if isinstance(out, Not):
            if v < 0 or v == st.eval(out.value, {}):
                return False
        elif v < 0 or v != syn.example_value(out):
            return False
    return True


def synthesize(prog, timeout=None, focusing=True) -> Result:
    """Synthesise the goal of a parsed spec; never raises for an unsolvable spec."""
    t0 = time.perf_counter()
    goal = prog.goal
    res = Result(goal.name, False, examples=count_examples(goal.examples))
    syn = Synth(prog, focusing=focusing, timeout=timeout)
    try:
        term = syn.run()
        if term is None:
            res.limits = (f"no program within match depth {MAX_DEPTH}, guess size {MAX_SIZE}, "
                          f"scrutinee size {MAX_SCRUTINEE}")
    except SynthTimeout:
        term = None
        res.limits = f"timeout after {timeout:g} s"
    except RecursionError:
        term = None
        res.limits = "recursion limit reached"
    res.seconds = time.perf_counter() - t0
    res.stats = dict(syn.stats)
    if term is not None:
        res.program = term
        res.size = size(term)
        res.verified = verify(syn, term)
        res.solved = res.verified
        res.text = show_program(goal.name, goal.type, term, prog.style)
        if not res.verified:
            res.limits = "candidate program failed verification"
        res.seconds = time.perf_counter() - t0
    return res
