"""No page says anything in the other language (issue 25): every page of the tour (tests/page_tour.py), in a real
browser, read in English shows no Vietnamese text but what definitions, the registry and people wrote, which the
templates mark `lang="vi"` (WCAG 3.1.2, language of parts); read in Vietnamese, it shows no English of the catalog.

- In English: a visible text node whose language (its nearest `lang`) is not Vietnamese must hold no Vietnamese
  letter. Sentences rendered in the reader's language with names in them (the timeline's, marked
  `data-i18n="rendered"`), and the attributes that say something (aria-label, alt, title, placeholder, data-label),
  are checked without the names they may hold: the procedures' names and their steps', results' and fields' names,
  the units' names and what the tour's people typed.
- In Vietnamese: no visible text node (outside the parts marked with a language) is the English of a message of
  the catalog (infrastructure/locale/en/LC_MESSAGES/messages.po) that is not also a Vietnamese message, leaving out
  words of fewer than 4 letters and those written alike in both languages (codes, numbers).

What is found is printed with the page, a CSS path of the element and the text, to be wrapped in `t("…")` (or marked
`lang="vi"` when it is data)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po

from devstack.stack import Stack
from infrastructure import translations
from tests.page_tour import PAGES, Data, Page, Visitor, tour_data  # noqa: F401  (the fixture `data`)
from tests.support import APPLICANT

VIETNAMESE = re.compile(r"[ạảãáàâầấậẩẫăằắặẳẵđêềếệểễơờớợởỡưừứựửữôồốộổỗíìỉĩịúùủũụóòỏõọéèẻẽẹýỳỷỹỵ]", re.IGNORECASE)
SHORTEST = 4  # shorter English (OK, No, Yes…) is too often a code or a word of data
# What the tour's people typed (tests/page_tour.py), which the timeline's sentences may quote.
TYPED = ["Bản sao giấy khai sinh", "Thiếu giấy tờ", APPLICANT["full_name"]]

# Every visible text node of the body: its text, a CSS path, the language of its nearest element with a `lang`
# (and whether that element is a marked part rather than the page), and whether it is inside a rendered sentence.
# An <option> is as visible as its <select>; text hidden from sight but read by screen readers (visually-hidden) counts.
# Then the attributes that say something (SAYING), as rendered sentences: names taken out before the check.
TEXT_NODES = """() => {
  const SAYING = ["aria-label", "aria-description", "alt", "title", "placeholder", "data-label"];
  const cssPath = (element) => {
    const parts = [];
    for (let e = element; e && e.nodeType === 1 && e !== document.documentElement; e = e.parentElement) {
      if (e.id) { parts.unshift(`${e.localName}#${CSS.escape(e.id)}`); break; }
      let part = e.localName;
      const siblings = e.parentElement ? [...e.parentElement.children].filter((s) => s.localName === e.localName) : [];
      if (siblings.length > 1) part += `:nth-of-type(${siblings.indexOf(e) + 1})`;
      parts.unshift(part);
    }
    return parts.join(" > ");
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.data.replace(/\\s+/g, " ").trim();
    const element = node.parentElement;
    if (!text || !element || element.closest("script, style, noscript, template")) continue;
    const shown = element.closest("select") || element;
    if (!shown.checkVisibility({ visibilityProperty: true })) continue;
    const part = element.closest("[lang]");
    found.push({
      text,
      path: cssPath(element),
      lang: part ? part.getAttribute("lang").toLowerCase() : "",
      marked: Boolean(part) && part !== document.documentElement,
      rendered: Boolean(element.closest('[data-i18n="rendered"]')),
    });
  }
  // What the page says in attributes: names and descriptions read by screen readers, tooltips, placeholders, the
  // labels a phone shows beside a table's cells (data-label); they may hold a name, as a rendered sentence does.
  for (const element of document.body.querySelectorAll(SAYING.map((name) => `[${name}]`).join(", "))) {
    if (element.closest("script, style, noscript, template")) continue;
    const part = element.closest("[lang]");
    for (const name of SAYING) {
      const text = (element.getAttribute(name) || "").replace(/\\s+/g, " ").trim();
      if (!text) continue;
      found.push({
        text,
        path: `${cssPath(element)} @${name}`,
        lang: part ? part.getAttribute("lang").toLowerCase() : "",
        marked: Boolean(part) && part !== document.documentElement,
        rendered: true,
      });
    }
  }
  return found;
}"""


@pytest.fixture(scope="module")
def english_of_the_catalog() -> set[str]:
    """The English of the catalog's messages that could leak into a Vietnamese page: not a Vietnamese message too,
    not written alike in both languages, at least SHORTEST long."""
    with translations.catalog_path("en").open("rb") as po:
        messages = [(m.id, m.string) for m in read_po(po) if m.id and isinstance(m.id, str) and m.string]
    vietnamese = {said for said, _ in messages}
    return {
        english.strip()
        for said, english in messages
        if english != said and english not in vietnamese and len(english.strip()) >= SHORTEST and "{" not in english
    }


@pytest.fixture(scope="module")
def names(api: httpx.Client, data: Data, shipped: dict[str, int]) -> list[str]:
    """What a rendered sentence (or an attribute) may name, as written in Vietnamese: the procedures' names, their
    steps', results' and fields' names, the units' names and what the tour's people typed; longest first, so a name
    is taken out whole before a part of it."""
    said = set(TYPED)

    def fields(listed: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for field in listed:
            yield field
            yield from fields(field.get("fields") or [])

    for code in {data.code, *shipped}:
        definition = api.get(f"/procedures/{code}").raise_for_status().json()["definition"]
        said.add(definition["name"])
        said |= {step["name"] for step in definition.get("steps", []) if step.get("name")}
        said |= {result["name"] for result in definition.get("results", []) if result.get("name")}
        said |= {field["label"] for field in fields(definition["form"]["fields"]) if field.get("label")}
    said |= {unit["name"] for unit in api.get("/units").raise_for_status().json()}
    return sorted(said, key=len, reverse=True)


def visitor_in(language: str, browser: Any, stack: Stack) -> Iterator[Visitor]:
    context = browser.new_context(
        base_url=stack.config.api_url, viewport={"width": 1280, "height": 800}, locale="vi-VN"
    )
    yield Visitor(context, stack.config.api_url, language)
    context.close()


@pytest.fixture(scope="module")
def english_reader(browser: Any, stack: Stack) -> Iterator[Visitor]:
    yield from visitor_in("en", browser, stack)


@pytest.fixture(scope="module")
def vietnamese_reader(browser: Any, stack: Stack) -> Iterator[Visitor]:
    yield from visitor_in("vi", browser, stack)


def text_of(person: Visitor, page: Page, data: Data) -> list[dict[str, Any]]:
    person.become(page.who, data)
    page.open(person.page, data)
    return person.page.evaluate(TEXT_NODES)


def without(text: str, names: list[str]) -> str:
    for name in names:
        text = text.replace(name, " ")
    return text


def report(page: Page, url: str, what: str, found: list[dict[str, Any]]) -> str:
    lines = [f"{page.name} ({url}): {len(found)} {what}"]
    lines += [f"    {node['path']}\n        {node['text'][:160]!r}" for node in found]
    return "\n".join(lines)


def test_the_catalog_has_english_to_look_for(english_of_the_catalog: set[str]):
    assert len(english_of_the_catalog) > 100
    assert {"Submit a dossier", "Look up a dossier"} <= english_of_the_catalog


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_a_page_in_english_says_no_vietnamese_but_what_is_marked(
    page: Page, english_reader: Visitor, data: Data, names: list[str]
):
    nodes = text_of(english_reader, page, data)
    assert nodes, f"{page.name}: no text at all on {english_reader.page.url}"
    found = [
        node
        for node in nodes
        if not node["lang"].startswith("vi")
        and VIETNAMESE.search(without(node["text"], names) if node["rendered"] else node["text"])
    ]
    if found:
        print(report(page, english_reader.page.url, "Vietnamese texts outside [lang=vi]", found))
    assert not found, report(page, english_reader.page.url, "Vietnamese texts outside [lang=vi]", found)


@pytest.mark.parametrize(
    "page", [p for p in PAGES if p.who != "english"], ids=[p.name for p in PAGES if p.who != "english"]
)
def test_a_page_in_vietnamese_says_no_english_of_the_catalog(
    page: Page, vietnamese_reader: Visitor, data: Data, english_of_the_catalog: set[str]
):
    nodes = text_of(vietnamese_reader, page, data)
    assert nodes, f"{page.name}: no text at all on {vietnamese_reader.page.url}"
    found = [
        node for node in nodes if not node["marked"] and node["text"].rstrip(" :*").strip() in english_of_the_catalog
    ]
    if found:
        print(report(page, vietnamese_reader.page.url, "English texts of the catalog", found))
    assert not found, report(page, vietnamese_reader.page.url, "English texts of the catalog", found)
