"""What the synthesis appendix needs beyond running suites: a worked example traced through
the refinement tree that solved it, and the verdict rules of its claims (its parameters live in
``lthkit.hparams``).

    print(explain(parse_file("lthkit/synth/problems/list_stutter.ml")))
    generalisation_holds(before=(43, 40, 45), after=(43, 42, 45))     # True, False or None
"""
from __future__ import annotations

from .pretty import inline, show_pattern
from .synth import Synth
from .syntax import show_type

MIN_CHECKED = 10        # programs compared with a reference below which nothing is concluded


def explain(prog, timeout=60.0, max_worlds=4) -> str:
    """The refinement tree of the program found for ``prog``, one line per goal: the goal's
    type, its examples (the variables in scope and the value wanted), and the rule that
    solved it."""
    syn = Synth(prog, timeout=timeout)
    if syn.run() is None:
        return "no program found"
    st = syn.store
    lines = []

    def world(scope, goal, i):
        env = [f"{x}={st.show(v[i])}" for x, v in scope.vars
               if v[i] >= 0 and st.vals[v[i]][0] not in ("F", "K")]
        return (", ".join(env) + " " if env else "") + "⇒ " + st.show(goal[i])

    def walk(node, depth, label=""):
        rule, kids = node.via
        worlds = [world(node.scope, node.goal, i) for i in range(min(len(node.goal), max_worlds))]
        more = f" (+{len(node.goal) - max_worlds} more)" if len(node.goal) > max_worlds else ""
        sol = node.sol
        if rule == "fix":
            what = f"fix {sol.name} ({sol.param}:{show_type(sol.ptype)})"
        elif rule == "match":
            what = f"match {inline(sol.scrut, prog.style)}"
        elif rule == "constructor":
            what = f"constructor {sol.name}"
        elif rule == "tuple":
            what = "tuple"
        else:
            what = f"guess {inline(sol, prog.style)}"
        pad = "  " * depth
        lines.append(f"{pad}{label}{show_type(node.type)}  {{ {' | '.join(worlds)}{more} }}")
        lines.append(f"{pad}  └ {what}")
        if rule == "match":
            for (pat, _), kid in zip(sol.branches, kids):
                walk(kid, depth + 1, f"[{show_pattern(pat, prog.style)}] ")
        else:
            for kid in kids:
                walk(kid, depth + 1)

    walk(syn.root, 0)
    return "\n".join(lines)


def generalisation_holds(before, after, min_checked=MIN_CHECKED):
    """Verdict of "the preferences for programs that generalise lose no spec and make more
    programs compute their reference function".  ``before``/``after``: (specs solved,
    programs that compute their reference on random inputs, programs compared) without and
    with the preferences.  False if a spec is lost or fewer programs agree; None
    (inconclusive) if fewer than ``min_checked`` programs could be compared or as many agree
    as before; True otherwise."""
    (solved0, agree0, checked0), (solved1, agree1, checked1) = before, after
    if min(checked0, checked1) < min_checked:
        return None
    if solved1 < solved0 or agree1 < agree0:
        return False
    return None if agree1 == agree0 else True


def faster_holds(ours, theirs, factor):
    """Verdict of "our whole-suite time is below ``factor`` times theirs": None when either
    time is missing or theirs is zero."""
    if ours is None or not theirs:
        return None
    return ours < factor * theirs
