# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: install run test lint migrate demo clean i18n

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/flask --app webapp db upgrade

demo: migrate
	DEMO_MODE=1 $(BIN)/flask --app webapp seed-demo

run: demo
	@$(BIN)/python -m webapp.redis_conn
	DEMO_MODE=1 $(BIN)/honcho start -f Procfile

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

# The English catalog: extract the Polish msgids, merge them into the .po, compile the .mo.
# New strings arrive untranslated: fill their msgstr in the .po, then run it again.
I18N := webapp/translations
i18n: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --add-location=file --sort-by-file \
		--project "Invoice Bridge" -o $(I18N)/messages.pot .
	$(BIN)/pybabel update -i $(I18N)/messages.pot -d $(I18N) -l en --init-missing --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d $(I18N) --statistics
	@rm $(I18N)/messages.pot

clean:
	rm -rf $(VENV) .pytest_cache
