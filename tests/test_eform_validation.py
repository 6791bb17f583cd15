"""eForms become validation models: every field type and conditional rule, with the path of each error."""

from __future__ import annotations

import pytest

from domain.definition import ProcedureDefinition
from forms.eform import FormInvalid, form_json_schema, validate_form

PDF = "application/pdf"
DEFINITION = ProcedureDefinition.model_validate(
    {
        "code": "9.900001",
        "name": "eForm test",
        "sector": "test",
        "level": "ward",
        "receiving_units": ["T1"],
        "time_limit_working_days": 1,
        "components": [{"id": "old_certificate", "name": "Old certificate", "accepted_types": [PDF], "max_size_mb": 1}],
        "steps": [{"id": "result", "kind": "result", "name": "Result"}],
        "form": {
            "fields": [
                {"name": "head_id", "label": "CCCD", "type": "citizen_id"},
                {"name": "phone", "label": "Điện thoại", "type": "phone", "required": False},
                {"name": "capital", "label": "Vốn", "type": "money", "minimum": 1_000_000},
                {"name": "opened", "label": "Ngày", "type": "date"},
                {
                    "name": "lines",
                    "label": "Ngành",
                    "type": "multi_choice",
                    "options": ["4711", "5610"],
                    "min_items": 1,
                },
                {"name": "online", "label": "Online", "type": "boolean"},
                {"name": "code", "label": "Mã", "type": "text", "pattern": "^[A-Z]{3}$"},
                {"name": "address", "label": "Địa chỉ", "type": "address"},
                {"name": "reason", "label": "Lý do", "type": "choice", "options": ["damaged", "lost", "remeasured"]},
                {
                    "name": "old_certificate",
                    "label": "Bản gốc",
                    "type": "attachment",
                    "component": "old_certificate",
                    "required": False,
                    "required_when": "reason == 'damaged'",
                },
                {
                    "name": "police_report",
                    "label": "Xác nhận mất",
                    "type": "text",
                    "required": False,
                    "visible_when": "reason == 'lost'",
                },
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
        },
    }
)
SCAN = {"name": "gcn.pdf", "media_type": PDF, "size_bytes": 120_000, "sha256": "ab" * 32}
GOOD = {
    "head_id": "001203004005",
    "capital": 50_000_000,
    "opened": "2026-11-02",
    "lines": ["5610"],
    "online": True,
    "code": "ABC",
    "address": {"province_code": "79", "ward_code": "26734", "detail": "12 Lê Lợi"},
    "reason": "damaged",
    "old_certificate": SCAN,
    "members": [{"name": "Trần Thị C", "citizen_id": "001203004006"}],
}


def _locs(data: dict) -> set[tuple]:
    with pytest.raises(FormInvalid) as invalid:
        validate_form(DEFINITION, data)
    return {tuple(e["loc"][2:]) for e in invalid.value.errors}


def test_valid_form_is_normalised():
    assert validate_form(DEFINITION, GOOD) == GOOD


def test_every_bad_field_is_reported_with_its_path():
    bad = {
        **GOOD,
        "head_id": "00120300400",
        "phone": "12345",
        "capital": 5,
        "opened": "2026-13-01",
        "lines": [],
        "code": "abc",
        "address": {"province_code": "7", "ward_code": "26734", "detail": "x"},
        "members": [{"name": "A", "citizen_id": "x"}, {"name": "B", "citizen_id": "001203004007"}, {}],
    }
    assert _locs(bad) == {
        ("head_id",),
        ("phone",),
        ("capital",),
        ("opened",),
        ("lines",),
        ("code",),
        ("address", "province_code"),
        ("members",),
    }
    assert _locs({**GOOD, "members": [{"name": "A", "citizen_id": "x"}]}) == {("members", 0, "citizen_id")}


def test_attachments_follow_their_component_rules():
    assert _locs({**GOOD, "old_certificate": {**SCAN, "media_type": "image/gif"}}) == {("old_certificate",)}
    assert _locs({**GOOD, "old_certificate": {**SCAN, "size_bytes": 2 * 1024 * 1024}}) == {("old_certificate",)}
    assert _locs({**GOOD, "old_certificate": {**SCAN, "sha256": "nope"}}) == {("old_certificate", "sha256")}


def test_conditional_rules():
    damaged_without_scan = {k: v for k, v in GOOD.items() if k != "old_certificate"}
    assert _locs(damaged_without_scan) == {("old_certificate",)}
    lost = {**damaged_without_scan, "reason": "lost", "police_report": "CA-123"}
    assert validate_form(DEFINITION, lost)["police_report"] == "CA-123"
    # A field hidden by its condition must not be filled in.
    assert _locs({**GOOD, "police_report": "CA-123"}) == {("police_report",)}


def test_json_schema_is_derived_from_the_same_rules():
    schema = form_json_schema(DEFINITION)
    assert schema["properties"]["capital"]["minimum"] == 1_000_000
    assert "phone" not in schema["required"]
