"""The step graph (GET /procedures/{code}/graph.svg) is a picture people can read: laid out by Graphviz's `dot`, every
step's whole name (wrapped between words, never inside one), an edge for every transition: into each parallel
branch, out of each branch into the join, and officers' returns; and a clear 503 when `dot` cannot draw."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from fastapi import HTTPException
from sqlmodel import Session
from starlette.requests import Request

from api.routes.procedures import get_graph_svg
from domain import step_graph
from domain.definition import ProcedureDefinition, Step
from readmodel import procedures
from readmodel.db import engine_for
from readmodel.schema import init_db

SVG = "{http://www.w3.org/2000/svg}"
SHIPPED = Path(__file__).parent.parent / "procedures"
BIRTH = SHIPPED / "3.000722-birth-residence-health-insurance.yaml"  # two parallel branches, one with a `when`
LAND = SHIPPED / "1.012783-land-use-certificate-renewal.yaml"  # a `return_to` and a `skip_when`


def definition(path: Path) -> ProcedureDefinition:
    return ProcedureDefinition.model_validate(yaml.safe_load(path.read_text()))


def every_step(steps: list[Step]) -> list[Step]:
    return [s for step in steps for s in [step, *(x for b in step.branches or [] for x in every_step(b.steps))]]


def nodes(picture: ET.Element) -> dict[str, list[str]]:
    """Each node's lines of text, by the node's id (step_<step id>, join_<parallel step id>, start, end)."""
    return {
        g.get("id"): [(t.text or "") for t in g.iter(f"{SVG}text")]
        for g in picture.iter(f"{SVG}g")
        if g.get("class") == "node"
    }


def edges(picture: ET.Element) -> dict[tuple[str, str], ET.Element]:
    """Every edge by its two ends (dot titles an edge `tail->head`)."""
    found = {}
    for g in picture.iter(f"{SVG}g"):
        if g.get("class") == "edge":
            tail, head = g.find(f"{SVG}title").text.split("->")
            found[(tail, head)] = g
    return found


def test_every_step_shows_its_whole_name_and_every_branch_reaches_the_join(api, shipped):
    response = api.get("/procedures/3.000722/graph.svg")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    picture = ET.fromstring(response.text)
    assert picture.get("role") == "img" and "Liên thông đăng ký khai sinh" in picture.get("aria-label")
    birth = definition(BIRTH)
    drawn = nodes(picture)
    steps = every_step(birth.steps)
    assert {f"step_{s.id}" for s in steps} <= set(drawn) and len(steps) == 8
    for step in steps:
        lines = drawn[f"step_{step.id}"]
        # The name's lines come first: joined by spaces they give the name back, whole (a word cut in two would not).
        assert any(" ".join(lines[:n]) == step.name for n in range(1, len(lines) + 1)), (step.id, lines)
        assert all(line and line == line.strip() for line in lines), lines
    assert any(len(lines) > 1 for lines in drawn.values())  # long names do wrap
    # The text is large enough to read: 13 pt names, 10 pt details, never less.
    sizes = {float(t.get("font-size")) for t in picture.iter(f"{SVG}text")}
    assert min(sizes) >= 10

    arrows = edges(picture)
    parallel = birth.step("after_birth")
    join = "after_birth__join"
    assert "join_after_birth" in drawn
    for branch in parallel.branches:
        assert ("after_birth", branch.steps[0].id) in arrows, branch.id  # into the branch
        last = [s.id for s in branch.steps if s.next is None]
        assert last and all((s, join) in arrows for s in last), (branch.id, sorted(arrows))  # out of it, to the join
    assert (join, "return_results") in arrows
    # The branch that runs only under a condition says so on its edge.
    condition = arrows[("after_birth", "residence_registration")].find(f"{SVG}text")
    assert condition is not None and "register_residence" in condition.text
    assert ("__start", "reception") in arrows and ("notify_parents", "__end") in arrows
    # Every `next` is an edge (a parallel step's through its join).
    for step in steps:
        if step.next:
            assert (f"{step.id}__join" if step.branches else step.id, step.next) in arrows, step.id


def test_returns_are_dashed_edges_and_skippable_steps_say_when(api, shipped):
    picture = ET.fromstring(api.get("/procedures/1.012783/graph.svg").text)
    back = edges(picture)[("leader_approval", "records_check")]
    assert back.find(f"{SVG}path").get("stroke-dasharray")
    assert "trả lại" in "".join(t.text for t in back.iter(f"{SVG}text"))
    site = " ".join(nodes(picture)["step_site_verification"])
    assert "bỏ qua khi reason != 'remeasured'" in site
    # In English on request, from the same catalog as the pages.
    english = api.get("/procedures/1.012783/graph.svg", headers={"Accept-Language": "en"})
    assert english.headers["content-language"] == "en"


def test_the_picture_is_the_same_every_time():
    land = definition(LAND)
    assert step_graph.dot_source(land) == step_graph.dot_source(definition(LAND))
    step_graph._drawn.cache_clear()
    first = step_graph.svg(land)
    step_graph._drawn.cache_clear()
    assert step_graph.svg(land) == first
    # Names are never cut inside a word, however long the word.
    raw = yaml.safe_load(LAND.read_text())
    raw["steps"][0]["name"] = "Tiếp nhận " + "Siêuđộdàikhôngthểngắtgiữachừngđược" * 2 + " hồ sơ đất đai của người dân"
    picture = ET.fromstring(step_graph.svg(ProcedureDefinition.model_validate(raw)))
    lines = nodes(picture)["step_reception"]
    assert "Siêuđộdàikhôngthểngắtgiữachừngđược" * 2 in lines


def test_without_graphviz_the_picture_answers_503_with_the_reason(tmp_path, monkeypatch):
    engine = engine_for(f"sqlite:///{tmp_path / 'graph.sqlite3'}")
    init_db(engine)
    monkeypatch.setattr(step_graph, "DOT_COMMAND", str(tmp_path / "no-such-dot"))
    step_graph._drawn.cache_clear()
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})
    with Session(engine) as session:
        procedures.deploy(session, definition(LAND))
        with pytest.raises(HTTPException) as refused:
            get_graph_svg(request, "1.012783", session)
    assert refused.value.status_code == 503
    assert re.search(r"cannot be drawn now: .*dot.* is not installed", refused.value.detail)
    step_graph._drawn.cache_clear()
