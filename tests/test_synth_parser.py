"""Parser of lthkit.synth: the external suites' files, literal sugar, product syntax, refinement
examples (⊤, unions, negations), polymorphic types, errors."""
import glob
import os

import pytest

from lthkit.synth.bench import PROBLEMS, external_suite
from lthkit.synth.compare import reference_program as peer_program
from lthkit.synth.parser import ExTable, Not, SynthSyntaxError, parse_expr, parse_file, parse_text
from lthkit.synth.spec import Top, Union
from lthkit.synth.syntax import Ctor, Fix, Match, NatLit, PCtor, PTuple, PVar, Proj, Tuple, Var
from lthkit.synth.typecheck import check_program

NAT = "type nat =\n  | O\n  | S of nat\n"
LIST = NAT + "type list =\n  | Nil\n  | Cons of nat * list\n"


def suite(name):
    folder = external_suite(name)
    if folder is None:
        pytest.skip(f"{name} not found: set LTHKIT_SYNTH_BENCH to the synth-bench folder "
                    "(it holds myth-pldi2015/, popl2016-products/, popl2016-min/, popl2016-poly/)")
    return folder


def nat_value(e):
    assert isinstance(e, NatLit) and e.zero in ("O", "Z")
    return e.value


def test_reads_all_43_myth_specs_and_their_outputs():
    files = sorted(glob.glob(os.path.join(suite("myth-pldi2015"), "*.ml")))
    assert len(files) == 43
    for f in files:
        prog = parse_file(f)
        assert prog.goal is not None and prog.style == "myth"
        assert isinstance(prog.goal.examples, ExTable)
        peer = peer_program(f[:-3] + ".out", prog)
        assert peer is not None and not isinstance(peer, Var)


def test_reads_all_45_product_specs_and_their_outputs():
    files = sorted(glob.glob(os.path.join(suite("popl2016-products"), "*.ml")))
    assert len(files) == 45
    for f in files:
        prog = parse_file(f)
        assert prog.style == "products"
        assert peer_program(f[:-3] + ".out", prog) is not None


@pytest.mark.parametrize("name, count", [("popl2016-min", 23), ("popl2016-poly", 13)])
def test_reads_and_checks_the_refinement_and_polymorphic_suites(name, count):
    files = sorted(glob.glob(os.path.join(suite(name), "*.ml")))
    assert len(files) == count
    for f in files:
        prog = parse_file(f)
        check_program(prog)                 # ⊤ names, unions, abstract values all resolve
        assert peer_program(f[:-3] + ".out", prog) is not None


def test_own_problems_parse():
    files = glob.glob(os.path.join(PROBLEMS, "*.ml"))
    assert len(files) >= 8
    for f in files:
        assert parse_file(f).goal is not None


def test_refinement_examples_parse_to_top_union_and_negation():
    prog = parse_text(LIST + "let f : list -> nat |> "
                             "/\\(\\/([], [nat]) -> 0, not([1]) -> S nat, ['a] -> 1) = ?")
    (union, zero), (neg, snat), (tv, _) = prog.goal.examples.entries
    assert isinstance(union, Union) and len(union.alts) == 2
    assert isinstance(union.alts[1].arg.items[0], Var) and union.alts[1].arg.items[0].name == "nat"
    assert isinstance(neg, Not) and neg.value.name == "Cons"
    assert isinstance(snat, Ctor) and snat.name == "S" and snat.arg.name == "nat"
    assert isinstance(tv.arg.items[0], Top) and tv.arg.items[0].name == "'a"


def test_parenthesised_arrow_is_a_function_example():
    prog = parse_text("type 'a list =\n | Nil\n | Cons of 'a * 'a list\n"
                      "let m : ('a -> 'b) -> 'a list -> 'b list |>\n"
                      "  (a1 -> b1) -> /\\([] -> [], [a1] -> [b1]) = ?")
    (fn, rest), = prog.goal.examples.entries
    assert isinstance(fn, ExTable) and [type(x) for x in fn.entries[0]] == [Var, Var]
    assert isinstance(rest, ExTable) and len(rest.entries) == 2


def test_type_variables_and_type_application():
    prog = parse_text("type 'a list =\n | Nil\n | Cons of 'a * 'a list\n"
                      "type ('k, 'v) pair =\n | Pair of 'k * 'v\n"
                      "let f : ('a * 'b) list -> ('b, 'a) pair list |> /\\([] -> []) = ?")
    assert prog.params == {"list": ("'a",), "pair": ("'k", "'v")}
    a, b = ("V", "'a"), ("V", "'b")
    assert prog.goal.type == ("A", ("B", "list", (("T", (a, b)),)),
                              ("B", "list", (("B", "pair", (b, a)),)))
    assert prog.ctors_of(("B", "list", (("B", "nat"),)))[1] == (
        "Cons", ("T", (("B", "nat"), ("B", "list", (("B", "nat"),)))))


@pytest.mark.parametrize("text, expected", [
    ("type 'a box =\n | Box of 'b\n", "type variable 'b of constructor Box is not a parameter of box"),
    ("type 'a box =\n | Box of 'a\nlet f : box -> box |> {} = ?", "type box needs 1 type argument"),
    ("type nat =\n | Z\nlet f : nat list -> nat |> {} = ?", "expected '|>'"),
])
def test_type_declaration_errors(text, expected):
    with pytest.raises(SynthSyntaxError, match=expected):
        parse_text(text)


