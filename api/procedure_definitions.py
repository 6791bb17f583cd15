"""Procedure definitions as this installation accepts them: checked against the result templates it ships."""

from __future__ import annotations

import json
from typing import Any

import yaml

from domain import definition_checks
from domain.definition import ProcedureDefinition
from results import template_names


def parse_definition(raw: Any) -> ProcedureDefinition:
    """Parse and check a definition; raise DefinitionInvalid listing every error with its path."""
    return definition_checks.parse_definition(raw, template_names())


MAX_YAML_DEPTH = 32  # shipped definitions nest at most 8 deep


class DefinitionYamlRefused(yaml.YAMLError):
    """YAML a definition is never written in: nested beyond reason, or with aliases (which can multiply a small
    text into an enormous document)."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases and nesting deeper than MAX_YAML_DEPTH before it recurses."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise DefinitionYamlRefused(
                f"aliases (*name) are not accepted in a definition ({self.peek_event().start_mark})"
            )
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise DefinitionYamlRefused(f"nested deeper than {MAX_YAML_DEPTH} levels ({self.peek_event().start_mark})")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_definition_yaml(text: str) -> Any:
    """A definition's YAML as data; yaml.YAMLError when it is not YAML, too deep, aliased, or holds a lone surrogate
    (an escape such as "\\ud800", which no stored text may hold)."""
    loader = _BoundedLoader(text)
    try:
        raw = loader.get_single_data()
    except ValueError as exc:  # a scalar no type holds, such as an integer of 5,000 digits
        raise DefinitionYamlRefused(str(exc)) from None
    finally:
        loader.dispose()
    try:
        json.dumps(raw, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DefinitionYamlRefused(f"the text holds a lone surrogate ({exc.reason})") from None
    return raw
