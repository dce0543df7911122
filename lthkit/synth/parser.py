"""Parser for Myth's input language and the POPL 2016 product syntax.

Reads type declarations, ``let`` / ``let rec`` helper definitions, ``#use "file.decls"``
includes and one goal ``let f : T |> examples = ?``.  Examples are written either in Myth's
syntax ``{ in => out | in => ( in => out | ... ) }`` or in the POPL 2016 syntax
``/\\( in -> out, ... )``; natural-number literals ``2`` and list literals ``[0; 1]`` are sugar
for the declared ``nat`` and ``list`` types.

    prog = parse_file("list_stutter.ml")      # -> Program (raises SynthSyntaxError)

Errors carry ``file:line:col`` and what was expected.
"""
from __future__ import annotations

import os

from .lexer import SynthSyntaxError, TokenStream
from .spec import ExTable, Goal, Not, Program
from .syntax import (UNIT, App, Ctor, Fix, Let, Match, PCtor, PTuple, PVar, PWild, Proj, Tuple,
                     Unit, Var, arrow, base, show_type)


class Parser(TokenStream):
    def __init__(self, text, path, prog):
        super().__init__(text, path)
        self.prog = prog

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
                inc = os.path.join(os.path.dirname(self.path), t[1][1:-1])
                if not os.path.exists(inc):
                    raise SynthSyntaxError(f"{self.path}:{t[2]}:{t[3]}: included file {t[1]} not found")
                with open(inc) as fh:
                    Parser(fh.read(), inc, self.prog).program()
            elif self.at("let"):
                self.letdecl()
            elif self.accept(";;"):
                pass
            else:
                self.fail("'type', 'let' or '#use'")
        return self.prog

    def typedecl(self):
        self.expect("type")
        name = self.ident("a type name")
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
        if old is not None and old != ctors:
            raise SynthSyntaxError(f"{self.path}:{t[2]}:{t[3]}: type {name} declared twice differently")
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
            ex = self.examples()
            self.expect("=")
            self.expect("?")
            self.prog.goal = Goal(name, rtype, ex, pos)
            return
        self.expect("=")
        body = self.expr()
        self.accept(";;")
        expr, ftype = fold_params(name if rec else None, ps, rtype, body)
        if ftype is None:
            raise SynthSyntaxError(f"{pos[0]}:{pos[1]}:{pos[2]}: '{name}' needs a type annotation")
        self.prog.globals.append((name, ftype, expr, pos))

    # -- types ------------------------------------------------------------------------
    def type_(self):
        t = self.ttuple()
        if self.accept("->"):
            return ("A", t, self.type_())
        return t

    def fix_result_type(self):
        """In ``fix f (x:T) : A -> B -> body`` the last arrow starts the body."""
        parts = [self.ttuple()]
        while self.at("->"):
            save = self.i
            self.i += 1
            try:
                t = self.ttuple()
                if not self.known_type(t):
                    raise SynthSyntaxError("not a type")
            except SynthSyntaxError:
                self.i = save
                break
            parts.append(t)
        out = parts[-1]
        for t in reversed(parts[:-1]):
            out = ("A", t, out)
        return out

    def known_type(self, t):
        if t[0] == "B":
            return t[1] in self.prog.datatypes
        if t[0] == "A":
            return self.known_type(t[1]) and self.known_type(t[2])
        return all(self.known_type(x) for x in t[1])

    def ttuple(self):
        items = [self.tatom()]
        while self.accept("*"):
            items.append(self.tatom())
        return items[0] if len(items) == 1 else ("T", tuple(items))

    def tatom(self):
        if self.accept("("):
            t = self.type_()
            self.expect(")")
            return t
        if self.accept("unit"):
            return UNIT
        return base(self.ident("a type"))

    # -- expressions ------------------------------------------------------------------
    def expr(self):
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
        return kind in ("ident", "int") or (kind == "sym" and val in ("(", "[", "#", "/\\"))

    def app(self):
        e = self.atom()
        while self.starts_atom():
            e = App(e, self.atom())
        return e

    def atom(self):
        kind, val, line, col = self.peek()
        if kind == "int":
            self.i += 1
            return self.nat_literal(int(val), (line, col))
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
            items = [self.expr()]
            while self.accept(","):
                items.append(self.expr())
            self.expect(")")
            return items[0] if len(items) == 1 else Tuple(items)
        if self.at("/\\"):
            return self.popl_table()
        self.fail("an expression")

    def nat_literal(self, n, lc):
        zs = self.prog.nat_ctors()
        if zs is None:
            raise SynthSyntaxError(f"{self.path}:{lc[0]}:{lc[1]}: number literal needs a type 'nat' with a zero and a successor")
        e = Ctor(zs[0])
        for _ in range(n):
            e = Ctor(zs[1], e)
        return e

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

    # -- examples -----------------------------------------------------------------------
    def examples(self):
        if self.at("{"):
            self.prog.style = "myth"
            pos = self.pos()
            self.i += 1
            entries = self.myth_entries("}")
            self.expect("}")
            return ExTable(entries, pos)
        self.prog.style = "products"
        return self.popl_chain()

    def myth_entries(self, close):
        entries = [self.myth_entry()]
        while self.accept("|") or self.accept(";"):
            if self.at(close):
                break
            entries.append(self.myth_entry())
        return entries

    def myth_entry(self):
        v = self.app()
        self.expect("=>")
        return (v, self.myth_rhs())

    def myth_rhs(self):
        if self.at("("):
            save = self.i
            pos = self.pos()
            self.i += 1
            try:
                first = self.app()
                nested = self.at("=>")
            except SynthSyntaxError:
                nested = False
            if nested:
                self.i += 1
                entries = [(first, self.myth_rhs())]
                while self.accept("|") or self.accept(";"):
                    entries.append(self.myth_entry())
                self.expect(")")
                return ExTable(entries, pos)
            self.i = save
        pos = self.pos()
        v = self.app()
        if self.accept("=>"):
            return ExTable([(v, self.myth_rhs())], pos)
        return v

    def popl_table(self):
        pos = self.pos()
        self.expect("/\\")
        self.expect("(")
        entries = []
        while True:
            e = self.popl_chain()
            if not isinstance(e, ExTable):
                self.fail("an example 'input -> output'")
            entries.extend(e.entries)
            if not self.accept(","):
                break
        self.expect(")")
        return ExTable(entries, pos)

    def popl_chain(self):
        pos = self.pos()
        v = self.popl_table() if self.at("/\\") else self.app()
        if self.accept("->"):
            if self.peek()[:2] == ("ident", "not") and self.at("(", 1):
                self.i += 1
                return ExTable([(v, Not(self.atom()))], pos)
            return ExTable([(v, self.popl_chain())], pos)
        return v


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
    prog = Program(path)
    Parser(text, path, prog).program()
    return prog


def parse_file(path) -> Program:
    with open(path) as fh:
        text = fh.read()
    prog = parse_text(text, path)
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


__all__ = ["parse_file", "parse_text", "parse_expr", "Program", "Goal", "ExTable",
           "SynthSyntaxError", "show_type", "arrow"]
