# The nbgrader assignment for the appendix (notebooks/A1_type_directed_synthesis.ipynb). The
# cell kinds are described in lthkit/course/source.py; `make course` builds the student version,
# and tests/test_course.py grades the solutions, blanks and wrong answers below through nbgrader.

# %% [setup]
from pathlib import Path

from lthkit.course.synthesis import computes, output
from lthkit.synth import parse_text, synthesize
from lthkit.synth.bench import PROBLEMS
from lthkit.synth.synth import count_examples

TIMEOUT = 10        # seconds allowed per synthesis


def problem(name):
    """The text of one of lthkit's own specs (`.ml`) or of its intended program (`.intended`)."""
    return (Path(PROBLEMS) / name).read_text()


NAT_LIST = """
type nat =
  | O
  | S of nat

type list =
  | Nil
  | Cons of nat * list
"""
PLUS = """
let rec plus (a : nat) (b : nat) : nat =
  match a with
  | O -> b
  | S (a1) -> S (plus a1 b)
;;
"""
STUTTER = problem("list_stutter.ml")
STUTTER_REFERENCE = problem("list_stutter.intended")
MEMBER = problem("list_member.ml")
print(STUTTER)

# %% [exercise 1 sha=45bd5b05]

# %% [markdown]
# **Task 1.** Set `LIST_SUM` to a spec (its text) of `list_sum : list -> nat` with the helper
# `plus` declared before it. Use the types of `NAT_LIST` (`nat` is `O | S of nat`, `list` is
# `Nil | Cons of nat * list`) so that the tests can compare the program found with a reference
# that adds up the list. `NAT_LIST + PLUS + "let list_sum ..."` is a good start; give examples
# in Myth's syntax, `{ [] => 0 | ... }`. Then try the second half of the exercise in the cell
# after the tests.

# %% [answer list_sum]
### BEGIN SOLUTION
LIST_SUM = NAT_LIST + PLUS + """
let list_sum : list -> nat |>
  { [] => 0
  | [1] => 1
  | [2; 1] => 3 } = ?
"""
### END SOLUTION

# %% [tests test_sum_spec points=1]
prog = parse_text(LIST_SUM)
assert prog.goal.name == "list_sum", f"the spec asks for {prog.goal.name}, not list_sum"
assert "plus" in [name for name, *_ in prog.globals], "the spec declares no helper plus"

# %% [tests test_sum_computes points=2]
### BEGIN HIDDEN TESTS
prog = parse_text(LIST_SUM)
found = synthesize(prog, timeout=TIMEOUT)
assert found.solved, "no program found within the time limit"
reference = """
let rec list_sum (l:list) : nat =
  match l with
  | Nil -> O
  | Cons (x, rest) -> plus x (list_sum rest)
"""
assert computes(prog, found.program, reference), f"the program found does not add up a list:\n{found.text}"
### END HIDDEN TESTS

# %% [markdown]
# Without `plus`: the same examples over `NAT_LIST` alone. What comes back, and what would the
# synthesiser need to find the sum?

# %%
print(synthesize(parse_text(NAT_LIST + LIST_SUM.split(";;")[-1]), timeout=TIMEOUT).text)

# %% [exercise 2 sha=8d681ac4]
# Our `list_stutter` spec (printed by the first cell) has `[0; 2] => [0; 0; 2; 2]` as its
# two-element example, where the exercise names `[1; 0] => [1; 1; 0; 0]`: remove that one.

# %% [markdown]
# **Task 2.** Set `STUTTER_SHORT` to the text of `STUTTER` without its two-element example,
# and `DIFFERS_ON` to an input, written as in a spec (`"[3; 1]"`), on which the program that
# comes back does *not* stutter. `output(prog, program, "[3; 1]")` runs a program found for
# `prog` (or the source of a reference program, such as `STUTTER_REFERENCE`) on an input.

# %% [answer stutter_short]
### BEGIN SOLUTION
STUTTER_SHORT = STUTTER.replace("\n  | [0; 2] => [0; 0; 2; 2]", "")
DIFFERS_ON = "[1; 0]"
### END SOLUTION

# %% [tests test_stutter_short_spec points=1]
prog = parse_text(STUTTER_SHORT)
assert prog.goal.name == "list_stutter"
assert count_examples(prog.goal.examples) == count_examples(parse_text(STUTTER).goal.examples) - 1, \
    "STUTTER_SHORT must have one example fewer than STUTTER"
print(synthesize(prog, timeout=TIMEOUT).text)

# %% [tests test_stutter_short_differs points=2]
### BEGIN HIDDEN TESTS
prog = parse_text(STUTTER_SHORT)
found = synthesize(prog, timeout=TIMEOUT)
assert found.solved, "no program found within the time limit"
assert output(prog, found.program, DIFFERS_ON) != output(prog, STUTTER_REFERENCE, DIFFERS_ON), \
    f"on {DIFFERS_ON} the program found stutters"
### END HIDDEN TESTS

