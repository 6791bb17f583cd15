"""The one expression language of procedure definitions: small, safe, checkable before deployment.

Used for conditions (`when`, `skip_when`, branch selection) and computed amounts (fees). The syntax
is a subset of Python expressions, parsed with `ast` and interpreted node by node; nothing is ever
passed to `eval`.

What it has:
- literals: numbers, 'strings', true/false (also True/False), null (also None), lists [1, 2]
- names of form fields (`reason`, `copies`), and dotted paths into objects (`head.citizen_id`,
  `tax_assessment.amount_vnd` for a step's result)
- arithmetic on numbers: + - * / // % and unary -; + also joins strings
- comparisons: == != < <= > >= in, not in (chains such as 1 <= copies <= 10 work)
- logic: and, or, not; conditional: a if condition else b
- functions: len(x), min(a, b, …), max(a, b, …), abs(x), round(x[, digits])

What a missing value does: a field left empty is null; arithmetic with null gives null; an ordering
comparison with null (<, >, …) is false; a condition that comes out null is false. So
`copies > 5` is simply false when copies was not given, never an error.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_LENGTH = 500
MAX_NODES = 120

_FUNCTIONS = {
    "len": (1, 1),
    "min": (1, 20),
    "max": (1, 20),
    "abs": (1, 1),
    "round": (1, 2),
}
_ALIASES = {"true": True, "false": False, "null": None}
_COMPARE = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class Expression:
    text: str
    tree: ast.Expression
    paths: frozenset[tuple[str, ...]]

    @property
    def names(self) -> frozenset[str]:
        """The top-level names the expression reads (form fields or step results)."""
        return frozenset(path[0] for path in self.paths)

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        return _Interpreter(scope).visit(self.tree.body)

    def holds(self, scope: Mapping[str, Any]) -> bool:
        """Evaluate as a condition: null and errors of type are false, never an exception."""
        try:
            return bool(self.evaluate(scope))
        except ExpressionError:
            return False


@lru_cache(maxsize=2048)
def parse(text: str) -> Expression:
    """Parse and check an expression. Cached: every form validation and every workflow step reads the same few
    expressions of deployed definitions again and again (errors are not cached)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression cannot be empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"an expression is at most {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error at column {exc.offset}: {exc.msg}") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError(f"an expression has at most {MAX_NODES} parts")
    paths: set[tuple[str, ...]] = set()
    _check(tree.body, paths)
    return Expression(text=text, tree=tree, paths=frozenset(paths))


def _dotted(node: ast.AST) -> tuple[str, ...] | None:
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return (*head, node.attr) if head else None
    return None


