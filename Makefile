# mixkit: two commands on a fresh machine.
#   make demo   installs, builds recipes/demo.yaml offline on a local Ray, audits it
#   make test   installs, runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
MIXKIT := $(VENV)/bin/mixkit

.PHONY: install demo test test-fast bench clean

install: $(VENV)/.installed

# torch first: the CPU build lying on disk. A bare `torch` requirement with no torch present
# would pull a multi-GB CUDA build.
# System packages (Debian): FriBiDi for Pillow's raqm (Arabic/Hebrew shaping and order) and
# fonts-noto-core for the scripts no PyPI font wheel covers (Tibetan).
SYSTEM_PKGS := libfribidi0 fonts-noto-core

$(VENV)/.installed: pyproject.toml
	@missing=""; for p in $(SYSTEM_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -c "from PIL import features; import sys; sys.exit(0 if features.check('raqm') and features.version('fribidi') else 'Pillow has no raqm/FriBiDi: install libfribidi0 (apt-get install libfribidi0)')"
	touch $@

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
