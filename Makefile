# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test typecheck bench loadtest hostile install dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

dev: $(DEVSTAMP)

demo: $(STAMP)
	$(VENV)/bin/batch-debug demo

# Two workers (these machines have two cores): each a process of its own, so the
# process-wide instrumentation is never shared between them.
test: $(DEVSTAMP)
	$(PY) tools/typecheck.py
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

typecheck: $(DEVSTAMP)
	$(PY) tools/typecheck.py

bench: $(STAMP)
	$(PY) benchmarks/bench.py $(if $(QUICK),--quick,)

loadtest: $(STAMP)
	$(PY) benchmarks/loadtest.py --clients 50 --seconds 60

hostile: $(STAMP)
	$(PY) benchmarks/hostile.py

clean:
	rm -rf $(VENV) debug_logs .pytest_cache .typecheck
