"""The REPORT's template language: ``{{ call }}`` fields in Markdown, each evaluated to text.

Why a template: a number typed into prose goes stale the day a run changes, and nobody can tell a
typed number from a measured one. The REPORT's sources (``results/report/*.md``) carry no study
number; each one is a field that names where it comes from, e.g.::

    Cascade RPN is above RPN by **{{ diff("x1a_cascade_mmdet_norm", "rpn") }}** AR1000

and ``results/REPORT.md`` is what :func:`render` makes of the sources (``tests/test_report.py``
re-renders it and scans the sources for typed numbers).

The language is a restricted Python expression, parsed with :mod:`ast` and never ``eval``'d:

* calls of the registered fields (:data:`scrpn.study.report.fields.FIELDS`), positional and keyword
  arguments;
* literals: strings, numbers, ``True`` / ``False`` / ``None``, lists, tuples, dicts;
* arithmetic on numbers: ``+ - * /``, unary ``-``, e.g. ``delta(...) - delta(...)``.

A literal ``{{`` (to show the language itself) is the field ``{{ "{{" }}``; a ``}}`` outside a
field is plain text.

A field returns text, or a :class:`~scrpn.study.report.fields.Num` (a number that remembers how to
print itself: digits, sign, a unit); a bare float left by arithmetic prints with one decimal. A
field that cannot be evaluated (unknown name, a missing run) is a :class:`TemplateError` naming
the source file, its line and the field, never a silently wrong number.
"""
from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = ["FIELD", "TemplateError", "evaluate", "render_text"]

FIELD = re.compile(r"\{\{(.*?)\}\}", re.S)

_BINARY: dict[type, Callable[[Any, Any], Any]] = {ast.Add: operator.add, ast.Sub: operator.sub,
                                                  ast.Mult: operator.mul, ast.Div: operator.truediv}


class TemplateError(ValueError):
    """A field that cannot be evaluated; ``str()`` is ``file:line: {{ field }}: problem``."""


@dataclass(frozen=True)
class _Where:
    source: str
    line: int
    field: str

    def error(self, problem: str) -> TemplateError:
        return TemplateError(f"{self.source}:{self.line}: {{{{{self.field}}}}}: {problem}")


def _value(node: ast.AST, fields: Mapping[str, Callable[..., Any]], where: _Where) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_value(n, fields, where) for n in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise where.error("** in a dict is not allowed")
        return {_value(k, fields, where): _value(v, fields, where) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _value(node.operand, fields, where)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left, fields, where), _value(node.right, fields, where)
        try:
            return _BINARY[type(node.op)](float(left), float(right))
        except (TypeError, ValueError, ZeroDivisionError) as exc:
            raise where.error(f"arithmetic on {left!r} and {right!r}: {exc}") from None
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in fields:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise where.error(f"unknown field {name!r} (known: {', '.join(sorted(fields))})")
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise where.error("*args / **kwargs are not allowed")
        args = [_value(a, fields, where) for a in node.args]
        kwargs = {k.arg: _value(k.value, fields, where) for k in node.keywords}
        try:
            return fields[node.func.id](*args, **kwargs)
        except TemplateError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, FileNotFoundError, OSError) as exc:
            raise where.error(f"{type(exc).__name__}: {exc}") from None
    raise where.error(f"not allowed in a field: {ast.unparse(node)!r} (calls, literals and + - * / only)")


def evaluate(field: str, fields: Mapping[str, Callable[..., Any]], source: str = "<text>", line: int = 1) -> str:
    """The text of one field (the expression between ``{{`` and ``}}``)."""
    where = _Where(source, line, field)
    try:
        tree = ast.parse(field.strip(), mode="eval")
    except SyntaxError as exc:
        raise where.error(f"not an expression: {exc.msg}") from None
    value = _value(tree.body, fields, where)
    if isinstance(value, bool) or value is None:
        raise where.error(f"evaluates to {value!r}, not text or a number")
    if isinstance(value, float) and type(value) is float:
        return f"{value:.1f}"
    return str(value)


def render_text(text: str, fields: Mapping[str, Callable[..., Any]], source: str = "<text>") -> str:
    """``text`` with every ``{{ field }}`` replaced by its value (errors name ``source`` and the line)."""
    def replace(match: re.Match) -> str:
        line = text.count("\n", 0, match.start()) + 1
        return evaluate(match.group(1), fields, source, line)

    return FIELD.sub(replace, text)
