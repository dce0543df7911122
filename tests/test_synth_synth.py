"""The synthesiser: our own problems, refinements and polymorphism, the preferences for programs
that generalise, focusing, limits, and a fast subset of each external suite."""
import glob
import os

import pytest

from lthkit.synth import synth as S
from lthkit.synth.bench import PROBLEMS, external_suite, run_spec
from lthkit.synth.compare import same_function
from lthkit.synth.parser import parse_expr, parse_file, parse_text
from lthkit.synth.synth import Synth, synthesize, verify
from lthkit.synth.syntax import Match, Proj, Var

OWN = sorted(glob.glob(os.path.join(PROBLEMS, "*.ml")))

# A fast subset of each external suite, chosen to cover booleans, recursion on lists, nats and
# trees, higher-order inputs, helper calls as scrutinees, curried recursion and tuples.
PLDI_FAST = ["bool_xor", "list_stutter", "list_filter", "list_nth", "list_pairwise_swap",
             "list_compress", "list_sorted_insert", "list_rev_fold", "nat_max", "tree_binsert",
             "tree_postorder", "list_fold"]
POPL_FAST = ["list_dict_find", "list_tuple_swap", "list_fst", "list_length", "list_map_2",
             "tree_binsert", "list_sorted_insert", "nat_dec"]
# refinement types: ⊤ in inputs and outputs, unions, negation, a function given by refinements,
# a dictionary (an argument to use), trees with unions inside constructors
MIN_FAST = ["bool_band", "list_filter", "list_hd", "list_stutter", "list_dict_contains",
            "tree_count_nodes", "list_drop"]
# polymorphism: abstract values, ⊤ of a type variable, a comparison given by examples
POLY_FAST = ["list_snoc", "list_dict_find", "list_fst", "list_filter", "list_nth"]


def solve_file(path, **kw):
    return synthesize(parse_file(path), timeout=60, **kw)


@pytest.mark.parametrize("path", OWN, ids=lambda p: os.path.basename(p)[:-3])
def test_own_problems_are_solved_verified_and_intended(path):
    res = solve_file(path)
    assert res.solved and res.verified, res.limits
    assert res.size > 0 and res.text.strip()
    assert same_function(path, res.program) is True      # against NAME.intended


def test_program_generalises_beyond_its_examples():
    prog = parse_file(os.path.join(PROBLEMS, "list_stutter.ml"))
    res = synthesize(prog)
    syn = Synth(prog)
    st = syn.store
    from lthkit.synth.parser import parse_expr
    fn = st.eval(res.program, {})
    out = st.apply(fn, st.eval(parse_expr("[3; 1; 4]", prog), {}))
    assert st.show(out) == "[3; 3; 1; 1; 4; 4]"


def test_recursion_is_only_on_structurally_smaller_arguments():
    # f 1 = 1 and f 0 = 0 could be met by `f n` itself; only `f` on a pattern variable is allowed
    prog = parse_text("type nat =\n | O\n | S of nat\n"
                      "let f : nat -> nat |> { 0 => 0 | 1 => 1 | 2 => 2 } = ?")
    res = synthesize(prog)
    assert res.solved

    def calls(e, out):
        from lthkit.synth.syntax import App, Ctor, Fix
        if isinstance(e, App):
            if isinstance(e.fn, Var) and e.fn.name == res.program.name:
                out.append(e.arg)
            calls(e.fn, out), calls(e.arg, out)
        elif isinstance(e, Match):
            calls(e.scrut, out)
            for _, b in e.branches:
                calls(b, out)
        elif isinstance(e, Ctor) and e.arg is not None:
            calls(e.arg, out)
        elif isinstance(e, Fix):
            calls(e.body, out)
        return out
    for arg in calls(res.program.body, []):
        assert isinstance(arg, Var) and arg.name != res.program.param


def test_verification_rejects_a_wrong_program():
    prog = parse_file(os.path.join(PROBLEMS, "nat_double.ml"))
    syn = Synth(prog)
    res = synthesize(prog)
    assert verify(syn, res.program) == (True, "on its 4 examples")
    wrong = parse_expr("fun (n:nat) -> S (n)", prog)
    assert verify(syn, wrong) == (False, "fails on 0")


