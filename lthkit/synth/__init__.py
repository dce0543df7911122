"""lthkit.synth: a type-directed synthesiser in the style of Myth (Osera & Zdancewic, PLDI 2015)
with the product types and focusing of the POPL 2016 follow-up.

    from lthkit.synth import parse_file, synthesize
    print(synthesize(parse_file("spec.ml"), timeout=10).text)

Modules: ``syntax`` (types, terms), ``parser``, ``typecheck``, ``evaluate`` (values and the
evaluator), ``guess`` (guessing terms by size), ``synth`` (refinement trees and the search),
``pretty``, ``bench`` (suites and tables), ``cli``.
"""
from .parser import SynthSyntaxError, parse_file, parse_text
from .synth import Result, synthesize
from .typecheck import SynthTypeError

__all__ = ["parse_file", "parse_text", "synthesize", "Result", "SynthSyntaxError", "SynthTypeError"]
