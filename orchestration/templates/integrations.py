"""The spec's ClickUp field mappings and Apify GMB collection config as JSON documents.

They are derived from the constants the adapters use (`clickup_sync.FIELD_MAPPINGS`,
`PROJECT_LISTS`; `apify.GMB_COLLECTION_CONFIG`), so there is one source of truth: what
`switchboard templates config` prints is what the sync and the collector do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestration.platforms.apify import GMB_ACTOR, GMB_COLLECTION_CONFIG
from orchestration.platforms.clickup_sync import FIELD_MAPPINGS, PROJECT_LISTS
from shared.errors import NotFoundError

__all__ = [
    "INTEGRATION_CONFIGS",
    "apify_collection_config",
    "clickup_field_mappings",
    "integration_config",
]


def _transformation_name(transform: Callable[[Any], Any] | None) -> str | None:
    if transform is None:
        return None
    # The one transformation the spec defines: Math.round(score).
    return "round" if transform(2.6) == 3 else transform.__name__.strip("_")


def clickup_field_mappings() -> dict[str, Any]:
    """`{"field_mappings": [{"crm_field", "clickup_field_id", "data_transformation"}],
    "project_lists": {key: title}}`; `clickup_field_id` values are placeholders that the
    tenant's clickup settings `field_ids` resolve to real ClickUp field ids."""
    return {
        "field_mappings": [
            {
                "crm_field": mapping.crm_field,
                "clickup_field_id": mapping.clickup_field_id,
                "data_transformation": _transformation_name(mapping.data_transformation),
            }
            for mapping in FIELD_MAPPINGS
        ],
        "project_lists": dict(PROJECT_LISTS),
    }


def apify_collection_config() -> dict[str, Any]:
    """The spec's GMB_COLLECTION_CONFIG and the actor it runs on."""
    return {"actor": GMB_ACTOR, **{k: list(v) for k, v in GMB_COLLECTION_CONFIG.items()}}


INTEGRATION_CONFIGS: dict[str, Callable[[], dict[str, Any]]] = {
    "clickup": clickup_field_mappings,
    "apify": apify_collection_config,
}


def integration_config(name: str) -> dict[str, Any]:
    builder = INTEGRATION_CONFIGS.get(name)
    if builder is None:
        raise NotFoundError(
            f"no integration config '{name}'; choose one of {', '.join(INTEGRATION_CONFIGS)}"
        )
    return builder()
