"""`switchboard db sql` carries the row-level security of migration 0002 for every table."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from servers.cli.main import app
from shared.db.migrate import postgres_ddl
from shared.db.schema import metadata

CRM_TABLES = {
    "accounts",
    "contacts",
    "deals",
    "activities",
    "campaigns",
    "reviews",
    "transactions",
    "customer_health_scores",
    "ai_lead_qualification",
}


def test_every_tenant_table_has_row_level_security_and_a_tenant_policy() -> None:
    ddl = postgres_ddl()
    tenant_tables = [t.name for t in metadata.tables.values() if "tenant_id" in t.c]
    assert tenant_tables
    for table in [*tenant_tables, "tenants"]:
        assert f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;" in ddl, (
            f"{table} has no row-level security: add it to migration 0002's table lists"
        )
        assert f"CREATE POLICY tenant_isolation ON {table} " in ddl, table
        assert f"REVOKE ALL ON {table} FROM anon, authenticated;" in ddl, table


def test_the_tenant_policy_compares_tenant_id_with_the_jwt_claim() -> None:
    ddl = postgres_ddl()
    policy = re.search(r"CREATE POLICY tenant_isolation ON deals .*?;", ddl, re.S)
    assert policy is not None
    assert "TO authenticated" in policy.group()
    assert "request.jwt.claims" in policy.group()
    assert "{app_metadata,tenant_id}" in policy.group()
    assert "WITH CHECK" in policy.group()


def test_users_reach_crm_tables_only_and_never_delete() -> None:
    ddl = postgres_ddl()
    for table in CRM_TABLES:
        assert f"GRANT SELECT, INSERT, UPDATE ON {table} TO authenticated;" in ddl
    assert "GRANT SELECT ON tenants TO authenticated;" in ddl
    for table in ("event_queue", "external_tool_configs", "audit_log", "api_keys"):
        assert f"ON {table} TO authenticated" not in ddl


def test_the_rest_functions_run_as_the_caller_and_are_closed_to_anon() -> None:
    ddl = postgres_ddl()
    for name in ("crm_query", "crm_pipeline_counts", "crm_record_lead_qualification"):
        body = re.search(rf"CREATE FUNCTION {name}\(.*?\$fn\$;", ddl, re.S)
        assert body is not None, name
        assert "SECURITY INVOKER" in body.group()
        assert re.search(rf"REVOKE ALL ON FUNCTION {name}\(.*\) FROM PUBLIC, anon;", ddl)


def test_the_supabase_roles_are_created_only_when_missing() -> None:
    ddl = postgres_ddl()
    for role in ("anon", "authenticated", "service_role"):
        assert f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}')" in ddl


def test_switchboard_db_sql_prints_the_policies() -> None:
    result = CliRunner().invoke(app, ["db", "sql"])

    assert result.exit_code == 0, result.output
    assert "-- Running upgrade 0001 -> 0002" in result.output
    assert "CREATE POLICY tenant_isolation ON accounts" in result.output
    assert "ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;" in result.output
