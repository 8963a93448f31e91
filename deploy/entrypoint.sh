#!/bin/sh
# Container entry point: the first argument is the role.
set -eu
role="${1:-web}"
[ $# -gt 0 ] && shift
case "$role" in
  web)
    exec gunicorn -c deploy/gunicorn.conf.py web.wsgi "$@" ;;
  worker)
    # Scale freely: workers lease shards among themselves, one writer per shard.
    exec python -m worker "$@" ;;
  webhooks)
    # Webhook delivery and its dispatcher (docs/events.md); scale freely.
    exec python -m worker.webhooks "$@" ;;
  migrate)
    exec python web/manage.py migrate --noinput "$@" ;;
  apikey)
    # docker compose run --rm web apikey create --tenant acme   (the secret is the last line)
    exec python web/manage.py apikey "$@" ;;
  dashboard)
    # Read only (deploy/dashboard.py); basic auth from RQ_DASHBOARD_USERNAME and _PASSWORD.
    exec python deploy/dashboard.py --bind 0.0.0.0 --port "${DASHBOARD_PORT:-9181}" --redis-url "$REDIS_URL" "$@" ;;
  *)
    exec "$role" "$@" ;;
esac
