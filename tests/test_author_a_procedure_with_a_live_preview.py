"""An administrator writes a definition and learns every error at once, each at its line and column with a "did you
mean", in Vietnamese or English (over HTTP and on the deploy page), while a live preview shows the eForm as citizens
will see it and the step graph of the text being edited; a deployed procedure opens in the editor for its next
version; and no text, however broken or hostile, makes the editor fail."""

from __future__ import annotations

import json
import random

import httpx
import pytest
import yaml

from tests.browser import click_and_load, screenshot, sign_in_as_officer
from tests.support import ADMINISTRATOR, deploy, three_step_procedure, unique_codes, wait_until


def _three_errors() -> tuple[str, dict[str, tuple[int, int]]]:
    """A definition with a misspelt key, a `next` to a step that does not exist and an expression that does not
    parse, and where each error is in the text (1-based line and column)."""
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    reception = definition["steps"][0]
    reception["budget_workng_days"] = reception.pop("budget_working_days")  # misspelt
    definition["steps"][2]["next"] = "reslt"  # the step is `result`
    definition["steps"][1]["skip_when"] = "copies >> 2 and"  # ends too soon
    text = yaml.safe_dump(definition, allow_unicode=True, sort_keys=False)
    lines = text.split("\n")

    def where(needle: str, column_of: str) -> tuple[int, int]:
        number = next(i for i, line in enumerate(lines) if needle in line)
        return number + 1, lines[number].index(column_of) + 1

    expected = {
        "steps[0].budget_workng_days": where("budget_workng_days", "budget_workng_days"),
        "steps[2].next": where("next: reslt", "next"),
        "steps[1].skip_when": where("skip_when:", "copies >> 2 and"),
    }
    line, column = expected["steps[1].skip_when"]
    expected["steps[1].skip_when"] = (line, column + len("copies >> 2 and") - 1)  # its end: the `d` of `and`
    return text, expected


def _by_path(detail: list[dict]) -> dict[str, dict]:
    def path(loc: list) -> str:
        said = ""
        for part in loc[1:]:
            said += f"[{part}]" if isinstance(part, int) else (f".{part}" if said else str(part))
        return said

    return {path(e["loc"]): e for e in detail}


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("vi", ("khóa 'budget_workng_days'", "Có phải ý bạn là 'budget_working_days'?", "bước không có 'reslt'",
                "Có phải ý bạn là 'result'?", "biểu thức không hợp lệ")),
        ("en", ("unknown key 'budget_workng_days'", "Did you mean 'budget_working_days'?", "unknown step 'reslt'",
                "Did you mean 'result'?", "invalid expression")),
    ],
)  # fmt: skip
def test_validation_lists_every_error_with_its_line_column_and_suggestion(api, language, words):
    text, expected = _three_errors()
    answer = api.post(
        "/procedures/validate",
        content=text.encode(),
        headers={"Content-Type": "application/yaml", "Accept-Language": f"{language};q=0.9"},
    )
    assert answer.status_code == 422
    errors = _by_path(answer.json()["detail"])
    assert set(errors) == set(expected)  # the schema error hides neither check
    for path, (line, column) in expected.items():
        assert (errors[path]["line"], errors[path]["column"]) == (line, column), path
    assert errors["steps[0].budget_workng_days"]["suggestion"] == "budget_working_days"
    assert errors["steps[2].next"]["suggestion"] == "result"
    said = " ".join(e["message"] for e in errors.values())
    assert all(word in said for word in words), said
    # Beside them, what clients read before: the path, the English `msg` and the type.
    assert errors["steps[2].next"]["type"] == "unknown_step"
    assert "transition to unknown step 'reslt'" in errors["steps[2].next"]["msg"]
    assert errors["steps[0].budget_workng_days"]["type"] == "extra_forbidden"


