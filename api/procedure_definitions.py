"""Procedure definitions as this installation accepts them: checked against the result templates it ships."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import yaml

from domain import definition_checks
from domain.definition import ProcedureDefinition
from infrastructure.settings import get_settings
from results import template_names


def parse_definition(raw: Any, units: Collection[str] | None = None) -> ProcedureDefinition:
    """Parse and check a definition; raise DefinitionInvalid listing every error with its path. With `units` (the
    registry's codes), every unit it names must be registered."""
    return definition_checks.parse_definition(raw, template_names(), units)


# libyaml's loader where PyYAML has it: the pure-Python one takes seconds over a megabyte, on the event loop.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class DefinitionYamlRefused(yaml.YAMLError):
    """YAML a definition is never written in: nested beyond reason, too many values, or with aliases (which can
    multiply a small text into an enormous document)."""


def _check_events(text: str) -> None:
    """Walk the YAML's events (no document built yet) and refuse aliases, nesting past REQUEST_MAX_DEPTH and more
    than REQUEST_MAX_VALUES nodes, stopping at the first: composing never recurses past the limit."""
    settings = get_settings()
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise DefinitionYamlRefused(f"aliases (*name) are not accepted in a definition ({event.start_mark})")
        if isinstance(event, _OPENING):
            depth += 1
            if depth > settings.request_max_depth:
                raise DefinitionYamlRefused(
                    f"nested deeper than {settings.request_max_depth} levels ({event.start_mark})"
                )
        elif isinstance(event, _CLOSING):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > settings.request_max_values:
                raise DefinitionYamlRefused(f"more than {settings.request_max_values} values ({event.start_mark})")


def load_definition_yaml(text: str) -> Any:
    """A definition's YAML as data; yaml.YAMLError when it is not YAML, too deep, too large, aliased, or holds a lone
    surrogate (an escape such as "\\ud800", which no stored text may hold)."""
    try:
        _check_events(text)
        raw = yaml.load(text, Loader=_LOADER)  # noqa: S506  (a safe loader: libyaml's or PyYAML's SafeLoader)
    except ValueError as exc:  # a scalar no type holds, such as an integer of 5,000 digits
        raise DefinitionYamlRefused(str(exc)) from None
    try:
        json.dumps(raw, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DefinitionYamlRefused(f"the text holds a lone surrogate ({exc.reason})") from None
    return raw
