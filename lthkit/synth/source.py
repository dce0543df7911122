"""Reading spec files defensively: the checks that turn hostile input into a located error.

    text = read_spec("spec.ml")          # SynthInputError for a directory, binary, huge file...
    check_depth(expr, pos)               # SynthSyntaxError when nested deeper than MAX_DEPTH

Everything downstream (the type checker, the evaluator, the printers) is recursive; bounding
the input here keeps each of them well inside the recursion limit the parser sets.
"""
from __future__ import annotations

import os

from .lexer import SynthInputError, SynthSyntaxError
from .spec import ExTable, Not, Union
from .syntax import App, Ctor, Fix, Let, Match, NatLit, Proj, Tuple

MAX_FILE_BYTES = 1 << 20    # a spec is a page of text; anything larger is refused unread
MAX_NESTING = 200           # parentheses, brackets, matches... inside one another
MAX_NAT_LITERAL = 1000      # naturals are unary: 1000 is already a thousand constructors
MAX_DEPTH = 2000            # constructors inside one another once literals are counted
MAX_INCLUDES = 64
RECURSION_LIMIT = 20000     # what the checker and evaluator need for MAX_DEPTH, with room


def check_depth(e, pos):
    """Refuse an expression nested deeper than MAX_DEPTH (counting a literal n as n levels),
    walking it without recursion, so that the recursive checker and evaluator never meet one."""
    stack = [(e, 1)]
    while stack:
        e, d = stack.pop()
        if isinstance(e, NatLit):
            d += e.value
        if d > MAX_DEPTH:
            raise SynthSyntaxError(f"{pos[0]}:{pos[1]}:{pos[2]}: expression nested more than "
                                   f"{MAX_DEPTH} constructors deep")
        stack.extend((c, d + 1) for c in children(e))


def children(e):
    if isinstance(e, (Ctor, Not)):
        v = e.arg if isinstance(e, Ctor) else e.value
        return () if v is None else (v,)
    if isinstance(e, (Tuple, Union)):
        return e.items if isinstance(e, Tuple) else e.alts
    if isinstance(e, App):
        return (e.fn, e.arg)
    if isinstance(e, Proj):
        return (e.expr,)
    if isinstance(e, Match):
        return (e.scrut,) + tuple(b for _, b in e.branches)
    if isinstance(e, Fix):
        return (e.body,)
    if isinstance(e, Let):
        return (e.value, e.body)
    if isinstance(e, ExTable):
        return tuple(x for pair in e.entries for x in pair)
    return ()


def read_spec(path, where=None, what="spec file"):
    """The text of a spec file, or a SynthInputError naming ``where`` (default ``path:1:1``)
    for a file that is missing, a directory, not a regular file, too large or not UTF-8."""
    where = where or f"{path}:1:1"
    if os.path.isdir(path):
        raise SynthInputError(f"{where}: {what} {path} is a directory")
    if not os.path.exists(path):
        raise SynthInputError(f"{where}: {what} {path} not found (no such file)")
    if not os.path.isfile(path):
        raise SynthInputError(f"{where}: {what} {path} is not a regular file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise SynthInputError(f"{where}: cannot read {what} {path}: {e.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SynthInputError(f"{where}: {what} {path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        head = data[:e.start].decode("utf-8", "replace")
        line = head.count("\n") + 1
        col = len(head) - (head.rfind("\n") + 1) + 1
        raise SynthSyntaxError(f"{path}:{line}:{col}: not a text file (byte "
                               f"0x{data[e.start]:02x} is not UTF-8)") from None
    return text