def test_json_errors_point_into_the_json_text_and_names_in_expressions_are_suggested(api):
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    definition["steps"][1]["skip_when"] = "copis > 1"
    definition["steps"][0]["kind"] = "receptoin"
    text = json.dumps(definition, indent=2, ensure_ascii=False)
    answer = api.post("/procedures/validate", content=text.encode(), headers={"Content-Type": "application/json"})
    errors = _by_path(answer.json()["detail"])
    lines = text.split("\n")
    named = errors["steps[1].skip_when"]
    assert named["suggestion"] == "copies" and named["type"] == "unknown_name"
    assert lines[named["line"] - 1][named["column"] - 1 :].startswith("copis > 1")
    kind = errors["steps[0].kind"]
    assert kind["suggestion"] == "reception" and lines[kind["line"] - 1].strip().startswith('"kind"')


def _listed(page) -> str:
    return page.locator("#definition-errors").inner_text()


def test_the_deploy_page_shows_every_error_in_the_readers_language(api, new_page):
    text, expected = _three_errors()
    page = new_page(javascript=False)
    sign_in_as_officer(page, ADMINISTRATOR)
    for language, words in (("vi", ("Có phải ý bạn là 'result'?", "biểu thức không hợp lệ")),
                            ("en", ("Did you mean 'result'?", "invalid expression", "Column"))):  # fmt: skip
        page.goto(f"/admin/procedures/deploy?lang={language}")
        page.fill("#f-definition", text)
        click_and_load(page, page.locator('button[value="validate"]'))
        rows = page.locator("#definition-errors tbody tr")
        assert rows.count() == 3
        shown = {
            rows.nth(i).locator(".error-path").inner_text(): (
                int(rows.nth(i).locator("td").nth(0).inner_text()),
                int(rows.nth(i).locator(".error-column").inner_text()),
            )
            for i in range(3)
        }
        assert shown == expected
        assert all(word in _listed(page) for word in words), _listed(page)
    screenshot(page, "administrator-definition-every-error")


def test_the_live_preview_draws_the_form_and_graph_of_the_text_being_edited(api, new_page):
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    page = new_page()
    sign_in_as_officer(page, ADMINISTRATOR)
    page.goto("/admin/procedures/deploy")
    page.fill("#f-definition", yaml.safe_dump(definition, allow_unicode=True, sort_keys=False))
    # Typing (here: filling) updates the preview through the page's script, without a button.
    fields = page.locator("#preview-eform input, #preview-eform select")
    wait_until(lambda: fields.count() >= 5, what="the eForm preview")
    assert page.locator("#preview-eform").get_by_label("Họ tên").count() == 1
    assert page.locator("#preview-eform button").is_disabled()  # the preview posts nothing
    assert page.locator("#preview-eform").evaluate("e => e.closest('form')") is None
    assert _squeezed("Lãnh đạo phê duyệt") in _squeezed(page.locator("#preview-graph svg").text_content())
    assert page.locator("#f-definition").input_value().startswith("code:")  # the editor kept its id

    # A new field and a renamed step appear as they are typed; an error is listed beside them.
    definition["form"]["fields"].append({"name": "purpose", "label": "Mục đích sử dụng", "type": "text"})
    definition["steps"][2]["name"] = "Chủ tịch ký"
    definition["steps"][0]["next"] = "lokup"
    page.fill("#f-definition", yaml.safe_dump(definition, allow_unicode=True, sort_keys=False))
    wait_until(lambda: page.locator("#preview-eform").get_by_label("Mục đích sử dụng").count() == 1, what="new field")
    wait_until(lambda: "Chủtịchký" in _squeezed(page.locator("#preview-graph svg").text_content()), what="the step")
    wait_until(lambda: page.locator("#definition-errors tbody tr").count() == 1, what="the error listed")
    assert "'lookup'" in page.locator("#definition-errors .error-suggestion").inner_text()
    screenshot(page, "administrator-live-preview")
    assert api.get(f"/procedures/{code}").status_code == 404  # nothing deployed


def _squeezed(text: str) -> str:
    """Text without its spaces: the graph wraps a step's name over lines of its own."""
    return "".join(text.split())


