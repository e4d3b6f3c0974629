# Two commands on a fresh machine: `make run` (set up everything and serve) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed-stamp

.PHONY: help install system-deps run migrate seed seal verify test lint typecheck pytest format serve worker bench load clean-data

help:
	@echo "make run    - set up (venv, install, database, migrate, demo data) and serve on http://$(HOST):$(PORT)"
	@echo "make test   - lint (ruff), type check (mypy) and the whole test suite"
	@echo "make serve  - production server (gunicorn); needs SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL"
	@echo "make worker - production queue worker (emails, seals, daily clearing and cancellations)"
	@echo "make bench  - seed a large dataset and print the benchmark table"
	@echo "make load   - requests per second under load (gunicorn + wrk) on the benchmark's data"
	@echo "make format - apply ruff's formatting and safe fixes"
	@echo "make seal   - seal the audit events committed since the last seal (cron: every 5 minutes)"
	@echo "make verify - recompute the audit seals and report any tampering (non-zero exit on findings)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

install: $(STAMP)

# Debian packages outside Python: Pango and fonts for invoice PDFs (WeasyPrint). Installed with
# apt-get when missing (as root, or through password-less sudo); otherwise a warning: the app
# runs and says so on the PDF pages.
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
system-deps:
	@if dpkg -s $(SYSTEM_PACKAGES) >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "Installing $(SYSTEM_PACKAGES)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		echo "Installing $(SYSTEM_PACKAGES)"; \
		sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	else \
		echo "WARNING: invoice PDFs need $(SYSTEM_PACKAGES) (Debian/Ubuntu names); install them."; \
	fi

# `make run` is the developer's server: DEBUG on unless DJANGO_DEBUG says otherwise.
run migrate seed: export DJANGO_DEBUG := $(or $(DJANGO_DEBUG),1)

# prepare_database creates the database (and the app's role, where the owner may) when missing;
# migrate runs as the schema owner and grants the app role its rights.
migrate: install system-deps
	$(PY) manage.py prepare_database
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Tamper evidence: in production a timer runs `manage.py audit_seal` every few minutes and
# `manage.py audit_verify` daily; `make run` seals once before serving (and `make seal` on demand).
seal verify: export DJANGO_DEBUG := $(or $(DJANGO_DEBUG),1)
seal: install
	$(PY) manage.py audit_seal

verify: install
	$(PY) manage.py audit_verify

# Emails the mail server could not take yet wait in the email log; the queue's worker sends them
# every minute (and seals, clears commissions, carries out cancellations on their schedules,
# jobs/queue.py). `make run` seals and sends what is due once, then serves with a worker beside
# the development server (`manage.py run_dev`: runserver + `manage.py procrastinate worker`).
run: seed
	-$(PY) manage.py audit_seal
	-$(PY) manage.py send_queued_emails
	@echo "Serving on http://$(HOST):$(PORT)/ with a queue worker beside it  (Ctrl-C stops both)"
	$(PY) manage.py run_dev $(HOST):$(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy with django-stubs (configured in pyproject.toml). The Django plugin imports the settings:
# DJANGO_DEBUG lets them load without a SECRET_KEY, and a placeholder DATABASE_URL keeps them from
# starting the embedded PostgreSQL (nothing connects to it: mypy only reads the settings).
typecheck: install
	DJANGO_DEBUG=1 DATABASE_URL=postgres://typecheck@127.0.0.1:1/unused $(VENV)/bin/mypy

# One worker per core (pytest-xdist); each worker has its own test database (_gw0, _gw1…).
pytest: install system-deps
	$(VENV)/bin/pytest -n $${PYTEST_WORKERS:-auto}

test: lint typecheck pytest

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

serve: install
	$(PY) manage.py collectstatic --noinput
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/gunicorn whmcs_manual.wsgi:application --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-3} --access-logfile -

# Production: as many of these as wanted, beside the web servers (jobs are locked per task).
worker: install
	$(PY) manage.py procrastinate worker

bench: install
	$(PY) benchmarks/run.py

# Throughput under load on the benchmark's data (seeded by `make bench`): gunicorn and wrk.
load: install
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| sudo -n apt-get install -y -qq wrk >/dev/null || echo "WARNING: install Debian's wrk"
	$(PY) benchmarks/load.py

clean-data:
	@echo "Stopping and removing the embedded PostgreSQL under .data/"
	-$(VENV)/bin/python -c "from pathlib import Path; from whmcs_manual.embedded_db import stop_and_remove; stop_and_remove(Path('.data'))"
	rm -rf .data
