"""Routing's errors. Each carries a message fit to show a user, an API `code` and HTTP status."""

ECHO_LIMIT = 100


def shown(value: str) -> str:
    """Return what a user wrote as an error message may quote it: at most ECHO_LIMIT characters."""
    return value if len(value) <= ECHO_LIMIT else f"{value[: ECHO_LIMIT - 3]}..."


class RoutingError(Exception):
    """A request cannot be routed; `str(error)` says why and what to do."""

    code = "routing_error"
    status = 422


class ConfigError(RoutingError):
    """The `.sinatrarc` (or the config given instead) is malformed or names no usable model."""

    code = "invalid_config"


class UnsupportedProvider(RoutingError):
    """The config asks for a provider this version does not serve (direct OpenAI)."""

    code = "unsupported_provider"


class MissingCredential(RoutingError):
    """The tenant has no key for the provider the request needs."""

    code = "missing_credential"

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(message)
        self.provider = provider


class TenantInactive(RoutingError):
    """The tenant is deactivated; nothing is served for it."""

    code = "tenant_inactive"
    status = 403


class CredentialUnavailable(RoutingError):
    """The tenant's key exists but cannot be decrypted now (KMS down, or the row is damaged)."""

    code = "credential_unavailable"
    status = 503


class PolicyDenied(RoutingError):
    """The tenant's policy does not allow what the request would use; `rule` says which rule."""

    code = "policy_denied"
    status = 403

    def __init__(self, rule: str, *, change_at: str) -> None:
        super().__init__(f"{rule} An owner or admin of the tenant can change the policy at {change_at}.")
        self.rule = rule
