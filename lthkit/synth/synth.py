"""The synthesiser: refinement trees searched by iterative deepening.

A *node* asks for a term of one type whose value in each example world is given (its goal
vector).  A node is solved by (1) guessing an elimination term of bounded size that agrees
with every example (``guess.Enumerator``), (2) introducing ``fix`` at an arrow type, which
splits the function examples into one world per input, (3) introducing a constructor when all
examples share its head, or a tuple (one sub-goal per component), or (4) introducing a match
on a scrutinee term, which distributes the worlds to the branches (each branch must receive at
least one).  Recursive calls are only made on pattern variables structurally smaller than the
function's argument.  The whole tree is searched with iterative deepening on match depth and
guess size; every solution is then checked by evaluating it on all the examples (``verify``).

Examples may be refinements (``refine``): a world whose input is ⊤ reaches every branch of a
match on it, a goal of ⊤ accepts any term, a union goal any term in one of its alternatives.
Type variables are opaque types; a polymorphic helper enters the context once per way of
instantiating it with the types of the goal.

    result = synthesize(parse_file("list_stutter.ml"), timeout=10)
    print(result.text)
"""
from __future__ import annotations

import gc
import itertools
import time
from dataclasses import dataclass, field

from .evaluate import Store
from .examples import ExampleValues
from .pretty import alpha_key, show_program
from .refine import exact, sat, top
from .spec import ExTable
from .syntax import (UNIT, Ctor, Fix, Match, Tuple, Var, free_vars, size, subst_type, type_args,
                     type_vars)
from .tree import Atom, Scope, decompose, fresh
from .typecheck import check_program
from .verify import verify

ANY = -2                # an unconstrained world (e.g. a negative example already satisfied)
MAX_DEPTH = 3           # match depth limit
MAX_SIZE = 14           # guess size limit
MAX_SCRUTINEE = 5       # scrutinee size limit
SCRUTINEE_STEPS = ((1, 3), (8, 5))      # (guess size from which, scrutinee size cap)
FIRST_PASS = ((0, 8), (1, 10), (2, 11), (3, 12))    # (match depth, guess size cap)
MATCH_SLACK = 1         # a guess up to this much larger than the budget may replace a match
TIE_SIZE = 3            # scrutinees from this size on compete on the size of the match
RELEVANCE_SLACK = 2     # guess size beyond the first program's allowed to use every argument


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
    checked: str = ""           # how the program was verified (examples, enumerated inputs)
    limits: str = ""
    stats: dict = field(default_factory=dict)


