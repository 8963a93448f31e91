#!/bin/sh
# A streaming standby of PRIMARY_HOST (compose's `ha` profile, docs/runbook.md): on its first
# start it copies the primary with pg_basebackup -R (which writes primary_conninfo and
# standby.signal), then runs as a hot standby named STANDBY_NAME, the name the primary's
# synchronous_standby_names waits for. Once promoted it waits for no standby of its own.
set -eu
if [ ! -s "${PGDATA}/PG_VERSION" ]; then
  until PGPASSWORD="${POSTGRES_PASSWORD}" pg_basebackup -h "${PRIMARY_HOST}" -U "${POSTGRES_USER}" \
      -D "${PGDATA}" -R -X stream -c fast; do
    echo "waiting for the primary ${PRIMARY_HOST}"; sleep 2
  done
  chmod 0700 "${PGDATA}"
fi
exec postgres -c cluster_name="${STANDBY_NAME}" -c synchronous_standby_names=''
