"""`motcua-admin`: the administrators' command line for procedure definitions, officers, tokens, browsers' sign-in
sessions and the read model's schema.

`validate` works offline on files, `migrate` and `sessions end` on the database (DATABASE_URL); the other commands speak
to a running API (MOTCUA_API_URL).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml
from alembic.util import CommandError
from sqlmodel import Session

from api.procedure_definitions import parse_definition
from domain.definition import DefinitionInvalid, definition_json_schema
from domain.deployment_order import deployment_order
from domain.dossier import ActorRef
from infrastructure.settings import get_settings
from infrastructure.tokens import TokenIssuer
from readmodel import migrations_runner, organisation, sign_in_sessions
from readmodel.db import engine_for

app = typer.Typer(
    help="Validate, deploy, list, show, diff and retire procedure definitions; migrate the read model; end sign-in "
    "sessions.",
    no_args_is_help=True,
)
ApiUrl = Annotated[str, typer.Option(envvar="MOTCUA_API_URL", help="The motcua API")]
DEFAULT_API = "http://127.0.0.1:8000"
ProcedureCode = Annotated[str | None, typer.Option(help="only the dossiers of this procedure")]
# What the commands acting on the database directly record in the audit trail: whoever runs them holds its keys.
SYSTEM_AT_THE_COMMAND_LINE = ActorRef(kind="system", channel="cli")


def _load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def _where(loc: list[Any]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "(document)"


def _fail(response: httpx.Response) -> None:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    if isinstance(detail, list):
        for error in detail:
            typer.echo(f"  {_where(error.get('loc', []))}: {error.get('msg')}", err=True)
    else:
        typer.echo(f"  {detail}", err=True)
    raise typer.Exit(1)


_session: dict[str, str | None] = {"token": None}


@app.callback()
def _options(
    token: Annotated[
        str | None, typer.Option(envvar="MOTCUA_TOKEN", help="an administrator's bearer token (see `token officer`)")
    ] = None,
) -> None:
    _session["token"] = token


def _client(api_url: str) -> httpx.Client:
    token = _session["token"]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=api_url, timeout=30, headers=headers)


token_app = typer.Typer(help="Development tokens from motcua's own issuer (refused where it is disabled).")
app.add_typer(token_app, name="token")


def _issuer() -> TokenIssuer:
    settings = get_settings()
    if not settings.issues_own_tokens:
        typer.echo("this installation does not issue its own tokens (production: use the OpenID provider)", err=True)
        raise typer.Exit(1)
    return TokenIssuer(settings)


@token_app.command("officer")
def officer_token(officer_id: str, minutes: Annotated[int, typer.Option(min=1, max=7 * 24 * 60)] = 8 * 60) -> None:
    """A token naming an officer of the registry (their units and roles come from the registry)."""
    typer.echo(_issuer().issue_officer(officer_id, lifetime_seconds=minutes * 60))


@token_app.command("citizen")
def citizen_token(citizen_id: str, minutes: Annotated[int, typer.Option(min=1, max=7 * 24 * 60)] = 60) -> None:
    """A token carrying a citizen's 12-digit ID, as VNeID would issue."""
    try:
        typer.echo(_issuer().issue_citizen(citizen_id, lifetime_seconds=minutes * 60))
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.command("officer")
def register_officer(
    officer_id: str,
    unit: Annotated[str, typer.Option(help="agency code of the officer's unit")],
    role: Annotated[list[str], typer.Option(help="reception, specialist, leader or administrator (repeatable)")],
    name: Annotated[str | None, typer.Option(help="full name")] = None,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Register an officer at a unit with roles (or change them)."""
    with _client(api_url) as client:
        response = client.put(
            f"/officers/{officer_id}", json={"full_name": name or officer_id, "unit_code": unit, "roles": role}
        )
        if response.status_code not in (200, 201):
            _fail(response)
        body = response.json()
        typer.echo(f"{body['officer_id']}: {', '.join(body['roles'])} at {body['unit_code']}")


@app.command()
def validate(files: list[Path]) -> None:
    """Check definition files (YAML or JSON) without a server; every error is shown with its path."""
    failed = False
    for path in files:
        try:
            definition = parse_definition(_load(path))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            typer.echo(f"{path}: cannot read: {exc}", err=True)
            failed = True
        except DefinitionInvalid as invalid:
            typer.echo(f"{path}: {len(invalid.errors)} error(s)", err=True)
            for error in invalid.errors:
                typer.echo(f"  {_where(error.loc)}: {error.msg}", err=True)
            failed = True
        else:
            typer.echo(f"{path}: valid ({definition.code}, {len(list(definition.all_steps()))} steps)")
    if failed:
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of definitions (editors use it to check YAML as you type)."""
    typer.echo(json.dumps(definition_json_schema(), indent=2, ensure_ascii=False))


@app.command()
def migrate(
    status: Annotated[
        bool, typer.Option("--status", help="print the current and head revisions, change nothing")
    ] = False,
    to: Annotated[str, typer.Option("--to", help="the revision to upgrade to")] = "head",
) -> None:
    """Bring the read model's database (DATABASE_URL) to this version's schema, as the API and the worker do at
    start unless MIGRATE_ON_START is off. Processes starting meanwhile wait for it (they take the same lock)."""
    engine = engine_for(get_settings().sqlalchemy_url)
    try:
        if status:
            typer.echo(f"current revision: {migrations_runner.current_revision(engine) or 'none'}")
            typer.echo(f"head revision:    {migrations_runner.head_revision()}")
            return
        before, after = migrations_runner.migrate(engine, to)
    except (migrations_runner.UnknownSchema, CommandError) as refused:
        typer.echo(f"not migrated: {refused}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"revision before: {before or 'none'}")
    typer.echo(f"revision after:  {after or 'none'}")


sessions_app = typer.Typer(help="Browsers' sign-in sessions, in the read model's database (DATABASE_URL).")
app.add_typer(sessions_app, name="sessions")


@sessions_app.command("end")
def end_sessions(
    subject: Annotated[str, typer.Option(help="whom the sessions name: an officer id, or citizen:<12-digit ID>")],
    issuer: Annotated[str | None, typer.Option(help="only the sessions of this issuer's subject")] = None,
    reason: Annotated[str, typer.Option(help="recorded with each session ended (40 characters kept)")] = "revoked",
) -> None:
    """Revoke: end every open session of a subject at once, in every browser (each is asked to sign in again at its
    next request). Bearer tokens already issued are not sessions: they last until they expire."""
    engine = engine_for(get_settings().sqlalchemy_url)
    try:
        migrations_runner.require_head(engine)
        with Session(engine) as session:
            ended = sign_in_sessions.end_every_session_of(session, subject, reason[:40], issuer=issuer)
            target = f"{issuer} {subject}" if issuer else subject
            organisation.audit(session, SYSTEM_AT_THE_COMMAND_LINE, "sessions.end", target[:200],
                               {"ended": ended, "reason": reason[:40]})  # fmt: skip
            session.commit()
    except migrations_runner.SchemaNotAtHead as behind:
        typer.echo(str(behind), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"ended {ended} session(s) of {subject}")


@app.command()
def deploy(files: list[Path], api_url: ApiUrl = DEFAULT_API) -> None:
    """Deploy definition files; unchanged content keeps its version. Child procedures deploy before the
    procedures that start them, whatever the order of the files."""
    try:
        ordered = deployment_order([(path, _load(path)) for path in files])
    except (OSError, ValueError, yaml.YAMLError):
        ordered = files  # the API answers what is wrong with an unreadable file
    with _client(api_url) as client:
        for path in ordered:
            content_type = "application/json" if path.suffix == ".json" else "application/yaml"
            response = client.post("/procedures", content=path.read_bytes(), headers={"Content-Type": content_type})
            if response.status_code not in (200, 201):
                typer.echo(f"{path}: refused ({response.status_code})", err=True)
                _fail(response)
            body = response.json()
            verb = "deployed as" if body["created"] else "unchanged at"
            typer.echo(f"{path}: {body['code']} {verb} v{body['version']} ({body['content_hash'][:12]})")


@app.command("list")
def list_procedures(api_url: ApiUrl = DEFAULT_API) -> None:
    """The procedures deployed, latest version of each."""
    with _client(api_url) as client:
        response = client.get("/procedures")
        if response.status_code != 200:
            _fail(response)
        for row in response.json():
            retired = "  (retired)" if row.get("retired_at") else ""
            typer.echo(f"{row['code']:<16} v{row['version']:<4} {row['name']}{retired}")


@app.command()
def show(code: str, version: Annotated[int | None, typer.Option()] = None, api_url: ApiUrl = DEFAULT_API) -> None:
    """A deployed definition, as YAML."""
    with _client(api_url) as client:
        path = f"/procedures/{code}/versions/{version}" if version else f"/procedures/{code}"
        response = client.get(path)
        if response.status_code != 200:
            _fail(response)
        typer.echo(yaml.safe_dump(response.json()["definition"], allow_unicode=True, sort_keys=False))


@app.command()
def diff(code: str, from_version: int, to_version: int, api_url: ApiUrl = DEFAULT_API) -> None:
    """What changed between two versions."""
    with _client(api_url) as client:
        response = client.get(
            f"/procedures/{code}/diff", params={"from_version": from_version, "to_version": to_version}
        )
        if response.status_code != 200:
            _fail(response)
        typer.echo("\n".join(response.json()["diff"]) or "no difference")


@app.command()
def retire(code: str, api_url: ApiUrl = DEFAULT_API) -> None:
    """Take a procedure out of service (dossiers already running finish on their version)."""
    with _client(api_url) as client:
        response = client.post(f"/procedures/{code}/retire")
        if response.status_code != 200:
            _fail(response)
        typer.echo(f"{code} retired at {response.json()['retired_at']}")


@app.command()
def graph(
    code: str,
    svg: Annotated[Path | None, typer.Option(help="write the SVG picture here")] = None,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """The step graph as Mermaid text (or an SVG file)."""
    with _client(api_url) as client:
        response = client.get(f"/procedures/{code}/graph.svg" if svg else f"/procedures/{code}/graph")
        if response.status_code != 200:
            _fail(response)
        if svg:
            svg.write_text(response.text, encoding="utf-8")
            typer.echo(f"wrote {svg}")
        else:
            typer.echo(response.json()["mermaid"])


@app.command()
def reconcile(
    updated_within_hours: Annotated[int, typer.Option(help="dossiers changed this recently")] = 24,
    procedure_code: ProcedureCode = None,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Compare recent dossiers' statuses with what the national portal last heard; exit 1 on a difference."""
    _reconcile(
        api_url,
        "/operations/portal-reconciliation",
        updated_within_hours,
        procedure_code,
        lambda d: f"{d['dossier_code']}: ours {d['ours']}, portal {d['portal']}",
    )


@app.command("reconcile-workflows")
def reconcile_workflows(
    updated_within_hours: Annotated[int, typer.Option(help="dossiers changed this recently")] = 24,
    procedure_code: ProcedureCode = None,
    api_url: ApiUrl = DEFAULT_API,
) -> None:
    """Compare recent dossiers in the read model with their workflows; exit 1 on a difference that stays."""
    _reconcile(
        api_url,
        "/operations/workflow-reconciliation",
        updated_within_hours,
        procedure_code,
        lambda d: f"{d['dossier_code']} {d['field']}: workflow {d['workflow']}, read model {d['read_model']}",
        timeout=300,  # differences are looked at again after the read model had time to catch up
    )


def _reconcile(
    api_url: str,
    path: str,
    updated_within_hours: int,
    procedure_code: str | None,
    describe: Callable[[dict[str, Any]], str],
    timeout: float = 30,
) -> None:
    """Print a reconciliation report, one line per difference; exit 1 if there is any."""
    params: dict[str, Any] = {"updated_within_hours": updated_within_hours}
    if procedure_code:
        params["procedure_code"] = procedure_code
    with _client(api_url) as client:
        response = client.get(path, params=params, timeout=timeout)
        if response.status_code != 200:
            _fail(response)
        report = response.json()
        typer.echo(f"checked {report['checked']} dossiers: {report['in_sync']} in sync")
        for difference in report["differences"]:
            typer.echo(f"  {describe(difference)}")
        if report["differences"]:
            raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach the API: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
