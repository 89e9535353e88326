"""The OpenAPI 3.1 description of the worker API, served at /api/v1/openapi.json.

It says exactly what the API accepts (tests/routing/test_schemathesis.py holds the API to it).
"""

from providers import Provider

from .errors import (
    ConfigError,
    CredentialUnavailable,
    MissingCredential,
    PolicyDenied,
    TenantInactive,
    UnsupportedProvider,
)

MAX_SLUG_LENGTH = 63  # Tenant.slug's max_length


def _error(description: str, codes: list[str]) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [{"$ref": "#/components/schemas/Error"}],
                    "properties": {"error": {"enum": codes}},
                }
            }
        },
    }


OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "Sinatra control plane: provider resolution",
        "version": "1.0.0",
        "description": (
            "For every agent request, which provider and which concrete model serve it, and the "
            "tenant's key to call it with. Authenticate with a service token "
            "(`python manage.py create_service_token NAME --tenant SLUG`), which resolves only the "
            "tenants it names (or every tenant, when created with `--all-tenants`)."
        ),
    },
    "servers": [{"url": "/"}],
    "security": [{"serviceToken": []}],
    "paths": {
        "/api/v1/resolve": {
            "post": {
                "operationId": "resolve",
                "summary": "Resolve a tenant's request to a provider, a model and a key.",
                "requestBody": {
                    "required": True,
                    "description": "At most 1 MB.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResolveRequest"}}},
                },
                "responses": {
                    "200": {
                        "description": "The resolution, including the key.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Resolution"}}},
                    },
                    "400": _error(
                        "The body is not a JSON object of the documented shape.", ["invalid_json", "invalid_request"]
                    ),
                    "401": _error(
                        "No valid service token: none was sent, it is unknown or revoked (`unauthorized`), "
                        "or it has expired (`token_expired`).",
                        ["unauthorized", "token_expired"],
                    ),
                    "403": _error(
                        "The tenant is outside the token's scope (`forbidden_tenant`; a token scoped to named "
                        "tenants gets this for any other slug, whether a tenant has it or not), the tenant "
                        "is deactivated (`tenant_inactive`), or the tenant's policy does not allow the provider, "
                        "the model or the OpenRouter fallback the request would use (`policy_denied`; `detail` "
                        "names the rule and where an owner or admin can change it).",
                        ["forbidden_tenant", TenantInactive.code, PolicyDenied.code],
                    ),
                    "404": _error("No tenant has this slug.", ["unknown_tenant"]),
                    "405": _error("Only POST is allowed (the Allow header says so).", ["method_not_allowed"]),
                    "413": _error("The body is over 1 MB.", ["body_too_large"]),
                    "422": _error(
                        "The request cannot be routed as configured; `detail` says what to change.",
                        [ConfigError.code, UnsupportedProvider.code, MissingCredential.code],
                    ),
                    "500": _error(
                        "Something unexpected failed; `detail` says nothing more (the service logs it).",
                        ["internal_error"],
                    ),
                    "503": _error(
                        "Try again shortly: the tenant's key cannot be read now (KMS), or the service cannot "
                        "reach its database.",
                        [CredentialUnavailable.code, "unavailable"],
                    ),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This description.",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {}}}},
            }
        },
    },
    "components": {
        "securitySchemes": {"serviceToken": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "ResolveRequest": {
                "description": (
                    "The tenant, and either the repo's .sinatrarc text or the fields it would give "
                    "(model, model_provider); never both. A member that is null counts as absent. "
                    "Other members are ignored."
                ),
                "type": "object",
                "required": ["tenant"],
                "properties": {
                    "tenant": {
                        "type": "string",
                        "description": "The tenant's slug.",
                        "pattern": "^[-a-zA-Z0-9_]+$",
                        "minLength": 1,
                        "maxLength": MAX_SLUG_LENGTH,
                    },
                    "sinatrarc": {
                        "type": ["string", "null"],
                        "description": "The repo's .sinatrarc text (YAML, at most 64 KiB); null or absent: none.",
                    },
                    "model": {
                        "type": ["string", "null"],
                        "description": (
                            "Instead of sinatrarc: a model name (an alias, a claude- id or a vendor/model slug); "
                            "a name Sinatra cannot route is refused with 422."
                        ),
                    },
                    "model_provider": {
                        "enum": [*Provider.values, None],
                        "description": "Instead of sinatrarc: force a provider (case does not matter).",
                    },
                },
                "additionalProperties": True,
                "oneOf": [
                    {
                        "title": "sinatrarc",
                        "required": ["sinatrarc"],
                        "properties": {
                            "sinatrarc": {"type": "string"},
                            "model": {"type": "null"},
                            "model_provider": {"type": "null"},
                        },
                    },
                    {"title": "model and model_provider", "properties": {"sinatrarc": {"type": "null"}}},
                ],
            },
            "Resolution": {
                "type": "object",
                "required": [
                    "provider",
                    "model",
                    "requested",
                    "base_url",
                    "api_key",
                    "credential_source",
                    "key_hint",
                    "reason",
                    "warnings",
                ],
                "properties": {
                    "provider": {"type": "string", "enum": list(Provider.values)},
                    "model": {"type": "string", "description": "The concrete id to send to the provider."},
                    "requested": {"type": "string", "description": "What was asked for."},
                    "base_url": {"type": "string"},
                    "api_key": {"type": ["string", "null"], "description": "null only for host credentials."},
                    "credential_source": {"type": "string", "enum": ["tenant", "environment", "host"]},
                    "key_hint": {"type": "string"},
                    "reason": {"type": "string", "description": "One sentence a person can read."},
                    "warnings": {"type": "array", "items": {"type": "string"}},
                },
                "additionalProperties": False,
            },
            "Error": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                "additionalProperties": False,
            },
        },
    },
}