class Synth:
    """One synthesis problem: the store of values, the root node and the search."""

    def __init__(self, prog, focusing=True, timeout=None, deadline=None, generalise=True):
        """``deadline`` (``time.monotonic()`` seconds) bounds everything from here on, type
        checking and verification included; ``timeout`` sets it from now.  ``generalise``
        False turns off the preferences for programs that generalise (an ablation): the
        first program found in the plan's order is kept."""
        self.generalise = generalise
        if deadline is None and timeout is not None:
            deadline = time.monotonic() + timeout
        self.deadline = deadline
        check_program(prog)
        self.prog, self.style, self.focusing = prog, prog.style, focusing
        self.store = Store(prog, tick=self.tick)
        self.stats = {"terms": 0, "nodes": 0, "scopes": 0}
        self.smax = scrutinee_cap(1)        # the scrutinee size cap of the budget being tried
        self.fixed_args = set()             # arguments given one value by every example
        self._ticks = 0
        self.examples = ExampleValues(self.store)
        self.goal_value = self.examples.value(prog.goal.examples)
        # examples with ⊤, unions or negations need the slower paths of the search
        self.refined = refined(self.store, self.goal_value)

    def example_value(self, ex):
        return self.examples.value(ex)

    def tick(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SynthTimeout()

    # -- search ----------------------------------------------------------------------------
    def plan(self):
        """(match depth, guess size, scrutinee size) budgets in the order tried.  A first pass
        caps the guess size by depth, so a deeper tree of small terms is tried before huge
        guesses in a shallow one; the scrutinee size cap grows with the guess size, so that
        one match on `compare (f e1) (f e2)` comes before two nested matches on `f e1` and
        `f e2` at the next depth.  The second pass covers the full limits.  Failures are
        memoised per node, so budgets already tried cost a lookup."""
        for d, cap in FIRST_PASS:
            if d <= MAX_DEPTH:
                for k in range(1, min(cap, MAX_SIZE) + 1):
                    yield d, k, scrutinee_cap(k)
        for d in range(0, MAX_DEPTH + 1):
            for k in range(1, MAX_SIZE + 1):
                yield d, k, scrutinee_cap(k)

    def run(self):
        universe = [] if not any(type_vars(t) for _, t, _, _ in self.prog.globals) else \
            type_universe(self.prog, self.prog.goal.type)
        atoms = [Atom(Var(name), inst, (self.store.globals[name],))
                 for name, t, _e, _p in self.prog.globals for inst in instances(t, universe)]
        self.root_scope = Scope(self, 1, atoms, [], [], {})
        root = self.root = self.root_scope.node(self.prog.goal.type, (self.goal_value,))
        for d, k, self.smax in self.plan():
            term = self.solve(root, d, k)
            if term is not None:
                return self.prefer_relevant(term, d, k, self.smax) if self.generalise else term
        return None

    def prefer_relevant(self, term, d, k, m):
        """The smallest program may ignore an argument: a dictionary lookup that tests whether
        a stored key is 0 instead of comparing it with the key it is given, when every example
        looks up 0.  Arguments are there to be used, so when the first program ignores some,
        the same limits (match depth d, guess size up to k + RELEVANCE_SLACK) are searched
        again for one that uses them all, non-vacuously; the first program stays if there is
        none."""
        params, body = [], term
        while isinstance(body, Fix):
            params.append(body.param)
            body = body.body
        unused = frozenset(params) - free_vars(body)
        if not unused:
            return term
        root = self.root_scope.node(self.prog.goal.type, (self.goal_value,), unused)
        for d2, k2, self.smax in self.plan():
            if d2 <= d and k2 <= k + RELEVANCE_SLACK and self.smax <= m:
                found = self.solve(root, d2, k2)
                if found is not None:
                    self.stats["relevance"] = sorted(unused)
                    self.root = root
                    return found
        return term

    def solve(self, node, d, k):
        """A term for ``node`` within match depth d, guess size k and scrutinee size
        ``self.smax``, or None; both answers are memoised on the node."""
        m = self.smax
        cost = node.cost
        if node.sol is not None and cost[0] <= d and cost[1] <= k and cost[2] <= m:
            return node.sol
        for (fd, fm), fk in node.fails.items():
            if fd >= d and fk >= k and fm >= m:
                return None
        self._ticks += 1
        if self._ticks & 63 == 0:
            self.tick()
        found = self.attempt(node, d, k)
        if found is None:
            if node.fails.get((d, m), 0) < k:
                node.fails[(d, m)] = k
            return None
        term, cost, via = found
        # the budget is the least one known to suffice; the term the smallest one found (a
        # smaller budget can give a larger term: nested matches on small guesses)
        if node.sol is None or cost <= node.cost:
            node.cost = cost
        if node.sol is None or term is not node.sol and (not self.generalise
                                                         or size(term) < size(node.sol)):
            node.sol, node.via = term, via
        return node.sol

    def attempt(self, node, d, k):
        t, goal = node.type, node.goal
        if t[0] == "A":
            return self.intro_fix(node, d, k)
        if t == UNIT:
            return UnitTerm, (0, 0, 0), ("tuple", [])
        vals = self.store.vals
        g0 = goal[0]
        if t[0] == "V" and any(g >= 0 and vals[g][0] == "F" for g in goal):
            return None         # a function example where an opaque value is asked for
        if node.req and t == UNIT:
            return None
        if not node.req and g0 >= 0 and vals[g0][0] == "C" and vals[g0][2] == self.store.unit \
                and all(g == g0 for g in goal):
            # a constant -- unless an argument that has this one value in every example of the
            # spec holds it: the examples never vary the key of a lookup, yet it is the key
            var = self.generalise and self.fixed_args and next(
                (a.expr for a in node.scope.atoms if a.size == 1 and a.vec == goal
                 and isinstance(a.expr, Var) and a.expr.name in self.fixed_args), None)
            return (var or Ctor(vals[g0][1])), (0, 1, 0), ("guess" if var else "constructor", [])
        term = self.guess(node, k)
        if term is not None:
            return term, (0, size(term), 0), ("guess", [])
        # A constructor (or tuple) whose arguments need no match is preferred to a match here;
        # a match here is preferred to one repeated inside every argument.
        intro = self.intro_tuple if t[0] == "T" else self.intro_ctor
        found = intro(node, 0, k)
        if found is not None or d == 0:
            return found
        found = self.intro_match(node, d, k)
        if found is not None:
            if self.generalise:
                # Occam, locally: a guess smaller than the whole match is the better program
                # (`f5 (#2 t1)` rather than a match on it that rebuilds each case)
                smaller = self.guess(node, min(size(found[0]) - 1, k + MATCH_SLACK, MAX_SIZE))
                if smaller is not None:
                    return smaller, found[1], ("guess", [])
            return found
        return intro(node, d, k)

    def guess(self, node, k):
        enum = node.scope.enum
        if node.plain:
            return enum.lookup(node.type, node.goal, k)
        st = self.store
        worlds = [(i, g) for i, g in enumerate(node.goal) if g != ANY and st.vals[g][0] != "U"]
        tops = [i for i, g in enumerate(node.goal) if g != ANY and st.vals[g][0] == "U"]
        req = node.req

        def accept(vec):
            return all(vec[i] == g or sat(st, vec[i], g) for i, g in worlds)

        keep = (lambda term: req <= free_vars(term)) if req else None

        # Where the examples leave a value open (⊤), a term carrying an input the examples
        # also leave open is preferred to one of equal size that does not: `['a] -> ['a; a]`
        # reads as "keep the element", not "any element will do".
        score = ((lambda vec: sum(not exact(st, vec[i]) for i in tops))
                 if tops and self.generalise else None)
        return enum.search(node.type, accept, k, score, keep)

    def intro_fix(self, node, d, k):
        scope, (_, ptype, rtype) = node.scope, node.type
        tables = self.store.tables
        parent, xs, outs = [], [], []
        for i, g in enumerate(node.goal):
            if g >= 0 and g in tables:
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
            if len(set(xs)) == 1 and len(node.goal) == 1:
                self.fixed_args.add(x)
            scope._branches[key] = child
        cnode = child.node(rtype, tuple(outs), node.req)
        body = self.solve(cnode, d, k)
        if body is None:
            return None
        f, x = child.fix_names
        return Fix(f, x, ptype, rtype, body), cnode.cost, ("fix", [cnode])

    def intro_tuple(self, node, d, k):
        vals = self.store.vals
        goal = node.goal
        if not node.plain and any(g >= 0 and vals[g][0] == "O" for g in goal):
            return None         # a union of tuples is not a tuple of unions
        comps = node.type[1]
        for carrier in (range(len(comps)) if node.req else [None]):
            items, cost, kids = [], (0, 0, 0), []
            for j, ct in enumerate(comps):
                sub = tuple(vals[g][1][j] if g >= 0 and vals[g][0] == "T" else ANY for g in goal)
                cn = node.scope.node(ct, sub, node.req if j == carrier else frozenset())
                term = self.solve(cn, d, k)
                if term is None:
                    break
                items.append(term)
                kids.append(cn)
                cost = join(cost, cn.cost)
            else:
                return Tuple(items), cost, ("tuple", kids)
        return None

    def intro_ctor(self, node, d, k):
        st = self.store
        vals = st.vals
        heads = {vals[g][1] for g in node.goal if g >= 0 and vals[g][0] == "C"}
        if len(heads) != 1:
            return None
        (cname,) = heads
        atype = self.prog.ctor_arg(cname, node.type)
        sub = []
        for g in node.goal:
            kind = vals[g][0] if g >= 0 else None
            if g == ANY:
                sub.append(ANY)
            elif kind == "C":
                sub.append(vals[g][2])
            elif kind == "U":
                sub.append(top(st, atype))
            elif kind == "O":   # the alternatives with this head
                args = [vals[a][2] for a in vals[g][1] if vals[a][0] == "C" and vals[a][1] == cname]
                if not args or len(args) > 1 and atype[0] == "T":
                    return None
                sub.append(args[0] if len(args) == 1 else st.union(args))
            else:               # a negative example `not v`
                same = [vals[v][2] for v in vals[g][1] if vals[v][1] == cname]
                if not same:
                    sub.append(ANY)
                elif atype == UNIT or atype[0] == "T":
                    return None  # cannot split `not (C (a, b))` into components
                else:
                    sub.append(st.negative(same, atype))
        if atype == UNIT:
            return None if node.req else (Ctor(cname), (0, 1, 0), ("constructor", []))
        cn = node.scope.node(atype, tuple(sub), node.req)
        term = self.solve(cn, d, k)
        if term is None:
            return None
        return Ctor(cname, term), cn.cost, ("constructor", [cn])

    def intro_match(self, node, d, k):
        """The first scrutinee (recursive calls first, then by size) whose branches can all
        be solved -- or, among those of its kind and size, the one giving the smallest term:
        a tie in the order is no reason to prefer `match mult x y` to `match compare x y`."""
        scope = node.scope
        best, tie = None, None
        for scrut in scope.scrutinees(self.smax):
            if best is not None and (scrut[3], scope.is_recursive_call(scrut[0])) != tie:
                break
            branches = scope.branches(scrut)
            if any(not idx for _, idx, _ in branches):
                continue
            # a required variable is used by the scrutinee, or else by one branch (tried in turn)
            rest = node.req - free_vars(scrut[0]) if node.req else node.req
            for carrier in (range(len(branches)) if rest else [None]):
                found = self.match_on(node, scrut, branches, d, k, rest, carrier)
                if found is not None:
                    if scrut[3] < TIE_SIZE or not self.generalise:
                        return found
                    if best is None or size(found[0]) < size(best[0]):
                        best, tie = found, (scrut[3], scope.is_recursive_call(scrut[0]))
                    break
        return best

    def match_on(self, node, scrut, branches, d, k, rest, carrier):
        arms, cost, kids = [], (1, 0, scrut[3]), []
        for b, (pat, idx, child) in enumerate(branches):
            cn = child.node(node.type, tuple(node.goal[i] for i in idx),
                            rest if b == carrier else frozenset())
            term = self.solve(cn, d - 1, k)
            if term is None:
                return None
            arms.append((pat, term))
            kids.append(cn)
            cost = join(cost, (cn.cost[0] + 1, cn.cost[1], cn.cost[2]))
        if node.req and rest != node.req and len({alpha_key(t) for _, t in arms}) == 1:
            return None         # `match x with A -> e | B -> e` does not really use x
        return Match(scrut[0], arms), cost, ("match", kids)


UnitTerm = Tuple(())


def refined(st, g):
    """Does the example value ``g`` hold a refinement anywhere (inputs of its tables too)?"""
    if g not in st.tables:
        return not exact(st, g)
    return bool(st.fuzzy[g]) or any(refined(st, r) for r in st.tables[g].values())


def scrutinee_cap(k):
    """The largest scrutinee allowed with guesses up to size k."""
    return min(max(m for k0, m in SCRUTINEE_STEPS if k >= k0), MAX_SCRUTINEE)


def join(a, b):
    """The budget two parts of a term need together: the larger of each of its measures."""
    return tuple(map(max, a, b))


def count_examples(ex):
    if isinstance(ex, ExTable):
        return sum(count_examples(r) for _, r in ex.entries)
    return 1


def type_universe(prog, goal_type, limit=12):
    """The datatypes and type variables a goal works with: those in its type and, within
    ``limit``, the types their constructors carry (what a polymorphic helper may be used at)."""
    seen, todo = [], [goal_type]
    while todo and len(seen) < limit:
        t = todo.pop(0)
        if t[0] in ("A", "T"):
            todo.extend(t[1:] if t[0] == "A" else t[1])
        elif t not in seen:
            seen.append(t)
            if t[0] == "B":
                todo.extend(type_args(t))
                todo.extend(a for _, a in prog.ctors_of(t))
    return seen


def instances(t, universe, limit=16):
    """A helper's type at each way of giving its type variables types from ``universe``."""
    names = sorted(type_vars(t))
    if not names:
        return [t]
    out = []
    for combo in itertools.product(universe, repeat=len(names)):
        out.append(subst_type(t, dict(zip(names, combo))))
        if len(out) >= limit:
            break
    return out


def synthesize(prog, timeout=None, focusing=True, deadline=None, generalise=True) -> Result:
    """Synthesise the goal of a parsed spec; never raises for an unsolvable spec (a spec that
    is not well-typed or whose examples contradict each other raises SynthInputError)."""
    t0 = time.perf_counter()
    if deadline is None and timeout is not None:
        deadline = time.monotonic() + timeout
    limit = f"timeout after {timeout:g} s" if timeout is not None else "timeout"
    goal = prog.goal
    res = Result(goal.name, False, examples=count_examples(goal.examples))
    syn = None
    # The search makes many small objects and frees none of them until it ends: cyclic
    # garbage collection passes over them during the search would cost 10-20% of its time
    # and free nothing.  One pass after it (when the caller next allocates) frees its cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        syn = Synth(prog, focusing=focusing, deadline=deadline, generalise=generalise)
        res.examples = count_examples(goal.examples)
        term = syn.run()
        if term is None:
            res.limits = (f"no program within match depth {MAX_DEPTH}, guess size {MAX_SIZE}, "
                          f"scrutinee size {MAX_SCRUTINEE}")
        else:
            res.program, res.size = term, size(term)
            res.text = show_program(goal.name, goal.type, term, prog.style)
            res.verified, res.checked = verify(syn, term)
            res.solved = res.verified
            if not res.verified:
                res.limits = f"candidate program failed verification: {res.checked}"
    except SynthTimeout:
        res.solved = res.verified = False
        res.limits = limit
    except RecursionError:
        res.solved = res.verified = False
        res.limits = "recursion limit reached"
    finally:
        res.seconds = time.perf_counter() - t0
        res.stats = dict(syn.stats) if syn is not None else {}
        syn = None
        if collecting:
            gc.enable()
    return res
