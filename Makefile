# Two commands do everything on a fresh machine:
#   make demo   set up .venv if needed, then run the demo on the bundled model and scene
#   make test   set up .venv if needed, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out/demo

.PHONY: setup demo test test-fast lint format bench model ablation clean help

help:
	@echo 'make demo   - set up (idempotent) and run the demo (output in $(OUT))'
	@echo 'make test   - set up (idempotent) and run the tests'
	@echo 'make lint   - ruff'
	@echo 'make bench  - ingest and model benchmarks (JSON in out/bench)'
	@echo 'make model  - regenerate data and retrain the shipped models/geode-tiny (CPU, ~1 h)'
	@echo 'make ablation - the ablation table of the README (after make model)'
	@echo 'make clean  - remove build outputs (keeps .venv)'

setup:
	@bash scripts/setup_env.sh

demo: setup
	$(VENV)/bin/geode-demo --out $(OUT)

test: setup
	$(PY) -m pytest test -q
	@# once more single-threaded: results must not depend on the kernels' reduction order
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest test/model -q -p no:cacheprovider

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

# The shipped default model, reproduced from scratch (see README, 'Training').
TRAIN_CFG ?= config/train_default.yaml
model: setup
	$(VENV)/bin/geode-synth --scenes 360 --out data/train --seed 0 --workers 2
	$(VENV)/bin/geode-synth --scenes 16 --out data/val --seed 100000 --workers 2
	$(VENV)/bin/geode-train --config $(TRAIN_CFG) --stage 1 --out out/train/stage1
	$(VENV)/bin/geode-train --config $(TRAIN_CFG) --stage 2 --out out/train/stage2 \
	  --init out/train/stage1/model --steps 4000 --lr 0.0005 --eval-every 500
	rm -rf models/geode-tiny && mkdir -p models && cp -r out/train/stage2/model models/geode-tiny
	$(VENV)/bin/geode-eval --model models/geode-tiny --data data/val --train-data data/train \
	  --json models/geode-tiny-eval.json

# The paper's ablation at our scale (needs data/ from `make model`; ~30 min on 2 cores).
ablation: setup
	$(VENV)/bin/python -m geode_ros.train.ablation --config $(TRAIN_CFG) --out out/ablation \
	  --steps1 150 --steps2 450

clean:
	rm -rf build install log out .pytest_cache
