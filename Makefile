# Everything runs through uv; `make run` and `make test` install it when it is missing.
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
export UV_PYTHON_DOWNLOADS := never

.PHONY: run test lint format bench sync ensure-uv clean

ensure-uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv

sync: ensure-uv
	@$(UV) sync --frozen --python $(PYTHON)

run: sync
	$(UV) run --frozen ledgerline serve

test: sync
	$(UV) run --frozen pytest -n 2 $(PYTEST_ARGS)

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

format: sync
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

# `make bench` runs every benchmark; `make bench BENCH=http` (or "identity http") only those.
bench: sync
	$(UV) run --frozen python -m bench $(BENCH)

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
