# shellcheck shell=bash
# Throwaway MariaDB and PostgreSQL servers for the integration tests, started in a directory the
# test owns (a mktemp dir) and listening on 127.0.0.1:PORT only. Source this file, then:
#
#   sf_mariadb_start DIR PORT    install a new datadir in DIR/data and start it
#   sf_mariadb_restart DIR PORT  start the existing datadir again (after stop or kill)
#   sf_mariadb_stop DIR          clean shutdown        sf_mariadb_kill DIR   SIGKILL
#   sf_pg_start / sf_pg_restart / sf_pg_stop / sf_pg_kill: the same for PostgreSQL 15
#   sf_mysql_exec PORT SQL       run SQL as sqlflume, tab-separated rows, no header
#   sf_pg_exec PORT SQL          run SQL as sqlflume, '|'-separated rows, no header
#
# Both servers get a user sqlflume / password sqlflume-pw with every privilege (PostgreSQL: a
# superuser, password checked with SCRAM over TCP) and a database sqlflume_test. We run as root:
# mariadbd runs as root (--user=root), PostgreSQL (which refuses root) as the postgres user, so DIR
# is handed to postgres and its parent directories must be traversable by it (chmod 755 the
# mktemp dir). Start-up waits until the server answers and fails loudly, with the server log, if
# that takes longer than 60 s (times SF_TIME_MULT). Functions return non-zero on failure.

SF_DB_USER=${SF_DB_USER:-sqlflume}
SF_DB_PASSWORD=${SF_DB_PASSWORD:-sqlflume-pw}
SF_DB_NAME=${SF_DB_NAME:-sqlflume_test}
SF_PG_BIN=${SF_PG_BIN:-/usr/lib/postgresql/15/bin}

_sf_db_timeout() { echo $((60 * ${SF_TIME_MULT:-1})); }

_sf_db_fail() { # message logfile
    echo "db.sh: $1" >&2
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        echo "---- last lines of $2 ----" >&2
        tail -n 40 "$2" >&2
        echo "----" >&2
    fi
    return 1
}

# ---------------------------------------------------------------------------------------------
# MariaDB
# ---------------------------------------------------------------------------------------------

_sf_mariadb_launch() { # dir port
    local dir=$1 port=$2
    rm -f "$dir/mariadb.sock" "$dir/mariadb.pid"
    # setsid: the server must not get the test script's signals (Ctrl-C, process-group kills)
    setsid mariadbd --no-defaults --user=root --datadir="$dir/data" \
        --socket="$dir/mariadb.sock" --pid-file="$dir/mariadb.pid" \
        --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
        --log-error="$dir/mariadb.log" --max-allowed-packet=64M \
        --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --skip-log-bin </dev/null >>"$dir/mariadb.out" 2>&1 &
    echo $! >"$dir/mariadb.launch-pid"
    local deadline=$((SECONDS + $(_sf_db_timeout)))
    while [ $SECONDS -lt $deadline ]; do
        if mysqladmin --no-defaults --socket="$dir/mariadb.sock" -uroot --connect-timeout=2 \
            ping >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$(cat "$dir/mariadb.launch-pid")" 2>/dev/null; then
            _sf_db_fail "mariadb in $dir exited during start-up (port $port)" "$dir/mariadb.log"
            return 1
        fi
        sleep 0.2
    done
    _sf_db_fail "mariadb in $dir did not answer within $(_sf_db_timeout) s (port $port)" \
        "$dir/mariadb.log"
}

sf_mariadb_start() { # dir port
    local dir=$1 port=$2
    if [ -z "$dir" ] || [ -z "$port" ]; then
        _sf_db_fail "usage: sf_mariadb_start DIR PORT"
        return 1
    fi
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    if ! mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
        --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1; then
        _sf_db_fail "mariadb-install-db failed in $dir" "$dir/install.log"
        return 1
    fi
    _sf_mariadb_launch "$dir" "$port" || return 1
    if ! mariadb --no-defaults --socket="$dir/mariadb.sock" -uroot >>"$dir/install.log" 2>&1 <<SQL
CREATE USER '$SF_DB_USER'@'%' IDENTIFIED BY '$SF_DB_PASSWORD';
CREATE USER '$SF_DB_USER'@'localhost' IDENTIFIED BY '$SF_DB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$SF_DB_USER'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$SF_DB_USER'@'localhost' WITH GRANT OPTION;
CREATE DATABASE $SF_DB_NAME CHARACTER SET utf8mb4;
SQL
    then
        _sf_db_fail "could not create user and database in mariadb at $dir" "$dir/install.log"
        return 1
    fi
}

sf_mariadb_restart() { # dir port
    local dir=$1 port=$2
    [ -d "$dir/data" ] || { _sf_db_fail "no mariadb datadir in $dir"; return 1; }
    dir=$(cd "$dir" && pwd)
    _sf_mariadb_launch "$dir" "$port"
}

_sf_mariadb_pid() { # dir
    local pid=""
    [ -f "$1/mariadb.pid" ] && pid=$(cat "$1/mariadb.pid" 2>/dev/null)
    [ -z "$pid" ] && [ -f "$1/mariadb.launch-pid" ] && pid=$(cat "$1/mariadb.launch-pid")
    echo "$pid"
}

_sf_wait_gone() { # pid seconds
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.1
    done
    return 0
}

sf_mariadb_stop() { # dir
    local dir=$1 pid
    pid=$(_sf_mariadb_pid "$dir")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    mysqladmin --no-defaults --socket="$dir/mariadb.sock" -uroot shutdown >/dev/null 2>&1 ||
        kill -TERM "$pid" 2>/dev/null
    if ! _sf_wait_gone "$pid" "$(_sf_db_timeout)"; then
        kill -KILL "$pid" 2>/dev/null
        _sf_wait_gone "$pid" 10
        _sf_db_fail "mariadb in $dir did not shut down, killed it" "$dir/mariadb.log"
        return 1
    fi
}

