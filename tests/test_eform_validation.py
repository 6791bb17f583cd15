"""eForms become validation models: every field type, with the path of each error."""

from __future__ import annotations

import pytest

from domain.definition import EForm
from forms.eform import FormInvalid, form_json_schema, validate_form

FORM = EForm.model_validate(
    {
        "fields": [
            {"name": "head_id", "label": "CCCD", "type": "citizen_id"},
            {"name": "phone", "label": "Điện thoại", "type": "phone", "required": False},
            {"name": "capital", "label": "Vốn", "type": "money", "minimum": 1_000_000},
            {"name": "opened", "label": "Ngày", "type": "date"},
            {"name": "lines", "label": "Ngành", "type": "multi_choice", "options": ["4711", "5610"], "min_items": 1},
            {"name": "online", "label": "Online", "type": "boolean"},
            {"name": "code", "label": "Mã", "type": "text", "pattern": "^[A-Z]{3}$"},
            {
                "name": "members",
                "label": "Thành viên",
                "type": "group",
                "max_items": 2,
                "fields": [
                    {"name": "name", "label": "Họ tên", "type": "text"},
                    {"name": "citizen_id", "label": "CCCD", "type": "citizen_id"},
                ],
            },
        ]
    }
)

GOOD = {
    "head_id": "001203004005",
    "capital": 50_000_000,
    "opened": "2026-11-02",
    "lines": ["5610"],
    "online": True,
    "code": "ABC",
    "members": [{"name": "Trần Thị C", "citizen_id": "001203004006"}],
}


def test_valid_form_is_normalised():
    assert validate_form(FORM, GOOD) == GOOD


def test_every_bad_field_is_reported_with_its_path():
    bad = {
        **GOOD,
        "head_id": "00120300400",
        "phone": "12345",
        "capital": 5,
        "opened": "2026-13-01",
        "lines": [],
        "code": "abc",
        "members": [{"name": "A", "citizen_id": "x"}, {"name": "B", "citizen_id": "001203004007"}, {}],
    }
    with pytest.raises(FormInvalid) as invalid:
        validate_form(FORM, bad)
    locs = {tuple(e["loc"][2:]) for e in invalid.value.errors}
    assert locs == {
        ("head_id",), ("phone",), ("capital",), ("opened",), ("lines",), ("code",), ("members",),
    }  # fmt: skip

    with pytest.raises(FormInvalid) as nested:
        validate_form(FORM, {**GOOD, "members": [{"name": "A", "citizen_id": "x"}]})
    assert [e["loc"] for e in nested.value.errors] == [["body", "form", "members", 0, "citizen_id"]]


def test_json_schema_is_derived_from_the_same_rules():
    schema = form_json_schema(FORM)
    assert schema["properties"]["capital"]["minimum"] == 1_000_000
    assert "phone" not in schema["required"]
