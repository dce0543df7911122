"""What the synthesis appendix needs beyond running suites: a worked example traced through
the refinement tree that solved it (its parameters live in ``lthkit.hparams``).

    print(explain(parse_file("lthkit/synth/problems/list_stutter.ml")))
"""
from __future__ import annotations

from .pretty import inline, show_pattern
from .synth import Synth
from .syntax import show_type

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
