"""What can go wrong talking to a platform, each error saying what to do about it.

Messages are built from the platform's own error text and our context, never from
request headers or credentials; `PlatformHttp` also scrubs every known secret value
from a message before raising, as a second guard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.errors import SwitchboardError

__all__ = [
    "CircuitOpenError",
    "PlatformAuthError",
    "PlatformError",
    "PlatformNotFoundError",
    "PlatformRequestError",
    "PlatformTimeoutError",
    "PlatformUnavailableError",
    "RateLimitedError",
    "WebhookNotRegisteredError",
]


class PlatformError(SwitchboardError):
    """A call to an external platform failed. `retryable` says whether trying later may help."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        status_code: int | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.platform = platform
        self.status_code = status_code
        self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """Safe to store in `error_details`: no headers, no credentials."""
        return {
            "type": type(self).__name__,
            "platform": self.platform,
            "message": str(self),
            "status_code": self.status_code,
            "code": self.code,
            "retryable": self.retryable,
            **({"details": self.details} if self.details else {}),
        }


class PlatformAuthError(PlatformError):
    """401/403: the stored credentials are wrong, expired or lack a permission."""


class PlatformNotFoundError(PlatformError):
    """404 for a resource we named (workflow, scenario, list, task, actor, run)."""


class PlatformRequestError(PlatformError):
    """4xx other than auth/404/429: the platform rejected what we sent."""


class RateLimitedError(PlatformError):
    """429 that outlasted the retry budget; `retry_at` is when the platform allows more."""

    retryable = True

    def __init__(self, message: str, *, retry_at: datetime | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_at = retry_at


class PlatformUnavailableError(PlatformError):
    """5xx after retries, or the platform could not be reached at all."""

    retryable = True


class PlatformTimeoutError(PlatformError):
    """No answer within the timeout; for a non-idempotent call the outcome is unknown."""

    retryable = True


class CircuitOpenError(PlatformError):
    """Recent calls kept failing, so calls are refused until `retry_at` without trying."""

    retryable = True

    def __init__(self, message: str, *, retry_at: datetime, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_at = retry_at


class WebhookNotRegisteredError(PlatformNotFoundError):
    """n8n answered that the production webhook is not registered (workflow inactive)."""
