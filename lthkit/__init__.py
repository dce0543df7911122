"""lthkit: the mechanisms behind a reproducible book on lottery tickets.

The chapters (``notebooks/``) say what is measured and why; this package says how. One idea per
module: ``steps``, ``data``, ``models``, ``masks``, ``train``, ``lottery``, ``store``, ``hparams``,
``charts``, ``claims``, ``book``, ``cli``, and the type-directed synthesiser in ``synth``.
"""

__version__ = "0.1.0"
