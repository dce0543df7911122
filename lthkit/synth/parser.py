"""Parser for Myth's input language and the POPL 2016 product syntax.

Reads type declarations (``type 'a list = ...`` may take type variables), ``let`` / ``let rec``
helper definitions, ``#use "file.decls"`` includes and one goal ``let f : T |> examples = ?``.
Examples are written either in Myth's syntax ``{ in => out | in => ( in => out | ... ) }`` or in
the POPL 2016 syntax ``/\\( in -> out, ... )``, where they are refinements: a type name stands
for any value of the type, ``\\/( ... )`` is a union, ``not(v)`` a negation, ``a1`` an abstract
value of a type variable.  Natural-number literals ``2`` and list literals ``[0; 1]`` are sugar
for the declared ``nat`` and ``list`` types.

    prog = parse_file("list_stutter.ml")      # -> Program (raises SynthSyntaxError)

Errors carry ``file:line:col`` and what was expected.  Hostile input is refused with such an
error too: files that are not UTF-8 text or larger than ``MAX_FILE_BYTES``, ``#use`` cycles and
directories, nesting deeper than ``MAX_NESTING`` and literals above ``MAX_NAT_LITERAL``.
"""
from __future__ import annotations

import os
import sys

from .exparse import ExampleParser
from .typeparse import TypeParser
from .lexer import SynthInputError, SynthSyntaxError, TokenStream
from .source import (MAX_INCLUDES, MAX_NAT_LITERAL, MAX_NESTING, RECURSION_LIMIT, check_depth,
                     read_spec)
from .spec import ExTable, Goal, Not, Program
from .syntax import (UNIT, App, Ctor, Fix, Let, Match, NatLit, PCtor, PTuple, PVar, PWild, Proj,
                     Tuple, Unit, Var, arrow, show_type, type_vars)



