"""Limits at the edge and no 5xx on any input (issue 23, items 1 and 2).

Bodies are bounded per content type before anything reads them (413 on the declared length, and while a chunked
body streams), JSON nesting and the number of values are bounded before parsing, a 422 lists at most a few errors,
a body that does not arrive in time is answered 408; and the five malformed inputs that once drew a 500 (a token
naming an algorithm its key does not support, non-ASCII secrets and CSRF tokens, deep JSON and YAML, dates out of
range, a lone surrogate) are refused as any other bad input is."""

from __future__ import annotations

import base64
import json
import select
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import APPLICANT, VALID_FORM, deploy, submit, three_step_procedure, unique_codes

LISTED = 20  # the errors a 422 lists (MAX_ERRORS_LISTED)


def _address(api: httpx.Client) -> tuple[str, int]:
    url = urlsplit(str(api.base_url))
    return url.hostname or "127.0.0.1", url.port or 80


def raw_exchange(api: httpx.Client, head: bytes, chunks=(), *, timeout: float = 30) -> tuple[int, bytes, float]:
    """Send a request by hand (headers, then body chunks until the server answers or closes); the status, the
    answer's body and the seconds the answer took."""
    started = time.monotonic()
    with socket.create_connection(_address(api), timeout=timeout) as conn:
        conn.sendall(head)
        received = b""
        for chunk in chunks:
            if select.select([conn], [], [], 0)[0]:
                data = conn.recv(65536)
                received += data
                if not data or b"\r\n\r\n" in received:
                    break
            try:
                conn.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
        conn.setblocking(True)
        conn.settimeout(timeout)
        try:
            while not _complete(received):
                data = conn.recv(65536)
                if not data:
                    break
                received += data
        except (ConnectionResetError, TimeoutError):
            pass
    elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 "), received[:200]
    status = int(received[9:12])
    return status, received.split(b"\r\n\r\n", 1)[1], elapsed


