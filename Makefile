# Wallet service. `make` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PORT ?= 8000
# One run directory (supervisord's socket and pid file) per port: stacks on other ports run side by side.
RUN_DIR = .run/$(PORT)
WORKERS ?= 2
WEBHOOK_WORKERS ?= 1
DASHBOARD_PORT ?= 9181
BENCH_RUNS ?= 3
BENCH_SECONDS ?= 30
PROFILE_SCENARIO ?= hot
PROFILE_SECONDS ?= 20
HISTORY_ROWS ?= 1000000
LOAD_SECONDS ?= 60
LOAD_USERS ?= 50
LOAD_UI_PORT ?= 8089
SCOPES ?= read,write
export DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/wallet
export REDIS_URL ?= redis://127.0.0.1:6379/0

.DEFAULT_GOAL := help
.PHONY: help install run migrate apikey apikey-revoke superuser test lint bench bench-compare bench-history profile load load-ui clean

help:  ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements/base.txt requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install the pinned requirements

.env:
	@printf 'SECRET_KEY=%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env
	@echo "wrote .env with a new random SECRET_KEY (git ignores it)"

migrate: $(STAMP) .env  ## Create the database if missing, apply migrations, collect the admin's static files
	$(BIN)/honcho -e .env run $(BIN)/python web/manage.py createdb
	$(BIN)/honcho -e .env run $(BIN)/python web/manage.py migrate --verbosity 1
	$(BIN)/honcho -e .env run $(BIN)/python web/manage.py collectstatic --noinput --verbosity 0

run: migrate  ## Serve the API on $PORT with $WORKERS (2; 0 for web only) shard workers, $WEBHOOK_WORKERS (1) webhook workers and rq-dashboard, kept up by supervisord (Ctrl-C stops all)
	@mkdir -p $(RUN_DIR)
	$(BIN)/python deploy/supervise.py --bin $(BIN) --run-dir $(RUN_DIR) --workers $(WORKERS) \
		--webhook-workers $(WEBHOOK_WORKERS) --dashboard-port $(DASHBOARD_PORT) --redis-url "$$REDIS_URL" > $(RUN_DIR)/supervisord.conf
	@# exec: no shell between honcho and supervisord, to die of Ctrl-C after supervisord stopped cleanly
	PORT=$(PORT) $(BIN)/honcho -e .env run exec $(BIN)/supervisord -c $(RUN_DIR)/supervisord.conf

apikey: migrate  ## A new API key: TENANT=acme [SCOPES=read] [NAME=...] [RATE=500/second] [WALLET_RATE=...] [IDEMPOTENCY_RATE=...]; the secret is the last line
	@test -n "$(TENANT)" || { echo "usage: make apikey TENANT=acme [SCOPES=read|read,write] [NAME=...] [RATE=500/second] [WALLET_RATE=20/second] [IDEMPOTENCY_RATE=50000/hour]" >&2; exit 2; }
	@$(BIN)/honcho -e .env run $(BIN)/python web/manage.py apikey create --tenant "$(TENANT)" \
		--scopes "$(SCOPES)" --name "$(NAME)" $(if $(RATE),--rate-limit-writes "$(RATE)") \
		$(if $(WALLET_RATE),--rate-limit-wallets "$(WALLET_RATE)") \
		$(if $(IDEMPOTENCY_RATE),--rate-limit-idempotency-keys "$(IDEMPOTENCY_RATE)")

apikey-revoke: $(STAMP) .env  ## Revoke an API key: KEY=wk_... (its prefix or id)
	@$(BIN)/honcho -e .env run $(BIN)/python web/manage.py apikey revoke "$(KEY)"

superuser: migrate  ## Create an admin login for /admin/ (asks; without a terminal: DJANGO_SUPERUSER_USERNAME, _EMAIL, _PASSWORD)
	@test -t 0 || test -n "$$DJANGO_SUPERUSER_PASSWORD" || { echo "make superuser: no terminal to ask on; set DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD" >&2; exit 2; }
	$(BIN)/honcho -e .env run $(BIN)/python web/manage.py createsuperuser $(if $(DJANGO_SUPERUSER_PASSWORD),--noinput)

# Headless Chromium, for the tests that look at pages as a person's browser shows them.
CHROMIUM := /usr/lib/chromium/chromium
$(CHROMIUM):
	apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }

