#!/usr/bin/env bash
# Make sure the system services and programs the test suite needs are present.
#
#   - a PostgreSQL server accepting connections on 127.0.0.1:5432, with the
#     superuser role "postgres" reachable over TCP without a password, and the
#     client programs pg_dump, pg_restore and psql of at least the server's
#     version (`smartbank db backup` / `db restore` run them);
#   - Debian's Chromium at /usr/bin/chromium (used by the Playwright tests);
#   - CJK fonts for screenshots (best effort);
#   - the OpenMP runtime (libgomp1) that LightGBM's wheels link against.
#
# Everything is installed or started only when missing, so on a machine that
# already has it all this script changes nothing. Uses apt-get (Debian).
#
# Usage: scripts/ensure-system.sh [postgres] [chromium] [fonts] [openmp]   (default: all)
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
CHROMIUM=/usr/bin/chromium

export DEBIAN_FRONTEND=noninteractive

log() { printf '[ensure-system] %s\n' "$*"; }
warn() { printf '[ensure-system] WARNING: %s\n' "$*" >&2; }
die() { printf '[ensure-system] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command as root (directly, or through sudo when available).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -E "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# Run a command as the postgres OS user.
as_postgres() {
    if [ "$(id -un)" = postgres ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        as_root su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || { warn "apt-get not found; cannot install: $*"; return 1; }
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update || return 1
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    as_root apt-get install -y "$@"
}

port_open() {
    # True when something accepts TCP connections on $PG_HOST:$PG_PORT.
    timeout 3 bash -c "exec 3<>/dev/tcp/${PG_HOST}/${PG_PORT}" 2>/dev/null
}

pg_ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
    else
        port_open
    fi
}

pg_superuser_ok() {
    # True when role "postgres" can log in over TCP without a password and is a superuser.
    command -v psql >/dev/null 2>&1 || return 1
    local out
    out=$(PGPASSWORD='' PGCONNECT_TIMEOUT=5 psql -w -X -At -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
        -c 'select rolsuper from pg_roles where rolname = current_user' 2>/dev/null) || return 1
    [ "$out" = t ]
}

pg_version() {
    # Newest PostgreSQL version configured under /etc/postgresql.
    local d
    for d in /etc/postgresql/*/; do
        d=${d%/}
        d=${d##*/}
        if [[ $d =~ ^[0-9]+(\.[0-9]+)?$ ]]; then printf '%s\n' "$d"; fi
    done | sort -V | tail -n 1
}

wait_pg_ready() {
    local _
    for _ in $(seq 1 60); do
        if pg_ready; then
            return 0
        fi
        sleep 1
    done
    return 1
}

client_major() {
    # Major version of the pg_dump on PATH (Debian's wrapper picks the newest installed), or nothing.
    command -v pg_dump >/dev/null 2>&1 || return 0
    pg_dump --version 2>/dev/null | sed -nE 's/.*[^0-9]([0-9]+)(\.[0-9]+)+.*/\1/p' | head -n 1
}

server_major() {
    PGPASSWORD='' PGCONNECT_TIMEOUT=5 psql -w -X -At -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres \
        -c 'show server_version_num' 2>/dev/null | sed -nE 's/^([0-9]+)[0-9]{4}$/\1/p'
}

ensure_pg_client_tools() {
    # The backup commands run pg_dump/pg_restore/psql; pg_dump refuses a server newer than itself.
    local want have
    if ! command -v pg_dump >/dev/null 2>&1 || ! command -v pg_restore >/dev/null 2>&1 \
        || ! command -v psql >/dev/null 2>&1; then
        apt_install postgresql-client || die "could not install postgresql-client (pg_dump, pg_restore, psql)"
    fi
    want=$(server_major || true)
    have=$(client_major || true)
    if [ -n "$want" ] && [ -n "$have" ] && [ "$have" -lt "$want" ]; then
        apt_install "postgresql-client-$want" \
            || warn "pg_dump $have is older than the server ($want): install postgresql-client-$want for backups"
    fi
    log "PostgreSQL client programs: pg_dump $(client_major || echo '?') (server ${want:-?})"
}

ensure_postgres() {
    ensure_postgres_server
    ensure_pg_client_tools
}