sf_mariadb_kill() { # dir
    local dir=$1 pid
    pid=$(_sf_mariadb_pid "$dir")
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null
    _sf_wait_gone "$pid" 30
}

sf_mysql_exec() { # port sql
    mariadb --no-defaults -h127.0.0.1 -P"$1" -u"$SF_DB_USER" -p"$SF_DB_PASSWORD" \
        --default-character-set=utf8mb4 -N -B "$SF_DB_NAME" -e "$2"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

_sf_as_postgres() { # command...: run as the postgres user, in a directory it can read
    (cd / && su postgres -s /bin/sh -c "$*")
}

_sf_pg_launch() { # dir port
    local dir=$1 port=$2
    rm -f "$dir/data/postmaster.pid.stale"
    # pg_ctl -w waits for the server itself; pg_isready below double-checks TCP
    if ! _sf_as_postgres "'$SF_PG_BIN/pg_ctl' -D '$dir/data' -l '$dir/postgres.log' -w \
            -t $(_sf_db_timeout) -o \"-p $port -c listen_addresses=127.0.0.1 \
            -c unix_socket_directories='$dir' -c fsync=off -c max_connections=100\" start" \
            >>"$dir/pg_ctl.log" 2>&1; then
        _sf_db_fail "postgresql in $dir did not start (port $port)" "$dir/postgres.log"
        return 1
    fi
    local deadline=$((SECONDS + $(_sf_db_timeout)))
    while [ $SECONDS -lt $deadline ]; do
        if "$SF_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; then
            return 0
        fi
        sleep 0.2
    done
    _sf_db_fail "postgresql in $dir did not answer within $(_sf_db_timeout) s (port $port)" \
        "$dir/postgres.log"
}

sf_pg_start() { # dir port
    local dir=$1 port=$2
    if [ -z "$dir" ] || [ -z "$port" ]; then
        _sf_db_fail "usage: sf_pg_start DIR PORT"
        return 1
    fi
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd)
    chown postgres:postgres "$dir" || return 1
    if ! _sf_as_postgres "test -w '$dir'"; then
        _sf_db_fail "user postgres cannot write to $dir: make its parent directories traversable (chmod 755)"
        return 1
    fi
    local pwfile=$dir/.pw
    printf '%s\n' "$SF_DB_PASSWORD" >"$pwfile" && chown postgres "$pwfile" && chmod 600 "$pwfile"
    # the bootstrap superuser is sqlflume itself (password from pwfile); the local socket trusts
    # it so that the scripts here can administer without a password
    if ! _sf_as_postgres "'$SF_PG_BIN/initdb' -D '$dir/data' -U '$SF_DB_USER' --pwfile='$pwfile' \
            -E UTF8 --no-locale --auth-local=trust --auth-host=scram-sha-256 --no-sync" \
            >"$dir/initdb.log" 2>&1; then
        rm -f "$pwfile"
        _sf_db_fail "initdb failed in $dir" "$dir/initdb.log"
        return 1
    fi
    rm -f "$pwfile"
    _sf_pg_launch "$dir" "$port" || return 1
    if ! "$SF_PG_BIN/psql" -X -q -h "$dir" -p "$port" -U "$SF_DB_USER" -d postgres \
        -v ON_ERROR_STOP=1 -c "CREATE DATABASE $SF_DB_NAME OWNER $SF_DB_USER" \
        >>"$dir/initdb.log" 2>&1; then
        _sf_db_fail "could not create database $SF_DB_NAME in postgresql at $dir" "$dir/initdb.log"
        return 1
    fi
}

sf_pg_restart() { # dir port
    local dir=$1 port=$2
    [ -d "$dir/data" ] || { _sf_db_fail "no postgresql datadir in $dir"; return 1; }
    dir=$(cd "$dir" && pwd)
    _sf_pg_launch "$dir" "$port"
}

_sf_pg_pid() { # dir
    [ -f "$1/data/postmaster.pid" ] && head -n 1 "$1/data/postmaster.pid"
}

sf_pg_stop() { # dir
    local dir=$1 pid
    pid=$(_sf_pg_pid "$dir")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    _sf_as_postgres "'$SF_PG_BIN/pg_ctl' -D '$dir/data' -m fast -w -t $(_sf_db_timeout) stop" \
        >>"$dir/pg_ctl.log" 2>&1
    if ! _sf_wait_gone "$pid" 10; then
        kill -KILL "$pid" 2>/dev/null
        _sf_db_fail "postgresql in $dir did not shut down, killed it" "$dir/postgres.log"
        return 1
    fi
}

sf_pg_kill() { # dir: SIGKILL the postmaster and every backend (as a crashed host would)
    local dir=$1 pid
    pid=$(_sf_pg_pid "$dir")
    [ -n "$pid" ] || return 0
    local kids k
    read -r -a kids <<<"$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ')"
    kill -KILL "$pid" "${kids[@]}" 2>/dev/null
    _sf_wait_gone "$pid" 30
    for k in "${kids[@]}"; do _sf_wait_gone "$k" 30; done
    return 0
}

sf_pg_exec() { # port sql
    PGPASSWORD=$SF_DB_PASSWORD "$SF_PG_BIN/psql" -X -q -t -A -h 127.0.0.1 -p "$1" \
        -U "$SF_DB_USER" -d "$SF_DB_NAME" -v ON_ERROR_STOP=1 -c "$2"
}
