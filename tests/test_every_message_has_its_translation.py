"""Every message people read has its English in the catalog: what `make translations` extracts from the code and the
templates (Babel), the tables of words the page code passes to `t`, and the timeline's messages; and the catalog is
what the pages and the API speak."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from api.pages import citizen, dossier_forms, dossier_views, errors, officer, sign_in
from forms import render
from infrastructure import translations
from infrastructure.settings import PROJECT_ROOT

VIETNAMESE = re.compile(r"[ạảãáàâầấậẩẫăằắặẳẵđêềếệểễơờớợởỡưừứựửữôồốộổỗíìỉĩịúùủũụóòỏõọéèẻẽẹýỳỷỹỵ]", re.IGNORECASE)


@pytest.fixture(scope="module")
def english() -> dict[str, str]:
    with translations.catalog_path("en").open("rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id}


def test_every_message_the_code_and_templates_say_is_translated(english: dict[str, str], tmp_path: Path):
    template = tmp_path / "messages.pot"
    subprocess.run(
        [str(Path(PROJECT_ROOT, ".venv", "bin", "pybabel")), "extract", "-F", "babel.cfg", "-k", "t", "-k", "mark",
         "--no-location", "-o", str(template), "."],
        cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with template.open("rb") as pot:
        said = {m.id for m in read_po(pot) if m.id}
    assert len(said) > 150
    assert sorted(m for m in said if not english.get(m)) == []  # `make translations`, then write their English


def test_every_word_of_the_page_code_tables_is_translated(english: dict[str, str]):
    tables = [
        render.TEXTS.values(), dossier_forms.APPLICANT_LABELS.values(), dossier_views.STATUS_NAMES.values(),
        dossier_views.AWAITING.values(), officer.DECISION_LABELS.values(), errors.TITLES.values(),
    ]  # fmt: skip
    said = {text for table in tables for text in table}
    code = "\n".join(Path(m.__file__).read_text() for m in (dossier_forms, officer, errors, sign_in, citizen))
    said |= set(re.findall(r'"([^"]*[ạảãáàâầấậẩẫăằắặẳẵđêềếệểễơờớợởỡưừứựửữôồốộổỗ][^"]*)"', code))
    assert sorted(text for text in said if not english.get(text)) == []


def test_no_english_translation_is_left_in_vietnamese(english: dict[str, str]):
    # A msgstr copied from its msgid (or still Vietnamese) is an untranslated message that passes for translated.
    assert sorted(i for i, s in english.items() if VIETNAMESE.search(s)) == []


def test_the_language_is_chosen_and_numbers_follow_it():
    assert translations.translate("en", "Nộp hồ sơ") == "Submit a dossier"
    assert translations.translate("en", "Đang chờ nộp {amount} đồng tại bước {step}.", amount="8,000", step="x") == (
        "Waiting for 8,000 VND at step x."
    )
    assert translations.translate("vi", "Nộp hồ sơ") == "Nộp hồ sơ"
    assert (translations.number(1234567, "vi"), translations.number(1234567, "en")) == ("1.234.567", "1,234,567")
    assert translations.from_accept_language("en-GB,en;q=0.9,vi;q=0.8") == "en"
    assert translations.from_accept_language("fr, vi;q=0.5, en;q=0.4") == "vi"
    assert translations.from_accept_language("en;q=0.5, vi;q=0.5") == "en"  # a tie goes to the first listed
    assert translations.from_accept_language("de") == translations.from_accept_language(None) == "vi"
    assert translations.from_accept_language("en;q=abc, x" * 50) == "vi"
