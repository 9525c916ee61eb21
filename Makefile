# The two commands of the README: `make book` and `make test`. Everything runs in .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
NSCORE := $(VENV)/bin/nscore
STAMP  := $(VENV)/.nscore-installed
JOBS   ?=
JOBS_ARG := $(if $(JOBS),--jobs $(JOBS),)
FORCE  ?=
BUILD_ARGS := $(JOBS_ARG) $(if $(FORCE),--force,)

.PHONY: book test pdf bench check clean env fuzz

# Create the virtual environment once; reinstall only when the requirements (or the lock) changed.
$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements.lock pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

env: $(STAMP)

book: $(STAMP)
	$(NSCORE) build $(BUILD_ARGS)
	@echo "Site: $(CURDIR)/_build/html/index.html  (every data cutoff under _build/html/v/<cutoff>/)"

# pytest exit 5 means nothing was collected: a broken suite, reported as such (make fails either way).
# No bytecode files: a test run leaves the checkout as it found it (caches go to a temporary
# directory, tests/conftest.py; pyproject's addopts switch off .pytest_cache).
test: $(STAMP)
	@PYTHONDONTWRITEBYTECODE=1 $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): the suite is broken" >&2; fi; \
	exit $$rc

pdf: $(STAMP)
	$(NSCORE) pdf

# The property-based intake test (tests/test_intake_fuzz.py) with thousands of examples per property
# (make test runs 15); FUZZ_EXAMPLES=N changes it.
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	NSCORE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider tests/test_intake_fuzz.py

bench: $(STAMP)
	$(PY) benchmarks/bench.py

check: $(STAMP)
	$(NSCORE) check

clean:
	rm -rf _build .pytest_cache .hypothesis
