"""Keycloak, a real OpenID Connect server, playing the national single sign-on (officers) and VNeID (citizens) for
the dev stack and the tests.

`make oidc-server` fetches Keycloak's Quarkus distribution from Maven Central into .tools/keycloak-<version>/ and
builds it once (`kc.sh build`: H2 dev-file database, local caches, health checks), so that each start is
`kc.sh start --optimized` and skips Quarkus's augmentation (20 s on two cores; `start-dev` does it at every start).
Each server gets a home of its own under the given data folder (links to the installation, and its own `data/`
with the H2 database and the realm import), so the tests' server and `make run`'s never share a file.

The two realms are generated here at each start, from the demo officers and citizens below: the realm files are
imported into a fresh database, and a database whose realms match the files is kept (a warm start).
Development only: the passwords and client secrets are fixed and printed.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from devstack.oidc_realms import (
    APP_CLIENT_ID,
    APP_CLIENT_SECRET,
    CONSOLE_ADMIN,
    DEMO_CITIZENS,
    DEMO_OFFICERS,
    MACHINE_CLIENTS,
    NATIONAL_SSO,
    REALMS,
    VNEID,
    DemoCitizen,
    DemoOfficer,
    realm_documents,
)
from devstack.stack import StackError, free_port
from infrastructure.settings import PROJECT_ROOT

KEYCLOAK_VERSION = "26.7.3"
KEYCLOAK_HOME = PROJECT_ROOT / ".tools" / f"keycloak-{KEYCLOAK_VERSION}"
MINIMUM_JAVA = 21
# Build-time options (`kc.sh build`); everything else is given at each start.
BUILD_OPTIONS = ("--db=dev-file", "--health-enabled=true", "--cache=local")

# ------------------------------------------------------------------------------------------------ installation


def _java_major(java_home: Path) -> int | None:
    """The feature version of a JDK: its `release` file, else what its `java -version` says."""
    release = java_home / "release"
    text = ""
    if release.exists():
        match = re.search(r'^JAVA_VERSION="([^"]+)"', release.read_text(errors="replace"), re.MULTILINE)
        text = match.group(1) if match else ""
    if not text and (java_home / "bin" / "java").exists():
        try:
            done = subprocess.run(
                [str(java_home / "bin" / "java"), "-version"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        match = re.search(r'version "([^"]+)"', done.stderr)
        text = match.group(1) if match else ""
    match = re.match(r"(?:1\.)?(\d+)", text)
    return int(match.group(1)) if match else None


def find_java_home() -> Path:
    """A JDK that Keycloak runs on (21 or later): KEYCLOAK_JAVA_HOME if set, else the newest in /usr/lib/jvm, else
    the `java` on PATH."""
    override = os.environ.get("KEYCLOAK_JAVA_HOME")
    if override:
        if (_java_major(Path(override)) or 0) < MINIMUM_JAVA:
            raise StackError(f"KEYCLOAK_JAVA_HOME={override} is not a JDK {MINIMUM_JAVA} or later")
        return Path(override)
    candidates: list[tuple[int, Path]] = []
    seen: set[Path] = set()
    jvm = Path("/usr/lib/jvm")
    homes = sorted(jvm.iterdir()) if jvm.is_dir() else []
    on_path = shutil.which("java")
    if on_path:
        homes.append(Path(on_path).resolve().parent.parent)
    for home in homes:
        real = home.resolve()
        if real in seen or not (real / "bin" / "java").exists():
            continue
        seen.add(real)
        major = _java_major(real)
        if major is not None and major >= MINIMUM_JAVA:
            candidates.append((major, real))
    if not candidates:
        raise StackError(
            f"Keycloak {KEYCLOAK_VERSION} needs Java {MINIMUM_JAVA} or later: none in /usr/lib/jvm or PATH"
        )
    return max(candidates)[1]


def ensure_built(install: Path = KEYCLOAK_HOME) -> None:
    """Run `kc.sh build` with BUILD_OPTIONS unless the installation was built with them (once; under a lock, since
    the build rewrites the installation's lib/quarkus)."""
    if not (install / "bin" / "kc.sh").exists():
        raise StackError(f"Keycloak {KEYCLOAK_VERSION} is not in {install}: run `make oidc-server`")
    stamp = install / ".built"
    wanted = " ".join(BUILD_OPTIONS)
    with open(install / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == wanted:
            return
        env = {**os.environ, "JAVA_HOME": str(find_java_home())}
        started = time.monotonic()
        done = subprocess.run(
            [str(install / "bin" / "kc.sh"), "build", *BUILD_OPTIONS], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise StackError(f"kc.sh build failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        stamp.write_text(wanted)
        print(f"built Keycloak {KEYCLOAK_VERSION} ({wanted}) in {time.monotonic() - started:.1f} s", flush=True)


# ------------------------------------------------------------------------------------------------ the server


@dataclass
class OidcServer:
    """One Keycloak on 127.0.0.1:`port` with the realms `national-sso` and `vneid`; its home (H2 database, realm
    import) in `data_dir`, its output in `log_file`."""

    data_dir: Path
    log_file: Path
    port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    officers: tuple[DemoOfficer, ...] = DEMO_OFFICERS
    citizens: tuple[DemoCitizen, ...] = DEMO_CITIZENS
    install: Path = KEYCLOAK_HOME
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    start_seconds: float | None = field(default=None, init=False)  # from spawn to both realms' discovery answering
    warm: bool = field(default=False, init=False)  # the database of a previous start was kept
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)
    _started_at: float = field(default=0.0, init=False, repr=False)
    _fingerprint: str = field(default="", init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issuer(self, realm: str) -> str:
        return f"{self.url}/realms/{realm}"

    def discovery_url(self, realm: str) -> str:
        return f"{self.issuer(realm)}/.well-known/openid-configuration"

    def jwks_url(self, realm: str) -> str:
        return f"{self.issuer(realm)}/protocol/openid-connect/certs"

    def token_url(self, realm: str) -> str:
        return f"{self.issuer(realm)}/protocol/openid-connect/token"

    def login_providers(self) -> list[dict[str, Any]]:
        """OIDC_PROVIDERS entries that let browsers sign in to motcua through both realms (api/pages/oidc_login.py),
        and the national SSO's machine clients (the portal) call with client-credentials tokens, each with the scopes
        the realm gives it."""
        machine_clients = {client.client_id: list(client.scopes) for client in MACHINE_CLIENTS}
        realms = (
            (VNEID, "citizen", "Đăng nhập bằng VNeID"),
            (NATIONAL_SSO, "officer", "Đăng nhập qua hệ thống SSO quốc gia"),
        )
        return [
            {
                "name": realm,
                "display_name": display,
                "principal": principal,
                "issuer": self.issuer(realm),
                "jwks_url": self.jwks_url(realm),
                "discovery_url": self.discovery_url(realm),
                "client_id": APP_CLIENT_ID,
                "client_secret": APP_CLIENT_SECRET,
                "audience": APP_CLIENT_ID,
                **({"machine_clients": machine_clients} if realm == NATIONAL_SSO else {}),
            }
            for realm, principal, display in realms
        ]

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}/health/ready"

    def spawn(self) -> None:
        """Start Keycloak without waiting for it (see wait_ready), so that other parts can start meanwhile."""
        ensure_built(self.install)
        self._prepare_home()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_file, "ab")  # noqa: SIM115
        cmd = [
            str(self.install / "bin" / "kc.sh"),
            "start",
            "--optimized",
            f"-Dkc.home.dir={self.data_dir}",  # after kc.sh's own, so it wins
            "--http-enabled=true",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
            "--hostname-strict=false",
            "--import-realm",
        ]
        env = {
            **os.environ,
            "JAVA_HOME": str(find_java_home()),
            "KC_BOOTSTRAP_ADMIN_USERNAME": CONSOLE_ADMIN[0],
            "KC_BOOTSTRAP_ADMIN_PASSWORD": CONSOLE_ADMIN[1],
        }
        self._started_at = time.monotonic()
        self.process = subprocess.Popen(
            cmd, cwd=self.data_dir, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 120) -> float:
        """Wait until both realms' discovery documents answer; return the seconds since spawn."""
        process = self.process
        assert process is not None, "spawn() first"
        deadline = self._started_at + timeout
        pending = list(REALMS)
        with httpx.Client(timeout=2) as client:
            while pending:
                if process.poll() is not None:
                    raise StackError(f"Keycloak exited with code {process.returncode}\n{self._log_tail()}")
                if time.monotonic() > deadline:
                    raise StackError(f"Keycloak did not answer within {timeout:.0f} s\n{self._log_tail()}")
                try:
                    if client.get(self.discovery_url(pending[0])).status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        self.start_seconds = time.monotonic() - self._started_at
        (self.data_dir / "data" / "realms.sha256").write_text(self._fingerprint)
        return self.start_seconds

    def start(self, timeout: float = 120) -> float:
        self.spawn()
        try:
            return self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (kc.sh hands it to the JVM, which shuts down cleanly), then SIGKILL to the whole group; a server
        still starting gets 5 s (SIGTERM waits for its bootstrap, and its database is made afresh next time)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout if self.start_seconds is not None else 5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    # -------------------------------------------------------------------------------- administration (admin REST API)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call to Keycloak's admin REST API (`/admin/realms/...`) as the console's administrator."""
        with httpx.Client(base_url=self.url, timeout=15) as client:
            token = client.post(
                "/realms/master/protocol/openid-connect/token",
                data={"grant_type": "password", "client_id": "admin-cli",
                      "username": CONSOLE_ADMIN[0], "password": CONSOLE_ADMIN[1]},
            )  # fmt: skip
            token.raise_for_status()
            answer = client.request(
                method, f"/admin/realms{path}", headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                **kwargs,
            )  # fmt: skip
        answer.raise_for_status()
        return answer

    def send_sign_outs_to(self, api_url: str) -> None:
        """Point both realms' motcua client's back-channel sign-out at the API listening at `api_url`, so that a session
        ended at the provider ends motcua's at once (api/pages/oidc_login.py)."""
        for realm in REALMS:
            client = self.admin("GET", f"/{realm}/clients", params={"clientId": APP_CLIENT_ID}).json()[0]
            client["attributes"]["backchannel.logout.url"] = (
                f"{api_url.rstrip('/')}/sign-in/{realm}/back-channel-logout"
            )
            self.admin("PUT", f"/{realm}/clients/{client['id']}", json=client)

    def end_sessions_of(self, realm: str, username: str) -> None:
        """End every session of a user at the provider, as an administrator would (the user is signed out)."""
        user = self.admin("GET", f"/{realm}/users", params={"username": username, "exact": "true"}).json()[0]
        self.admin("POST", f"/{realm}/users/{user['id']}/logout")

    def __enter__(self) -> OidcServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _prepare_home(self) -> None:
        """A home of its own: links to the installation's parts, and its own data/ (database, import folder).
        The database is kept only when it was made from the same realm files."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for part in ("bin", "lib", "conf", "providers", "themes"):
            link = self.data_dir / part
            if link.is_symlink() or link.exists():
                if link.is_symlink() and link.resolve() == (self.install / part).resolve():
                    continue
                link.unlink() if link.is_symlink() else shutil.rmtree(link)
            link.symlink_to(self.install / part)
        data = self.data_dir / "data"
        imports = data / "import"
        shutil.rmtree(imports, ignore_errors=True)
        imports.mkdir(parents=True)
        documents = realm_documents(self.officers, self.citizens)
        texts = {name: json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) for name, doc in documents.items()}
        for name, text in texts.items():
            (imports / f"{name}-realm.json").write_text(text, encoding="utf-8")
        fingerprint = hashlib.sha256(
            json.dumps([KEYCLOAK_VERSION, texts, CONSOLE_ADMIN], sort_keys=True).encode()
        ).hexdigest()
        stamp = data / "realms.sha256"
        self.warm = stamp.exists() and stamp.read_text() == fingerprint and (data / "h2").exists()
        if not self.warm:
            # The stamp is written once the realms answer (wait_ready): a start cut short leaves no database to keep.
            stamp.unlink(missing_ok=True)
            shutil.rmtree(data / "h2", ignore_errors=True)
            shutil.rmtree(data / "transaction-logs", ignore_errors=True)
        self._fingerprint = fingerprint

    def _log_tail(self, lines: int = 40) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def describe(self) -> str:
        """The issuers, clients and demo logins (development only), for a banner."""
        officers = "  ".join(f"{o.username}/{o.password}" for o in self.officers)
        citizens = "  ".join(f"{c.username}/{c.password} ({c.citizen_id})" for c in self.citizens)
        machines = "  ".join(f"{m.client_id}/{m.secret} [{' '.join(m.scopes)}]" for m in MACHINE_CLIENTS)
        return (
            f"  OIDC           Keycloak {KEYCLOAK_VERSION} {self.url}   (console {self.url}/admin "
            f"{CONSOLE_ADMIN[0]}/{CONSOLE_ADMIN[1]}; ready in {self.start_seconds or 0:.1f} s)\n"
            f"    national SSO  {self.issuer(NATIONAL_SSO)}   officers: {officers}\n"
            f"    VNeID         {self.issuer(VNEID)}   citizens: {citizens}\n"
            f"    clients       {APP_CLIENT_ID}/{APP_CLIENT_SECRET} (code + PKCE S256, both realms)   "
            f"national SSO machine clients: {machines}\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m devstack.oidc_server", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build the installation once for quick starts (make oidc-server)")
    commands.add_parser("java-home", help="print the JDK Keycloak runs on")
    run_parser = commands.add_parser("run", help="start Keycloak alone with the two realms (Ctrl-C stops it)")
    run_parser.add_argument("--port", type=int, default=8180)
    run_parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT / ".data" / "oidc-server")
    args = parser.parse_args()
    try:
        if args.command == "build":
            ensure_built()
        elif args.command == "java-home":
            print(find_java_home())
        else:
            server = OidcServer(args.data_dir, args.data_dir.parent / "logs" / "keycloak.log", port=args.port)
            seconds = server.start()
            print(f"Keycloak ready in {seconds:.1f} s ({'warm' if server.warm else 'fresh database'})")
            print(server.describe(), flush=True)
            try:
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
                signal.sigwait({signal.SIGINT, signal.SIGTERM})
            finally:
                server.stop()
    except StackError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