class Parser(TypeParser, ExampleParser, TokenStream):
    def __init__(self, text, path, prog, including=(), includes=None):
        super().__init__(text, path)
        self.prog = prog
        self.including = including      # real paths of the files whose #use led here
        self.includes = includes if includes is not None else [0]   # shared count of #use
        self.depth = 0
        self.examples_mode = False

    def enter(self):
        """Count one level of nesting; refuse input nested deeper than MAX_NESTING (the parser
        is recursive, and a clear message beats Python's recursion limit)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.depth -= 1
            self.error(f"nested more than {MAX_NESTING} levels deep")

    def leave(self):
        self.depth -= 1

    # -- top level -------------------------------------------------------------------
    def program(self):
        while self.peek()[0] != "eof":
            if self.at("type"):
                self.typedecl()
            elif self.at("#use"):
                self.i += 1
                t = self.peek()
                if t[0] != "string":
                    self.fail("a file name in quotes")
                self.i += 1
                self.include(t)
            elif self.at("let"):
                self.letdecl()
            elif self.accept(";;"):
                pass
            else:
                self.fail("'type', 'let' or '#use'")
        return self.prog

    def include(self, t):
        inc = os.path.join(os.path.dirname(self.path), t[1][1:-1])
        where = f"{self.path}:{t[2]}:{t[3]}"
        real = os.path.realpath(inc)
        if real in self.including:
            raise SynthSyntaxError(f"{where}: #use cycle: {t[1]} is already being read")
        self.includes[0] += 1
        if self.includes[0] > MAX_INCLUDES:
            raise SynthSyntaxError(f"{where}: more than {MAX_INCLUDES} #use includes")
        text = read_spec(inc, where, what=f"included file {t[1]}")
        Parser(text, inc, self.prog, self.including + (real,), self.includes).program()

    def typedecl(self):
        pos = self.pos()
        self.expect("type")
        params = self.type_params()
        name = self.ident("a type name")
        if name in self.prog.params and self.prog.params[name] != params:
            self.error(f"type {name} declared twice differently")
        self.prog.params[name] = params
        self.prog.positions.setdefault(name, pos)
        self.prog.datatypes.setdefault(name, [])
        self.expect("=")
        self.accept("|")
        ctors = []
        while True:
            t = self.peek()
            if t[0] != "ident" or not t[1][0].isupper():
                self.fail("a constructor name")
            self.i += 1
            arg = self.type_() if self.accept("of") else UNIT
            ctors.append((t[1], arg))
            if not self.accept("|"):
                break
        old = self.prog.datatypes.get(name)
        if old and old != ctors:
            raise SynthSyntaxError(f"{self.path}:{t[2]}:{t[3]}: type {name} declared twice differently")
        for c, a in ctors:
            extra = sorted(v for v in type_vars(a) if v not in params)
            if extra:
                raise SynthSyntaxError(f"{self.path}:{t[2]}:{t[3]}: type variable {extra[0]} of "
                                       f"constructor {c} is not a parameter of {name}")
        self.prog.datatypes[name] = ctors
        for c, a in ctors:
            self.prog.ctors[c] = (name, a)

    def params(self):
        ps = []
        while self.at("(") and self.peek(1)[0] == "ident" and self.at(":", 2):
            self.i += 1
            x = self.ident()
            self.expect(":")
            ps.append((x, self.type_()))
            self.expect(")")
        return ps

    def letdecl(self):
        pos = self.pos()
        self.expect("let")
        rec = self.accept("rec")
        name = self.ident("a name after 'let'")
        ps = self.params()
        rtype = self.type_() if self.accept(":") else None
        if self.accept("|>"):
            if ps or rtype is None:
                self.fail("a goal of the form 'let f : T |> examples = ?'")
            if self.prog.goal is not None:
                raise SynthSyntaxError(f"{pos[0]}:{pos[1]}:{pos[2]}: a second goal; one file holds one goal")
            self.examples_mode = True
            ex = self.examples()
            self.examples_mode = False
            self.expect("=")
            self.expect("?")
            check_depth(ex, pos)
            self.prog.goal = Goal(name, rtype, ex, pos)
            return
        self.expect("=")
        body = self.expr()
        check_depth(body, pos)
        self.accept(";;")
        expr, ftype = fold_params(name if rec else None, ps, rtype, body)
        if ftype is None:
            raise SynthSyntaxError(f"{pos[0]}:{pos[1]}:{pos[2]}: '{name}' needs a type annotation")
        self.prog.globals.append((name, ftype, expr, pos))

    # -- expressions ------------------------------------------------------------------
    def expr(self):
        self.enter()
        try:
            return self.expr_inner()
        finally:
            self.leave()

    def expr_inner(self):
        if self.accept("match"):
            scrut = self.expr()
            self.expect("with")
            # Layout: the POPL 2016 tool prints nested matches without parentheses and relies
            # on indentation, so a line-leading `|` left of this match's own ends it.
            column = self.peek()[3] if self.line_leading() else None
            self.accept("|")
            branches = []
            while True:
                p = self.pattern()
                self.expect("->")
                branches.append((p, self.expr()))
                if not self.at("|") or (column is not None and self.line_leading()
                                        and self.peek()[3] < column):
                    break
                self.i += 1
            return Match(scrut, branches)
        if self.accept("fun"):
            self.expect("(")
            x = self.ident()
            self.expect(":")
            t = self.type_()
            self.expect(")")
            self.expect("->")
            return Fix(None, x, t, None, self.expr())
        if self.accept("fix"):
            f = self.ident()
            self.expect("(")
            x = self.ident()
            self.expect(":")
            t = self.type_()
            self.expect(")")
            self.expect(":")
            r = self.fix_result_type()
            self.expect("->")
            return Fix(f, x, t, r, self.expr())
        if self.accept("let"):
            rec = self.accept("rec")
            name = self.ident()
            ps = self.params()
            rtype = self.type_() if self.accept(":") else None
            self.expect("=")
            value = self.expr()
            self.expect("in")
            value, _ = fold_params(name if rec else None, ps, rtype, value)
            return Let(name, value, self.expr())
        return self.app()

    def starts_atom(self):
        kind, val, _, _ = self.peek()
        if self.examples_mode and (kind == "tyvar" or val == "\\/"):
            return True
        return kind in ("ident", "int") or (kind == "sym" and val in ("(", "[", "#", "/\\"))

    def app(self):
        e = self.atom()
        while self.starts_atom():
            e = App(e, self.atom())
        return e

    def atom(self):
        self.enter()
        try:
            return self.atom_inner()
        finally:
            self.leave()

    def atom_inner(self):
        kind, val, line, col = self.peek()
        if kind == "int":
            self.i += 1
            return self.nat_literal(int(val), (line, col))
        if self.examples_mode:
            found = self.refinement_atom()
            if found is not None:
                return found
        if kind == "ident":
            self.i += 1
            if val[0].isupper():
                if val not in self.prog.ctors:
                    raise SynthSyntaxError(f"{self.path}:{line}:{col}: unknown constructor {val}")
                if self.prog.ctors[val][1] == UNIT:
                    if self.at("(") and self.at(")", 1):
                        self.i += 2
                    return Ctor(val)
                if not self.starts_atom():
                    self.fail(f"an argument for constructor {val}")
                return Ctor(val, self.atom())
            return Var(val)
        if self.accept("#"):
            t = self.peek()
            if t[0] != "int" or int(t[1]) < 1:
                self.fail("a projection index like #1")
            self.i += 1
            return Proj(int(t[1]), self.atom())
        if self.accept("["):
            items = []
            if not self.at("]"):
                items.append(self.expr())
                while self.accept(";"):
                    items.append(self.expr())
            self.expect("]")
            return self.list_literal(items, (line, col))
        if self.accept("("):
            if self.accept(")"):
                return Unit()
            # in examples a parenthesised item may be a function example `(a1 -> b1)`
            item = self.popl_chain if self.examples_mode else self.expr
            items = [item()]
            while self.accept(","):
                items.append(item())
            self.expect(")")
            return items[0] if len(items) == 1 else Tuple(items)
        if self.at("/\\"):
            return self.popl_table()
        self.fail("an expression")

    def nat_literal(self, n, lc):
        zs = self.prog.nat_ctors()
        if zs is None:
            raise SynthSyntaxError(f"{self.path}:{lc[0]}:{lc[1]}: number literal needs a type 'nat' with a zero and a successor")
        if n > MAX_NAT_LITERAL:
            raise SynthSyntaxError(f"{self.path}:{lc[0]}:{lc[1]}: number literal {n} is too large: "
                                   f"naturals are unary here, at most {MAX_NAT_LITERAL}")
        return NatLit(n, zs[0], zs[1])

    def list_literal(self, items, lc):
        cs = self.prog.list_ctors()
        if cs is None:
            raise SynthSyntaxError(f"{self.path}:{lc[0]}:{lc[1]}: list literal needs a type 'list' with Nil and Cons")
        e = Ctor(cs[0])
        for x in reversed(items):
            e = Ctor(cs[1], Tuple([x, e]))
        return e

    def pattern(self):
        t = self.peek()
        if t[0] != "ident" or not t[1][0].isupper():
            self.fail("a constructor pattern")
        self.i += 1
        if t[1] not in self.prog.ctors:
            raise SynthSyntaxError(f"{self.path}:{t[2]}:{t[3]}: unknown constructor {t[1]}")
        if self.at("->"):
            return PCtor(t[1])
        return PCtor(t[1], self.subpattern())

    def subpattern(self):
        self.enter()
        try:
            return self.subpattern_inner()
        finally:
            self.leave()

    def subpattern_inner(self):
        if self.accept("("):
            if self.accept(")"):
                return PWild()
            items = [self.subpattern()]
            while self.accept(","):
                items.append(self.subpattern())
            self.expect(")")
            return items[0] if len(items) == 1 else PTuple(items)
        name = self.ident("a pattern variable")
        return PWild() if name == "_" else PVar(name)

def fold_params(name, params, rtype, body):
    """``let rec f (x:A) (y:B) : R = e`` is ``fix f (x:A) : B -> R -> fun (y:B) -> e``."""
    if not params:
        return body, rtype
    ftype = rtype
    for _, t in reversed(params):
        ftype = ("A", t, ftype) if ftype is not None else None
    inner = body
    for x, t in reversed(params[1:]):
        inner = Fix(None, x, t, None, inner)
    rt = ftype[2] if ftype is not None else None
    return Fix(name, params[0][0], params[0][1], rt, inner), ftype


def parse_text(text, path="<string>") -> Program:
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)
    prog = Program(path)
    real = os.path.realpath(path) if os.path.exists(path) else path
    Parser(text, path, prog, (real,)).program()
    return prog


def parse_file(path) -> Program:
    prog = parse_text(read_spec(path), path)
    if prog.goal is None:
        raise SynthSyntaxError(f"{path}:1:1: no goal 'let f : T |> examples = ?' in the file")
    return prog


def parse_expr(text, prog, path="<string>"):
    """Parse one expression (e.g. a ``.out`` file's program) with ``prog``'s declarations."""
    p = Parser(text, path, prog)
    e = p.expr()
    p.accept(";;")
    if p.peek()[0] != "eof":
        p.fail("end of expression")
    return e


__all__ = ["parse_file", "parse_text", "parse_expr", "read_spec", "Program", "Goal", "ExTable", "Not",
           "SynthSyntaxError", "SynthInputError", "show_type", "arrow"]
