# braze_sync: `make run` starts the whole product, `make test` runs every check.
# Only Python 3.11 is needed; everything else is installed into .venv.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Development installs requirements-dev.txt, which includes the other two (production installs
# requirements.txt alone). Installing again only when one of them changed keeps a second
# `make run` fast.
REQUIREMENTS := requirements.txt requirements-sandbox.txt requirements-dev.txt
STAMP := $(VENV)/.installed
# Procfile commands (python, celery) and tools run from the virtualenv.
export PATH := $(abspath $(BIN)):$(PATH)

# The translation catalogs (issue 16), compiled for Django by Babel in pure Python, so that no
# gettext system package is needed; a catalog is compiled again only when it changed.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))
LANGUAGES := es pt_BR de fr

.PHONY: messages run install migrate seed worker beat web sandbox test lint lint-imports format migrations-check pytest check-deploy chaos clean

run: install migrate seed
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/honcho start -f Procfile

install: $(STAMP) $(MO_FILES)

%.mo: %.po $(STAMP)
	$(BIN)/pybabel -q compile -i $< -o $@

# Brings the catalogs up to date with the code after strings changed (needs GNU gettext's
# xgettext: apt-get install gettext); docs/I18N.md says how to translate what it adds.
messages: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemessages $(addprefix -l ,$(LANGUAGES)) --add-location file \
		--ignore '.venv/*' --ignore 'tiktok_sandbox/*' --ignore 'bench/*' --ignore 'chaos/*' --ignore 'tests/*' --ignore 'api/*' --ignore 'var/*'

$(STAMP): $(REQUIREMENTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

migrate: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py migrate --noinput -v 0

seed: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/python manage.py seed_demo

web worker beat sandbox: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(BIN)/honcho start -f Procfile $@

test: install lint lint-imports migrations-check pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The allowed dependencies between apps (pyproject.toml, import-linter): layered, no cycles.
lint-imports: install
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: install
	DJANGO_DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

# Fault and load scenarios (issue 8): minutes, not part of `make test`. Needs PostgreSQL's and
# Redis's server binaries (not running servers: it starts private ones on free ports).
# CHAOS_ARGS="workers-killed --users 20000" runs one scenario, smaller.
chaos: install
	$(BIN)/python -m chaos $(CHAOS_ARGS)

# pytest exits non-zero when it collects no tests, so an empty run cannot pass.
pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

# What production settings look like to Django's deployment checklist. Production refuses to
# start without a secret key and a token key, so throwaway ones stand in for them. Behind the
# TLS proxy production assumes, the checklist also fails until the sign-in limits know the
# header holding the client's address (appgroups/checks.py), so the usual proxy's
# X-Forwarded-For stands in for the deployment's own choice (docs/OPERATIONS.md).
check-deploy: install
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))") \
		TIKTOK_TOKEN_KEYS=$$($(BIN)/python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
		LOGIN_CLIENT_ADDRESS_HEADER=X-Forwarded-For \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf var/celery var/test_braze_sync.sqlite3
