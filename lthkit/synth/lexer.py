"""Tokens of the spec language, and the token stream the parser reads.

    toks = tokenize(text, "spec.ml")      # [(kind, value, line, col)], ends with ("eof", ...)

Comments ``(* ... *)`` nest, as in OCaml.  Every error a spec can cause is a ``SynthInputError``
whose message starts with ``file:line:col``.
"""
from __future__ import annotations

import re


class SynthInputError(Exception):
    """A spec the synthesiser cannot take: its message starts with ``file:line:col``."""


class SynthSyntaxError(SynthInputError):
    pass


TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\(\*)
  | (?P<string>"[^"\n]*")
  | (?P<int>\d+)
  | (?P<tyvar>'[a-z][A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_']*)
  | (?P<sym>;;|\|>|=>|->|/\\|\\/|\#use|[()\[\]{},;|:*=#?])
""", re.VERBOSE)

KEYWORDS = {"type", "of", "let", "rec", "in", "match", "with", "fun", "fix", "unit"}
MAX_DIGITS = 9          # a literal this long is refused before int() sees it


def where(path, text, offset):
    """``file:line:col`` of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return f"{path}:{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def tokenize(text, path):
    toks, i, line, lstart = [], 0, 1, 0
    while i < len(text):
        m = TOKEN.match(text, i)
        if not m:
            raise SynthSyntaxError(f"{path}:{line}:{i - lstart + 1}: unexpected character {text[i]!r}")
        kind = m.lastgroup
        if kind == "comment":
            depth, j = 1, m.end()
            while depth and j < len(text):
                if text.startswith("(*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*)", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                raise SynthSyntaxError(f"{path}:{line}:{i - lstart + 1}: unterminated comment")
            end = j
        else:
            end = m.end()
            if kind != "ws":
                val = m.group(kind)
                if kind == "ident" and val in KEYWORDS:
                    kind = "kw"
                if kind == "int" and len(val) > MAX_DIGITS:
                    raise SynthSyntaxError(f"{path}:{line}:{i - lstart + 1}: number literal "
                                           f"{val[:12]}... is too large")
                toks.append((kind, val, line, i - lstart + 1))
        chunk = text[i:end]
        if "\n" in chunk:
            line += chunk.count("\n")
            lstart = i + chunk.rindex("\n") + 1
        i = end
    toks.append(("eof", "end of file", line, i - lstart + 1))
    return toks


class TokenStream:
    def __init__(self, text, path):
        self.toks, self.i, self.path = tokenize(text, path), 0, path

    # -- token helpers ---------------------------------------------------------------
    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, val, k=0):
        t = self.peek(k)
        return t[1] == val and t[0] in ("sym", "kw")

    def fail(self, expected, tok=None):
        kind, val, line, col = tok or self.peek()
        found = "end of file" if kind == "eof" else repr(val)
        raise SynthSyntaxError(f"{self.path}:{line}:{col}: expected {expected}, found {found}")

    def error(self, msg, tok=None):
        _, _, line, col = tok or self.peek()
        raise SynthSyntaxError(f"{self.path}:{line}:{col}: {msg}")

    def expect(self, val):
        if not self.at(val):
            self.fail(repr(val))
        self.i += 1

    def accept(self, val):
        if self.at(val):
            self.i += 1
            return True
        return False

    def ident(self, what="an identifier"):
        t = self.peek()
        if t[0] != "ident" or not (t[1][0].islower() or t[1][0] == "_"):
            self.fail(what)
        self.i += 1
        return t[1]

    def pos(self):
        return (self.path, self.peek()[2], self.peek()[3])

    def line_leading(self):
        """True when the next token is the first on its line."""
        return self.i == 0 or self.toks[self.i - 1][2] < self.peek()[2]
