"""Rotating SWITCHBOARD_SECRET_KEY with no downtime: while `rotate_credentials` (what
`switchboard tools rotate-keys` runs) re-encrypts every stored credential, a reader holding
both keys keeps decrypting every row, before, during and after; afterwards the new key
alone opens everything and the old key opens nothing, so it can be removed."""

from __future__ import annotations

import uuid

import anyio
import anyio.lowlevel
import pytest
import sqlalchemy as sa

from orchestration.platforms.config_store import (
    list_tool_configs,
    rotate_credentials,
    save_tool_config,
)
from shared.crypto import CredentialCipher, CredentialDecryptError, generate_key
from shared.db.database import Database
from shared.db.orchestration_tables import external_tool_configs
from shared.tenants import create_tenant

TOOLS = ("n8n", "make", "clickup", "apify", "generic")


async def _stored(db: Database) -> dict[uuid.UUID, str]:
    t = external_tool_configs
    async with db.engine.connect() as conn:
        rows = await conn.execute(sa.select(t.c.id, t.c.credentials))
        return {row.id: row.credentials["ciphertext"] for row in rows}


async def test_a_running_reader_decrypts_throughout_rotation(any_db: Database) -> None:
    old, new = generate_key(), generate_key()
    expected: dict[tuple[uuid.UUID, str], str] = {}
    for n in range(6):  # enough rows that the reader reads while they are rewritten
        tenant = await create_tenant(any_db, f"rotation-{n}")
        for tool in TOOLS:
            secret = f"secret-{n}-{tool}"
            await save_tool_config(
                any_db,
                CredentialCipher(old),
                tenant_id=tenant.id,
                tool_name=tool,
                credentials={"api_token": secret},
            )
            expected[(tenant.id, tool)] = secret
    before = await _stored(any_db)
    both = CredentialCipher(f"{new},{old}")  # what every process runs with during rotation
    reads: list[str] = []  # "before" / "during" / "after", one per complete read
    errors: list[Exception] = []
    phase = "before"
    rewritten = 0
    stop = anyio.Event()
    first_read = anyio.Event()
    read_after = anyio.Event()  # two complete reads after rotation returned

    async def reader() -> None:
        while not stop.is_set():
            try:
                configs = await list_tool_configs(any_db, both)
                got = {(c.tenant_id, c.tool_name): c.credentials["api_token"] for c in configs}
                assert got == expected
                reads.append(phase)
                first_read.set()
                if reads.count("after") >= 2:
                    read_after.set()
            except (CredentialDecryptError, AssertionError) as exc:
                errors.append(exc)
            await anyio.lowlevel.checkpoint()  # let rotation make progress between reads

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reader)
        await first_read.wait()
        phase = "during"
        rewritten = await rotate_credentials(any_db, both)
        phase = "after"
        with anyio.fail_after(10):
            await read_after.wait()
        stop.set()

    assert errors == []
    assert rewritten == len(expected)
    assert {"before", "during", "after"} <= set(reads)  # it read while rotation ran
    after = await _stored(any_db)
    assert set(after) == set(before) and all(after[i] != before[i] for i in before)
    only_new = await list_tool_configs(any_db, CredentialCipher(new))
    assert {(c.tenant_id, c.tool_name): c.credentials["api_token"] for c in only_new} == expected
    with pytest.raises(CredentialDecryptError):
        await list_tool_configs(any_db, CredentialCipher(old))
