"""Where a definition error's path points in the administrator's text: YAML or JSON, a present key, an item,
or the deepest part of a path the text has."""

from __future__ import annotations

import json

from domain.definition_source import line_of

YAML = """code: '9.000001'
steps:
  - id: reception
    next: lookup
  - id: approval
    kind: approval
    next: nowhere
form:
  fields: []
"""


def test_a_path_points_at_the_line_of_its_key():
    assert line_of(YAML, ["steps", 1, "next"]) == 7
    assert line_of(YAML, ["steps", 1]) == 5
    assert line_of(YAML, ["code"]) == 1


def test_a_path_the_text_lacks_points_at_its_deepest_present_part():
    assert line_of(YAML, ["steps", 1, "role"]) == 5  # the step that lacks a role
    assert line_of(YAML, ["steps", 7, "next"]) == 2  # no such step: the list of steps
    assert line_of(YAML, ["form", "fields", "function-after[x]"]) == 9


def test_json_is_read_the_same_way_and_broken_text_has_no_line():
    text = json.dumps({"code": "9.000001", "steps": [{"id": "a"}, {"id": "b", "next": "x"}]}, indent=2)
    assert text.split("\n")[line_of(text, ["steps", 1, "next"]) - 1].strip() == '"next": "x"'
    assert line_of("code: [unclosed", ["code"]) is None
    assert line_of("", ["code"]) is None
