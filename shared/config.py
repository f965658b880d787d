"""The one settings object: every `SWITCHBOARD_*` variable, read from the environment and `.env`."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from platformdirs import user_data_path
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CrmSource", "Settings", "default_database_url", "get_settings"]

DEMO_TENANT_NAME = "demo"


class CrmSource(StrEnum):
    SQL = "sql"
    SUPABASE = "supabase"


def default_data_dir() -> Path:
    return user_data_path("switchboard", appauthor=False)


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'switchboard.sqlite3'}"


def section_config(section: str) -> SettingsConfigDict:
    """The model_config of a settings section read from `SWITCHBOARD_<SECTION>_*` variables
    (and `.env`), frozen: a worker, queue or writer keeps the values it started with."""
    return SettingsConfigDict(
        env_prefix=f"SWITCHBOARD_{section}_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )


class Settings(BaseSettings):
    """Effective configuration. Field descriptions are printed by `switchboard config`."""

    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = Field(
        default_factory=default_database_url,
        description="Orchestration store (and CRM when crm_source=sql): "
        "postgresql://user:pass@host:5432/db or sqlite:///path",
    )
    crm_source: CrmSource = Field(
        default=CrmSource.SQL,
        description="Where CRM data lives: 'sql' (database_url) or 'supabase' (REST API)",
    )
    supabase_url: str | None = Field(
        default=None, description="Supabase project URL, e.g. https://abc.supabase.co"
    )
    supabase_key: SecretStr | None = Field(
        default=None, description="Supabase API key (service role, or a user's JWT)"
    )
    supabase_jwt_secret: SecretStr | None = Field(
        default=None,
        description="Supabase Auth JWT secret (HS256 projects), to accept users' tokens over HTTP",
    )
    supabase_jwks_url: str | None = Field(
        default=None,
        description="JWKS of Supabase Auth (asymmetric keys); default: "
        "SUPABASE_URL/auth/v1/.well-known/jwks.json",
    )
    tenant: str | None = Field(
        default=None,
        description="Tenant (name or id) a stdio server serves; unset: the 'demo' tenant",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) encrypting stored credentials; comma-separated, newest "
        "first, to rotate",
    )
    read_only: bool = Field(default=False, description="Hide and refuse every write tool")
    result_budget_chars: int = Field(
        default=20_000,
        ge=1_000,
        le=1_000_000,
        description="Largest tool result (characters of JSON) before it is truncated",
    )
    log_level: str = Field(default="INFO", description="Logging level (logs go to stderr)")

    @field_validator("supabase_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    def masked(self) -> dict[str, Any]:
        """Every setting as it is in force, secrets and URL passwords replaced by '***'."""
        from shared.db.url import mask_password

        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "***" if value.get_secret_value() else ""
            elif name == "database_url":
                value = mask_password(value)
            elif isinstance(value, StrEnum):
                value = value.value
            shown[name] = value
        return shown


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
