# Two commands do everything on a fresh machine: `make demo` and `make test`;
# `make dashboard` then shows the demo's job in a browser.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
# Where `batch-debug demo` writes when given no --dir (collector/config.py), so
# `make dashboard` serves the folder `make demo` wrote to.
DEMO_DIR := $(or $(APHRODITE_BATCH_DEBUG_DIR),debug_logs/batch_jobs)
PORT ?= 8000
# setuptools announces every editable install with a warning ("Editable installation. Please be
# careful with folders ...") that newer pips print: information about editable installs in general,
# not about this project, so it is filtered by its exact words and any other warning still shows.
EDITABLE := PYTHONWARNINGS="ignore:Editable installation:UserWarning" $(PY) -m pip install --quiet -e

.PHONY: demo dashboard test typecheck bench loadtest hostile install dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(EDITABLE) .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(EDITABLE) '.[dev]'
	touch $@

install: $(STAMP)

dev: $(DEVSTAMP)

demo: $(STAMP)
	$(VENV)/bin/batch-debug demo

# The dashboard on the demo's folder (the demo runs first when that folder holds
# no job file yet); Ctrl-C stops it. PORT=8001 make dashboard for another port.
dashboard: $(STAMP)
	@if ! ls $(DEMO_DIR)/job_*.json >/dev/null 2>&1; then \
		echo "no job file in $(DEMO_DIR) yet: running the demo first"; \
		$(VENV)/bin/batch-debug demo; \
	fi
	@echo "dashboard: open http://127.0.0.1:$(PORT)/ in a browser (Ctrl-C stops it)"
	$(VENV)/bin/batch-debug serve --port $(PORT) --dir $(DEMO_DIR)

# Three worker processes on these two-core machines: many tests wait on a server, a
# browser or a subprocess, and a third worker fills those waits (measured: -n 2 118 s,
# -n 3 94 s, -n 4 100 s for make test). Each worker is a process of its own, so the
# process-wide instrumentation is never shared between them. --dist worksteal lets a worker
# that ran out of tests take some of another's queue, so no worker ends alone on a long tail
# (measured with 1,930 tests: 100.8 and 105.8 s against 108 to 111 s by the default "load").
test: $(DEVSTAMP)
	$(PY) tools/typecheck.py
	$(PY) -m pytest -n 3 --dist worksteal $(PYTEST_ARGS)

typecheck: $(DEVSTAMP)
	$(PY) tools/typecheck.py

# The dev install: the aiohttp and requests rows need their extras, the page figure selenium.
bench: $(DEVSTAMP)
	$(PY) benchmarks/bench.py $(if $(QUICK),--quick,) $(if $(ONLY),--only $(ONLY),)

loadtest: $(STAMP)
	$(PY) benchmarks/loadtest.py --clients 50 --seconds 60

hostile: $(STAMP)
	$(PY) benchmarks/hostile.py

# Everything the commands above leave behind (the virtualenv included).
clean:
	rm -rf $(VENV) debug_logs .pytest_cache .typecheck test-artifacts .hypothesis build *.egg-info
