"""deploy/ holds what the cluster launcher runs, as an installation runs it: each systemd unit's command is the
launcher's command with the install paths, Temporal's example configuration is what the launcher writes, and the
example settings are real settings. A change to the launcher that leaves deploy/ behind fails here."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from devstack.cluster import (
    TEMPORAL_DATABASES,
    TEMPORAL_SERVER_DIR,
    TEMPORAL_SERVICES,
    ClusterConfig,
    ClusterStack,
    fixed_service_ports,
    temporal_service_command,
)
from devstack.stack import uvicorn_command, worker_command
from infrastructure.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
UNITS = DEPLOY / "systemd"
TEMPORAL_CONFIG = DEPLOY / "temporal"
ENV_EXAMPLE = DEPLOY / "motcua.env.example"
TEMPORAL_ENV_EXAMPLE = TEMPORAL_CONFIG / "temporal.env.example"
DEPLOYMENT_DOC = PROJECT_ROOT / "docs" / "deployment.md"

# The install layout (docs/deployment.md).
INSTALL_ROOT = "/opt/motcua"
INSTALL_PYTHON = "/opt/motcua/.venv/bin/python"
INSTALL_TEMPORAL = "/opt/temporal-server"
TEMPORAL_ROOT = Path("/etc/temporal")
DATA_DIR = "/var/lib/motcua"
MOTCUA_ENV_FILE = "/etc/motcua/motcua.env"

# Variables of the example that are not settings of motcua: what a unit reads itself.
UNIT_VARIABLES = {"MOTCUA_API_HOST"}
# What a production installation must set, and to what where it matters.
REQUIRED = {
    "ENVIRONMENT": "production",
    "WORKFLOW_SANDBOX": "false",
    "MIGRATE_ON_START": "false",
    "DATA_DIR": DATA_DIR,
    "TEMPORAL_ADDRESS": None,
    "TEMPORAL_NAMESPACE": None,
    "DATABASE_URL": None,
    "PUBLIC_BASE_URL": None,
    "PORTAL_BASE_URL": None,
    "POPULATION_BASE_URL": None,
    "AGENCY_SYSTEMS_BASE_URL": None,
    "RESULT_STORE_BASE_URL": None,
    "AGENCY_API_TOKEN": None,
    "PORTAL_API_KEY": None,
    "OIDC_PROVIDERS": None,
    "LOOKUP_SECRET_KEY": None,
}
# Secrets that are plain strings in Settings (the SecretStr fields are found by their type).
PLAIN_SECRETS = {"DATABASE_URL", "AGENCY_API_TOKEN", "LOOKUP_SECRET_KEY"}
# Keys of the launcher's dynamic configuration a production cluster leaves out (Temporal: "should not be turned on
# in production").
DEVELOPMENT_ONLY_DYNAMIC_CONFIG = {"system.forceSearchAttributesCacheRefreshOnRead"}
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
}


# ------------------------------------------------------------------------------------------------------- parsing


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections, each key with every value it is given (Environment= and the like repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    text = (UNITS / name).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{name}: {line!r} outside a section"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service(name: str) -> dict[str, list[str]]:
    return unit(name)["Service"]


def one(section: dict[str, list[str]], key: str) -> str:
    (value,) = section[key]
    return value


def exec_start(name: str, instance: str, environment: dict[str, str] | None = None) -> list[str]:
    """The unit's command for `instance`, with ${VAR} taken from `environment` or the unit's own Environment=."""
    own = dict(assignment.split("=", 1) for assignment in service(name).get("Environment", []))
    variables = {**own, **(environment or {})}
    command = one(service(name), "ExecStart").lstrip("-@+!:")

    def substitute(match: re.Match[str]) -> str:
        assert match.group(1) in variables, f"{name} uses ${{{match.group(1)}}}, which nothing sets"
        return variables[match.group(1)]

    command = re.sub(r"\$\{(\w+)\}", substitute, command.replace("%i", instance))
    return shlex.split(command)


def installed(command: list[str]) -> list[str]:
    """The launcher's command as it runs from the install layout."""
    paths = {sys.executable: INSTALL_PYTHON}
    prefixes = [(str(TEMPORAL_SERVER_DIR), INSTALL_TEMPORAL), (str(PROJECT_ROOT), INSTALL_ROOT)]
    result = []
    for argument in command:
        argument = paths.get(argument, argument)
        for prefix, replacement in prefixes:
            if argument == prefix or argument.startswith(prefix + "/"):
                argument = replacement + argument[len(prefix) :]
                break
        result.append(argument)
    return result


