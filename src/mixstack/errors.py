"""Every error mixstack raises on purpose, in one tree.

    MixstackError                 base; `exit_code` is what the CLI exits with
    ├── UserError                 the caller can fix it (exit 2)
    │   ├── ConfigError           the config file or a field in it is wrong
    │   │   ├── SuiteError        an eval suite, a case file or a case in it is invalid
    │   │   └── StoreFeatureError  a view or record only the SQLite store keeps
    │   ├── UnknownModelError     no such model in the catalog
    │   ├── InvalidRequestError   empty prompt, bad image, bad parameter
    │   │   └── ScanTooSlow       the privacy scan of a request ran out of time
    │   ├── ContextLengthError    the prompt does not fit the model's context
    │   ├── SweepError            a suite cannot be swept as it is
    │   ├── BodyTooLarge          a gateway request body over `gateway.max_body_bytes` (413)
    │   └── BodyTimeout           a gateway request body that did not arrive in time (408)
    ├── PolicyError               refused by policy, never sent (exit 3)
    │   ├── BudgetExceeded        a key or run is out of budget
    │   ├── InjectionBlocked      an injection, jailbreak or prompt leak under `injection: block`
    │   ├── AdminRequired         an admin-only endpoint called with a plain key (403)
    │   ├── KeyRejected           no key, or an unknown or revoked one (401; guard.keys)
    │   ├── ModelNotAllowed       the key may not use that model (403; guard.keys)
    │   └── RouteRefused          no model may take the request under its policy (router)
    ├── RateLimited               too many requests or tokens per minute (exit 4)
    │   └── GuardBusy             the privacy scanners are saturated; retry shortly
    ├── ModelUnavailableError     the model's file, package, SDK or key is missing (exit 5)
    ├── ProviderError             the model or its endpoint failed (exit 1)
    │   └── UpstreamTimeout       the endpoint did not answer within the model's timeouts
    ├── ScorerError               a scorer could not score an answer (not a failed answer)
    └── ToolError                 a tool's expected failure; its message goes to the model

Classes marked with a module live there because they carry that module's types; the rest
are defined here (and re-exported where they were first defined).

Errors that carry an upstream's own words or address set `public_message`: what a gateway
client may see (the full `message` goes to the log and the CLI).

Every message ends with what to do about it.
"""

from __future__ import annotations

__all__ = [
    "AdminRequired",
    "BodyTimeout",
    "BodyTooLarge",
    "BudgetExceeded",
    "ConfigError",
    "ContextLengthError",
    "GuardBusy",
    "InjectionBlocked",
    "InvalidRequestError",
    "MixstackError",
    "ModelUnavailableError",
    "PolicyError",
    "ProviderError",
    "RateLimited",
    "ScanTooSlow",
    "ScorerError",
    "StoreFeatureError",
    "SuiteError",
    "SweepError",
    "ToolError",
    "UnknownModelError",
    "UpstreamTimeout",
    "UserError",
]


class MixstackError(Exception):
    """Base of all errors mixstack raises on purpose."""

    exit_code: int = 1
    #: OpenAI-style error `type` used by the gateway.
    error_type: str = "server_error"
    #: HTTP status used by the gateway.
    http_status: int = 500
    #: the message for gateway clients when `message` holds an upstream's address or answer
    public_message: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class UserError(MixstackError):
    """The caller can fix it: the message says how."""

    exit_code = 2
    error_type = "invalid_request_error"
    http_status = 400


class ConfigError(UserError):
    """The config file (or a field in it) is invalid."""


class StoreFeatureError(ConfigError):
    """A view or record that only the SQLite store keeps, asked of another store."""


class UnknownModelError(UserError):
    """No model of that name in the catalog."""

    http_status = 404

    def __init__(self, name: str, known: list[str]):
        shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "")
        super().__init__(
            f"unknown model {name!r}; known models: {shown}. "
            "Run `mixstack models` to list them or declare it in mixstack.yaml.",
            param="model",
            code="model_not_found",
        )
        self.name = name
        self.known = known


class InvalidRequestError(UserError):
    """Something in the request itself is wrong (empty prompt, bad image, bad parameter)."""


