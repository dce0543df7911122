"""Guessing of elimination terms by size, checked against the examples.

An ``Enumerator`` belongs to one scope of the refinement tree (a context and its example
worlds).  It builds terms size by size -- variables, recursive calls on structurally smaller
arguments, applications whose arguments are introduction forms (constructors, tuples, small
``fun``s), projections -- and evaluates each on every world at once, giving a *vector* of
value ids.  Terms with equal vectors are interchangeable for every goal in the scope and its
sub-scopes, so only the smallest is kept: a goal is then solved by a dictionary lookup.

    enum = Enumerator(scope); term = enum.lookup(goal_type, goal_vector, max_size)
"""
from __future__ import annotations

from .evaluate import UNDEF
from .syntax import UNIT, App, Ctor, Fix, Proj, Tuple, Var

LAMBDA_MAX = 4          # largest `fun` built as an argument (1 + body size)


class Enumerator:
    def __init__(self, scope):
        self.scope = scope
        self.syn = scope.syn
        self.store = scope.syn.store
        self.seen = {}      # type -> {vec: (term, size)}        elimination terms
        self.elims = {}     # size -> [(term, type, vec)]
        self.fns = {}       # size -> [(term, type, vec)] of function type (the ones applied)
        self.etype = {}     # (type, size) -> [(term, vec)]
        self.iseen = {}     # type -> set of vecs                 introduction forms
        self.iforms = {}    # (type, size) -> [(term, vec)]
        self.done = 0

    # -- queries ---------------------------------------------------------------------------
    def lookup(self, typ, goal, k):
        self.upto(k)
        hit = self.seen.get(typ, {}).get(goal)
        if hit is not None and hit[1] <= k:
            return hit[0]
        return None

    def search(self, typ, accept, k, score=None, keep=None):
        """First term of ``typ`` up to size k, constructors included, whose vector satisfies
        ``accept`` (for goals with refinements -- ⊤, unions, negations -- which a dictionary
        lookup cannot answer and constructor introduction cannot always split).  With
        ``score``, the best-scoring term of the smallest size that has one; with ``keep``, only
        terms it keeps."""
        self.upto(k)
        for s in range(1, k + 1):
            best = None
            for term, vec in self.args(typ, s):
                if accept(vec) and (keep is None or keep(term)):
                    if score is None:
                        return term
                    sc = score(vec)
                    if best is None or sc > best[0]:
                        best = (sc, term)
            if best is not None:
                return best[1]
        return None

    def elims_of_size(self, s):
        self.upto(s)
        return self.elims.get(s, ())

    # -- elimination terms -------------------------------------------------------------------
    def upto(self, k):
        while self.done < k:
            self.done += 1
            self.fill(self.done)

    def add(self, term, typ, vec, s):
        seen = self.seen.get(typ)
        if seen is None:
            seen = self.seen[typ] = {}
        if vec in seen:
            return
        seen[vec] = (term, s)
        self.etype.setdefault((typ, s), []).append((term, vec))
        self.elims.setdefault(s, []).append((term, typ, vec))
        if typ[0] == "A":
            self.fns.setdefault(s, []).append((term, typ, vec))

    def fill(self, s):
        syn, store = self.syn, self.store
        syn.tick()
        before = len(self.elims.get(s, ()))
        for a in self.scope.atoms:
            if a.size == s and UNDEF not in a.vec:
                self.add(a.expr, a.type, a.vec, s)
        apply = store.apply
        n = 0
        for k in range(1, s):
            for fn, ftype, fvec in self.fns.get(k, ()):
                rtype = ftype[2]
                seen = self.seen.get(rtype, ())
                for arg, avec in self.args(ftype[1], s - k):
                    vec = tuple(map(apply, fvec, avec))
                    n += 1
                    if n & 1023 == 0:
                        syn.tick()
                    # most applications repeat a vector already seen: skip those unbuilt
                    if vec in seen or UNDEF in vec:
                        continue
                    self.add(App(fn, arg), rtype, vec, s)
                    seen = self.seen[rtype]
        if s >= 2:
            # Projections of tuple-valued terms.  With focusing no variable has a tuple type
            # (it entered the context as its projections), so only results of applications
            # are projected here; without focusing the guesser must project variables too.
            for e, t, vec in list(self.elims.get(s - 1, ())):
                if t[0] == "T" and t != UNIT:
                    for i, ct in enumerate(t[1]):
                        if ct != UNIT:
                            self.add(Proj(i + 1, e), ct, tuple(store.vals[v][1][i] for v in vec), s)
        syn.stats["terms"] += n + len(self.elims.get(s, ())) - before

    # -- introduction forms (arguments) --------------------------------------------------------
    def args(self, typ, s):
        """Introduction forms of ``typ`` and size s usable as arguments: elimination terms,
        constructors applied to introduction forms, tuples and small ``fun``s."""
        if s < 1:
            return ()
        key = (typ, s)
        got = self.iforms.get(key)
        if got is not None:
            return got
        self.syn.tick()
        seen = self.iseen.setdefault(typ, set())
        out = []
        for term, vec in self.etype.get(key, ()):
            if vec not in seen:
                seen.add(vec)
                out.append((term, vec))
        store = self.store
        if typ[0] == "B":
            for name, atype in self.syn.prog.ctors_of(typ):
                if atype == UNIT:
                    cands = [(Ctor(name), (store.ctor(name, store.unit),) * self.scope.n)] if s == 1 else []
                else:
                    cands = [(Ctor(name, a), tuple(store.ctor(name, v) for v in av))
                             for a, av in self.args(atype, s - 1)]
                for term, vec in cands:
                    if vec not in seen:
                        seen.add(vec)
                        out.append((term, vec))
        elif typ[0] == "T" and typ != UNIT:
            for term, vec in self.tuples(typ, s):
                if vec not in seen:
                    seen.add(vec)
                    out.append((term, vec))
        elif typ[0] == "A":
            out.extend(self.lambdas(typ, s))
        self.syn.stats["terms"] += len(out)
        self.iforms[key] = out
        return out

    def tuples(self, typ, s):
        comps = typ[1]
        out = []
        tup = self.store.tup

        def go(i, left, terms, vecs):
            if i == len(comps) - 1:
                for t, v in self.args(comps[i], left):
                    vs = vecs + [v]
                    out.append((Tuple(terms + [t]), tuple(tup(x) for x in zip(*vs))))
                return
            rest = len(comps) - 1 - i
            for sz in range(1, left - rest + 1):
                for t, v in self.args(comps[i], sz):
                    go(i + 1, left - sz, terms + [t], vecs + [v])

        go(0, s, [], [])
        return out

    # -- small anonymous functions as arguments -----------------------------------------------
    def lambdas(self, typ, s):
        if s > LAMBDA_MAX or s < 2:
            return []
        params, rtype = [], typ
        while rtype[0] == "A":
            params.append(rtype[1])
            rtype = rtype[2]
        names = self.scope.fresh_names(params)
        pvars = [(Var(x), t) for x, t in zip(names, params)]
        out = []
        for body, used in syntactic(self.syn, self.scope, pvars, rtype, s - 1):
            if len(used) != len(names):
                continue        # a function that ignores an argument is never wanted here
            node = body
            for x, t in reversed(list(zip(names, params))):
                node = Fix(None, x, t, None, node)
            vec = tuple(self.store.closure(node, env) for env in self.scope.envs())
            out.append((node, vec))
        return out


