# Shared set-up for scripts/up and scripts/test: installs what is missing, idempotently.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
LOCAL_PG="$ROOT/var/pg"
LOCAL_PG_PORT=54329

log() { printf '\033[1;34m[houniao]\033[0m %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

ensure_debian_packages() {
  local wanted=(postgresql-15-postgis-3 postgresql-15-pgrouting gdal-bin chromium fonts-noto-cjk)
  local missing=()
  for p in "${wanted[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    log "missing Debian packages (${missing[*]}); install them as root"; return 0
  fi
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_venv() {
  local stamp="$VENV/.installed-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)"
  [ -f "$stamp" ] && return 0
  log "creating the Python environment in .venv"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e "$ROOT[dev]"
  rm -f "$VENV"/.installed-* && touch "$stamp"
}

server_answers() { "$VENV/bin/python" - "$1" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1].replace("postgresql+psycopg://", "postgresql://"), dbname="postgres", connect_timeout=3).close()
except Exception:
    sys.exit(1)
PY
}

start_local_cluster() {
  [ -n "$PG_BIN" ] || { log "no PostgreSQL binaries found (apt-get install postgresql-15)"; exit 1; }
  local run=()
  if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); fi
  mkdir -p "$LOCAL_PG"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$ROOT/var"
    # The postgres user must be able to reach var/pg: add traverse (x) rights, never read,
    # to the project's ancestor folders that lack them (e.g. a clone under a mktemp folder).
    local dir="$ROOT"
    while [ "$dir" != "/" ]; do
      runuser -u postgres -- test -x "$dir" 2>/dev/null || { chmod o+x "$dir"; log "granted o+x on $dir"; }
      dir="$(dirname "$dir")"
    done
  fi
  if [ ! -f "$LOCAL_PG/data/PG_VERSION" ]; then
    log "initialising a project-local PostgreSQL cluster in var/pg"
    (cd / && "${run[@]}" "$PG_BIN/initdb" -D "$LOCAL_PG/data" -U postgres -A trust >/dev/null)
  fi
  if ! "${run[@]}" "$PG_BIN/pg_ctl" -D "$LOCAL_PG/data" status >/dev/null 2>&1; then
    log "starting the project-local cluster on 127.0.0.1:$LOCAL_PG_PORT"
    (cd / && "${run[@]}" "$PG_BIN/pg_ctl" -D "$LOCAL_PG/data" -l "$LOCAL_PG/log" -w \
      -o "-p $LOCAL_PG_PORT -k $LOCAL_PG -c listen_addresses=127.0.0.1" start >/dev/null)
  fi
}

# Sets DATABASE_URL: the caller's, else the server at 127.0.0.1:5432, else a project-local one.
ensure_database() {
  local default="postgresql://postgres@127.0.0.1:5432/houniao"
  if [ -z "${DATABASE_URL:-}" ]; then
    if server_answers "$default"; then
      export DATABASE_URL="$default"
    else
      log "no PostgreSQL answers at 127.0.0.1:5432: using a project-local cluster instead"
      start_local_cluster
      export DATABASE_URL="postgresql://postgres@127.0.0.1:$LOCAL_PG_PORT/houniao"
    fi
  fi
  server_answers "$DATABASE_URL" || { log "cannot connect to the server of DATABASE_URL=$DATABASE_URL"; exit 1; }
  "$VENV/bin/python" - <<'PY'
import os
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
url = make_url(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
with admin.connect() as c:
    if not c.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": url.database}).scalar():
        c.execute(text(f'CREATE DATABASE "{url.database}"'))
PY
  log "database: $DATABASE_URL"
}

setup_all() {
  ensure_debian_packages
  ensure_venv
  ensure_database
}
