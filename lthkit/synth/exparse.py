"""Parsing of a goal's examples, in Myth's syntax and in the POPL 2016 one (a mixin of
``parser.Parser``).

Myth writes ``{ in => out | in => ( in => out | ... ) }``; the POPL 2016 tool writes
``/\\( in -> out, ... )`` and reads examples as refinement types: a type name is any value of
that type, ``\\/( ... )`` a union, ``not(v)`` a negation, ``'a`` any value of a type variable,
and ``(a1 -> b1)`` a function given by one example.

    ex = Parser(text, path, prog).examples()        # ExTable, with a position per example
"""
from __future__ import annotations

from .lexer import SynthSyntaxError
from .spec import ExTable, Not, Top, Union


class ExampleParser:
    """Needs the token helpers of ``lexer.TokenStream`` and the ``app``/``atom`` of the parser."""

    # -- examples -----------------------------------------------------------------------
    def refinement_atom(self):
        """In examples: ``'a`` (any value of a type variable), ``\\/( ... )`` and ``not(v)``;
        None for anything else.  Type names like ``nat`` parse as variables, which the type
        checker reads as any value of that type."""
        kind, val, line, col = self.peek()
        pos = (self.path, line, col)
        if kind == "tyvar":
            self.i += 1
            return Top(val, pos=pos)
        if kind == "ident" and val == "not" and self.at("(", 1):
            self.i += 2
            v = self.popl_chain()
            self.expect(")")
            return Not(v)
        if self.accept("\\/"):
            self.expect("(")
            alts = [self.popl_chain()]
            while self.accept(","):
                alts.append(self.popl_chain())
            self.expect(")")
            return Union(alts, pos)
        return None

    def examples(self):
        if self.at("{"):
            self.prog.style = "myth"
            pos = self.pos()
            self.i += 1
            entries, positions = self.myth_entries("}")
            self.expect("}")
            return ExTable(entries, pos, positions)
        self.prog.style = "products"
        return self.popl_chain()

    def myth_entries(self, close, entries=(), positions=()):
        entries, positions = list(entries), list(positions)
        if not entries:
            positions.append(self.pos())
            entries.append(self.myth_entry())
        while self.accept("|") or self.accept(";"):
            if self.at(close):
                break
            positions.append(self.pos())
            entries.append(self.myth_entry())
        return entries, positions

    def myth_entry(self):
        v = self.app()
        self.expect("=>")
        return (v, self.myth_rhs())

    def myth_rhs(self):
        self.enter()
        try:
            return self.myth_rhs_inner()
        finally:
            self.leave()

    def myth_rhs_inner(self):
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
                entries, positions = self.myth_entries(")", [(first, self.myth_rhs())],
                                                       [(pos[0], pos[1], pos[2] + 1)])
                self.expect(")")
                return ExTable(entries, pos, positions)
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
        entries, positions = [], []
        while True:
            tok = self.peek()
            e = self.popl_chain()
            if not isinstance(e, ExTable):
                self.fail("an example 'input -> output'", tok)
            entries.extend(e.entries)
            positions.extend(e.positions)
            if not self.accept(","):
                break
        self.expect(")")
        return ExTable(entries, pos, positions)

    def popl_chain(self):
        self.enter()
        try:
            pos = self.pos()
            v = self.popl_table() if self.at("/\\") else self.app()
            if self.accept("->"):
                return ExTable([(v, self.popl_chain())], pos)
            return v
        finally:
            self.leave()