ensure_postgres_server() {
    if pg_ready && pg_superuser_ok; then
        log "PostgreSQL: accepting connections on ${PG_HOST}:${PG_PORT}, role postgres OK"
        return 0
    fi

    local ver
    if ! command -v psql >/dev/null 2>&1 && port_open; then
        # A server is there but no client tools to check it with.
        apt_install postgresql-client || die "could not install postgresql-client"
        if pg_superuser_ok; then
            log "PostgreSQL: accepting connections on ${PG_HOST}:${PG_PORT}, role postgres OK"
            return 0
        fi
    fi
    if ! pg_ready; then
        if ! dpkg -s postgresql >/dev/null 2>&1 && [ -z "$(pg_version)" ]; then
            apt_install postgresql || die "could not install postgresql"
        fi
        ver=$(pg_version)
        [ -n "$ver" ] || die "PostgreSQL is installed but no version under /etc/postgresql"
        if [ ! -d "/etc/postgresql/$ver/main" ]; then
            log "creating cluster $ver/main"
            as_root pg_createcluster "$ver" main
        fi
        # pg_createcluster picks another port when 5432 was busy at install time.
        local conf="/etc/postgresql/$ver/main/postgresql.conf" cur_port
        cur_port=$(sed -nE 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*([0-9]+).*/\1/p' "$conf" 2>/dev/null | tail -n 1 || true)
        if [ -n "$cur_port" ] && [ "$cur_port" != "$PG_PORT" ]; then
            log "cluster $ver/main is set to port $cur_port: switching it to $PG_PORT"
            as_root sed -i -E "s/^([[:space:]]*port[[:space:]]*=[[:space:]]*)[0-9]+/\1${PG_PORT}/" "$conf"
            as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main stop >/dev/null 2>&1 || true
        fi
        as_root install -d -o postgres -g postgres -m 2775 /var/run/postgresql
        log "starting PostgreSQL cluster $ver/main"
        # "start" fails when the cluster is already running (e.g. on another port): not fatal here.
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start \
            || warn "pg_ctlcluster $ver main start returned non-zero"
        wait_pg_ready || die "PostgreSQL did not become ready on ${PG_HOST}:${PG_PORT}"
    fi

    if ! pg_superuser_ok; then
        ver=$(pg_version)
        local hba
        hba=$(as_postgres psql -X -At -c 'show hba_file' 2>/dev/null || true)
        if [ -z "$hba" ] && [ -n "$ver" ]; then
            hba="/etc/postgresql/$ver/main/pg_hba.conf"
        fi
        if [ -z "$hba" ] || ! as_root test -f "$hba"; then
            die "role postgres is not reachable on ${PG_HOST}:${PG_PORT} and no local pg_hba.conf was found"
        fi
        log "adding trust authentication for 127.0.0.1 to $hba"
        as_root cp -p "$hba" "$hba.bak-smartbank"
        # First matching line wins: put ours before every other rule.
        as_root sed -i '1i host    all             all             127.0.0.1/32            trust  # added by smartbank scripts/ensure-system.sh' "$hba"
        if ! as_postgres psql -X -q -c 'select pg_reload_conf()' >/dev/null 2>&1; then
            [ -n "$ver" ] && as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
        fi
        sleep 1
        wait_pg_ready || die "PostgreSQL did not become ready after reload"
        pg_superuser_ok || die "role postgres still not reachable without a password on ${PG_HOST}:${PG_PORT}"
    fi
    log "PostgreSQL: ready on ${PG_HOST}:${PG_PORT}, role postgres OK"
}

ensure_chromium() {
    if [ -x "$CHROMIUM" ]; then
        log "Chromium: $CHROMIUM present"
        return 0
    fi
    apt_install chromium || die "could not install chromium"
    [ -x "$CHROMIUM" ] || die "chromium installed but $CHROMIUM is missing"
    log "Chromium: installed"
}

ensure_cjk_fonts() {
    if dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
        return 0
    fi
    if command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null | head -n 1)" ]; then
        return 0
    fi
    apt_install fonts-noto-cjk || warn "fonts-noto-cjk not installed; Chinese text in screenshots may show as boxes"
}

ensure_openmp() {
    if compgen -G '/usr/lib/*/libgomp.so.1' >/dev/null || compgen -G '/lib/*/libgomp.so.1' >/dev/null \
        || { command -v ldconfig >/dev/null 2>&1 && ldconfig -p | grep -q 'libgomp\.so\.1'; }; then
        return 0
    fi
    apt_install libgomp1 || die "could not install libgomp1 (needed by LightGBM)"
    log "OpenMP runtime: installed"
}

# Arguments pick what to check (default: everything).
if [ "$#" -eq 0 ]; then
    set -- postgres chromium fonts openmp
fi
for what in "$@"; do
    case "$what" in
        postgres | postgresql) ensure_postgres ;;
        chromium) ensure_chromium ;;
        fonts) ensure_cjk_fonts ;;
        openmp) ensure_openmp ;;
        *) die "unknown component '$what' (expected: postgres, chromium, fonts, openmp)" ;;
    esac
done
log "done"
