"""A worker's part in finishing platform runs that were still going on (see
orchestration.platforms.async_results): the poll loop, and the handler that applies the
`n8n_execution_finished` / `make_execution_finished` callbacks n8n and Make post to our
signed webhooks.

The callback arrives like any other webhook delivery (signature, replay window and
deduplication are checked by the ingress before it is queued), so applying it here keeps
the ingress unchanged and gives callbacks the queue's retries.
"""

from __future__ import annotations

import logging

import anyio

from orchestration.platforms.async_results import (
    CALLBACK_EVENT_TYPES,
    CallbackError,
    ToolsFor,
    apply_callback,
    poll_platform_runs,
)
from orchestration.queue.types import ClaimedEvent, EventHandler, HandlerOutcome, OutcomeKind
from shared.db.database import Database

__all__ = ["PlatformCallbackHandler", "run_platform_poller"]

log = logging.getLogger(__name__)


class PlatformCallbackHandler:
    """Applies the execution-finished callbacks n8n and Make send; passes the rest on. A
    callback counts only when it came through that platform's own signed webhook (the
    ingress sets the event's source from the URL)."""

    def __init__(self, db: Database, inner: EventHandler) -> None:
        self.db = db
        self.inner = inner

    async def __call__(self, event: ClaimedEvent) -> HandlerOutcome:
        source = CALLBACK_EVENT_TYPES.get(event.event_type)
        if source is None:
            return await self.inner(event)
        if event.event_source != source:
            return HandlerOutcome(
                OutcomeKind.FAILED,
                error={
                    "type": "CallbackError",
                    "message": f"{event.event_type} is accepted only through "
                    f"POST /webhooks/{source}, signed with the tenant's {source} webhook secret",
                },
            )
        try:
            finished = await apply_callback(self.db, event.tenant_id, source, event.event_data)
        except CallbackError as exc:  # bad data will not get better on a retry
            return HandlerOutcome(
                OutcomeKind.FAILED, error={"type": "CallbackError", "message": str(exc)}
            )
        return HandlerOutcome(
            OutcomeKind.COMPLETED,
            result={
                "callback": source,
                "execution_id": str(event.event_data.get("execution_id")),
                "applied": finished,  # False: already finished (by the poller, or a repeat)
            },
        )


async def run_platform_poller(
    db: Database, tools_for: ToolsFor, *, interval_s: float, give_up_after_s: float
) -> None:
    """Poll every `interval_s` seconds until cancelled."""
    while True:
        report = await poll_platform_runs(db, tools_for, give_up_after_s=give_up_after_s)
        if report.completed or report.failed:
            log.info(
                "platform runs read back: %d completed, %d failed, %d still running",
                report.completed,
                report.failed,
                report.still_running,
            )
        await anyio.sleep(interval_s)