def _complete(received: bytes) -> bool:
    head_end = received.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    lines = received[:head_end].lower().split(b"\r\n")
    length = next((int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:")), None)
    return length is not None and len(received) >= head_end + 4 + length


def _head(api: httpx.Client, method: str, path: str, content_type: str, **headers: str) -> bytes:
    host, port = _address(api)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Type: {content_type}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _health_within(api: httpx.Client, seconds: float) -> None:
    started = time.monotonic()
    response = httpx.get(f"{api.base_url}/health", timeout=seconds)
    assert response.status_code == 200
    assert time.monotonic() - started < seconds


# -- Limits at the edge ------------------------------------------------------------------------------------------


def test_a_query_string_past_8_kb_is_refused_414(api):
    status, body, _ = raw_exchange(api, _head(api, "GET", "/procedures?q=" + "a" * 20_000, "application/json"))
    assert status == 414 and b"query string" in body
    assert api.get("/procedures", params={"q": "a" * 7_000}).status_code == 200


@pytest.mark.parametrize("headers", [{"X-Big": "a" * 200_000}, {f"X-Many-{i}": "a" for i in range(500)}])
def test_headers_past_32_kb_or_100_in_number_are_refused_431(api, headers):
    """The HTTP parser passes two megabytes of headers on; the edge stops them before any route or dependency."""
    answer = httpx.get(f"{api.base_url}/procedures", headers=headers, timeout=30)
    assert answer.status_code == 431, answer.text
    assert "headers" in answer.json()["detail"]
    _health_within(api, 1)


def test_a_50_mb_submission_with_millions_of_keys_is_refused_413_at_once_and_the_api_keeps_answering(api):
    keys = 5_000_000
    piece = b"".join(b'"k%07d":1,' % i for i in range(0, 1000))  # 1,000 keys, 12 bytes each
    body_size = len(piece) * (keys // 1000)
    assert body_size >= 50_000_000
    head = _head(api, "POST", "/dossiers", "application/json", Content_Length=str(body_size))
    status, body, elapsed = raw_exchange(api, head, [piece] * (keys // 1000))
    assert status == 413, body
    assert "bytes" in json.loads(body)["detail"]
    assert elapsed < 2
    _health_within(api, 1)


def test_a_chunked_body_is_cut_off_once_past_the_limit(api):
    piece = b"[" + b"1," * 32_000 + b"1]"  # 64 kB each, never a complete JSON document
    head = _head(api, "POST", "/dossiers", "application/json", Transfer_Encoding="chunked")
    chunks = (b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(800))  # 50 MB if all were read
    status, body, elapsed = raw_exchange(api, head, chunks)
    assert status == 413, body
    assert elapsed < 5
    _health_within(api, 1)


def test_uploads_keep_their_own_larger_limit_and_are_cut_off_while_they_stream(api):
    pdf = b"%PDF-1.4\n" + b"0" * 3_000_000 + b"\n%%EOF\n"  # larger than any JSON body, well within an upload
    response = httpx.post(f"{api.base_url}/attachments", files={"file": ("big.pdf", pdf, "application/pdf")})
    assert response.status_code == 201, response.text[:300]
    boundary = "motcua-edge-test"
    opening = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
    ).encode()
    piece = b"0" * 65_536
    chunks = [b"%x\r\n%s\r\n" % (len(opening), opening)] + [b"%x\r\n%s\r\n" % (len(piece), piece)] * 800
    head = _head(api, "POST", "/attachments", f"multipart/form-data; boundary={boundary}", Transfer_Encoding="chunked")
    status, body, elapsed = raw_exchange(api, head, chunks)
    assert status == 413, body
    assert elapsed < 10
    _health_within(api, 1)


def test_a_definition_sent_to_the_validator_is_bounded_before_it_is_read(api):
    head = _head(api, "POST", "/procedures/validate", "application/yaml", Content_Length="20000000")
    status, body, _ = raw_exchange(api, head, [b"code: x\n" * 1000])
    assert status == 413, body


def test_a_body_of_bad_fields_draws_an_answer_much_smaller_than_itself(api):
    bad = {f"unexpected_{i:05d}": "x" * 150 for i in range(5_000)}
    body = json.dumps({"procedure_code": "2.000635", "applicant": APPLICANT, "form": VALID_FORM, **bad})
    assert 800_000 < len(body) < 900_000
    response = api.post("/dossiers", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text[:500]
    assert len(response.content) < 20_000, len(response.content)
    detail = response.json()["detail"]
    assert len(detail) == LISTED + 1
    assert all(error["loc"][0] == "body" for error in detail[:LISTED])
    assert detail[-1]["type"] == "too_many_errors"
    assert str(5_000 - LISTED) in detail[-1]["msg"]


def test_a_json_body_with_too_many_values_is_refused_before_it_is_parsed(api):
    form = {f"f{i}": i for i in range(60_000)}  # under the size limit, far over the number of values
    response = api.post("/dossiers", json={"procedure_code": "2.000635", "applicant": APPLICANT, "form": form})
    assert response.status_code == 413, response.text[:500]
    assert "values" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/procedures/validate", "/dossiers"])
def test_deeply_nested_json_is_refused_422_with_a_clear_message(api, path):
    for depth in (100, 100_000):
        body = "[" * depth + "]" * depth
        response = api.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text[:500]
        error = response.json()["detail"][0]
        assert error["loc"] == ["body"] and "nest" in error["msg"]


def test_a_body_that_does_not_arrive_in_time_is_answered_408(api):
    head = _head(api, "POST", "/dossiers", "application/json", Content_Length="1000")

    def trickle():
        yield b'{"procedure_code": '
        for _ in range(24):  # 6 s, longer than the stack's REQUEST_BODY_TIMEOUT_SECONDS (3), in silence
            time.sleep(0.25)
            yield b""
        yield b'"2.000635"'

    status, body, elapsed = raw_exchange(api, head, trickle())
    assert status == 408, body
    assert elapsed < 6
    _health_within(api, 1)


# -- No 5xx on any input -----------------------------------------------------------------------------------------


def _forged(alg: str, signature: bytes = b"signature") -> str:
    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    header = json.dumps({"alg": alg, "typ": "JWT"}).encode()
    now = int(time.time())
    claims = json.dumps({"iss": "motcua", "aud": "motcua", "sub": "admin", "kind": "officer", "iat": now,
                         "exp": now + 600}).encode()  # fmt: skip
    return f"{part(header)}.{part(claims)}.{part(signature)}"


ALGORITHMS = ["ES256", "ES384", "ES512", "PS256", "EdDSA", "HS256", "RS512", "none", "XX1"]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_token_naming_an_algorithm_its_key_does_not_support_is_refused_401(api, alg):
    response = httpx.get(f"{api.base_url}/inbox", headers={"Authorization": f"Bearer {_forged(alg)}"})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_such_a_token_in_the_pages_cookie_is_as_signed_out(api, alg):
    response = httpx.get(f"{api.base_url}/citizen/procedures", cookies={"motcua_session": _forged(alg)})
    assert response.status_code == 200, response.text[:300]
    response = httpx.get(f"{api.base_url}/officer/inbox", cookies={"motcua_session": _forged(alg)})
    assert response.status_code == 303  # to the sign-in page


@pytest.fixture(scope="module")
def procedure(api) -> str:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    return code


@pytest.fixture(scope="module")
def dossier(api) -> str:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    return submit(api, code, headers={"Authorization": ""})["dossier_code"]


@pytest.mark.parametrize(
    "secret", ["ÉÉÉÉÉÉÉÉÉÉ".encode("latin-1"), b"K3DQ7WZLM\xff", b"\xe1\xba\xa0" * 4, b"WRONGWRONG"]
)
def test_a_non_ascii_lookup_secret_answers_404_as_a_wrong_one_does(api, dossier, secret):
    answers = set()
    for code in (dossier, "H00.00-000000-0000"):
        response = httpx.get(f"{api.base_url}/dossiers/{code}", headers={"X-Lookup-Secret": secret})
        answers.add((response.status_code, response.text.replace(code, "<code>")))
    assert len(answers) == 1, answers
    assert answers.pop()[0] == 404


@pytest.mark.parametrize("token", ["ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ".encode("latin-1"), b"\xe1\xba\xa0" * 12])
def test_a_non_ascii_csrf_token_is_refused_403_as_a_wrong_one_is(api, token):
    cookie = "a" * 43
    for presented in (token, b"b" * 43):
        response = httpx.post(
            f"{api.base_url}/citizen/lookup",
            headers={"X-CSRF-Token": presented, "Cookie": b"motcua_csrf=" + token},
            follow_redirects=False,
        )
        assert response.status_code == 403, response.text[:300]
        response = httpx.post(
            f"{api.base_url}/citizen/lookup",
            headers={"X-CSRF-Token": presented, "Cookie": f"motcua_csrf={cookie}"},
            follow_redirects=False,
        )
        assert response.status_code == 403, response.text[:300]


DEEP_YAML = {
    "flow": "[" * 100_000 + "]" * 100_000,
    "block": "- " * 2_000 + "x\n",
    "mappings": "".join(" " * i + "a:\n" for i in range(0, 400)),
    "aliases": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)),
}


@pytest.mark.parametrize("case", DEEP_YAML)
def test_deep_or_aliased_yaml_sent_to_the_validator_is_refused_422(api, case):
    response = httpx.post(
        f"{api.base_url}/procedures/validate", content=DEEP_YAML[case], headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 422, response.text[:500]
    assert response.json()["detail"][0]["loc"] == ["body"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "0001-01-01", "end": "2026-01-31"}, "start"),
        ({"start": "2026-01-01", "end": "9999-12-31"}, "end"),
        ({"start": "1000-01-01", "end": "9000-12-31"}, "start"),
    ],
)
@pytest.mark.parametrize("path", ["/statistics", "/statistics.csv"])
def test_statistics_refuse_dates_out_of_range_422_with_the_field(api, path, query, field):
    response = api.get(path, params=query)
    assert response.status_code == 422, response.text[:300]
    assert response.json()["detail"][0]["loc"] == ["query", field]


@pytest.mark.parametrize("received_at", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "1900-01-01T00:00:00Z"])
def test_an_appointment_refuses_a_receipt_out_of_range_422_with_the_field(api, received_at):
    response = api.get("/calendars/VN/appointment", params={"working_days": 365, "received_at": received_at})
    assert response.status_code == 422, response.text[:300]
    assert response.json()["detail"][0]["loc"] == ["query", "received_at"]


