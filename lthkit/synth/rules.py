"""The rules that grow a refinement tree (a mixin of ``synth.Synth``): ``fix`` at an arrow
type, a constructor or a tuple when the examples agree on one, and ``match`` on a scrutinee.

Each rule takes a goal node and a budget (match depth d, guess size k, and the scrutinee size
cap ``self.smax``) and returns ``(term, cost, (rule, child nodes))`` or None; children are
solved through ``self.solve``, which memoises them.  A node's ``req`` (variables its term must
use, see ``Synth.prefer_relevant``) is handed to one child: the scrutinee or a branch, a
component, the constructor's argument, the body of a ``fix``.

    term, cost, via = syn.intro_match(node, d, k)
"""
from __future__ import annotations

from .pretty import alpha_key
from .refine import top
from .syntax import UNIT, Ctor, Fix, Match, Tuple, Var, free_vars, size
from .tree import Atom, Scope, decompose, fresh

ANY = -2                # an unconstrained world (e.g. a negative example already satisfied)
TIE_SIZE = 4            # scrutinees this large (a helper on compound arguments) compete on
                        # the size of the match; smaller ones, many and cheap, go in order


class Rules:
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


def join(a, b):
    """The budget two parts of a term need together: the larger of each of its measures."""
    return tuple(map(max, a, b))
