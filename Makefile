# Everything runs through uv; `make run` and `make test` install it when it is missing.
# Inside an activated virtualenv, uv is installed into that virtualenv (pip refuses
# --user there) and the project still gets its own .venv.
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
PIP_INSTALL := $(PYTHON) -m pip install --quiet $(if $(VIRTUAL_ENV),,--user)
export UV_PYTHON_DOWNLOADS := never
# uv would otherwise warn that the active virtualenv is not the project's .venv.
unexport VIRTUAL_ENV

.PHONY: run test lint format bench demo sync ensure-uv clean

ensure-uv:
	@$(UV) --version >/dev/null 2>&1 || $(PIP_INSTALL) uv \
		|| $(PIP_INSTALL) --break-system-packages uv

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

# A demo tenant with users, vendors, invoices and assets (README: "Demo data").
demo: sync
	$(UV) run --frozen ledgerline demo

# `make bench` runs every benchmark; `make bench BENCH=http` (or "identity http") only those.
bench: sync
	$(UV) run --frozen python -m bench $(BENCH)

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
