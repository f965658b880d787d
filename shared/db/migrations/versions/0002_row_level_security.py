"""row-level security: tenants isolated by the JWT's claims (Postgres only)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 14:30:00

What a Supabase (PostgREST) caller can do, decided by the role in its JWT:

- `authenticated` (a user's JWT whose `app_metadata.tenant_id` names their tenant): reads,
  inserts and updates CRM rows of that tenant only, and only rows whose `account_id` is an
  account of that tenant; reads its own `tenants` row. No deletes. No orchestration tables
  (they hold encrypted credentials and the audit log; only Switchboard itself writes them).
- `service_role`: everything, as in Supabase (it bypasses row-level security; an explicit
  policy covers a plain Postgres where the role lacks BYPASSRLS).
- `anon`: nothing.

The table owner (the role `switchboard db upgrade` connects as, used by the `sql` CRM
source) is not subject to these policies: that path filters by tenant itself.

Also the SQL functions the `supabase` CRM source calls through PostgREST (`/rpc/...`):
`crm_query` (query_crm's filters, groups, metrics and time buckets), `crm_pipeline_counts`
and `crm_record_lead_qualification`. They run as the caller (SECURITY INVOKER), so the same
policies apply inside them; anon may not execute them.

On SQLite this migration does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables a tenant's users reach through the REST API. Each carries tenant_id; those marked
# True also carry account_id, which must name an account of the same tenant.
CRM_TABLES: dict[str, bool] = {
    "accounts": False,
    "contacts": True,
    "deals": True,
    "activities": True,
    "campaigns": True,
    "reviews": True,
    "transactions": True,
    "customer_health_scores": True,
    "ai_lead_qualification": True,
}
# Tables only Switchboard's own connection (or service_role) uses; tenant-isolated anyway
# so that a project's default grants can never expose one tenant's rows to another.
ORCHESTRATION_TABLES: tuple[str, ...] = (
    "workflow_definitions",
    "workflow_executions",
    "external_tool_configs",
    "mcp_servers",
    "event_queue",
    "audit_log",
    "external_mappings",
    "api_keys",
    "sync_reconciliations",
    "event_archive",
    "workflow_execution_archive",
)
API_ROLES = ("anon", "authenticated", "service_role")

# The tenant a request's JWT claims; NULL without one. PostgREST puts the verified claims in
# `request.jwt.claims` (Supabase's auth.jwt() reads the same). The sub-select makes Postgres
# evaluate it once per statement instead of once per row.
CLAIMED_TENANT = (
    "(SELECT (nullif(current_setting('request.jwt.claims', true), '')::jsonb"
    " #>> '{app_metadata,tenant_id}')::uuid)"
)

# Supabase has these roles; a plain Postgres gets them so the same DDL runs on both.
CREATE_ROLES = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN BYPASSRLS;
    END IF;
END
$$
"""

# Functions the REST path calls (PostgREST exposes them as /rpc/<name>). SECURITY INVOKER:
# they run as the caller, so row-level security applies inside them exactly as it does to
# table requests; a service-role caller relies on p_tenant_id, which every one filters by.

