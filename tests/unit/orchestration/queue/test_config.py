"""Queue settings from SWITCHBOARD_QUEUE_* variables: timeouts and retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from orchestration.queue.config import QueueConfig
from orchestration.queue.retention import RetentionPolicy
from orchestration.worker import retention_policy


def test_retention_and_timeout_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_QUEUE_RETENTION_DAYS", "3")
    monkeypatch.setenv("SWITCHBOARD_QUEUE_RETENTION_MODE", "delete")
    monkeypatch.setenv("SWITCHBOARD_QUEUE_ARCHIVE_RETENTION_DAYS", "0")
    monkeypatch.setenv("SWITCHBOARD_QUEUE_HANDLER_TIMEOUT_S", "45")
    config = QueueConfig(_env_file=None)  # pyright: ignore[reportCallIssue]
    assert config.handler_timeout == 45
    assert retention_policy(config) == RetentionPolicy(
        older_than=timedelta(days=3), mode="delete", archive_older_than=None
    )


def test_defaults_archive_for_a_week_and_keep_archives_ninety_days() -> None:
    config = QueueConfig(_env_file=None)  # pyright: ignore[reportCallIssue]
    assert retention_policy(config) == RetentionPolicy(
        older_than=timedelta(days=7), mode="archive", archive_older_than=timedelta(days=90)
    )
    assert QueueConfig(handler_timeout_s=0).handler_timeout is None  # no limit


def test_an_unknown_retention_mode_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="archive"):
        QueueConfig(retention_mode="shred")  # pyright: ignore[reportArgumentType]