def _check(node: ast.AST, paths: set[tuple[str, ...]]) -> None:
    match node:
        case ast.Constant(value=value):
            if not isinstance(value, (int, float, str, bool)) and value is not None:
                raise ExpressionError(f"unsupported literal {value!r}")
        case ast.Name(id=name):
            if name.startswith("_"):
                raise ExpressionError(f"names cannot start with an underscore: {name}")
            if name not in _ALIASES and name not in ("True", "False", "None"):
                paths.add((name,))
        case ast.Attribute():
            path = _dotted(node)
            if path is None or any(part.startswith("_") for part in path):
                raise ExpressionError("only dotted names such as step.field can be read")
            paths.add(path)
        case ast.List(elts=items) | ast.Tuple(elts=items):
            for item in items:
                _check(item, paths)
        case ast.BoolOp(values=values):
            for value in values:
                _check(value, paths)
        case ast.UnaryOp(op=op, operand=operand):
            if not isinstance(op, (ast.Not, ast.USub, ast.UAdd)):
                raise ExpressionError(f"unsupported operator {type(op).__name__}")
            _check(operand, paths)
        case ast.BinOp(op=op, left=left, right=right):
            if not isinstance(op, _ARITHMETIC):
                raise ExpressionError(f"unsupported operator {type(op).__name__}")
            _check(left, paths)
            _check(right, paths)
        case ast.Compare(left=left, ops=ops, comparators=rest):
            for op in ops:
                if type(op) not in _COMPARE:
                    raise ExpressionError(f"unsupported comparison {type(op).__name__}")
            for part in (left, *rest):
                _check(part, paths)
        case ast.IfExp(test=test, body=body, orelse=orelse):
            for part in (test, body, orelse):
                _check(part, paths)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]):
            if name not in _FUNCTIONS:
                raise ExpressionError(f"unknown function {name}(); available: {', '.join(sorted(_FUNCTIONS))}")
            low, high = _FUNCTIONS[name]
            if not low <= len(args) <= high:
                raise ExpressionError(f"{name}() takes {low} to {high} arguments")
            for arg in args:
                _check(arg, paths)
        case _:
            raise ExpressionError(f"unsupported syntax: {type(node).__name__}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Interpreter:
    def __init__(self, scope: Mapping[str, Any]) -> None:
        self.scope = scope

    def visit(self, node: ast.AST) -> Any:
        match node:
            case ast.Constant(value=value):
                return value
            case ast.Name(id=name):
                if name in _ALIASES:
                    return _ALIASES[name]
                if name in ("True", "False", "None"):
                    return {"True": True, "False": False, "None": None}[name]
                return self.scope.get(name)
            case ast.Attribute():
                path = _dotted(node)
                assert path is not None
                value: Any = self.scope.get(path[0])
                for part in path[1:]:
                    value = value.get(part) if isinstance(value, Mapping) else None
                return value
            case ast.List(elts=items) | ast.Tuple(elts=items):
                return [self.visit(item) for item in items]
            case ast.BoolOp(op=ast.And(), values=values):
                result: Any = True
                for value_node in values:
                    result = self.visit(value_node)
                    if not result:
                        return result
                return result
            case ast.BoolOp(op=ast.Or(), values=values):
                result = False
                for value_node in values:
                    result = self.visit(value_node)
                    if result:
                        return result
                return result
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self.visit(operand)
            case ast.UnaryOp(op=op, operand=operand):
                value = self.visit(operand)
                if value is None:
                    return None
                if not _number(value):
                    raise ExpressionError("a sign applies to numbers only")
                return -value if isinstance(op, ast.USub) else value
            case ast.BinOp(op=op, left=left, right=right):
                return self._arithmetic(op, self.visit(left), self.visit(right))
            case ast.Compare(left=left, ops=ops, comparators=rest):
                current = self.visit(left)
                for op, right_node in zip(ops, rest, strict=True):
                    right = self.visit(right_node)
                    if not self._compare(op, current, right):
                        return False
                    current = right
                return True
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return self.visit(body) if self.visit(test) else self.visit(orelse)
            case ast.Call(func=ast.Name(id=name), args=args):
                return self._call(name, [self.visit(a) for a in args])
        raise ExpressionError(f"unsupported syntax: {type(node).__name__}")  # parse() refuses it first

    @staticmethod
    def _arithmetic(op: ast.operator, left: Any, right: Any) -> Any:
        if left is None or right is None:
            return None
        if isinstance(op, ast.Add) and isinstance(left, str) and isinstance(right, str):
            return left + right
        if not (_number(left) and _number(right)):
            raise ExpressionError("arithmetic applies to numbers only")
        try:
            match op:
                case ast.Add():
                    return left + right
                case ast.Sub():
                    return left - right
                case ast.Mult():
                    return left * right
                case ast.Div():
                    return left / right
                case ast.FloorDiv():
                    return left // right
                case ast.Mod():
                    return left % right
        except ZeroDivisionError:
            raise ExpressionError("division by zero") from None
        raise ExpressionError(f"unsupported operator {type(op).__name__}")

    @staticmethod
    def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (list, str)):
                return False if isinstance(op, ast.In) else True
        elif not isinstance(op, (ast.Eq, ast.NotEq)) and (left is None or right is None):
            return False
        try:
            return bool(_COMPARE[type(op)](left, right))
        except TypeError:
            return False

    @staticmethod
    def _call(name: str, args: list[Any]) -> Any:
        if any(a is None for a in args):
            return None
        try:
            match name:
                case "len":
                    return len(args[0])
                case "min":
                    return min(args[0]) if len(args) == 1 else min(args)
                case "max":
                    return max(args[0]) if len(args) == 1 else max(args)
                case "abs":
                    return abs(args[0])
                case "round":
                    return round(args[0], int(args[1])) if len(args) == 2 else round(args[0])
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f"{name}(): {exc}") from None
        raise ExpressionError(f"unknown function {name}()")
