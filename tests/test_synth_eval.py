"""Evaluator and type checker of lthkit.synth."""
import pytest

from lthkit.synth.evaluate import UNDEF, EvalError, Store
from lthkit.synth.parser import parse_expr, parse_text
from lthkit.synth.synth import Synth
from lthkit.synth.typecheck import SynthTypeError, check_program

SPEC = """
type nat =
  | O
  | S of nat

type list =
  | Nil
  | Cons of nat * list

type cmp =
  | LT
  | EQ
  | GT

let rec compare (a : nat) (b : nat) : cmp =
  match a with
  | O -> (match b with | O -> EQ | S (b1) -> LT)
  | S (a1) -> (match b with | O -> GT | S (b1) -> compare a1 b1)
;;

let rec append (l1 : list) (l2 : list) : list =
  match l1 with
  | Nil -> l2
  | Cons (x, r) -> Cons (x, append r l2)
;;

let twice : (nat -> nat) -> nat -> nat =
  fun (f : nat -> nat) -> fun (n : nat) -> f (f n)
;;

let f : list -> list |> { [] => [] } = ?
"""


@pytest.fixture
def store():
    prog = parse_text(SPEC)
    check_program(prog)
    return Store(prog)


def ev(store, text):
    return store.eval(parse_expr(text, store.prog), {})


def test_recursive_helpers_evaluate(store):
    assert store.show(ev(store, "compare 2 3")) == "LT"
    assert store.show(ev(store, "compare 3 3")) == "EQ"
    assert store.show(ev(store, "append [1; 2] [0]")) == "[1; 2; 0]"


def test_values_are_shared_so_equal_values_have_equal_ids(store):
    assert ev(store, "append [1] [2]") == ev(store, "[1; 2]")
    assert ev(store, "S (S O)") == ev(store, "2") != ev(store, "1")


def test_higher_order_closures_and_let_rec(store):
    assert store.show(ev(store, "twice (fun (n:nat) -> S (S n)) 1")) == "5"
    e = "let rec len (l:list) : nat = match l with | Nil -> O | Cons (x, r) -> S (len r) in len [4; 4; 4]"
    assert store.show(ev(store, e)) == "3"


def test_tuples_and_projections(store):
    assert store.show(ev(store, "#2 (1, [3], 0)")) == "[3]"
    assert store.show(ev(store, "(#1 (0, 1), #2 (0, 1))")) == "(0, 1)"
    with pytest.raises(EvalError, match="projection"):
        ev(store, "#1 O")


def test_example_tables_are_partial_functions(store):
    zero, one, two = ev(store, "0"), ev(store, "1"), ev(store, "2")
    t = store.table([(zero, one), (one, two)])
    assert store.apply(t, one) == two
    assert store.apply(t, two) == UNDEF
    nested = store.table([(zero, store.table([(zero, one)])), (zero, store.table([(one, two)]))])
    assert store.apply(store.apply(nested, zero), one) == two   # same input: tables merge
    with pytest.raises(EvalError, match="inconsistent examples"):
        store.table([(zero, one), (zero, two)])


def test_match_without_a_branch_is_undefined(store):
    assert ev(store, "match 1 with | O -> O") == UNDEF


def test_goal_examples_become_one_table(store):
    prog = parse_text(SPEC.replace("{ [] => [] }", "{ [] => [] | [1] => [1; 1] }"))
    syn = Synth(prog)
    assert syn.store.show(syn.goal_value) == "{[] => [] | [1] => [1; 1]}"


@pytest.mark.parametrize("helper, expr, got, want", [
    ("let g (n : nat) : list = S (n) ;;", "S (n)", "nat", "list"),
    ("let g (l : list) : nat = append l l ;;", "append l l", "list", "nat"),
    ("let g (n : nat) : nat = compare n O ;;", "compare n O", "cmp", "nat"),
])
def test_type_errors_name_the_expression_and_both_types(helper, expr, got, want):
    prog = parse_text(SPEC.replace("let f :", helper + "\nlet f :"))
    with pytest.raises(SynthTypeError) as info:
        check_program(prog)
    msg = str(info.value)
    assert f"`{expr}`" in msg and f"has type {got} but {want} was expected" in msg
    assert "(in g)" in msg


def test_examples_are_type_checked():
    prog = parse_text(SPEC.replace("{ [] => [] }", "{ [] => 0 }"))
    with pytest.raises(SynthTypeError, match="has type nat but list was expected"):
        check_program(prog)