def syntactic(syn, scope, pvars, typ, s):
    """Terms of ``typ`` and size s over the parameters, the scope's variables and the helpers,
    built without evaluation (their values depend on the parameters).  Yields (term, params used)."""
    pnames = {v.name for v, _ in pvars}
    atoms = list(pvars) + [(a.expr, a.type) for a in scope.atoms if a.size == 1]
    memo = {}

    def gen(t, n):
        if n < 1:
            return []
        key = (t, n)
        if key in memo:
            return memo[key]
        out = []
        if n == 1:
            for e, at in atoms:
                if at == t:
                    out.append((e, frozenset([e.name]) & pnames if isinstance(e, Var) else frozenset()))
        if t[0] == "T" and t != UNIT:
            comps = t[1]

            def go(i, left, terms, used):
                if i == len(comps) - 1:
                    for e, u in gen(comps[i], left):
                        out.append((Tuple(terms + [e]), used | u))
                    return
                for sz in range(1, left - (len(comps) - 1 - i) + 1):
                    for e, u in gen(comps[i], sz):
                        go(i + 1, left - sz, terms + [e], used | u)
            go(0, n, [], frozenset())
        if t[0] == "B":
            for name, atype in syn.prog.ctors_of(t):
                if atype == UNIT:
                    if n == 1:
                        out.append((Ctor(name), frozenset()))
                else:
                    for e, u in gen(atype, n - 1):
                        out.append((Ctor(name, e), u))
        # applications of variables and helpers
        for e, at in atoms:
            args = []
            ft = at
            while ft[0] == "A":
                args.append(ft[1])
                ft = ft[2]
                if ft == t and len(args) < n:
                    own = frozenset([e.name]) & pnames if isinstance(e, Var) else frozenset()
                    out.extend(apps(e, args, n - 1, own))
        memo[key] = out
        return out

    def apps(head, argtypes, n, used):
        if len(argtypes) == 1:
            for e, u in gen(argtypes[0], n):
                yield App(head, e), used | u
            return
        for sz in range(1, n - len(argtypes) + 2):
            for e, u in gen(argtypes[0], sz):
                yield from apps(App(head, e), argtypes[1:], n - sz, used | u)

    return gen(typ, s)