@pytest.mark.parametrize("path", ["/dossiers", "/procedures/validate"])
@pytest.mark.parametrize("surrogate", ["\\ud800", "\\udfff", "\\ud800\\u0041", "x\\\\\\udc00"])
def test_a_lone_surrogate_in_json_is_refused_422(api, path, surrogate):
    body = '{"procedure_code": "2.000635", "applicant": {"full_name": "%s", "citizen_id": "079123456789"}, "form": {}}'
    response = httpx.post(
        f"{api.base_url}{path}", content=body % surrogate, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text[:300]
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_a_surrogate_pair_and_an_escaped_backslash_are_still_accepted(api):
    # "😀" as an escaped pair, and a literal backslash before "ud800" (not an escape): both fine
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    body = json.dumps({"procedure_code": code, "applicant": {**APPLICANT, "full_name": "Nguyễn 😀 \\ud800"},
                       "form": VALID_FORM})  # fmt: skip
    assert "\\ud83d\\ude00" in body and "\\\\ud800" in body
    response = httpx.post(f"{api.base_url}/dossiers", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text[:300]


NUMBERS = ["1" * 5000, "1e999", "-1e999", "NaN", "Infinity", "1" * 400 + ".5e-99999"]


def test_a_yaml_integer_of_5000_digits_is_refused_422(api):
    body = "code: 1.000001\nname: x\ntime_limit_working_days: " + "1" * 5000 + "\n"
    response = httpx.post(
        f"{api.base_url}/procedures/validate", content=body, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 422, response.text[:300]


@pytest.mark.parametrize("number", NUMBERS)
@pytest.mark.parametrize("path", ["/procedures/validate", "/dossiers"])
def test_numbers_out_of_any_range_are_refused_4xx(api, procedure, path, number):
    if path == "/procedures/validate":
        body = '{"code": "1.000001", "name": "x", "version_label": ' + number + "}"
    else:
        body = '{"procedure_code": "' + procedure + '", "applicant": {"full_name": "A", "citizen_id": "079123456789"}, '
        body += '"form": {"copies": ' + number + ', "requester_id": "079123456789"}}'
    response = httpx.post(f"{api.base_url}{path}", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text[:300]


def test_deep_parentheses_in_a_definition_expression_are_refused_422(api):
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    definition["form"]["fields"][4]["required_when"] = "(" * 5000 + "copies > 1" + ")" * 5000
    response = httpx.post(f"{api.base_url}/procedures/validate", json=definition)
    assert response.status_code == 422, response.text[:300]


def test_a_megabyte_of_yaml_values_is_refused_at_once_and_the_api_keeps_answering(api):
    body = ("- 1\n" * 250_000)[:990_000]  # the pure-Python loader once spent seconds of the event loop on it
    started = time.monotonic()
    response = httpx.post(
        f"{api.base_url}/procedures/validate", content=body, headers={"Content-Type": "application/yaml"}, timeout=30
    )
    assert response.status_code == 422, response.text[:300]
    assert "values" in response.json()["detail"][0]["msg"]
    assert time.monotonic() - started < 1
    _health_within(api, 1)
