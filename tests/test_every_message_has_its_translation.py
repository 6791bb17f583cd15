"""Every word the pages say in Vietnamese has its English: templates' `t("…")` and the tables of words the
page code passes to `t`."""

from __future__ import annotations

import re
from pathlib import Path

from api.pages import citizen, dossier_forms, dossier_views, errors, i18n, officer, sign_in
from forms import render

TEMPLATES = Path(i18n.__file__).parent / "templates"
CALLED = re.compile(r"""\bt\(\s*(["'])(.+?)\1\s*[,)]""")


def test_every_text_of_the_templates_has_its_english():
    said = {m.group(2) for path in TEMPLATES.glob("*.html") for m in CALLED.finditer(path.read_text())}
    assert len(said) > 100
    assert sorted(said - set(i18n.EN)) == []


def test_every_text_the_page_code_translates_has_its_english():
    tables = [
        render.TEXTS.values(), dossier_forms.APPLICANT_LABELS.values(), dossier_views.STATUS_NAMES.values(),
        dossier_views.AWAITING.values(), officer.DECISION_LABELS.values(), errors.TITLES.values(),
    ]  # fmt: skip
    said = {text for table in tables for text in table}
    code = "\n".join(Path(m.__file__).read_text() for m in (dossier_forms, officer, errors, sign_in, citizen))
    said |= {text for text in re.findall(r'"([^"]*[ạảãáàâầấậẩẫăằắặẳẵđêềếệểễơờớợởỡưừứựửữôồốộổỗ][^"]*)"', code)}
    assert sorted(said - set(i18n.EN)) == []


def test_english_is_chosen_by_query_then_cookie():
    t = i18n.translator("en")
    assert t("Nộp hồ sơ") == "Submit a dossier"
    assert t("Đang chờ nộp {amount} đồng tại bước {step}.", amount="8,000", step="payment") == (
        "Waiting for 8,000 VND at step payment."
    )
    assert i18n.translator("vi")("Nộp hồ sơ") == "Nộp hồ sơ"
