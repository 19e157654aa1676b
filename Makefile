# mixkit: two commands on a fresh machine.
#   make demo   installs, builds recipes/demo.yaml offline on a local Ray, audits it
#   make test   installs, runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
MIXKIT := $(VENV)/bin/mixkit

.PHONY: install lock demo test test-fast bench clean

install: $(VENV)/.installed

# Python packages come from requirements/lock.txt: every transitive dependency at an exact
# version with its sha256, for CPython 3.11 on Linux x86_64 with torch's CPU build. That build
# is a local wheel (TORCH_WHEELS); plain `torch` from PyPI is the CUDA build, several GB.
# Elsewhere: make install TORCH_WHEELS=https://download.pytorch.org/whl/cpu/torch/
LOCK := requirements/lock.txt
PYTHON ?= python3
TORCH_WHEELS ?= /opt/wheels
# System packages (Debian): FriBiDi for Pillow's raqm (Arabic/Hebrew shaping and order) and
# fonts-noto-core for the scripts no PyPI font wheel covers (Tibetan).
SYSTEM_PKGS := libfribidi0 fonts-noto-core

$(VENV)/.installed: $(LOCK) pyproject.toml
	@missing=""; for p in $(SYSTEM_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else '$(LOCK) is for CPython 3.11, $(VENV) has ' + sys.version.split()[0] + ': rm -r $(VENV); make install PYTHON=python3.11')"
	$(PY) -m pip install -q --require-hashes --find-links $(TORCH_WHEELS) -r $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m mixkit.runtime.environment --check
	$(PY) -c "from PIL import features; import sys; sys.exit(0 if features.check('raqm') and features.version('fribidi') else 'Pillow has no raqm/FriBiDi: install libfribidi0 (apt-get install libfribidi0)')"
	touch $@

# Refresh the lock after a change to pyproject.toml's dependencies (or requirements/lock.in).
# Pins already in the lock stay unless the change needs otherwise; `make lock UPGRADE=1` moves
# every package to its newest release in range. uv resolves (seconds); pip installs the result.
UV_VERSION := 0.13.8
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip compile -q pyproject.toml requirements/lock.in --extra dev --generate-hashes \
	  --find-links $(TORCH_WHEELS) --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) -o $(LOCK)

demo: install
	$(MIXKIT) build recipes/demo.yaml --out runs/demo
	$(MIXKIT) audit runs/demo/shards --recipe recipes/demo.yaml --json runs/demo/audit.json --html runs/demo/report.html
	@echo "shards:  runs/demo/shards/  (manifest.json, rejects.parquet)"
	@echo "report:  runs/demo/report.html  (audit.json beside it)"

# pytest exits 5 when it collected no test: that must fail, not pass silently.
test: install
	@$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "error: pytest ran no tests" >&2; exit 1; fi; exit $$rc

test-fast: install
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf runs .pytest_cache
