"""`serve --demo`: a store that is migrated and holds the demo tenant, and a key to use it."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.auth.api_keys import create_api_key, list_api_keys
from shared.auth.principal import Role
from shared.config import DEMO_TENANT_NAME, Settings
from shared.db.database import Database
from shared.db.migrate import upgrade
from shared.demo.seed import DemoParams, seed_demo
from shared.tenants import list_tenants

__all__ = ["prepare_demo"]

DEMO_KEY_LABEL = "demo (created by serve --demo)"
DEMO_ACCOUNTS = 500
DEMO_TENANTS = 3


async def prepare_demo(settings: Settings) -> list[str]:
    """Migrate, seed the demo tenant when missing, and issue a demo key once.

    Returns the lines to show the user (the key itself only the first time: only its hash
    is kept, so it cannot be shown again).
    """
    lines: list[str] = []
    database = Database.from_url(settings.database_url)
    try:
        await database.check_reachable()
        await upgrade(database.engine)
        tenants = {t.name: t for t in await list_tenants(database)}
        if DEMO_TENANT_NAME not in tenants:
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            params = DemoParams(seed=1, accounts=DEMO_ACCOUNTS, tenants=DEMO_TENANTS, as_of=today)
            report = await seed_demo(database, params)
            lines.append(
                f"seeded demo data: {len(report.tenants)} tenants, {report.total_rows:,} rows "
                "(`switchboard db seed --demo --replace` makes it anew)"
            )
            tenants = {t.name: t for t in await list_tenants(database)}
        demo = tenants[DEMO_TENANT_NAME]
        keys = await list_api_keys(database, demo.id)
        if any(k.label == DEMO_KEY_LABEL and k.revoked_at is None for k in keys):
            lines.append(
                "the demo key was printed on the first `serve --demo`; make another with "
                "`switchboard keys create --tenant demo --role admin`"
            )
        else:
            issued = await create_api_key(database, demo.id, Role.ADMIN, DEMO_KEY_LABEL)
            lines.append(f"demo API key (admin, tenant demo; shown once): {issued.token}")
    finally:
        await database.dispose()
    return lines
