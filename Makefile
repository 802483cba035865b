# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
export BACKOFFICE_INSTANCE_DIR ?= $(CURDIR)/instance
# The application is production unless told otherwise (config.py): the demo server, the tests
# and the benchmarks are development, said here explicitly.
export BACKOFFICE_ENV ?= development

.PHONY: run test test-sqlite test-postgresql lint translations messages bench system-deps clean redis

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/activate requirements.txt constraints.txt
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

# Catalogues are compiled with pybabel directly so that a broken catalogue fails the build.
translations: $(VENV)/.runtime
	$(BIN)/pybabel compile --statistics -d translations -D messages 2>&1 | tail -n 2
	$(BIN)/pybabel compile --statistics -d translations -D alerts 2>&1 | tail -n 1

# Fonts for the printable sheets (Chinese, Cyrillic, Arabic) and Chromium for browser tests.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	fc-list 2>/dev/null | grep -qi "Noto Naskh Arabic\|Noto Sans Arabic" || missing="$$missing fonts-noto-core"; \
	fc-list 2>/dev/null | grep -qi "DejaVu Sans" || missing="$$missing fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: $(VENV)/.runtime translations
	@mkdir -p $(BACKOFFICE_INSTANCE_DIR)
	$(FLASK) keys generate --if-missing
	$(FLASK) db upgrade heads
	$(FLASK) roles sync
	@$(FLASK) demo seed --if-empty
	@$(FLASK) demo logins
	SCHEDULER_ENABLED=true $(FLASK) run --host 127.0.0.1 --port 5000

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(VENV)/.dev translations system-deps lint test-sqlite test-postgresql

# The rate limits' shared store for the tests (issue 12, F7): a Redis of the tests' own on
# REDIS_TEST_PORT, started when none answers there (no persistence).
REDIS_TEST_PORT ?= 6390
test-sqlite test-postgresql: export RATELIMIT_STORAGE_URI = redis://127.0.0.1:$(REDIS_TEST_PORT)/0
redis:
	@redis-cli -p $(REDIS_TEST_PORT) ping >/dev/null 2>&1 || \
	  redis-server --port $(REDIS_TEST_PORT) --bind 127.0.0.1 --daemonize yes --save '' --appendonly no >/dev/null

test-sqlite: $(VENV)/.dev translations redis
	TEST_DATABASE=sqlite $(BIN)/pytest -q -p no:cacheprovider -p no:randomly

test-postgresql: $(VENV)/.dev translations redis
	@if $(BIN)/python tests/postgres_available.py; then \
	  TEST_DATABASE=postgresql $(BIN)/pytest -q -p no:cacheprovider -p no:randomly tests/integration tests/browser; \
	elif [ "$$CI" = "true" ]; then \
	  echo "PostgreSQL did not answer at 127.0.0.1:5432 and is mandatory in CI."; exit 1; \
	else \
	  echo "PostgreSQL did not answer at 127.0.0.1:5432: the PostgreSQL run is SKIPPED."; \
	fi

bench: $(VENV)/.dev translations
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) instance

# After adding UI strings: extract them, merge into fr/en, fill French from the glossary.
messages: $(VENV)/.runtime
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output . >/dev/null
	$(BIN)/pybabel update -i translations/messages.pot -d translations -D messages --no-fuzzy-matching >/dev/null
	$(BIN)/python tools/fill_catalogue.py translations/fr/LC_MESSAGES/messages.po tools/glossary_fr.json $(wildcard tools/glossary_fr.d/*.json)
