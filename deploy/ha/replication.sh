#!/bin/sh
# The primary's first start (docker-entrypoint-initdb.d): let the standby stream from it as the
# database's owner, with the same password (compose's `ha` profile, docs/runbook.md).
set -eu
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "${PGDATA}/pg_hba.conf"