def test_without_script_the_preview_button_shows_the_same(api, new_page):
    code, unit = unique_codes()
    page = new_page(javascript=False)
    sign_in_as_officer(page, ADMINISTRATOR)
    page.goto("/admin/procedures/deploy")
    page.fill("#f-definition", yaml.safe_dump(three_step_procedure(code, unit), allow_unicode=True, sort_keys=False))
    click_and_load(page, page.get_by_role("button", name="Xem trước"))
    assert page.locator("#preview-eform").get_by_label("Số bản").count() == 1
    assert page.locator("#preview-graph svg").count() == 1
    assert api.get(f"/procedures/{code}").status_code == 404


def test_a_new_version_starts_from_the_deployed_text(api, new_page):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    page = new_page()
    sign_in_as_officer(page, ADMINISTRATOR)
    page.goto(f"/admin/procedures/{code}")
    click_and_load(page, page.get_by_role("link", name="Tạo phiên bản mới từ phiên bản hiện tại"))
    text = page.locator("#f-definition").input_value()
    same = api.post("/procedures/validate", content=text.encode(), headers={"Content-Type": "application/yaml"})
    assert same.json()["content_hash"] == api.get(f"/procedures/{code}").json()["content_hash"]  # the deployed one
    assert page.locator("#preview-eform").get_by_label("Số bản").count() == 1  # previewed at once
    # Changed and deployed: version 2.
    page.fill("#f-definition", text.replace("time_limit_working_days: 3", "time_limit_working_days: 4"))
    click_and_load(page, page.get_by_role("button", name="Triển khai"))
    assert page.url.endswith(f"/admin/procedures/{code}?deployed=2")


GARBAGE = {
    "random bytes": bytes(random.Random(25).getrandbits(8) for _ in range(4000)),
    "nested": b"a: " + b"[" * 5000 + b"]" * 5000,
    "nested mappings": "".join(f"{'  ' * i}k{i}:\n" for i in range(300)).encode(),
    "bomb": (
        b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    ),
    "a list": b"- 1\n- 2\n",
    "a number": b"7",
    "nothing": b"",
    "tabs and colons": b"code:\t:\n\t- : :\n",
    "steps of the wrong kind": b"steps: [1, 'x', {id: 2}]\nform: {fields: [null]}\ncode: 1\n",
    "surrogate": b'code: "\\ud800"\n',
    "complex keys": b"? [a, b]\n: c\n",
}


@pytest.mark.parametrize("case", GARBAGE)
def test_no_text_makes_the_editor_fail(api, stack, case):
    body = GARBAGE[case]
    for media_type in ("application/yaml", "application/json"):
        answer = httpx.post(
            f"{api.base_url}/procedures/validate",
            content=body,
            headers={"Content-Type": media_type, "Accept-Language": "en"},
            timeout=30,
        )
        assert answer.status_code in (413, 422), (media_type, answer.status_code, answer.text[:300])
    # The pages take it as text: the preview and the validate button answer with the problems, never a 500.
    page_client = _signed_in_pages(api)
    text = body.decode("utf-8", errors="replace")
    token = _csrf(page_client)
    preview = page_client.post("/admin/procedures/preview", data={"definition": text}, headers={"X-CSRF-Token": token})
    assert preview.status_code == 200, preview.text[:300]
    validated = page_client.post(
        "/admin/procedures/deploy", data={"definition": text, "action": "validate"}, headers={"X-CSRF-Token": token}
    )
    assert validated.status_code in (200, 422), validated.text[:300]


_CLIENTS: dict[str, httpx.Client] = {}


def _signed_in_pages(api) -> httpx.Client:
    """A client of the pages signed in as the administrator, with its session and CSRF cookies."""
    client = _CLIENTS.get(str(api.base_url))
    if client is None:
        client = httpx.Client(base_url=str(api.base_url), timeout=30, follow_redirects=False)
        client.get("/sign-in")
        signed_in = client.post(
            "/sign-in", data={"kind": "officer", "officer_id": ADMINISTRATOR, "csrf_token": _csrf(client)}
        )
        assert signed_in.status_code == 303, signed_in.text[:300]
        _CLIENTS[str(api.base_url)] = client
    return client


def _csrf(client: httpx.Client) -> str:
    return client.cookies.get("motcua_csrf") or ""
