"""Where in a definition's text (YAML, or JSON, which YAML reads too) an error's path points: the line and column
of the key or item the path names, or of the deepest part of it the text has (a missing key: its parent), and inside
an expression the column the expression's own parser gives."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from domain.definition_errors import Problem

# libyaml's composer where PyYAML has it: the pure-Python one is slow over a large text.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node | None] | None:
    """The child node a path part names, with its key node (for a mapping)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value, key
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int | str) and str(part).isdigit():
        index = int(part)
        return (node.value[index], None) if index < len(node.value) else None
    return None


def compose(text: str) -> yaml.Node | None:
    """The text's node tree (positions, no values), or None when it does not parse."""
    try:
        return yaml.compose(text, Loader=_LOADER)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None


def position_in(root: yaml.Node | None, path: Sequence[str | int], offset: int | None = None) -> tuple[int, int] | None:
    """The 1-based line and column a path points at; with `offset`, that column of the scalar the path names (an
    expression) when the scalar stands on one line."""
    if root is None:
        return None
    node, where = root, root.start_mark
    reached = True
    for part in path:
        found = _child(node, part)
        if found is None:
            reached = False
            break
        node, key = found
        where = (key or node).start_mark
    if reached and offset is not None and isinstance(node, yaml.ScalarNode) and node.style not in ("|", ">"):
        if node.start_mark.line == node.end_mark.line:
            quote = 1 if node.style in ("'", '"') else 0
            return node.start_mark.line + 1, node.start_mark.column + quote + offset
    return where.line + 1, where.column + 1


def line_of(text: str, path: Sequence[str | int]) -> int | None:
    """The 1-based line an error path points at, or None when the text does not parse."""
    position = position_in(compose(text), path)
    return position[0] if position else None


def locate(text: str, problems: Iterable[Problem]) -> list[Problem]:
    """The problems, each with the line and column it points at in `text` (none when the text does not parse)."""
    root = compose(text)
    located = []
    for problem in problems:
        position = position_in(root, problem.loc, problem.offset)
        line, column = position if position else (None, None)
        located.append(problem.model_copy(update={"line": line, "column": column}))
    return located
