# Two commands do everything on a fresh machine:
#   make demo   set up .venv if needed, then run the demo on the bundled model and scene
#   make test   set up .venv if needed, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out/demo

.PHONY: setup test-tools demo test test-fast lint format bench model ablation clean help
# ros2 launch / ros2 service / tf2_msgs for the launch tests (not on PyPI; see its README).
ROS2_CLI ?= ../shared/ros2-cli/install.sh

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

test: setup test-tools
	$(PY) -m pytest test -q
	@# once more single-threaded: results must not depend on the kernels' reduction order
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest test/model -q -p no:cacheprovider

# The ros2-cli kit and colcon; without the kit the launch/colcon tests skip and say why.
test-tools: setup
	@if [ -f $(ROS2_CLI) ]; then bash $(ROS2_CLI) $(VENV) && { [ -x $(VENV)/bin/colcon ] || \
	  $(PY) -m pip install -q --disable-pip-version-check colcon-common-extensions; }; \
	else echo "[test] $(ROS2_CLI) not found: the ros2 launch and colcon tests will skip"; fi

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

# The shipped default model, reproduced from scratch (see README, 'Training'). It trains on
# realistic sensing (docs/sensing.md): 'mixed' = a quarter of the rooms clean, the rest seen
# through the Kinect-like sensor model; validation (calibration, choices) is realistic; the
# test set is rendered three ways (clean, realistic, the held-out sensor never trained on).
TRAIN_CFG ?= config/train_default.yaml
STAGE2_STEPS ?= 1500
TRAIN_SENSING ?= mixed
SYNTH := $(VENV)/bin/geode-synth --workers 2
model: setup
	$(SYNTH) --scenes 360 --out data/train --seed 0 --sensing $(TRAIN_SENSING)
	$(SYNTH) --scenes 24 --out data/val --seed 100000 --sensing realistic
	$(SYNTH) --scenes 24 --out data/test --seed 200000
	$(SYNTH) --scenes 24 --out data/test_realistic --seed 200000 --sensing realistic
	$(SYNTH) --scenes 24 --out data/test_heldout --seed 200000 --sensing heldout
	$(VENV)/bin/geode-train --config $(TRAIN_CFG) --stage 1 --out out/train/stage1
	$(VENV)/bin/geode-train --config $(TRAIN_CFG) --stage 2 --out out/train/stage2 \
	  --init out/train/stage1/model --steps $(STAGE2_STEPS) --lr 0.0005 --eval-every 500
	rm -rf models/geode-tiny && mkdir -p models && cp -r out/train/stage2/model models/geode-tiny
	$(VENV)/bin/geode-eval --model models/geode-tiny --data data/val --train-data data/train \
	  --no-blind --quiet
	$(VENV)/bin/geode-eval --model models/geode-tiny --data data/test --train-data data/train \
	  --json models/geode-tiny-eval.json --compare realistic=data/test_realistic \
	  heldout=data/test_heldout points=data/test_realistic@points \
	  points-nocolor=data/test_realistic@points-nocolor
	$(VENV)/bin/geode-bench proposals --data data/test_realistic --model models/geode-tiny \
	  --json models/geode-tiny-detection.json

# The paper's ablation at our scale (needs data/ from `make model`), scored on data/test.
ABLATION_STEPS1 ?= 150
ABLATION_STEPS2 ?= 450
ablation: setup
	$(VENV)/bin/python -m geode_ros.cli.ablation --config $(TRAIN_CFG) --out out/ablation \
	  --eval-data data/test --steps1 $(ABLATION_STEPS1) --steps2 $(ABLATION_STEPS2) \
	  --variants full no_drm frozen_drm stage2_only

clean:
	rm -rf build install log out .pytest_cache
