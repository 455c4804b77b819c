# Shared by test/run, quickstart/run and bench/run: a private PostgreSQL
# cluster run as the `postgres` user (PostgreSQL refuses root) on its own port
# and socket directory, and the local AWS emulator on a loopback port.
#
# Source it, then call start_cluster / start_emulator; stop_all stops both.
# Settings (environment, with defaults):
#   AUDIT_FDW_RUN_DIR    logs and the emulator's data      (<repo>/.run/<name>)
#   AUDIT_FDW_PG_DIR     the cluster's data, socket and log (/tmp/audit_fdw-<name>-<hash>:
#                        outside the checkout, which the postgres user may not reach)
#   AUDIT_FDW_PGPORT     the cluster's port                 (55432)
#   AUDIT_FDW_EMU_PORT   the emulator's port                (45660)
#   PG_CONFIG            the PostgreSQL 15 to build against and run

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# PG_CONFIG may name another PostgreSQL 15 installation (a relocated copy).
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_BINDIR=$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
PYTHON=/usr/bin/python3
export PYTHON

run_name=${RUN_NAME:-test}
export AUDIT_FDW_RUN_DIR=${AUDIT_FDW_RUN_DIR:-$REPO_ROOT/.run/$run_name}
export AUDIT_FDW_PG_DIR=${AUDIT_FDW_PG_DIR:-${TMPDIR:-/tmp}/audit_fdw-$run_name-$(echo "$REPO_ROOT" | md5sum | cut -c1-8)}
export AUDIT_FDW_PGPORT=${AUDIT_FDW_PGPORT:-55432}
export AUDIT_FDW_EMU_PORT=${AUDIT_FDW_EMU_PORT:-45660}

# What clients (psql, pg_regress, psycopg2, the tests) use.
export PGHOST=$AUDIT_FDW_PG_DIR/socket
export PGPORT=$AUDIT_FDW_PGPORT
export PGUSER=postgres
export PGDATABASE=${PGDATABASE:-audit}
export AUDIT_FDW_EMULATOR_URL=http://127.0.0.1:$AUDIT_FDW_EMU_PORT
export AUDIT_FDW_REPO=$REPO_ROOT

as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@") # the checkout may be closed to postgres
	else
		"$@"
	fi
}

# start_cluster [extra postgresql.conf lines...]
start_cluster() {
	local data=$AUDIT_FDW_PG_DIR/pgdata
	mkdir -p "$AUDIT_FDW_RUN_DIR" "$AUDIT_FDW_PG_DIR" "$PGHOST" "$AUDIT_FDW_PG_DIR/log"
	chmod 755 "$AUDIT_FDW_PG_DIR"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$PGHOST" "$AUDIT_FDW_PG_DIR/log"
	if [ ! -f "$data/PG_VERSION" ]; then
		mkdir -p "$data"
		[ "$(id -u)" -eq 0 ] && chown postgres: "$data"
		as_postgres "$PG_BINDIR/initdb" -D "$data" -U postgres --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 >"$AUDIT_FDW_RUN_DIR/initdb.log" 2>&1 || {
			cat "$AUDIT_FDW_RUN_DIR/initdb.log" >&2
			return 1
		}
		cat >>"$data/postgresql.conf" <<CONF
port = $AUDIT_FDW_PGPORT
listen_addresses = ''
unix_socket_directories = '$PGHOST'
shared_preload_libraries = 'audit_fdw'
audit_fdw.database = '$PGDATABASE'
max_worker_processes = 32
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%a '
CONF
		for line in "$@"; do echo "$line" >>"$data/postgresql.conf"; done
	fi
	as_postgres "$PG_BINDIR/pg_ctl" -D "$data" -l "$AUDIT_FDW_PG_DIR/log/postgres.log" \
		-w -t 60 start >/dev/null || {
		tail -20 "$AUDIT_FDW_PG_DIR/log/postgres.log" >&2
		return 1
	}
	"$PG_BINDIR/psql" -X -q -d postgres -c "SELECT 1" >/dev/null
	"$PG_BINDIR/createdb" "$PGDATABASE" 2>/dev/null || true
}

stop_cluster() {
	local data=$AUDIT_FDW_PG_DIR/pgdata
	[ -f "$data/postmaster.pid" ] || return 0
	as_postgres "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
		as_postgres "$PG_BINDIR/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
}

# The emulator runs its Athena engine in a database of the private cluster.
start_emulator() {
	local emu=$REPO_ROOT/test/emulator/aws-emulator
	[ -x "$emu" ] || return 0
	local data=$AUDIT_FDW_RUN_DIR/emulator
	mkdir -p "$data"
	"$PG_BINDIR/createdb" athena_engine 2>/dev/null || true
	local fifo=$AUDIT_FDW_RUN_DIR/emulator.ready
	rm -f "$fifo"
	"$emu" --port "$AUDIT_FDW_EMU_PORT" --data-dir "$data" \
		--engine-dsn "host=$PGHOST port=$PGPORT user=postgres dbname=athena_engine" \
		"$@" >"$fifo" 2>"$AUDIT_FDW_RUN_DIR/emulator.log" &
	echo $! >"$AUDIT_FDW_RUN_DIR/emulator.pid"
	local i
	for i in $(seq 1 200); do
		grep -qx ready "$fifo" 2>/dev/null && return 0
		kill -0 "$(cat "$AUDIT_FDW_RUN_DIR/emulator.pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "the emulator did not start:" >&2
	tail -20 "$AUDIT_FDW_RUN_DIR/emulator.log" >&2
	return 1
}

stop_emulator() {
	local pidfile=$AUDIT_FDW_RUN_DIR/emulator.pid
	[ -f "$pidfile" ] || return 0
	local pid
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}

stop_all() {
	stop_emulator
	stop_cluster
}

# build_and_install: warning-free build (-Werror) and install into the
# PostgreSQL 15 tree.
build_and_install() {
	make -C "$REPO_ROOT" -s WERROR=1 >"$AUDIT_FDW_RUN_DIR/build.log" 2>&1 &&
		make -C "$REPO_ROOT" -s install >>"$AUDIT_FDW_RUN_DIR/build.log" 2>&1 || {
		cat "$AUDIT_FDW_RUN_DIR/build.log" >&2
		return 1
	}
}