# A structured query (the `query_crm` tool): PostgREST cannot bucket by time or group with
# NULL-safe ordering, and its aggregates are off by default on Supabase. Every identifier in
# the spec is checked against the table's columns and quoted; every value is read from the
# spec parameter inside the statement, so no caller text ever becomes SQL.
CRM_QUERY = r"""
CREATE FUNCTION crm_query(p_tenant_id uuid, p_spec jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY INVOKER SET search_path = public, pg_temp
AS $fn$
DECLARE
    tbl text := p_spec ->> 'table';
    lim integer := least(greatest(coalesce((p_spec ->> 'limit')::integer, 100), 1), 501);
    item jsonb;
    i integer := 0;
    field text;
    col_type text;
    value_ref text;
    value_type text;
    expr text;
    exprs text[] := '{}';
    groups text[] := '{}';
    conds text[] := ARRAY['tenant_id = $1'];
    orders text[] := '{}';
    aggregate boolean := false;
    result jsonb;
BEGIN
    IF tbl IS NULL OR tbl NOT IN
        ('accounts', 'deals', 'activities', 'campaigns', 'transactions', 'reviews') THEN
        RAISE EXCEPTION 'crm_query: unknown table %', tbl USING ERRCODE = '22023';
    END IF;

    FOR item IN SELECT * FROM jsonb_array_elements(coalesce(p_spec -> 'filters', '[]')) LOOP
        field := item ->> 'field';
        SELECT format_type(a.atttypid, a.atttypmod) INTO col_type FROM pg_attribute AS a
         WHERE a.attrelid = to_regclass('public.' || quote_ident(tbl)) AND a.attname = field
           AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'tenant_id';
        IF col_type IS NULL THEN
            RAISE EXCEPTION 'crm_query: unknown field %', field USING ERRCODE = '22023';
        END IF;
        value_ref := format('($2 -> ''filters'' -> %s -> ''value'')', i);
        -- numbers compare as numeric so 4.5 works against an integer column
        value_type := CASE WHEN col_type IN ('integer', 'bigint', 'smallint', 'real',
            'double precision') OR col_type LIKE 'numeric%' THEN 'numeric' ELSE col_type END;
        expr := CASE item ->> 'op'
            WHEN 'eq' THEN format('%I = (%s #>> ''{}'')::%s', field, value_ref, value_type)
            WHEN 'ne' THEN
                format('%I IS DISTINCT FROM (%s #>> ''{}'')::%s', field, value_ref, value_type)
            WHEN 'lt' THEN format('%I < (%s #>> ''{}'')::%s', field, value_ref, value_type)
            WHEN 'lte' THEN format('%I <= (%s #>> ''{}'')::%s', field, value_ref, value_type)
            WHEN 'gt' THEN format('%I > (%s #>> ''{}'')::%s', field, value_ref, value_type)
            WHEN 'gte' THEN format('%I >= (%s #>> ''{}'')::%s', field, value_ref, value_type)
            WHEN 'in' THEN format(
                '%I = ANY (ARRAY(SELECT jsonb_array_elements_text(%s))::%s[])',
                field, value_ref, value_type)
            WHEN 'contains' THEN format(
                '%I ILIKE (''%%'' || replace(replace(replace(%s #>> ''{}'', ''\'', ''\\''),'
                ' ''%%'', ''\%%''), ''_'', ''\_'') || ''%%'')', field, value_ref)
            WHEN 'is_null' THEN format(
                CASE WHEN (item -> 'value')::boolean THEN '%I IS NULL' ELSE '%I IS NOT NULL' END,
                field)
        END;
        IF expr IS NULL THEN
            RAISE EXCEPTION 'crm_query: unknown operator %', item ->> 'op' USING ERRCODE = '22023';
        END IF;
        conds := conds || expr;
        i := i + 1;
    END LOOP;

    FOR item IN SELECT * FROM jsonb_array_elements(p_spec -> 'columns') LOOP
        field := coalesce(item ->> 'field', item ->> 'bucket');
        col_type := NULL;
        IF field IS NOT NULL THEN
            SELECT format_type(a.atttypid, a.atttypmod) INTO col_type FROM pg_attribute AS a
             WHERE a.attrelid = to_regclass('public.' || quote_ident(tbl)) AND a.attname = field
               AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'tenant_id';
            IF col_type IS NULL THEN
                RAISE EXCEPTION 'crm_query: unknown field %', field USING ERRCODE = '22023';
            END IF;
        END IF;
        IF item ? 'fn' THEN
            aggregate := true;
            expr := CASE
                WHEN field IS NULL AND item ->> 'fn' = 'count' THEN 'count(*)'
                WHEN field IS NULL THEN NULL
                WHEN item ->> 'fn' = 'count' THEN format('count(%I)', field)
                WHEN item ->> 'fn' = 'sum' THEN format('sum(%I)::float8', field)
                WHEN item ->> 'fn' = 'avg' THEN format('avg(%I)::float8', field)
                WHEN item ->> 'fn' = 'min' THEN format('min(%I)', field)
                WHEN item ->> 'fn' = 'max' THEN format('max(%I)', field)
            END;
            IF expr IS NULL THEN
                RAISE EXCEPTION 'crm_query: bad metric %', item USING ERRCODE = '22023';
            END IF;
        ELSIF item ? 'bucket' THEN
            IF item ->> 'unit' NOT IN ('day', 'week', 'month') THEN
                RAISE EXCEPTION 'crm_query: unknown unit %', item ->> 'unit'
                    USING ERRCODE = '22023';
            END IF;
            -- the period's first day in UTC; ISO weeks start on Monday
            expr := CASE col_type
                WHEN 'timestamp with time zone' THEN format(
                    'to_char(date_trunc(%L, timezone(''UTC'', %I)), ''YYYY-MM-DD'')',
                    item ->> 'unit', field)
                WHEN 'date' THEN format(
                    'to_char(date_trunc(%L, %I::timestamp), ''YYYY-MM-DD'')',
                    item ->> 'unit', field)
            END;
            IF expr IS NULL THEN
                RAISE EXCEPTION 'crm_query: % is not a date', field USING ERRCODE = '22023';
            END IF;
            groups := groups || expr;
        ELSE
            expr := format('%I', field);
            groups := groups || expr;
        END IF;
        exprs := exprs || expr;
    END LOOP;
    IF cardinality(exprs) = 0 THEN
        RAISE EXCEPTION 'crm_query: no columns' USING ERRCODE = '22023';
    END IF;

    FOR item IN SELECT * FROM jsonb_array_elements(coalesce(p_spec -> 'order', '[]')) LOOP
        expr := exprs[(item ->> 'column')::integer + 1];
        IF expr IS NULL THEN
            RAISE EXCEPTION 'crm_query: bad order %', item USING ERRCODE = '22023';
        END IF;
        orders := orders || (expr || CASE WHEN (item ->> 'desc')::boolean
            THEN ' DESC NULLS LAST' ELSE ' ASC NULLS LAST' END);
    END LOOP;
    -- ties broken as the sql source does: by the groups, or by id when listing records
    orders := orders || CASE WHEN aggregate THEN groups ELSE ARRAY['id'] END;

    EXECUTE format(
        'SELECT coalesce(jsonb_agg(q.r ORDER BY q.n), ''[]''::jsonb) FROM ('
        'SELECT jsonb_build_array(%s) AS r, row_number() OVER (ORDER BY %s) AS n '
        'FROM %I WHERE %s %s ORDER BY %s LIMIT %s) AS q',
        array_to_string(exprs, ', '),
        array_to_string(orders, ', '),
        tbl,
        array_to_string(conds, ' AND '),
        CASE WHEN aggregate AND cardinality(groups) > 0
            THEN 'GROUP BY ' || array_to_string(groups, ', ') ELSE '' END,
        array_to_string(orders, ', '),
        lim)
    INTO result USING p_tenant_id, p_spec;
    RETURN result;
END
$fn$
"""

