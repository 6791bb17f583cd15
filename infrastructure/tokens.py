"""Bearer tokens (JWT): motcua's own issuer for development and tests, and OpenID Connect providers' tokens
(keys from their JWKS URL) for the national single sign-on (officers) and VNeID (citizens)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt import PyJWK, PyJWKClient

from infrastructure.keys import rsa_private_key
from infrastructure.settings import OidcProvider, Settings

ALGORITHMS = ["RS256", "ES256"]
CITIZEN_ID = re.compile(r"^\d{12}$")


class InvalidToken(Exception):
    """The token is not one motcua accepts; the message says why (for the 401 answer)."""


class UnknownClient(Exception):
    """A valid client-credentials token of a machine client motcua was not configured to accept (403)."""


@dataclass(frozen=True)
class TokenIdentity:
    """Who a verified token names. Officers' units and roles come from the registry, never from the token."""

    principal: Literal["officer", "citizen", "client"]
    subject: str  # the officer id in the registry, the citizen's subject at their provider, or the client id
    issuer: str
    citizen_id: str | None = None
    scopes: frozenset[str] = frozenset()  # a machine client's: its token's scopes that its configuration allows


class TokenIssuer:
    """motcua's own issuer: RS256 with a key kept in the data folder, published as a JWKS."""

    def __init__(self, settings: Settings) -> None:
        self._key = rsa_private_key(settings.issuer_key_path)
        self._public: RSAPublicKey = self._key.public_key()
        self._jwk = PyJWK.from_json(jwt.algorithms.RSAAlgorithm.to_jwk(self._public))
        self.key_id = jwt.algorithms.RSAAlgorithm.to_jwk(self._public, as_dict=True)["n"][:16]
        self.issuer = settings.token_issuer
        self.audience = settings.token_audience
        self.lifetime_seconds = settings.token_lifetime_minutes * 60

    @property
    def public_key(self) -> RSAPublicKey:
        return self._public

    def issue_officer(self, officer_id: str, lifetime_seconds: int | None = None) -> str:
        return self._issue({"sub": officer_id, "kind": "officer"}, lifetime_seconds)

    def issue_citizen(self, citizen_id: str, lifetime_seconds: int | None = None) -> str:
        if not CITIZEN_ID.match(citizen_id):
            raise ValueError("a citizen ID has 12 digits")
        return self._issue(
            {"sub": f"citizen:{citizen_id}", "kind": "citizen", "citizen_id": citizen_id}, lifetime_seconds
        )

    def _issue(self, claims: dict[str, Any], lifetime_seconds: int | None) -> str:
        now = int(time.time())
        payload = {
            **claims,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + (lifetime_seconds or self.lifetime_seconds),
        }
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": self.key_id})

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._public, as_dict=True)
        return {"keys": [{**jwk, "kid": self.key_id, "use": "sig", "alg": "RS256"}]}


