"""The two realms Keycloak plays for the dev stack and the tests: the national single sign-on (officers) and VNeID
(citizens), with motcua's login client in each, the machine clients of the national SSO and the demo people.

Generated as the documents Keycloak imports (`realm_documents`); development only: the passwords and client secrets
are fixed, and printed by the launcher.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

NATIONAL_SSO = "national-sso"  # officers
VNEID = "vneid"  # citizens
REALMS = (NATIONAL_SSO, VNEID)

# The application's client in each realm: authorization code with PKCE (S256), confidential.
APP_CLIENT_ID = "motcua"
APP_CLIENT_SECRET = "motcua-dev-secret"
# Loopback redirect URIs: Keycloak ignores the port of an http://127.0.0.1 or http://localhost redirect URI
# (RFC 8252 §7.3), so these allow any port; Keycloak has no port wildcard (`:*`).
DEV_REDIRECT_URIS = ("http://127.0.0.1/*", "http://localhost/*")
# The administrator of Keycloak's own master realm (its console at /admin); development only.
CONSOLE_ADMIN = ("admin", "admin")


@dataclass(frozen=True)
class MachineClient:
    """A system calling motcua with its own credentials (client credentials), limited to its scopes."""

    client_id: str
    secret: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class DemoOfficer:
    """An officer of the national SSO; `officer_id` is the registry's id, the token's `sub` and `officer_id`."""

    officer_id: str
    given_name: str
    family_name: str
    password: str = "demo"

    @property
    def username(self) -> str:
        return self.officer_id.lower()  # Keycloak keeps usernames in lower case


@dataclass(frozen=True)
class DemoCitizen:
    """A VNeID account; its 12-digit `citizen_id` reaches the ID token as the claim `citizen_id`."""

    username: str
    citizen_id: str
    given_name: str
    family_name: str
    password: str = "demo"


MACHINE_CLIENTS = (
    # The national portal pushes dossiers (POST /portal/dossiers) and reads back what it pushed.
    MachineClient("national-portal", "national-portal-dev-secret", ("dossiers:receive", "dossiers:read")),
    # A reporting system that reads only: pushing is refused for want of `dossiers:receive`.
    MachineClient("reporting", "reporting-dev-secret", ("dossiers:read",)),
)
MACHINE_SCOPES = tuple(sorted({scope for client in MACHINE_CLIENTS for scope in client.scopes}))

# Officers of the national SSO at Hà Nội (H01), named like the suite's `role@unit` ids (tests/support.py); `make run`
# registers them with their roles (devstack/demo_officers.py) beside the bootstrap administrator (`admin`).
DEMO_OFFICERS = (
    DemoOfficer("admin", "Quản trị", "Hệ thống"),
    DemoOfficer("reception@H01", "Tiếp nhận", "Hà Nội"),
    DemoOfficer("specialist@H01", "Chuyên viên", "Hà Nội"),
    DemoOfficer("leader@H01", "Lãnh đạo", "Hà Nội"),
)
DEMO_CITIZENS = (
    DemoCitizen("nguyenvanan", "001090000001", "An", "Nguyễn Văn"),
    DemoCitizen("tranthibinh", "079185000002", "Bình", "Trần Thị"),
)


# ------------------------------------------------------------------------------------------------ realms


def _attribute_mapper(name: str, attribute: str, claim: str) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "config": {
            "user.attribute": attribute,
            "claim.name": claim,
            "jsonType.label": "String",
            "id.token.claim": "true",
            "access.token.claim": "true",
            "userinfo.token.claim": "true",
            "introspection.token.claim": "true",
        },
    }


def _audience_mapper(audience: str) -> dict[str, Any]:
    return {
        "name": f"audience {audience}",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {
            "included.custom.audience": audience,
            "access.token.claim": "true",
            "id.token.claim": "false",
            "introspection.token.claim": "true",
        },
    }


def _scope(name: str, mappers: list[dict[str, Any]], *, in_token_scope: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "openid-connect",
        "attributes": {"include.in.token.scope": str(in_token_scope).lower(), "display.on.consent.screen": "false"},
        "protocolMappers": mappers,
    }


def _client_scopes() -> list[dict[str, Any]]:
    """A realm import that names its client scopes gets no default ones, so the standard scopes are here too."""
    basic = [
        {
            "name": "sub",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-sub-mapper",
            "config": {"access.token.claim": "true", "introspection.token.claim": "true"},
        }
    ]
    profile = [
        _attribute_mapper("username", "username", "preferred_username"),
        _attribute_mapper("given name", "firstName", "given_name"),
        _attribute_mapper("family name", "lastName", "family_name"),
        {
            "name": "full name",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-full-name-mapper",
            "config": {"id.token.claim": "true", "access.token.claim": "true", "userinfo.token.claim": "true"},
        },
    ]
    email = [_attribute_mapper("email", "email", "email")]
    return [
        _scope("basic", basic, in_token_scope=False),
        _scope("profile", profile),
        _scope("email", email),
        *(_scope(name, []) for name in MACHINE_SCOPES),
    ]


def _user_profile(extra_attribute: str, pattern: str) -> dict[str, Any]:
    """Keycloak's declarative user profile: the standard attributes and the realm's own, which only an
    administrator may change."""

    def attribute(name: str, *, edit: list[str], required: bool = False, validations: dict[str, Any] | None = None):
        entry: dict[str, Any] = {
            "name": name,
            "displayName": name,
            "permissions": {"view": ["admin", "user"], "edit": edit},
            "validations": validations or {},
            "multivalued": False,
        }
        if required:
            entry["required"] = {"roles": ["admin", "user"]}
        return entry

    return {
        "attributes": [
            attribute("username", edit=["admin", "user"], validations={"length": {"min": 1, "max": 255}}),
            attribute("email", edit=["admin", "user"], validations={"email": {}}),
            attribute("firstName", edit=["admin", "user"], required=True),
            attribute("lastName", edit=["admin", "user"], required=True),
            attribute(extra_attribute, edit=["admin"], validations={"pattern": {"pattern": pattern}}),
        ],
        "groups": [],
        "unmanagedAttributePolicy": "ADMIN_VIEW",
    }


def _user(
    username: str, given: str, family: str, password: str, attributes: dict[str, str], user_id: str | None = None
) -> dict[str, Any]:
    user: dict[str, Any] = {
        "username": username,
        "enabled": True,
        "firstName": given,
        "lastName": family,
        "email": f"{re.sub(r'[^a-z0-9.]+', '.', username.lower())}@example.test",
        "emailVerified": True,
        "attributes": {name: [value] for name, value in attributes.items()},
        "credentials": [{"type": "password", "value": password, "temporary": False}],
        "requiredActions": [],
    }
    if user_id:
        user["id"] = user_id
    return user


def _app_client(claim_mapper: dict[str, Any]) -> dict[str, Any]:
    return {
        "clientId": APP_CLIENT_ID,
        "name": "motcua",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": APP_CLIENT_SECRET,
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "consentRequired": False,
        "redirectUris": list(DEV_REDIRECT_URIS),
        "webOrigins": ["+"],
        # Sign-outs at the provider reach motcua server to server, naming the provider's session (`sid`); the address
        # depends on where the API listens, so OidcServer.send_sign_outs_to sets it once the API's port is known.
        "frontchannelLogout": False,
        "attributes": {
            "pkce.code.challenge.method": "S256",
            "post.logout.redirect.uris": "##".join(DEV_REDIRECT_URIS),
            "backchannel.logout.session.required": "true",
            "backchannel.logout.revoke.offline.tokens": "false",
        },
        "defaultClientScopes": ["basic", "profile", "email"],
        "optionalClientScopes": [],
        # The ID token's audience is the client (motcua) already; its access tokens name it too.
        "protocolMappers": [claim_mapper, _audience_mapper(APP_CLIENT_ID)],
    }


def _machine_client(client: MachineClient) -> dict[str, Any]:
    return {
        "clientId": client.client_id,
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": client.secret,
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": True,
        "fullScopeAllowed": False,
        "defaultClientScopes": ["basic", *client.scopes],
        "optionalClientScopes": [],
        # Its access tokens are for motcua's API.
        "protocolMappers": [_audience_mapper(APP_CLIENT_ID)],
    }


def _realm(name: str, display: str, users: list[dict[str, Any]], clients: list[dict[str, Any]], profile: dict):
    return {
        "realm": name,
        "displayName": display,
        "enabled": True,
        "sslRequired": "none",  # dev: plain http on loopback
        "registrationAllowed": False,
        "loginWithEmailAllowed": False,
        "accessTokenLifespan": 600,
        "clientScopes": _client_scopes(),
        "defaultDefaultClientScopes": ["basic", "profile", "email"],
        "defaultOptionalClientScopes": [],
        "clients": clients,
        "users": users,
        "components": {
            "org.keycloak.userprofile.UserProfileProvider": [
                {
                    "providerId": "declarative-user-profile",
                    "subComponents": {},
                    "config": {"kc.user.profile.config": [json.dumps(profile)]},
                }
            ]
        },
    }


def realm_documents(
    officers: tuple[DemoOfficer, ...] = DEMO_OFFICERS, citizens: tuple[DemoCitizen, ...] = DEMO_CITIZENS
) -> dict[str, dict[str, Any]]:
    """The two realms, as Keycloak imports them."""
    officer_users = [
        # The user's id is the officer id, so the ID token's `sub` is what the registry knows the officer by.
        _user(o.username, o.given_name, o.family_name, o.password, {"officer_id": o.officer_id}, user_id=o.officer_id)
        for o in officers
    ]
    # Machine clients' service accounts are users too; Keycloak creates them (serviceAccountsEnabled).
    sso = _realm(
        NATIONAL_SSO,
        "Hệ thống định danh cán bộ (national SSO, dev)",
        officer_users,
        [
            _app_client(_attribute_mapper("officer id", "officer_id", "officer_id")),
            *(_machine_client(client) for client in MACHINE_CLIENTS),
        ],
        _user_profile("officer_id", r"^.{1,100}$"),
    )
    citizen_users = [
        _user(c.username, c.given_name, c.family_name, c.password, {"citizen_id": c.citizen_id}) for c in citizens
    ]
    vneid = _realm(
        VNEID,
        "VNeID (dev)",
        citizen_users,
        [_app_client(_attribute_mapper("citizen id", "citizen_id", "citizen_id"))],
        _user_profile("citizen_id", r"^\d{12}$"),
    )
    return {NATIONAL_SSO: sso, VNEID: vneid}
