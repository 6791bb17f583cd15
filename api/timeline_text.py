"""The timeline in its reader's words: each event's message (domain/timeline_messages.py) rendered at read time in the
reader's language, in the officers' wording or the applicant's, with unit codes as unit names, roles, channels and
outcomes as words and amounts as the language writes numbers. Events recorded before messages existed, or whose
message cannot be rendered, show their summary."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from domain.timeline_messages import MESSAGES
from domain.wording import mark
from infrastructure.translations import number, translate
from readmodel.tables import UnitRow

log = logging.getLogger("api.timeline_text")

ROLE_NAMES = {"reception": mark("tiếp nhận"), "specialist": mark("chuyên môn"), "leader": mark("lãnh đạo")}
CHANNEL_NAMES = {"in_person": mark("trực tiếp"), "online": mark("trực tuyến"), "postal": mark("bưu chính")}
OUTCOME_NAMES = {
    "completed": mark("hoàn thành"),
    "refused": mark("không tiếp nhận"),
    "stopped": mark("dừng xử lý"),
    "withdrawn": mark("rút hồ sơ"),
}
_WORDS = {"role": ROLE_NAMES, "channel": CHANNEL_NAMES, "outcome": OUTCOME_NAMES}


def timeline_text(
    entry: Mapping[str, Any], *, language: str, applicant: bool, unit_name: Callable[[str], str | None]
) -> str:
    """What the entry says to this reader, in their language."""
    message = MESSAGES.get(entry.get("message") or "")
    if message is None:
        return str(entry.get("summary") or "")
    params = entry.get("params") or {}
    values = {name: _value(name, value, language, applicant, unit_name) for name, value in params.items()}
    try:
        return translate(language, message.applicant if applicant else message.officer, **values)
    except (KeyError, IndexError, ValueError) as exc:  # a message changed since the event was recorded
        log.warning("timeline message %r not rendered (%s); its summary is shown", entry.get("message"), exc)
        return str(entry.get("summary") or "")


def timeline_who(
    entry: Mapping[str, Any], *, language: str, applicant: bool, unit_name: Callable[[str], str | None]
) -> str:
    """Who acted, as this reader needs it: officers see the officer (and for whom they acted); the applicant sees the
    office that acted, never an officer's id."""
    actor = str(entry.get("actor") or "")
    if not applicant:
        behalf = entry.get("on_behalf_of")
        return f"{actor} ({translate(language, 'Thay cho')} {behalf})" if behalf else actor
    if entry.get("actor_kind") == "officer":
        unit = entry.get("unit_code")
        return (unit_name(unit) or "") if isinstance(unit, str) else ""
    return actor if entry.get("actor_kind") in ("citizen", "anonymous", "portal") else ""


def _value(name: str, value: Any, language: str, applicant: bool, unit_name: Callable[[str], str | None]) -> str:
    if name == "unit" and isinstance(value, str):
        found = unit_name(value)
        if found is None:
            return value
        return found if applicant else f"{found} ({value})"
    if name in _WORDS and isinstance(value, str) and value in _WORDS[name]:
        return translate(language, _WORDS[name][value])
    if name == "letter" and isinstance(value, str):  # an official letter's name, as the law titles it
        return translate(language, value)
    if name == "amount" and isinstance(value, int | float):
        return number(value, language)
    return "" if value is None else str(value)


class UnitNames:
    """Units' names by code, all read from the registry at most once a minute per process (the timeline names a unit
    in most entries, and a poll must not read the registry for each); a code not known yet is looked up on its own
    (by primary key), so a unit registered a moment ago is named at once, and a code the registry lacks is asked
    about again only after a few seconds."""

    REFRESH_EVERY = 60.0
    ASK_AGAIN_AFTER = 5.0

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._unknown: dict[str, float] = {}  # code → when the registry last said it has no such unit
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def lookup(self, connection: Connection) -> Callable[[str], str | None]:
        if time.monotonic() - self._read_at > self.REFRESH_EVERY:
            with self._lock:
                if time.monotonic() - self._read_at > self.REFRESH_EVERY:
                    rows = connection.execute(select(UnitRow.code, UnitRow.name))  # type: ignore[call-overload]
                    self._names = {code: name for code, name in rows}
                    self._read_at = time.monotonic()

        def name(code: str) -> str | None:
            found = self._names.get(code)
            if found is not None or time.monotonic() - self._unknown.get(code, float("-inf")) < self.ASK_AGAIN_AFTER:
                return found
            found = connection.execute(
                select(UnitRow.name).where(UnitRow.code == code)  # type: ignore[arg-type]
            ).scalar_one_or_none()
            if found is None:
                self._unknown[code] = time.monotonic()
            else:
                self._names[code] = found
                self._unknown.pop(code, None)
            return found

        return name


UNIT_NAMES = UnitNames()