def env_file(path: Path) -> tuple[dict[str, str], set[str], set[str]]:
    """An environment file as systemd reads it: the values set, every name shown (commented out included), and the
    names whose comment block says SECRET."""
    values: dict[str, str] = {}
    shown: set[str] = set()
    secret: set[str] = set()
    comments: list[str] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        commented = re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", stripped)
        if commented:
            shown.add(commented.group(1))
            if any("SECRET" in comment for comment in comments):
                secret.add(commented.group(1))
            comments = []
        elif stripped.startswith("#"):
            comments.append(stripped)
        elif not stripped:
            comments = []
        else:
            name, _, value = stripped.partition("=")
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"{path.name}: not an assignment: {line!r}"
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[name] = value
            shown.add(name)
            if any("SECRET" in comment for comment in comments):
                secret.add(name)
            comments = []
    return values, shown, secret


def setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


# ----------------------------------------------------------------------------------------- the units' commands


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_api_unit_runs_the_launchers_uvicorn(host: str) -> None:
    assert exec_start("motcua-api@.service", "8000", {"MOTCUA_API_HOST": host}) == installed(
        uvicorn_command("api.main:app", 8000, host=host)
    )


def test_the_api_unit_listens_on_the_loopback_unless_told_otherwise() -> None:
    assert exec_start("motcua-api@.service", "8001") == installed(uvicorn_command("api.main:app", 8001))


def test_the_worker_unit_runs_the_launchers_worker() -> None:
    assert exec_start("motcua-worker@.service", "1") == installed(worker_command())


@pytest.mark.parametrize("name", TEMPORAL_SERVICES)
def test_the_temporal_unit_runs_the_launchers_service(name: str) -> None:
    launcher = temporal_service_command(TEMPORAL_SERVER_DIR / "bin" / "temporal-server", TEMPORAL_ROOT / "config", name)
    assert exec_start("temporal@.service", name) == installed(launcher)


def test_the_migration_unit_runs_motcua_admin_migrate() -> None:
    from api.admin_cli import app

    scripts = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["motcua-admin"] == "api.admin_cli:main"
    assert "migrate" in {command.name or command.callback.__name__ for command in app.registered_commands}
    assert exec_start("motcua-migrate.service", "") == ["/opt/motcua/.venv/bin/motcua-admin", "migrate"]
    assert one(service("motcua-migrate.service"), "Type") == "oneshot"


# ------------------------------------------------------------------------------------------ the units' setting


MOTCUA_UNITS = ["motcua-api@.service", "motcua-worker@.service", "motcua-migrate.service"]


@pytest.mark.parametrize("name", MOTCUA_UNITS)
def test_motcua_units_run_as_motcua_on_the_installation(name: str) -> None:
    section = service(name)
    assert one(section, "User") == one(section, "Group") == "motcua"
    assert one(section, "WorkingDirectory") == INSTALL_ROOT
    assert section["EnvironmentFile"][0] == MOTCUA_ENV_FILE
    assert one(section, "ReadWritePaths") == env_file(ENV_EXAMPLE)[0]["DATA_DIR"]


@pytest.mark.parametrize("name", [*MOTCUA_UNITS, "temporal@.service"])
def test_units_are_hardened(name: str) -> None:
    section = service(name)
    assert {key: one(section, key) for key in HARDENING} == HARDENING
    assert one(section, "CapabilityBoundingSet") == ""


@pytest.mark.parametrize("name", ["motcua-api@.service", "motcua-worker@.service"])
def test_api_processes_and_workers_start_after_the_migration(name: str) -> None:
    section = unit(name)["Unit"]
    assert "motcua-migrate.service" in " ".join(section["Wants"]).split()
    assert "motcua-migrate.service" in " ".join(section["After"]).split()
    assert one(unit(name)["Install"], "WantedBy") == "motcua.target"
    assert one(section, "PartOf") == "motcua.target"
    assert one(service(name), "Restart") == "on-failure"