def test_literal_sugar_builds_constructors():
    prog = parse_text(LIST + "let f : list -> nat |> { [2; 0] => 3 } = ?")
    (inp, out), = prog.goal.examples.entries
    assert nat_value(out) == 3
    assert isinstance(inp, Ctor) and inp.name == "Cons" and isinstance(inp.arg, Tuple)
    head, tail = inp.arg.items
    assert nat_value(head) == 2
    assert tail.name == "Cons" and nat_value(tail.arg.items[0]) == 0
    assert tail.arg.items[1].name == "Nil" and tail.arg.items[1].arg is None


def test_nested_curried_examples_in_both_syntaxes():
    myth = parse_text(NAT + "let f : nat -> nat -> nat |> { 0 => ( 1 => 1 | 2 => 2 ) | 1 => 0 => 1 } = ?")
    e = myth.goal.examples.entries
    assert len(e) == 2 and isinstance(e[0][1], ExTable) and len(e[0][1].entries) == 2
    assert isinstance(e[1][1], ExTable) and nat_value(e[1][1].entries[0][1]) == 1
    popl = parse_text(NAT + "let f : nat -> nat -> nat |> /\\(0 -> /\\(1 -> 1, 2 -> 2), 1 -> 0 -> 1) = ?")
    p = popl.goal.examples.entries
    assert popl.style == "products" and len(p) == 2 and len(p[0][1].entries) == 2


def test_products_tuples_projections_and_unary_patterns():
    src = (NAT + "type plist =\n | PNil\n | PCons of (nat * nat) * plist\n"
           "let rec g (p:plist) : nat = match p with | PNil u -> O | PCons t -> #2 (#1 t) ;;\n"
           "let f : plist -> nat |> /\\(PNil -> 0, PCons((1, 2), PNil) -> not(1)) = ?")
    prog = parse_text(src)
    assert prog.datatypes["plist"][1][1] == ("T", (("T", (("B", "nat"), ("B", "nat"))), ("B", "plist")))
    body = prog.globals[0][2].body
    assert isinstance(body, Match)
    (p0, _), (p1, b1) = body.branches
    assert isinstance(p0.arg, PVar) and p0.arg.name == "u"
    assert isinstance(p1.arg, PVar) and isinstance(b1, Proj) and b1.index == 2
    assert isinstance(b1.expr, Proj) and b1.expr.index == 1
    neg = prog.goal.examples.entries[1][1]
    assert isinstance(neg, Not) and nat_value(neg.value) == 1


def test_myth_tuple_patterns_and_fix_output_form():
    prog = parse_text(LIST + "let f : list -> nat |> { [] => 0 } = ?")
    e = parse_expr("fix f1 (l1:list) : nat -> nat -> match l1 with | Nil -> fun (n:nat) -> n "
                   "| Cons (n1, l2) -> f1 l2", prog)
    assert isinstance(e, Fix) and e.rtype == ("A", ("B", "nat"), ("B", "nat"))
    pat = e.body.branches[1][0]
    assert isinstance(pat, PCtor) and isinstance(pat.arg, PTuple) and len(pat.arg.items) == 2


def test_use_includes_a_file_relative_to_the_spec(tmp_path):
    (tmp_path / "n.decls").write_text(NAT)
    spec = tmp_path / "s.ml"
    spec.write_text('#use "n.decls"\nlet f : nat -> nat |> { 0 => 1 } = ?\n')
    assert "nat" in parse_file(str(spec)).datatypes


@pytest.mark.parametrize("text, culprit, expected", [
    (NAT + "let f : nat -> nat |> { 0 => } = ?", "}", "expected an expression, found '}'"),
    (NAT + "let f : nat -> |> { 0 => 1 } = ?", "|>", "expected a type, found '|>'"),
    ("type t = | A\nlet f : t -> t |> { A => B } = ?", "B", "unknown constructor B"),
    (NAT + "let f : nat -> nat |> { 0 => 1 }\n", None, "expected '=', found end of file"),
])
def test_syntax_errors_report_file_line_col_and_what_was_expected(tmp_path, text, culprit, expected):
    spec = tmp_path / "bad.ml"
    spec.write_text(text)
    with pytest.raises(SynthSyntaxError) as info:
        parse_file(str(spec))
    lines = text.split("\n")          # the culprit is the last of its kind on the last line
    line = len(lines)
    col = 1 if culprit is None else lines[-1].rindex(culprit) + 1
    msg = str(info.value)
    assert msg.startswith(f"{spec}:{line}:{col}: "), msg
    assert expected in msg


def test_a_file_without_goal_is_an_error(tmp_path):
    spec = tmp_path / "nogoal.ml"
    spec.write_text(NAT)
    with pytest.raises(SynthSyntaxError, match="no goal"):
        parse_file(str(spec))


def test_nested_matches_without_parentheses_follow_the_layout():
    # the POPL 2016 tool prints nested matches unparenthesised, relying on indentation
    src = ("type bool =\n  | True\n  | False\n"
           "let f : bool -> bool -> bool |> /\\(True -> True -> False) = ?")
    prog = parse_text(src)
    text = ("fun (b1:bool) ->\n  fun (b2:bool) ->\n    match b2 with\n"
            "    | True u1 -> match b1 with\n      | True u2 -> False\n      | False u2 -> True\n"
            "    | False u1 -> b1\n")
    outer = parse_expr(text, prog).body.body
    assert [p.ctor for p, _ in outer.branches] == ["True", "False"]
    assert [p.ctor for p, _ in outer.branches[0][1].branches] == ["True", "False"]
    # on one line, a nested match takes every later branch, as in OCaml
    flat = parse_expr("match b2 with | True -> match b1 with | True -> False | False -> True", prog)
    assert len(flat.branches) == 1 and len(flat.branches[0][1].branches) == 2
