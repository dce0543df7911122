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
import time
from dataclasses import dataclass, field

from .evaluate import Store
from .examples import ExampleValues
from .pretty import show_program
from .refine import exact, sat
from .rules import ANY, Rules
from .spec import ExTable
from .syntax import UNIT, Ctor, Fix, Tuple, Var, free_vars, size, type_vars
from .tree import Atom, Scope, instances, type_universe
from .typecheck import check_program
from .verify import verify

MAX_DEPTH = 3           # match depth limit
MAX_SIZE = 14           # guess size limit
MAX_SCRUTINEE = 5       # scrutinee size limit
SCRUTINEE_STEPS = ((1, 3), (8, 5))      # (guess size from which, scrutinee size cap)
FIRST_PASS = ((0, 8), (1, 10), (2, 11), (3, 12))    # (match depth, guess size cap)
MATCH_SLACK = 1         # a guess up to this much larger than the budget may replace a match
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


class Synth(Rules):
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
            return None if node.req else (UnitTerm, (0, 0, 0), ("tuple", []))
        vals = self.store.vals
        g0 = goal[0]
        if t[0] == "V" and any(g >= 0 and vals[g][0] == "F" for g in goal):
            return None         # a function example where an opaque value is asked for
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


UnitTerm = Tuple(())


def refined(st, g):
    """Does the example value ``g`` hold a refinement anywhere (inputs of its tables too)?"""
    if g not in st.tables:
        return not exact(st, g)
    return bool(st.fuzzy[g]) or any(refined(st, r) for r in st.tables[g].values())


def scrutinee_cap(k):
    """The largest scrutinee allowed with guesses up to size k."""
    return min(max(m for k0, m in SCRUTINEE_STEPS if k >= k0), MAX_SCRUTINEE)


def count_examples(ex):
    if isinstance(ex, ExTable):
        return sum(count_examples(r) for _, r in ex.entries)
    return 1


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
