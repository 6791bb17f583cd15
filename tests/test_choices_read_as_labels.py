"""A choice's values are what programs and expressions use; people read its labels, in their language where the
definition gives one (`options: [{value, label, labels: {en}}]`)."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import ValidationError

from domain.definition import FormField

CIVIL_STATUS_EXTRACT = "2.000635"


def _options(page: str) -> dict[str, str]:
    select = re.search(r'<select id="f-event_type".*?</select>', page, re.S)
    assert select, "no event type choice on the page"
    return dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', select.group(0)))


def test_the_eform_offers_labels_in_the_readers_language(api: httpx.Client, shipped) -> None:
    assert CIVIL_STATUS_EXTRACT in shipped
    vietnamese = api.get(f"/citizen/procedures/{CIVIL_STATUS_EXTRACT}")
    assert vietnamese.status_code == 200
    assert _options(vietnamese.text) == {"birth": "Khai sinh", "marriage": "Kết hôn", "death": "Khai tử"}
    english = api.get(f"/citizen/procedures/{CIVIL_STATUS_EXTRACT}", params={"lang": "en"})
    assert _options(english.text) == {"birth": "Birth", "marriage": "Marriage", "death": "Death"}


def test_labels_are_written_beside_values_and_checked() -> None:
    field = FormField.model_validate(
        {"name": "sex", "label": "Giới tính", "type": "choice",
         "options": [{"value": "male", "label": "Nam", "labels": {"en": "Male"}}, {"value": "female", "label": "Nữ"},
                     "other"]}
    )  # fmt: skip
    assert field.options == ["male", "female", "other"]
    assert (field.option_label("male"), field.option_label("male", "en")) == ("Nam", "Male")
    assert field.option_label("female", "en") == "Nữ"  # no English given: the Vietnamese label
    assert field.option_label("other", "en") == "other"  # a plain value is its own label
    plain = FormField.model_validate({"name": "x", "label": "X", "type": "choice", "options": ["a", "b"]})
    assert plain.option_labels is None  # definitions written before labels read as they did
    for wrong in (
        [{"value": "a", "label": "A", "colour": "red"}],  # an unknown key
        [{"value": "a", "labels": {"fr": "A"}}],  # a language motcua does not speak
        [{"label": "A"}],  # no value
    ):
        with pytest.raises(ValidationError):
            FormField.model_validate({"name": "x", "label": "X", "type": "choice", "options": wrong})
    with pytest.raises(ValidationError, match="not options"):
        FormField.model_validate(
            {"name": "x", "label": "X", "type": "choice", "options": ["a"], "option_labels": {"b": {"vi": "B"}}}
        )
