"""Evaluator, refinements and type checker of lthkit.synth."""
import pytest

from lthkit.synth.evaluate import UNDEF, EvalError, Store
from lthkit.synth.examples import ExampleError
from lthkit.synth.parser import parse_expr, parse_text
from lthkit.synth.refine import disjoint, meet, sat, split, top
from lthkit.synth.spec import Abstract, Top
from lthkit.synth.synth import Synth
from lthkit.synth.syntax import Proj, Var
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
    assert store.eval(Proj(1, Var("u")), {"u": store.union([ev(store, "(0, 1)"), ev(store, "(1, 0)")])}) == UNDEF


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


# -- refinements ------------------------------------------------------------------------------

def test_top_contains_every_value_and_negation_all_but_one(store):
    nat = ("B", "nat")
    t, one, two = top(store, nat), ev(store, "1"), ev(store, "2")
    not1 = store.negative([one], nat)
    assert sat(store, two, t) and sat(store, one, t) and not sat(store, t, one)
    assert sat(store, two, not1) and not sat(store, one, not1)
    s_top = store.ctor("S", t)                       # `S nat`: any number but 0
    assert sat(store, one, s_top) and not sat(store, ev(store, "0"), s_top)
    assert disjoint(store, ev(store, "0"), s_top) and not disjoint(store, one, s_top)
    union = store.union([one, two])
    assert sat(store, two, union) and not sat(store, ev(store, "3"), union)
    assert meet(store, t, one) == one and meet(store, one, two) is None
    assert meet(store, s_top, store.ctor("S", two)) == ev(store, "3")


def test_matching_on_top_reaches_every_branch(store):
    nat, lst = ("B", "nat"), ("B", "list")
    assert [c for c, _ in split(store, top(store, nat), nat)] == ["O", "S"]
    branches = dict(split(store, top(store, lst), lst))
    assert store.show(branches["Cons"]) == "(nat, list)"     # ⊤ of the argument: a pair of ⊤
    not_nil = store.negative([ev(store, "[]")], lst)
    assert [c for c, _ in split(store, not_nil, lst)] == ["Cons"]
    assert split(store, ev(store, "[1]"), lst) == [("Cons", ev(store, "(1, [])"))]


def test_a_table_answers_for_every_input_its_examples_contain(store):
    nat = ("B", "nat")
    zero, one, two = ev(store, "0"), ev(store, "1"), ev(store, "2")
    t = store.table([(zero, one), (store.ctor("S", top(store, nat)), two)])
    assert store.apply(t, zero) == one
    assert store.apply(t, ev(store, "5")) == two           # 5 lies in `S nat`
    assert store.apply(t, top(store, nat)) == UNDEF         # ⊤ is not inside either input


SPEC_POLY = """
type 'a list =
  | Nil
  | Cons of 'a * 'a list

type nat =
  | Z
  | S of nat

let rec len (l : 'a list) : nat =
  match l with
  | Nil -> Z
  | Cons (x, r) -> S (len r)
;;

let f : 'a list -> nat list -> nat |> /\\([a1] -> [] -> 1, ['a; a1] -> [nat] -> 2) = ?
"""


def test_polymorphic_helpers_and_constructors_are_instantiated_at_each_use():
    prog = parse_text(SPEC_POLY)
    gtypes = check_program(prog)
    assert gtypes["len"] == ("A", ("B", "list", (("V", "'a"),)), ("B", "nat"))
    check_program(parse_text(SPEC_POLY.replace("let f :", "let g : nat = len [Z; Z] ;;\n"
                                                          "let h : nat = len [[Z]] ;;\nlet f :")))
    (l1, rest), _ = prog.goal.examples.entries
    assert isinstance(l1.arg.items[0], Abstract) and l1.arg.items[0].type == ("V", "'a")
    (_, rest2), = prog.goal.examples.entries[1][1].entries
    top_nat = prog.goal.examples.entries[1][1].entries[0][0].arg.items[0]
    assert isinstance(top_nat, Top) and top_nat.type == ("B", "nat")


@pytest.mark.parametrize("change, message", [
    (("[a1] -> [] -> 1", "[a1] -> [a1] -> 1"), "unbound variable a1"),      # a1 where nat is wanted
    (("['a; a1]", "['b; a1]"), "`'b` .* stands for any value of type 'b"),
    (("let f :", "let g (x : 'a) : nat = x ;;\nlet f :"), "has type 'a but nat was expected"),
])
def test_polymorphic_type_errors(change, message):
    with pytest.raises(SynthTypeError, match=message):
        check_program(parse_text(SPEC_POLY.replace(*change)))


def test_contradictory_examples_are_located(tmp_path):
    for text, where in [("{ 0 => 1 | 1 => 2 | 0 => 2 }", (4, 43, 4, 25)),
                        ("/\\(nat -> 0,\n   1 -> 1) = ?", (5, 4, 4, 26))]:
        src = SPEC.replace("let f : list -> list |> { [] => [] } = ?",
                           "let f : nat -> nat |> " + text + (" = ?" if "= ?" not in text else ""))
        with pytest.raises(ExampleError) as info:
            Synth(parse_text(src, "spec.ml"))
        msg = str(info.value)
        line = src.count("\n", 0, src.index("let f :")) + 1
        assert msg.startswith(f"spec.ml:{line + where[0] - 4}:{where[1]}: examples contradict")
        assert f"at spec.ml:{line + where[2] - 4}:{where[3]}" in msg