def test_the_worker_stops_with_the_signal_that_drains_it() -> None:
    # worker.py turns SIGTERM, systemd's stop signal, into the cancellation Ctrl-C brings (asyncio's runner), which
    # shuts the Temporal worker down; a unit that sent another signal would need the worker to handle that one too.
    section = service("motcua-worker@.service")
    assert section.get("KillSignal", ["SIGTERM"]) == ["SIGTERM"]
    assert one(section, "KillMode") == "mixed"
    assert "add_signal_handler(signal.SIGTERM" in (PROJECT_ROOT / "worker.py").read_text()


def test_temporal_services_stop_as_the_launcher_stops_them() -> None:
    signals = {ClusterStack.STOP_SIGNALS[f"temporal-{name}"].name for name in TEMPORAL_SERVICES}
    assert signals == {one(service("temporal@.service"), "KillSignal")}
    assert one(unit("temporal@.service")["Install"], "WantedBy") == "temporal.target"


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    system_units = Path("/usr/lib/systemd/system")
    if analyze is None or not (system_units / "sysinit.target").exists():
        pytest.skip("systemd-analyze or systemd's own units are not installed")
    root = tmp_path / "root"
    shutil.copytree(system_units, root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(UNITS, root / "etc/systemd/system")
    for executable in (
        INSTALL_PYTHON,
        f"{INSTALL_ROOT}/.venv/bin/motcua-admin",
        f"{INSTALL_TEMPORAL}/bin/temporal-server",
    ):
        path = root / executable.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    names = ["motcua-api@8000.service", "motcua-worker@1.service", "motcua-migrate.service", "motcua.target",
             "temporal.target", *(f"temporal@{name}.service" for name in TEMPORAL_SERVICES)]  # fmt: skip
    result = subprocess.run([analyze, "verify", f"--root={root}", *names], capture_output=True, text=True)
    # It warns (and exits 0) on an unknown key or a bad value: any word from it is a fault.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


# ------------------------------------------------------------------------------------------- the settings


def test_every_variable_of_the_example_is_a_setting_or_read_by_a_unit() -> None:
    _, shown, _ = env_file(ENV_EXAMPLE)
    assert shown - setting_names() == UNIT_VARIABLES
    units_text = "".join(path.read_text() for path in UNITS.iterdir())
    for name in UNIT_VARIABLES:
        assert f"${{{name}}}" in units_text


def test_the_example_sets_what_production_needs() -> None:
    values, _, _ = env_file(ENV_EXAMPLE)
    missing = set(REQUIRED) - set(values)
    assert not missing, f"deploy/motcua.env.example does not set {sorted(missing)}"
    assert {name: values[name] for name, value in REQUIRED.items() if value is not None} == {
        name: value for name, value in REQUIRED.items() if value is not None
    }
    assert values["DATABASE_URL"].startswith("postgresql+psycopg://")


def test_the_examples_secrets_are_marked() -> None:
    _, shown, secret = env_file(ENV_EXAMPLE)
    typed = {name.upper() for name, field in Settings.model_fields.items() if SecretStr in _types(field.annotation)}
    assert typed <= shown, f"secret settings missing from the example: {sorted(typed - shown)}"
    assert secret == typed | PLAIN_SECRETS


def _types(annotation: object) -> set[object]:
    return {annotation, *getattr(annotation, "__args__", ())}


def test_the_example_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    values, _, _ = env_file(ENV_EXAMPLE)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "production"
    assert not settings.issues_own_tokens and not settings.generates_signing_keys
    assert not settings.migrate_on_start and not settings.workflow_sandbox
    assert {provider.principal for provider in settings.oidc_providers} == {"officer", "citizen"}
    assert settings.secure_cookies
    assert str(settings.data_dir) == DATA_DIR


# ------------------------------------------------------------------------------------------------ Temporal


def temporal_binary() -> Path:
    binary = TEMPORAL_SERVER_DIR / "bin" / "temporal-server"
    if not binary.exists():
        pytest.skip(f"{binary} not built (make temporal-server)")
    return binary


def rendered(config_dir: Path, service_name: str, environment: dict[str, str]) -> dict[str, object]:
    """The configuration a service reads, as Temporal itself loads it (base.yaml, then <service>.yaml)."""
    result = subprocess.run(
        [str(temporal_binary()), "--config", str(config_dir), "--env", service_name, "render-config"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", **environment}, check=True,
    )  # fmt: skip
    return yaml.safe_load(result.stdout)


def test_temporals_example_configuration_is_the_launchers(tmp_path: Path) -> None:
    """Each service's configuration, rendered by Temporal from deploy/temporal/ with the launcher's addresses, is
    the one the launcher writes, but for where it binds (an address of its own, not only the loopback) and where
    the dynamic configuration lies."""
    launcher = ClusterStack(
        ClusterConfig(data_dir=tmp_path, database_url="postgresql+psycopg://temporal:secret@127.0.0.1:5432/motcua")
    )
    environment = {
        "TEMPORAL_SQL_ADDRESS": "127.0.0.1:5432",
        "TEMPORAL_SQL_USER": "temporal",
        "TEMPORAL_SQL_PASSWORD": "secret",
        "TEMPORAL_HOST_ADDRESS": "127.0.0.1",
        "TEMPORAL_FRONTEND_ADDRESS": "127.0.0.1:7233",
    }
    for name in TEMPORAL_SERVICES:
        launcher._write_temporal_config(name)
        theirs = rendered(launcher.config.temporal_config_dir, name, {})
        ours = rendered(TEMPORAL_CONFIG, name, environment)
        for config in (theirs, ours):
            config["dynamicConfigClient"].pop("filepath")  # type: ignore[attr-defined]
        for rpc in (s["rpc"] for s in theirs["services"].values()):  # type: ignore[attr-defined]
            assert rpc.pop("bindOnLocalHost") is True and rpc.pop("bindOnIP") == ""
        for rpc in (s["rpc"] for s in ours["services"].values()):  # type: ignore[attr-defined]
            assert rpc.pop("bindOnLocalHost") is False and rpc.pop("bindOnIP") == "127.0.0.1"
        assert ours == theirs, name


def test_temporals_configuration_reads_its_environment_file() -> None:
    used = set()
    for path in TEMPORAL_CONFIG.glob("*.yaml"):
        used |= set(re.findall(r'env "(\w+)"', path.read_text()))
    values, shown, secret = env_file(TEMPORAL_ENV_EXAMPLE)
    assert used == shown == set(values)
    assert secret == {"TEMPORAL_SQL_PASSWORD"}
    assert one(service("temporal@.service"), "EnvironmentFile") == "/etc/temporal/temporal.env"


def test_temporals_configuration_takes_each_machines_address() -> None:
    ours = rendered(TEMPORAL_CONFIG, "history", {"TEMPORAL_HOST_ADDRESS": "10.0.0.11", "TEMPORAL_SQL_PASSWORD": "x"})
    assert ours["global"]["membership"]["broadcastAddress"] == "10.0.0.11"  # type: ignore[index]
    assert ours["global"]["metrics"]["prometheus"]["listenAddress"] == "10.0.0.11:9092"  # type: ignore[index]
    assert {s["rpc"]["bindOnIP"] for s in ours["services"].values()} == {"10.0.0.11"}  # type: ignore[attr-defined]
    assert "dynamicconfig.yaml" in ours["dynamicConfigClient"]["filepath"]  # type: ignore[index]


def test_temporals_dynamic_configuration_is_the_launchers_for_production() -> None:
    launcher = yaml.safe_load((PROJECT_ROOT / "devstack" / "temporal-dynamicconfig.yaml").read_text())
    ours = yaml.safe_load((TEMPORAL_CONFIG / "dynamicconfig.yaml").read_text())
    assert ours == {key: value for key, value in launcher.items() if key not in DEVELOPMENT_ONLY_DYNAMIC_CONFIG}


def test_the_deployment_guide_lists_the_launchers_ports() -> None:
    """The ports table of docs/deployment.md: one row per Temporal service, as the launcher assigns them."""
    rows = {}
    for line in DEPLOYMENT_DOC.read_text().splitlines():
        cells = [cell.strip(" `") for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("Temporal ") and cells[0].split()[1] in TEMPORAL_SERVICES:
            rows[cells[0].split()[1]] = cells[1:]
    expected = {
        name: [str(ports.grpc), str(ports.membership), str(ports.metrics), str(ports.http or "-")]
        for name, ports in fixed_service_ports().items()
    }
    assert rows == expected


def test_the_deployment_guide_names_temporals_databases() -> None:
    text = DEPLOYMENT_DOC.read_text()
    for database, schema in TEMPORAL_DATABASES.items():
        assert f"--db {database} " in text
        assert f"schema/postgresql/v12/{schema}/versioned" in text
