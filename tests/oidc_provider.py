"""A small OpenID Connect provider for the tests, shaped like Pro Santé Connect.

It serves discovery, JWKS, authorize (a page with a button, as a person would confirm),
token (code + PKCE S256, client_secret_basic), userinfo (PSC claims) and end-session, and signs
its ID tokens with joserfc. ``tamper`` makes the next ID token wrong in one chosen way.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "socle-test"
CLIENT_SECRET = "socle-test-secret"
TAMPERS = ("bad_signature", "wrong_audience", "expired", "replay", "low_acr", None)


def psc_userinfo(national_id: str, family: str, given: str, profession: str) -> dict[str, Any]:
    """Userinfo claims with PSC's names (SubjectNameID, SubjectRefPro.exercices...)."""
    return {
        "sub": f"f:{national_id}",
        "SubjectNameID": national_id,
        "preferred_username": national_id,
        "family_name": family,
        "given_name": given,
        "codeCivilite": "MME",
        "SubjectRefPro": {
            "exercices": [
                {
                    "codeProfession": profession,
                    "codeCategorieProfessionnelle": "C",
                    "nomDexercice": family,
                    "prenomDexercice": given,
                    "activities": [
                        {
                            "codeModeExercice": "S",
                            "numeroFinessSite": "690999016",
                            "numeroFinessetablissementJuridique": "690999008",
                            "raisonSocialeSite": "CENTRE HOSPITALIER FICTIF DES MONTS",
                        }
                    ],
                }
            ]
        },
        "SubjectRole": [f"{profession}^1.2.250.1.213.1.1.5.5"],
    }


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class OidcProvider:
    """The provider's state; ``app()`` is served by the tests on 127.0.0.1."""

    url: str
    redirect_uris: tuple[str, ...]
    user: dict[str, Any] = field(default_factory=dict)
    tamper: str | None = None
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, {"kid": "psc-1", "alg": "RS256"}, True)
    )
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)
    logouts: list[dict[str, str]] = field(default_factory=list)

    def id_token(self, nonce: str, user: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": user["sub"],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "acr": "eidas1",
            "SubjectNameID": user["SubjectNameID"],
        }
        key = self.key
        if self.tamper == "bad_signature":
            key = RSAKey.generate_key(2048, {"kid": self.key.kid, "alg": "RS256"}, True)
        elif self.tamper == "wrong_audience":
            claims["aud"] = "another-service"
        elif self.tamper == "expired":
            claims["iat"], claims["exp"] = now - 900, now - 600
        elif self.tamper == "low_acr":
            claims["acr"] = "eidas-low"
        elif self.tamper == "replay" and self.issued:
            return self.issued[0]
        token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, key)
        self.issued.append(token)
        return token

    def rotate(self, kid: str) -> None:
        """A new signing key under a new id, as a provider's key rotation does."""
        self.key = RSAKey.generate_key(2048, {"kid": kid, "alg": "RS256"}, True)

    def app(self) -> FastAPI:
        app = FastAPI()
        app.get("/.well-known/openid-configuration")(self.discovery)
        app.get("/jwks")(lambda: {"keys": [self.key.as_dict(private=False)]})
        app.get("/authorize")(self.authorize)
        app.post("/authorize")(self.approve)
        app.post("/token")(self.token)
        app.get("/userinfo")(self.userinfo)
        app.get("/logout")(self.logout)
        return app

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "end_session_endpoint": f"{self.url}/logout",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def authorize(self, request: Request) -> HTMLResponse:
        q = request.query_params
        ok = (
            q.get("response_type") == "code"
            and q.get("client_id") == CLIENT_ID
            and q.get("redirect_uri") in self.redirect_uris
            and q.get("code_challenge_method") == "S256"
            and q.get("code_challenge")
            and q.get("nonce")
            and q.get("state")
            and "openid" in (q.get("scope") or "").split()
        )
        if not ok:
            return HTMLResponse("invalid authorisation request", status_code=400)
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
            for k, v in q.items()
            if k in ("redirect_uri", "state", "nonce", "code_challenge")
        )
        name = html.escape(f"{self.user.get('given_name')} {self.user.get('family_name')}")
        return HTMLResponse(
            f"<h1>Pro Santé Connect (test)</h1><p>e-CPS de {name}</p>"
            f'<form method="post">{hidden}<button type="submit">Valider</button></form>'
        )

    def approve(
        self,
        redirect_uri: str = Form(...),
        state: str = Form(...),
        nonce: str = Form(...),
        code_challenge: str = Form(...),
    ) -> RedirectResponse:
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "redirect_uri": redirect_uri,
            "nonce": nonce,
            "challenge": code_challenge,
            "user": dict(self.user),
        }
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", 303)

    def token(
        self,
        grant_type: str = Form(...),
        code: str = Form(...),
        redirect_uri: str = Form(...),
        code_verifier: str = Form(...),
        authorization: str = Header(""),
    ) -> JSONResponse:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(code, None)
        if (
            grant_type != "authorization_code"
            or grant is None
            or grant["redirect_uri"] != redirect_uri
            or _s256(code_verifier) != grant["challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access = secrets.token_urlsafe(24)
        self.tokens[access] = grant["user"]
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 120,
                "id_token": self.id_token(grant["nonce"], grant["user"]),
            }
        )

    def userinfo(self, authorization: str = Header("")) -> JSONResponse:
        user = self.tokens.get(authorization.removeprefix("Bearer "))
        if user is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(user)

    def logout(self, request: Request) -> RedirectResponse:
        self.logouts.append(dict(request.query_params))
        target = request.query_params.get("post_logout_redirect_uri", "/")
        return RedirectResponse(target, 303)
