"""The OpenID Connect relying party: discovery, code flow with PKCE, ID token and userinfo checks.

Every call here goes over the network: callers hold no database transaction while they run.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from referentials.core.errors import AppError, Unauthorized
from referentials.core.oauth.keys import LEEWAY_SECONDS, refusal
from referentials.core.settings import PscSettings

ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
METADATA_TTL_SECONDS = 3600


class ProviderUnavailable(AppError):
    status_code = 502
    code = "provider_unavailable"


def refused(reason: str) -> Unauthorized:
    return Unauthorized(f"Pro Santé Connect sign-in refused: {reason}", code="sign_in_refused")


@dataclass(frozen=True)
class Flow:
    """What the browser's flow cookie keeps between the redirect and the callback."""

    url: str
    state: str
    nonce: str
    verifier: str


class RelyingParty:
    """One provider, its discovery document and keys cached for the process."""

    def __init__(self, settings: PscSettings, *, redirect_uri: str) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: KeySet | None = None

    def _get(self, url: str) -> requests.Response:
        try:
            response = requests.get(url, timeout=self.settings.timeout_seconds)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"the provider did not answer at {url}") from exc
        return response

    def metadata(self) -> dict[str, Any]:
        """The discovery document (.well-known/openid-configuration), kept an hour."""
        with self._lock:
            cached = self._metadata
        if cached is not None and time.monotonic() - cached[0] < METADATA_TTL_SECONDS:
            return cached[1]
        doc = self._get(self.settings.discovery_url).json()
        with self._lock:
            self._metadata = (time.monotonic(), doc)
        return dict(doc)

    def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys; fetched again when a token names an unknown one."""
        if self._keys is None or refresh:
            jwks = self._get(self.metadata()["jwks_uri"]).json()
            self._keys = KeySet.import_key_set(jwks)
        return self._keys

    def _session(self) -> OAuth2Session:
        return OAuth2Session(
            self.settings.client_id,
            self.settings.client_secret,
            scope=self.settings.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )

    def start(self) -> Flow:
        """The provider's authorisation URL with a fresh state, nonce and PKCE verifier."""
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        extra = {"acr_values": self.settings.acr_values} if self.settings.acr_values else {}
        url, _ = self._session().create_authorization_url(
            self.metadata()["authorization_endpoint"],
            state=state,
            nonce=nonce,
            code_verifier=verifier,
            **extra,
        )
        return Flow(url=url, state=state, nonce=nonce, verifier=verifier)

    def finish(self, *, code: str, nonce: str, verifier: str) -> dict[str, Any]:
        """Exchange the code, verify the ID token, read the userinfo; the merged claims."""
        session = self._session()
        try:
            token = session.fetch_token(
                self.metadata()["token_endpoint"],
                code=code,
                code_verifier=verifier,
                timeout=self.settings.timeout_seconds,
            )
        except OAuthError as exc:
            raise refused(f"the provider refused the code ({exc.error})") from exc
        except requests.RequestException as exc:
            raise ProviderUnavailable("the provider's token endpoint did not answer") from exc
        if "id_token" not in token:
            raise refused("the provider sent no ID token")
        id_claims = self.verify_id_token(str(token["id_token"]), nonce=nonce)
        userinfo = self.userinfo(session)
        if userinfo.get("sub") != id_claims["sub"]:
            raise refused("the userinfo is about another subject than the ID token")
        return {**userinfo, **id_claims}

    def _decode(self, value: str) -> jwt.Token:
        try:
            try:
                return jwt.decode(value, self.keys(), algorithms=ID_TOKEN_ALGORITHMS)
            except InvalidKeyIdError:
                # A key id the cached set does not know: the provider rotated its keys.
                return jwt.decode(value, self.keys(refresh=True), algorithms=ID_TOKEN_ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise refused("bad signature on the provider's token") from exc

    def verify_id_token(self, value: str, *, nonce: str) -> dict[str, Any]:
        """Signature (provider's JWKS), issuer, audience, expiry, nonce and, if set, acr."""
        decoded = self._decode(value)
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.metadata()["issuer"]},
            "aud": {"essential": True, "value": self.settings.client_id},
            "exp": {"essential": True},
            "sub": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        }
        if self.settings.required_acr:
            options["acr"] = {"essential": True, "value": self.settings.required_acr}
        try:
            jwt.JWTClaimsRegistry(leeway=LEEWAY_SECONDS, **options).validate(decoded.claims)
        except JoseError as exc:
            reason = refusal(exc)
            if "acr" in reason:
                reason = f"authentication level is not {self.settings.required_acr}"
            raise refused(f"ID token {reason}") from exc
        return dict(decoded.claims)

    def userinfo(self, session: OAuth2Session) -> dict[str, Any]:
        """The userinfo, as JSON or as a JWT signed by the provider (then verified)."""
        try:
            response = session.get(
                self.metadata()["userinfo_endpoint"], timeout=self.settings.timeout_seconds
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise ProviderUnavailable("the provider's userinfo endpoint did not answer") from exc
        if response.headers.get("content-type", "").startswith("application/jwt"):
            claims = dict(self._decode(response.text.strip()).claims)
            if claims.get("aud") not in (None, self.settings.client_id) and (
                self.settings.client_id not in (claims.get("aud") or [])
            ):
                raise refused("userinfo wrong audience")
            return claims
        body = json.loads(response.text)
        if not isinstance(body, dict):
            raise refused("the userinfo is not a JSON object")
        return body

    def logout_url(self, *, post_logout_redirect_uri: str) -> str | None:
        """RP-initiated logout at the provider, back to our login page (None: not offered)."""
        endpoint = self.metadata().get("end_session_endpoint")
        if not endpoint:
            return None
        query = urlencode(
            {
                "client_id": self.settings.client_id,
                "post_logout_redirect_uri": post_logout_redirect_uri,
            }
        )
        return f"{endpoint}?{query}"
