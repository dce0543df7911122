"""What the synthesis appendix needs beyond running suites: its parameters, and a worked
example traced through the refinement tree that solved it.

    print(explain(parse_file("lthkit/synth/problems/list_stutter.ml")))

``register()`` makes ``hparams.resolve("synthesis", ...)`` know the appendix's knobs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .pretty import inline, show_pattern
from .synth import Synth
from .syntax import show_type

SUITES = ["own", "own+pldi", "own+popl", "all"]


def _knob(default, *, choices=None, low=None, high=None, doc=""):
    return field(default=default, metadata={"choices": choices, "low": low, "high": high,
                                            "step": False, "doc": doc})


@dataclass(frozen=True)
class Synthesis:
    """Appendix: type-directed synthesis with products (Myth, POPL 2016)."""

    preset: str = "default"
    suites: str = _knob("all", choices=SUITES,
                        doc="own problems, and the external suites when they are present")
    timeout: float = _knob(60.0, low=0.1, high=3600.0, doc="seconds allowed per spec")
    ablation: bool = _knob(True, doc="also run the product suite with focusing off")


PRESETS = {"default": {}, "paper": {"timeout": 600.0}}


def register():
    """Add the appendix to ``lthkit.hparams`` (idempotent)."""
    from lthkit import hparams
    hparams.CHAPTERS.setdefault("synthesis", Synthesis)
    hparams.PRESETS.setdefault("synthesis", PRESETS)


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
