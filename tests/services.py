"""Where the real services the integration tests use are, and what to do when one is absent.

`.ci/services.sh` starts them and exports these variables. On a developer's machine a
missing service skips its tests with the reason; with SWITCHBOARD_REQUIRE_SERVICES=1 (CI)
the same absence fails them, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

REQUIRE_SERVICES = os.environ.get("SWITCHBOARD_REQUIRE_SERVICES") == "1"

POSTGRES_URL = os.environ.get(
    "SWITCHBOARD_TEST_DATABASE_URL",
    "postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard_test",
)
REST_DATABASE_URL = os.environ.get(
    "SWITCHBOARD_TEST_REST_DATABASE_URL",
    "postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard_rest",
)
POSTGREST_URL = os.environ.get("SWITCHBOARD_TEST_POSTGREST_URL", "http://127.0.0.1:54330")
JWT_SECRET = os.environ.get(
    "SWITCHBOARD_TEST_JWT_SECRET", "switchboard-local-test-jwt-secret-0123456789"
)


def port_open(url: str) -> bool:
    parsed = urlparse(url)
    host = parsed.hostname or "127.0.0.1"
    port = parsed.port or (5432 if parsed.scheme.startswith("postgres") else 80)
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(url: str, what: str) -> None:
    """Skip (developer machine) or fail (CI) when the service at `url` is not listening."""
    if port_open(url):
        return
    reason = (
        f"{what} is not running at {urlparse(url).netloc}; start it with "
        "`source .ci/services.sh && start_postgres && start_postgrest`"
    )
    if REQUIRE_SERVICES:
        pytest.fail(reason)
    pytest.skip(reason)
