# Two commands do everything on a fresh machine:
#   make demo   set up .venv if needed, then run the demo on the bundled model and scene
#   make test   set up .venv if needed, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out/demo

.PHONY: setup demo test test-fast lint format bench clean help

help:
	@echo 'make demo   - set up (idempotent) and run the demo (output in $(OUT))'
	@echo 'make test   - set up (idempotent) and run the tests'
	@echo 'make lint   - ruff'
	@echo 'make bench  - ingest and model benchmarks (JSON in out/bench)'
	@echo 'make clean  - remove build outputs (keeps .venv)'

setup:
	@bash scripts/setup_env.sh

demo: setup
	$(VENV)/bin/geode-demo --out $(OUT)

test: setup
	$(PY) -m pytest test -q

test-fast: setup
	$(PY) -m pytest test -q -m 'not slow'

lint: setup
	$(VENV)/bin/ruff check geode_ros test launch setup.py

format: setup
	$(VENV)/bin/ruff format geode_ros test launch setup.py

bench: setup
	@mkdir -p out/bench
	$(VENV)/bin/geode-bench ingest --json out/bench/ingest.json
	$(VENV)/bin/geode-bench model --json out/bench/model.json

clean:
	rm -rf build install log out .pytest_cache