# The raw counts behind pipeline_summary for [p_start, p_end); the sql source's rules.
CRM_PIPELINE_COUNTS = """
CREATE FUNCTION crm_pipeline_counts(p_tenant_id uuid, p_start timestamptz, p_end timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY INVOKER SET search_path = public, pg_temp
AS $fn$
SELECT jsonb_build_object(
    'deals_by_stage', (
        SELECT coalesce(jsonb_object_agg(s.stage, jsonb_build_array(s.n, s.v)), '{}')
        FROM (SELECT stage, count(*) AS n, coalesce(sum(amount), 0)::float8 AS v
              FROM deals
              WHERE tenant_id = p_tenant_id AND created_at < p_end
                AND (stage IN ('new', 'proposal', 'negotiation')
                     OR (closed_at >= p_start AND closed_at < p_end))
              GROUP BY stage) AS s),
    'accounts_by_stage', (
        SELECT coalesce(jsonb_object_agg(s.lifecycle_stage, s.n), '{}')
        FROM (SELECT lifecycle_stage, count(*) AS n FROM accounts
              WHERE tenant_id = p_tenant_id AND created_at < p_end
              GROUP BY lifecycle_stage) AS s),
    'won', (
        SELECT jsonb_build_array(count(*), coalesce(sum(amount), 0)::float8) FROM deals
        WHERE tenant_id = p_tenant_id AND stage = 'won'
          AND closed_at >= p_start AND closed_at < p_end),
    'lost', (
        SELECT count(*) FROM deals
        WHERE tenant_id = p_tenant_id AND stage = 'lost'
          AND closed_at >= p_start AND closed_at < p_end),
    'new_deals', (
        SELECT count(*) FROM deals
        WHERE tenant_id = p_tenant_id AND created_at >= p_start AND created_at < p_end)
)
$fn$
"""