def test_top_inputs_are_verified_on_enumerated_values_and_the_result_says_so():
    # `nat -> 0` asks for 0 on every number: a program right on 0 and 1 only must fail on 2
    prog = parse_text("type nat =\n | Z\n | S of nat\nlet f : nat -> nat |> /\\(nat -> 0) = ?")
    res = synthesize(prog)
    assert res.solved and "⊤" in res.checked and "enumerated" in res.checked, res.checked
    syn = Synth(prog)
    wrong = parse_expr("fun (n:nat) -> match n with | Z -> Z | S m -> (match m with "
                       "| Z -> Z | S k -> n)", prog)
    assert verify(syn, wrong) == (False, "fails on 2")


def test_refinement_spec_is_solved_with_unions_and_top():
    res = solve_file(os.path.join(PROBLEMS, "list_second.ml"))
    assert res.solved and res.verified
    assert "with ⊤ or negated inputs" in res.checked


def test_polymorphic_spec_moves_abstract_values_and_calls_the_given_function():
    res = solve_file(os.path.join(PROBLEMS, "list_map_keys.ml"))
    assert res.solved and res.verified and res.checked == "on its 3 examples"
    assert "(f2 (#1 (#1 t1)), #2 (#1 t1))" in res.text


def test_unused_argument_is_avoided_when_a_program_using_it_exists():
    path = os.path.join(PROBLEMS, "list_member.ml")
    plain = synthesize(parse_file(path), generalise=False)
    preferred = synthesize(parse_file(path))
    assert plain.solved and preferred.solved
    # the smallest program tests whether an element is 0 and ignores equality and key ...
    assert "f2" not in plain.text.split("->", 2)[-1] and same_function(path, plain.program) is False
    # ... the preferred one compares with the key, and is the intended function
    assert preferred.stats["relevance"] == ["f2", "n1"]
    assert "(f2 n1) (#1 t1)" in preferred.text and same_function(path, preferred.program) is True


def test_an_argument_that_is_never_used_stays_unused():
    prog = parse_text("type nat =\n | Z\n | S of nat\n"
                      "let fst : nat -> nat -> nat |> /\\(1 -> 0 -> 1, 2 -> 1 -> 2, 0 -> 2 -> 0) = ?")
    res = synthesize(prog)
    assert res.solved and "relevance" not in res.stats
    assert res.text.splitlines()[-1].strip() == "n1"


def test_top_in_an_output_keeps_the_input_it_stands_for():
    # `['a] -> ['a; x]`: any first element will do; the program that keeps the list's own is the
    # one that generalises (snoc), not the one that repeats the new element
    src = ("type 'a list =\n | Nil\n | Cons of 'a * 'a list\n"
           "let snoc : 'a -> 'a list -> 'a list |>\n"
           "  /\\(x -> /\\([] -> [x], ['a] -> ['a; x], ['a; 'a] -> ['a; 'a; x])) = ?")
    res = synthesize(parse_text(src))
    assert res.solved and "Cons (#1 t1, f2 (#2 t1))" in res.text, res.text
    assert "Cons (p1, f2 (#2 t1))" in synthesize(parse_text(src), generalise=False).text


def test_same_function_tells_a_program_that_generalises_from_one_that_only_fits(tmp_path):
    spec = tmp_path / "list_stutter.ml"
    spec.write_text(open(os.path.join(PROBLEMS, "list_stutter.ml")).read())
    prog = parse_file(str(spec))
    right = synthesize(prog).program
    assert same_function(str(spec), right) is None                      # no reference yet
    (tmp_path / "list_stutter.intended").write_text(
        "let rec st (l:list) : list = match l with | Nil -> Nil "
        "| Cons (x, r) -> Cons (x, Cons (x, st r))")
    # fits the three examples but stutters only the first two elements
    wrong = parse_expr("fun (l:list) -> match l with | Nil -> Nil | Cons (x, r) -> (match r with "
                       "| Nil -> Cons (x, Cons (x, r)) | Cons (y, s) -> Cons (x, Cons (x, Cons (y, "
                       "Cons (y, s)))))", prog)
    assert verify(Synth(prog), wrong)[0]
    assert same_function(str(spec), right) is True
    assert same_function(str(spec), wrong) is False