class TokenVerifier:
    def __init__(self, settings: Settings, own: TokenIssuer | None) -> None:
        self._own = own
        self._providers: dict[str, tuple[OidcProvider, PyJWKClient]] = {
            p.issuer: (p, PyJWKClient(p.jwks_url, cache_keys=True, lifespan=3600, timeout=5))
            for p in settings.oidc_providers
        }

    def verify(self, token: str) -> TokenIdentity:
        """Check signature, issuer, audience and expiry. Blocking: a provider's JWKS may be fetched."""
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        if self._own is not None and issuer == self._own.issuer:
            claims = self._decode(token, self._own.public_key, self._own.issuer, self._own.audience)
            return self._own_identity(claims)
        if isinstance(issuer, str) and issuer in self._providers:
            provider, jwks = self._providers[issuer]
            try:
                key = jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWTError as exc:
                raise InvalidToken(f"no key of {issuer} verifies this token: {exc}") from None
            claims = self._decode(token, key, provider.issuer, provider.audience)
            return self._provider_identity(provider, claims)
        raise InvalidToken(f"tokens of issuer {issuer!r} are not accepted")

    @staticmethod
    def _decode(token: str, key: Any, issuer: str, audience: str) -> dict[str, Any]:
        # Only the algorithm the key is for: a header naming another (ES256 against an RSA key) is refused here,
        # not left to the signature code, which raises what no caller expects.
        if isinstance(key, RSAPublicKey | RSAPrivateKey):
            algorithms = ["RS256"]
        elif isinstance(key, EllipticCurvePublicKey | EllipticCurvePrivateKey):
            algorithms = ["ES256"]
        else:
            algorithms = ALGORITHMS
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from None
        if algorithm not in algorithms:
            raise InvalidToken(f"the token's algorithm {str(algorithm)[:20]!r} is not its key's ({algorithms[0]})")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=issuer,
                audience=audience,
                options={"require": ["exp", "iat", "sub", "iss"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        except (TypeError, ValueError) as exc:  # a key the signature code cannot use for this token
            raise InvalidToken(f"no key verifies this token: {exc}") from None

    def _own_identity(self, claims: dict[str, Any]) -> TokenIdentity:
        assert self._own is not None
        if claims.get("kind") == "citizen":
            return _citizen(claims.get("citizen_id"), claims["sub"], self._own.issuer)
        if claims.get("kind") == "officer":
            return TokenIdentity(principal="officer", subject=str(claims["sub"]), issuer=self._own.issuer)
        raise InvalidToken("the token says neither officer nor citizen")

    @staticmethod
    def _provider_identity(provider: OidcProvider, claims: dict[str, Any]) -> TokenIdentity:
        client = _machine_client(provider, claims)
        if client is not None:
            return client
        if provider.principal == "citizen":
            return _citizen(claims.get(provider.citizen_id_claim), str(claims["sub"]), provider.issuer)
        subject = claims.get(provider.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise InvalidToken(f"the token has no {provider.subject_claim!r} claim")
        return TokenIdentity(principal="officer", subject=subject, issuer=provider.issuer)


def _machine_client(provider: OidcProvider, claims: dict[str, Any]) -> TokenIdentity | None:
    """A client-credentials token: issued to the client itself (its service account, Keycloak's
    `service-account-<client>`), naming no person. Recognised only for the clients the provider's configuration
    lists, which sign in with a secret and have no browser login, so no person's token carries their `azp`."""
    azp = claims.get("azp")
    client_id = claims.get("client_id")
    username = claims.get("preferred_username")
    person_claim = provider.citizen_id_claim if provider.principal == "citizen" else provider.subject_claim
    looks_like_client = isinstance(client_id, str) or (
        isinstance(username, str) and username.startswith("service-account-")
    )
    if not (isinstance(azp, str) and azp in provider.machine_clients):
        if looks_like_client and (person_claim == "sub" or person_claim not in claims):
            raise UnknownClient(f"{str(client_id or azp)[:80]!r} is not a machine client motcua accepts")
        return None
    if client_id is not None and client_id != azp:
        raise InvalidToken("the token's client_id and azp disagree")
    if username is not None and username != f"service-account-{azp}":
        raise InvalidToken(f"a token of {azp!r} for a person, not for the client itself")
    if person_claim != "sub" and person_claim in claims:
        raise InvalidToken(f"a token of {azp!r} naming a person ({person_claim})")
    scope = claims.get("scope")
    granted = set(scope.split()) if isinstance(scope, str) else set()
    allowed = frozenset(granted & set(provider.machine_clients[azp]))
    return TokenIdentity(principal="client", subject=azp, issuer=provider.issuer, scopes=allowed)


def _citizen(citizen_id: Any, subject: str, issuer: str) -> TokenIdentity:
    if not isinstance(citizen_id, str) or not CITIZEN_ID.match(citizen_id):
        raise InvalidToken("a citizen token carries a 12-digit citizen ID")
    return TokenIdentity(principal="citizen", subject=subject, issuer=issuer, citizen_id=citizen_id)