class ContextLengthError(UserError):
    """The prompt (plus the answer's room) does not fit the model's context window."""

    def __init__(self, model: str, needed: int, window: int):
        super().__init__(
            f"the prompt needs {needed} tokens but {model} has a context window of {window} "
            f"({needed - window} tokens too many); shorten the prompt, lower --max-tokens "
            "or pick a model with a larger context.",
            param="messages",
            code="context_length_exceeded",
        )
        self.model = model
        self.needed = needed
        self.window = window


class PolicyError(MixstackError):
    """The request was refused by policy and was not sent anywhere."""

    exit_code = 3
    error_type = "policy_violation"
    http_status = 403


class BudgetExceeded(PolicyError):
    """A key, a run or an agent is out of budget."""

    error_type = "insufficient_quota"
    http_status = 429


class InjectionBlocked(PolicyError):
    """The gateway's detector found an injection or jailbreak attempt (or the answer leaked
    the system prompt's canary) and the workload's policy is `block`."""

    error_type = "invalid_request_error"
    http_status = 400

    def __init__(self, message: str):
        super().__init__(message, code="injection_detected")


class RateLimited(MixstackError):
    """Too many requests or tokens per minute; `retry_after_s` says when to try again."""

    exit_code = 4
    error_type = "rate_limit_error"
    http_status = 429

    def __init__(self, message: str, *, retry_after_s: float = 1.0):
        super().__init__(message, code="rate_limit_exceeded")
        self.retry_after_s = retry_after_s


class ModelUnavailableError(MixstackError):
    """The model exists in the catalog but cannot run here (missing file, SDK or key)."""

    exit_code = 5
    error_type = "model_unavailable"
    http_status = 503


class ProviderError(MixstackError):
    """The model or its endpoint failed while answering."""

    exit_code = 1
    error_type = "upstream_error"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
    ):
        super().__init__(message)
        self.model = model
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s


class UpstreamTimeout(ProviderError):
    """The endpoint did not answer (or start streaming) within the model's timeouts."""

    http_status = 504
    error_type = "timeout"


class SuiteError(ConfigError):
    """A suite file, a case file or a case in it is invalid."""


class ScanTooSlow(InvalidRequestError):
    """Checking a request for private data took longer than the guard allows."""

    def __init__(self, seconds: float):
        super().__init__(
            f"checking this request for private data took longer than {seconds:g} s; send "
            "less text or smaller images per request.",
            code="request_too_complex",
        )


class SweepError(UserError):
    """A suite cannot be swept as it is (e.g. a case without a marked key context)."""


class BodyTooLarge(UserError):
    """A gateway request body over `gateway.max_body_bytes` (HTTP 413)."""

    http_status = 413

    def __init__(self, limit: int):
        super().__init__(
            f"the request body is larger than this gateway's limit of {limit} bytes; send a "
            "smaller body (fewer or smaller images) or raise `gateway.max_body_bytes`.",
            code="request_too_large",
        )


class BodyTimeout(UserError):
    """A gateway request body that did not arrive within `gateway.body_timeout_s` (408)."""

    http_status = 408

    def __init__(self, seconds: float):
        super().__init__(
            f"the request body did not arrive within {seconds:g} s; send it at once, or "
            "raise `gateway.body_timeout_s`.",
            code="request_timeout",
        )


class AdminRequired(PolicyError):
    """A valid key that is not an admin key, on an admin-only endpoint (HTTP 403)."""

    error_type = "permission_error"
    http_status = 403

    def __init__(self, key_id: str, what: str):
        super().__init__(
            f"{what} needs an admin key and key {key_id} is not one; use a key created with "
            "`mixstack keys create --admin`.",
            code="admin_key_required",
        )


class GuardBusy(RateLimited):
    """The privacy scanners are saturated by other large requests."""

    def __init__(self) -> None:
        super().__init__(
            "the gateway is busy checking other large requests for private data; retry "
            "in a few seconds.",
            retry_after_s=2.0,
        )


class ScorerError(MixstackError):
    """The scorer could not score this answer (not the same as a failed answer)."""


class ToolError(MixstackError):
    """Raised by a tool for an expected failure; its message is shown to the model as is."""
