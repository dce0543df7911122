"""``python -m lthkit.synth FILE.ml`` / ``python -m lthkit.synth bench DIR``: see ``cli``."""
import sys

from .cli import main

sys.exit(main())