# %% [exercise 3 sha=64df75e3]
# *For discussion, not graded:* `list_compress` is one of Myth's PLDI 2015 benchmarks, which
# lthkit reads from `$LTHKIT_SYNTH_BENCH` when you have them and does not ship. The same
# question can be asked of `STUTTER`: which example's input is the tail of another's?

# %% [exercise 4 sha=2399665f]

# %% [markdown]
# **Task 4.** Set `STUTTER_NAT` to a spec of `list_stutter` (over the same types) with fewer
# examples than `STUTTER`, written as refinement types (`/\( input -> output, ... )`) with `nat`
# in an input, from which the synthesiser finds a program that is verified on enumerated
# inputs and stutters every one-element list.

# %% [answer stutter_nat]
### BEGIN SOLUTION
STUTTER_NAT = STUTTER.split("|>")[0] + r"""|>
  /\([] -> [], [nat] -> [nat; nat]) = ?
"""
### END SOLUTION

# %% [tests test_stutter_nat_spec points=1]
prog = parse_text(STUTTER_NAT)
assert prog.goal.name == "list_stutter"
assert count_examples(prog.goal.examples) < count_examples(parse_text(STUTTER).goal.examples), \
    "STUTTER_NAT must have fewer examples than STUTTER"
assert "nat" in STUTTER_NAT.split("|>")[-1], "no nat in the examples"

# %% [tests test_stutter_nat_verified points=1]
### BEGIN HIDDEN TESTS
found = synthesize(parse_text(STUTTER_NAT), timeout=TIMEOUT)
assert found.solved and found.verified, "no verified program found"
assert "enumerated" in found.checked, f"verified only {found.checked}: no input stands for every number"
### END HIDDEN TESTS

# %% [tests test_stutter_nat_singletons points=1]
### BEGIN HIDDEN TESTS
prog = parse_text(STUTTER_NAT)
found = synthesize(prog, timeout=TIMEOUT)
for single in ("[0]", "[1]", "[4]"):
    assert output(prog, found.program, single) == output(prog, STUTTER_REFERENCE, single), \
        f"on {single} the program found gives {output(prog, found.program, single)}"
### END HIDDEN TESTS

# %% [exercise 5 sha=a621dd99]

# %% [markdown]
# With the preferences off, the program found for `MEMBER`:

# %%
print(synthesize(parse_text(MEMBER), timeout=TIMEOUT, generalise=False).text)

# %% [markdown]
# **Task 5.** Set `MEMBER_FIXED` to the text of `MEMBER` with one example added, such that
# `synthesize(..., generalise=False)` finds a program that looks a key up as
# `list_member.intended` does. An example for another key is written as a second alternative
# of an intersection: `/\( <the examples of MEMBER>, /\(<equality>) -> <key> -> /\(<lists>) )`.

# %% [answer member]
### BEGIN SOLUTION
head, examples = MEMBER.split("|>")
MEMBER_FIXED = head + r"|>" + "\n  /\\(" + examples.replace("= ?", "").strip() + r""",
     /\(1 -> 1 -> True) -> 1 -> /\([1] -> True)) = ?
"""
### END SOLUTION

# %% [tests test_member_spec points=1]
prog = parse_text(MEMBER_FIXED)
assert prog.goal.name == "list_member"
assert count_examples(prog.goal.examples) == count_examples(parse_text(MEMBER).goal.examples) + 1, \
    "MEMBER_FIXED must have exactly one example more than MEMBER"

# %% [tests test_member_right points=2]
### BEGIN HIDDEN TESTS
prog = parse_text(MEMBER_FIXED)
found = synthesize(prog, timeout=TIMEOUT, generalise=False)
assert found.solved, "no program found within the time limit"
assert computes(prog, found.program, problem("list_member.intended")), \
    f"the program found is not membership:\n{found.text}"
### END HIDDEN TESTS

# %% [wrong list_sum breaks=test_sum_computes] examples that never need the recursion
LIST_SUM = NAT_LIST + PLUS + """
let list_sum : list -> nat |>
  { [] => 0
  | [3] => 3 } = ?
"""

# %% [wrong stutter_short breaks=test_stutter_short_differs] an input on which the program is right
STUTTER_SHORT = STUTTER.replace("\n  | [0; 2] => [0; 0; 2; 2]", "")
DIFFERS_ON = "[3]"

# %% [wrong stutter_nat breaks=test_stutter_nat_singletons] [nat] -> [0; 0]
STUTTER_NAT = STUTTER.split("|>")[0] + r"""|>
  /\([] -> [], [nat] -> [0; 0]) = ?
"""

# %% [wrong member breaks=test_member_right] another key, on a list that starts with 0
head, examples = MEMBER.split("|>")
MEMBER_FIXED = head + r"|>" + "\n  /\\(" + examples.replace("= ?", "").strip() + r""",
     /\(1 -> 0 -> False) -> 1 -> /\([0] -> False)) = ?
"""