def test_focusing_puts_projections_in_the_context_and_off_keeps_the_tuple():
    prog = parse_file(os.path.join(PROBLEMS, "list_seconds.ml"))
    for focusing in (True, False):
        syn = Synth(prog, focusing=focusing)
        syn.run()
        deep = [sc for sc in all_scopes(syn) if any(isinstance(a.expr, Proj) for a in sc.atoms)
                or any(a.type == ("T", (("T", (("B", "nat"), ("B", "nat"))), ("B", "plist")))
                       for a in sc.atoms)]
        assert deep, "no scope has the constructor's tuple in it"
        for sc in deep:
            tuple_vars = [a for a in sc.atoms if a.type[0] == "T"]
            projections = [a for a in sc.atoms if isinstance(a.expr, Proj)]
            if focusing:
                assert not tuple_vars
                # (nat * nat) * plist decomposes recursively into #1 (#1 t), #2 (#1 t), #2 t
                assert {type(a.expr.expr).__name__ for a in projections} == {"Proj", "Var"}
                assert len(projections) >= 3
            else:
                assert tuple_vars and not projections


def all_scopes(syn):
    seen, stack, out = set(), [], []
    root = syn.root_scope
    stack.append(root)
    while stack:
        sc = stack.pop()
        if id(sc) in seen:
            continue
        seen.add(id(sc))
        out.append(sc)
        for v in sc._branches.values():
            if isinstance(v, list):
                stack.extend(child for _, _, child in v)
            else:
                stack.append(v)
    return out


def test_focusing_reduces_the_search_on_a_product_spec():
    path = os.path.join(PROBLEMS, "list_seconds.ml")
    on, off = solve_file(path), solve_file(path, focusing=False)
    assert on.solved and off.solved
    assert on.stats["terms"] < off.stats["terms"]


def test_unsolvable_spec_reports_the_limits_reached(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "MAX_DEPTH", 1)
    monkeypatch.setattr(S, "MAX_SIZE", 4)
    prog = parse_text("type nat =\n | O\n | S of nat\n"
                      "let f : nat -> nat |> { 0 => 3 | 1 => 0 | 2 => 5 | 3 => 1 } = ?")
    res = synthesize(prog, timeout=30)
    assert not res.solved and res.program is None
    assert "match depth 1" in res.limits and "guess size 4" in res.limits


HARD = """
type nat =
  | O
  | S of nat

type list =
  | Nil
  | Cons of nat * list

let rec append (l1 : list) (l2 : list) : list =
  match l1 with
  | Nil -> l2
  | Cons (x, r) -> Cons (x, append r l2)
;;

let f : list -> list -> list |>
  { [] => ( [] => [3] | [1] => [0; 2] | [2; 2] => [1] )
  | [1] => ( [] => [2; 0; 1] | [1] => [] | [0; 3] => [3; 3; 3] )
  | [2; 0] => ( [] => [1; 1] | [1] => [4] | [2; 2] => [0; 0; 0; 1] )
  | [0; 1; 2] => ( [] => [] | [5] => [2; 4] ) } = ?
"""


def test_timeout_is_honoured():
    import time
    t0 = time.perf_counter()
    res = synthesize(parse_text(HARD), timeout=0.5)
    elapsed = time.perf_counter() - t0
    assert not res.solved and "timeout after 0.5 s" in res.limits
    assert elapsed < 3.0


def test_negative_examples_are_respected():
    prog = parse_text("type nat =\n | Z\n | S of nat\n"
                      "let f : nat -> nat |> /\\(0 -> 0, 1 -> not(0), 1 -> not(1)) = ?")
    res = synthesize(prog)
    assert res.solved and res.verified


def suite_or_skip(name):
    folder = external_suite(name)
    if folder is None:
        pytest.skip(f"{name} not found: these are other people's benchmarks, read from "
                    "$LTHKIT_SYNTH_BENCH or ../shared/synth-bench beside the repository")
    return folder


@pytest.mark.parametrize("name", PLDI_FAST)
def test_fast_subset_of_myth_suite(name):
    row = run_spec(os.path.join(suite_or_skip("myth-pldi2015"), name + ".ml"), timeout=20)
    assert row["solved"] and row["verified"], row["limits"]


@pytest.mark.parametrize("name", POPL_FAST)
def test_fast_subset_of_product_suite(name):
    row = run_spec(os.path.join(suite_or_skip("popl2016-products"), name + ".ml"), timeout=20)
    assert row["solved"] and row["verified"], row["limits"]