# Prometheus and promtool, for the test that runs the alert rules against a real stack.
PROMETHEUS := /usr/bin/prometheus
$(PROMETHEUS):
	apt-get install -y -q --no-install-recommends prometheus || { apt-get update -q && apt-get install -y -q --no-install-recommends prometheus; }

# redis-sentinel, for the test that fails the Redis master over (its Sentinels are the test's own).
SENTINEL := /usr/bin/redis-sentinel
$(SENTINEL):
	apt-get install -y -q redis-sentinel || { apt-get update -q && apt-get install -y -q redis-sentinel; }

test: $(STAMP) $(CHROMIUM) $(PROMETHEUS) $(SENTINEL)  ## The test suite (installs Chromium, Prometheus and redis-sentinel if missing); drops wallet_test (and wallet_{alerts,docs}_test), flushes Redis 14 and 15 (TEST_DATABASE_URL, TEST_REDIS_URL, TEST_LOCAL_REDIS_URL)
	$(BIN)/pytest

lint: $(STAMP)  ## ruff, mypy and the import layers (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy shared worker web tests locust deploy  # the Django plugin imports settings
	$(BIN)/lint-imports

bench: $(STAMP)  ## Throughput benchmark with wrk: medians of BENCH_RUNS (3) runs of BENCH_SECONDS (30) s; drops wallet_bench, flushes Redis 12 (BENCH_DATABASE_URL, BENCH_REDIS_URL)
	$(BIN)/python deploy/bench/run.py --runs $(BENCH_RUNS) --duration $(BENCH_SECONDS) $(BENCH_ARGS)

bench-compare: $(STAMP)  ## This checkout (or HEAD_REV) against each commit in BASE (HEAD~1), round-robin, side by side
	$(BIN)/python deploy/bench/compare.py $(foreach b,$(or $(BASE),HEAD~1),--base $(b)) $(if $(HEAD_REV),--head $(HEAD_REV)) \
		--rounds $(BENCH_RUNS) -- --duration $(BENCH_SECONDS) $(BENCH_ARGS)

bench-history: $(STAMP)  ## Searching a wallet of HISTORY_ROWS (1000000) ledger rows: p50/p99 per page of each filter, and its plan; drops wallet_history_bench
	$(BIN)/python deploy/bench/history.py --rows $(HISTORY_ROWS)

profile: $(STAMP)  ## Where a bench scenario (PROFILE_SCENARIO: hot) spends its CPU, by role and function (py-spy, PROFILE_SECONDS: 20)
	$(BIN)/python deploy/bench/profile.py --scenario $(PROFILE_SCENARIO) --seconds $(PROFILE_SECONDS)

# Without KEY, `make load` and `make load-ui` make a key of tenant `load` whose own limits are the load's.
LOAD_RATE ?= 100000/second
LOAD_KEY = $(or $(KEY),$$($(BIN)/honcho -e .env run $(BIN)/python web/manage.py apikey create --tenant load \
	--name "make load" $(foreach f,writes wallets idempotency-keys,--rate-limit-$(f) $(LOAD_RATE)) | tail -1))

load: migrate  ## Locust, headless, against `make run` on PORT: LOAD_USERS (50) users for LOAD_SECONDS (60) s; [KEY=wk_...: else a key of tenant load] [LOAD_ARGS=...]
	WALLET_API_KEY="$(LOAD_KEY)" $(BIN)/locust -f locust/locustfile.py --host http://127.0.0.1:$(PORT) --headless \
		--users $(LOAD_USERS) --spawn-rate $(LOAD_USERS) --run-time $(LOAD_SECONDS)s --only-summary $(LOAD_ARGS)

load-ui: migrate  ## Locust's web UI on 127.0.0.1:LOAD_UI_PORT (8089) against `make run`; [KEY=wk_...] [LOAD_ARGS=...]
	WALLET_API_KEY="$(LOAD_KEY)" $(BIN)/locust -f locust/locustfile.py --host http://127.0.0.1:$(PORT) \
		--web-host 127.0.0.1 --web-port $(LOAD_UI_PORT) $(LOAD_ARGS)

clean:  ## Remove the virtualenv and generated files
	rm -rf $(VENV) .run .static .pytest_cache .mypy_cache .ruff_cache
