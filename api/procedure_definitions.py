"""Procedure definitions as this installation accepts them: checked against the result templates it ships."""

from __future__ import annotations

from typing import Any

from domain import definition_checks
from domain.definition import ProcedureDefinition
from results import template_names


def parse_definition(raw: Any) -> ProcedureDefinition:
    """Parse and check a definition; raise DefinitionInvalid listing every error with its path."""
    return definition_checks.parse_definition(raw, template_names())