@pytest.mark.parametrize("name", MIN_FAST)
def test_fast_subset_of_refinement_suite(name):
    row = run_spec(os.path.join(suite_or_skip("popl2016-min"), name + ".ml"), timeout=20)
    assert row["solved"] and row["verified"], row["limits"] or row["error"]
    assert row["same_function"] is True, row["program"]


@pytest.mark.parametrize("name", POLY_FAST)
def test_fast_subset_of_polymorphic_suite(name):
    row = run_spec(os.path.join(suite_or_skip("popl2016-poly"), name + ".ml"), timeout=20)
    assert row["solved"] and row["verified"], row["limits"] or row["error"]
    # list_snoc: the peer's program repeats the new element, ours keeps the list's (snoc)
    assert row["same_function"] is (name != "list_snoc"), row["program"]


def test_explain_traces_the_refinement_tree_of_the_worked_example():
    from lthkit.synth.appendix import explain
    text = explain(parse_file(os.path.join(PROBLEMS, "list_stutter.ml")))
    rules = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("└")]
    assert rules[0].startswith("fix f1 (l1:list)") and rules[1] == "match l1"
    assert "guess f1 l2" in rules                   # the recursive call on the tail
    assert "[Cons (n1, l2)] list" in text and "l1=[0; 2], n1=0, l2=[2] ⇒ [0; 0; 2; 2]" in text


@pytest.fixture
def hparams():
    return pytest.importorskip("lthkit.hparams")


def test_appendix_parameters_are_validated(hparams):
    hp = hparams.resolve("synthesis", suites="own", timeout=5)
    assert hp.suites == "own" and hp.timeout == 5.0
    with pytest.raises(hparams.ParameterError, match="suites"):
        hparams.resolve("synthesis", suites="everything")
    with pytest.raises(hparams.ParameterError, match="timeout"):
        hparams.resolve("synthesis", timeout=0)


def test_appendix_notebook_is_ready_for_the_book(hparams):
    nbformat = pytest.importorskip("nbformat")
    root = os.path.dirname(os.path.dirname(os.path.dirname(PROBLEMS)))
    path = os.path.join(root, "notebooks", "A1_type_directed_synthesis.ipynb")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    assert not any(c.get("outputs") for c in code), "outputs must be stripped"
    meta = nb.metadata["lthkit"]
    assert meta["chapter"] == "synthesis"
    hparams.resolve("synthesis", **meta["ci_parameters"])
    for preset in hparams.presets("synthesis"):
        assert hparams.resolve("synthesis", preset).preset == preset


def test_generalisation_verdict_reaches_pass_fail_and_inconclusive():
    from lthkit.synth.appendix import generalisation_holds
    assert generalisation_holds((40, 30, 40), (40, 33, 40)) is True
    assert generalisation_holds((40, 30, 40), (39, 35, 40)) is False     # a spec lost
    assert generalisation_holds((40, 30, 40), (40, 29, 40)) is False     # fewer agree
    assert generalisation_holds((40, 30, 40), (40, 30, 40)) is None      # no difference
    assert generalisation_holds((5, 3, 5), (5, 5, 5)) is None            # too few compared


def test_faster_verdict_reaches_pass_fail_and_inconclusive():
    from lthkit.synth.appendix import faster_holds
    assert faster_holds(0.5, 3.8, 0.2) is True
    assert faster_holds(0.9, 3.8, 0.2) is False
    assert faster_holds(None, 3.8, 0.2) is None and faster_holds(0.5, 0.0, 0.2) is None


def test_polymorphic_helper_is_used_at_the_goal_types():
    src = ("type nat =\n | Z\n | S of nat\ntype 'a list =\n | Nil\n | Cons of 'a * 'a list\n"
           "let rec append (l1 : 'a list) (l2 : 'a list) : 'a list =\n  match l1 with\n"
           "  | Nil -> l2\n  | Cons (x, r) -> Cons (x, append r l2)\n;;\n"
           "let flat : nat list list -> nat list |>\n"
           "  { [] => [] | [[1]] => [1] | [[2; 0]; [1]] => [2; 0; 1] | [[]; [3]] => [3] | [[3]] => [3] } = ?")
    res = synthesize(parse_text(src))
    assert res.solved and "append l2 (f1 l3)" in res.text, res.text