# A qualification and the account's lead score change together (one transaction); NULL when
# the account is not the tenant's (or not visible to the caller).
CRM_RECORD_LEAD_QUALIFICATION = """
CREATE FUNCTION crm_record_lead_qualification(p_tenant_id uuid, p_qualification jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public, pg_temp
AS $fn$
DECLARE
    target uuid := (p_qualification ->> 'account_id')::uuid;
    previous double precision;
    written ai_lead_qualification;
BEGIN
    SELECT lead_score INTO previous FROM accounts
     WHERE id = target AND tenant_id = p_tenant_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO ai_lead_qualification
        (tenant_id, account_id, score, grade, factors, model_version, recommended_action)
    VALUES (
        p_tenant_id, target, (p_qualification ->> 'score')::double precision,
        p_qualification ->> 'grade', coalesce(p_qualification -> 'factors', '[]'),
        p_qualification ->> 'model_version', p_qualification ->> 'recommended_action')
    RETURNING * INTO written;
    UPDATE accounts SET lead_score = written.score, updated_at = written.created_at
     WHERE id = target AND tenant_id = p_tenant_id;
    RETURN jsonb_build_object(
        'qualification', to_jsonb(written) - 'tenant_id', 'previous_lead_score', previous);
END
$fn$
"""

FUNCTIONS = {
    "crm_query(uuid, jsonb)": CRM_QUERY,
    "crm_pipeline_counts(uuid, timestamptz, timestamptz)": CRM_PIPELINE_COUNTS,
    "crm_record_lead_qualification(uuid, jsonb)": CRM_RECORD_LEAD_QUALIFICATION,
}


def _is_postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _same_tenant_account(table: str) -> str:
    # Foreign keys are checked without row-level security, so without this a user could
    # attach a row to another tenant's account. Under RLS this sub-select sees only the
    # caller's own accounts.
    return f"EXISTS (SELECT 1 FROM accounts AS a WHERE a.id = {table}.account_id)"


def _crm_policy(table: str, has_account: bool) -> str:
    check = f"tenant_id = {CLAIMED_TENANT}"
    if has_account:
        check += f" AND (account_id IS NULL OR {_same_tenant_account(table)})"
    return (
        f"CREATE POLICY tenant_isolation ON {table} AS PERMISSIVE FOR ALL TO authenticated\n"
        f"    USING (tenant_id = {CLAIMED_TENANT})\n"
        f"    WITH CHECK ({check})"
    )


def _service_role_policy(table: str) -> str:
    return (
        f"CREATE POLICY service_role_all ON {table} AS PERMISSIVE FOR ALL TO service_role\n"
        "    USING (true) WITH CHECK (true)"
    )


def upgrade() -> None:
    if not _is_postgres():
        return
    op.execute(CREATE_ROLES)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {', '.join(API_ROLES)}")

    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute("REVOKE ALL ON tenants FROM anon, authenticated")
    op.execute("GRANT SELECT ON tenants TO authenticated")
    op.execute("GRANT ALL ON tenants TO service_role")
    op.execute(
        "CREATE POLICY tenant_isolation ON tenants AS PERMISSIVE FOR SELECT TO authenticated\n"
        f"    USING (id = {CLAIMED_TENANT})"
    )
    op.execute(_service_role_policy("tenants"))

    for table, has_account in CRM_TABLES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        # Supabase grants everything on new public tables to anon and authenticated by
        # default; start from nothing and grant what each role needs.
        op.execute(f"REVOKE ALL ON {table} FROM anon, authenticated")
        op.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO authenticated")
        op.execute(f"GRANT ALL ON {table} TO service_role")
        op.execute(_crm_policy(table, has_account))
        op.execute(_service_role_policy(table))

    for table in ORCHESTRATION_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM anon, authenticated")
        op.execute(f"GRANT ALL ON {table} TO service_role")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} AS PERMISSIVE FOR ALL TO authenticated\n"
            f"    USING (tenant_id = {CLAIMED_TENANT})\n"
            f"    WITH CHECK (tenant_id = {CLAIMED_TENANT})"
        )
        op.execute(_service_role_policy(table))

    for signature, body in FUNCTIONS.items():
        op.execute(body)
        # Functions are executable by PUBLIC unless revoked.
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC, anon")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO authenticated, service_role")

    # Alembic's bookkeeping lives in public too: keep it out of the REST API.
    op.execute("ALTER TABLE alembic_version ENABLE ROW LEVEL SECURITY")
    op.execute("REVOKE ALL ON alembic_version FROM anon, authenticated")


def downgrade() -> None:
    if not _is_postgres():
        return
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("ALTER TABLE alembic_version DISABLE ROW LEVEL SECURITY")
    for table in ("tenants", *CRM_TABLES, *ORCHESTRATION_TABLES):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"DROP POLICY IF EXISTS service_role_all ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM {', '.join(API_ROLES)}")
