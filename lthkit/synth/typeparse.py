"""Parsing of types (a mixin of ``parser.Parser``): ``nat``, ``'a``, ``nat list``,
``('a * 'b) list``, ``(k, v) pair``, tuples ``a * b`` and arrows ``a -> b``, and the type
parameters of a declaration (``type 'a list = ...``).

    t = Parser(text, path, prog).type_()         # ("A", ("B", "nat"), ("B", "nat"))
"""
from __future__ import annotations

from .lexer import SynthSyntaxError
from .syntax import UNIT, base


class TypeParser:
    """Needs the token helpers of ``lexer.TokenStream`` and the nesting count of the parser."""

    def type_params(self):
        """``'a`` or ``('a, 'b)`` before a declared type's name."""
        if self.peek()[0] == "tyvar":
            self.i += 1
            return (self.toks[self.i - 1][1],)
        if self.at("(") and self.peek(1)[0] == "tyvar":
            self.i += 1
            ps = [self.tyvar()]
            while self.accept(","):
                ps.append(self.tyvar())
            self.expect(")")
            return tuple(ps)
        return ()

    def tyvar(self):
        t = self.peek()
        if t[0] != "tyvar":
            self.fail("a type variable like 'a")
        self.i += 1
        return t[1]

    def type_(self):
        self.enter()
        try:
            t = self.ttuple()
            if self.accept("->"):
                return ("A", t, self.type_())
            return t
        finally:
            self.leave()

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
        if t[0] == "V":
            return True
        if t[0] == "B":
            return t[1] in self.prog.datatypes
        if t[0] == "A":
            return self.known_type(t[1]) and self.known_type(t[2])
        return all(self.known_type(x) for x in t[1])

    def ttuple(self):
        items = [self.tapp()]
        while self.accept("*"):
            items.append(self.tapp())
        return items[0] if len(items) == 1 else ("T", tuple(items))

    def tapp(self):
        """A type atom followed by the names of the datatypes it is an argument of, as in
        OCaml: ``nat list``, ``('a * 'b) list option``."""
        args = self.tatom()
        while True:
            t = self.peek()
            arity = len(self.prog.params.get(t[1], ())) if t[0] == "ident" else 0
            if not arity:
                break
            self.i += 1
            got = len(args) if isinstance(args, list) else 1
            if got != arity:
                self.error(f"type {t[1]} takes {arity} argument{'s' * (arity > 1)}, given {got}", t)
            args = base(t[1], args if isinstance(args, list) else [args])
        if isinstance(args, list):
            self.error(f"a list of {len(args)} types must be followed by a type name")
        return args

    def tatom(self):
        """One type, or a list of types ``(t1, t2)`` waiting for the datatype they apply to."""
        t = self.peek()
        if t[0] == "tyvar":
            self.i += 1
            return ("V", t[1])
        if self.accept("("):
            first = self.type_()
            if self.at(","):
                items = [first]
                while self.accept(","):
                    items.append(self.type_())
                self.expect(")")
                return items
            self.expect(")")
            return first
        if self.accept("unit"):
            return UNIT
        name = self.ident("a type")
        if self.prog.params.get(name):
            self.error(f"type {name} needs {len(self.prog.params[name])} type argument(s), as in "
                       f"'a {name}", t)
        return base(name)
