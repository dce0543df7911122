"""lthkit.synth: a type-directed synthesiser in the style of Myth (Osera & Zdancewic, PLDI 2015)
with the product types, focusing, refinement-type examples and polymorphism of the POPL 2016
follow-up (Frankle, Osera, Walker & Zdancewic).

    from lthkit.synth import parse_file, synthesize
    print(synthesize(parse_file("spec.ml"), timeout=10).text)

Modules: ``lexer``, ``parser`` (with ``typeparse`` and ``exparse``; ``source`` refuses hostile
files), ``spec`` (what a spec holds), ``syntax`` (types, terms), ``typecheck``, ``evaluate``
(values and the evaluator), ``refine`` (⊤, unions, negations as values), ``examples`` (a goal's
examples as values), ``guess`` (guessing terms by size), ``tree`` (scopes and goals), ``rules``
and ``synth`` (the search), ``verify``, ``compare`` (same function as a reference), ``pretty``,
``bench`` (suites and tables), ``appendix``, ``cli``.
"""
from .lexer import SynthInputError
from .parser import SynthSyntaxError, parse_file, parse_text
from .synth import Result, synthesize
from .typecheck import SynthTypeError

__all__ = ["parse_file", "parse_text", "synthesize", "Result", "SynthInputError",
           "SynthSyntaxError", "SynthTypeError"]
