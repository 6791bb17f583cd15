"""Where in a definition's text (YAML, or JSON, which YAML reads too) an error's path points: the line of the
key or item the path names, or of the deepest part of it the text has (a missing key: its parent)."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int | str) and str(part).isdigit():
        index = int(part)
        return node.value[index] if index < len(node.value) else None
    return None


def _key_line(node: yaml.Node, part: str | int) -> int | None:
    """The line of a mapping's key (where an editor shows `next: …`), 1-based."""
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key.start_mark.line + 1
    return None


def line_of(text: str, path: Sequence[str | int]) -> int | None:
    """The 1-based line an error path points at, or None when the text does not parse."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        child = _child(node, part)
        if child is None:
            break
        line = _key_line(node, part) or child.start_mark.line + 1
        node = child
    return line
