"""How the OpenAPI document and the FHIR CapabilityStatement declare the token scheme."""

from __future__ import annotations

from typing import Any

from referentials.core.principal import SCOPES

SCHEME = "OAuth2ClientCredentials"
SMART_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def add_token_scheme(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the client-credentials scheme beside the bearer key, on every secured operation."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[SCHEME] = {
        "type": "oauth2",
        "description": "Client credentials with private_key_jwt client authentication "
        "(RFC 7523, SMART Backend Services); the access token is sent as a bearer.",
        "flows": {
            "clientCredentials": {
                "tokenUrl": "/oauth/token",
                "scopes": {s: f"the {s} scope of the client's API key" for s in SCOPES},
            }
        },
    }
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security and not any(SCHEME in s for s in security):
                security.append({SCHEME: []})
    return schema


def smart_security(base: str) -> dict[str, Any]:
    """The CapabilityStatement's ``rest.security``: API keys and SMART Backend Services."""
    return {
        "extension": [
            {
                "url": SMART_OAUTH_URIS,
                "extension": [{"url": "token", "valueUri": f"{base}/oauth/token"}],
            }
        ],
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ]
            }
        ],
        "description": "Every resource needs 'Authorization: Bearer <API key or access token>': "
        "identity:read for Patient, directory:read for Practitioner, PractitionerRole and "
        "Organization. Access tokens come from the token endpoint (client credentials, "
        "private_key_jwt; see /.well-known/smart-configuration). This statement is public.",
    }
