# mixkit: two commands on a fresh machine.
#   make demo   installs, builds recipes/demo.yaml offline on a local Ray, audits it
#   make test   installs, runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
MIXKIT := $(VENV)/bin/mixkit

.PHONY: install install-into-env offline-wheels lock lock-check bench-gpu demo test test-fast test-user-env clean

install: $(VENV)/.installed

# Python packages come from requirements/lock-pyX.Y.txt, the lock of the venv's Python (3.11, 3.12
# or 3.13): every transitive dependency at an exact version with its sha256, Linux x86_64. The 3.11
# lock (CI's) takes torch's CPU build from a local wheel folder (TORCH_WHEELS); PyPI has no CPU build
# of torch for Linux x86_64, so the 3.12 and 3.13 locks pin PyPI's torch (its CUDA build, several GB).
# Elsewhere: make install TORCH_WHEELS=https://download.pytorch.org/whl/cpu/torch/
# An environment that already has its torch (a CUDA image): `make install-into-env` below.
LOCK_PYTHONS := 3.11 3.12 3.13
LOCKS := $(foreach v,$(LOCK_PYTHONS),requirements/lock-py$(v).txt)
PYTHON ?= python3
TORCH_WHEELS ?= /opt/wheels
# System packages (Debian): FriBiDi for Pillow's raqm (Arabic/Hebrew shaping and order) and
# fonts-noto-core for the scripts no PyPI font wheel covers (Tibetan).
SYSTEM_PKGS := libfribidi0 fonts-noto-core

$(VENV)/.installed: $(LOCKS) pyproject.toml
	@missing=""; for p in $(SYSTEM_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@v=$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); lock=requirements/lock-py$$v.txt; \
	test -f $$lock || { echo "error: $(VENV) has Python $$v; locks exist for $(LOCK_PYTHONS): rm -r $(VENV); make install PYTHON=python3.12 (or another of them)" >&2; exit 1; }; \
	echo "$(PY) -m pip install -q --require-hashes --find-links $(TORCH_WHEELS) -r $$lock"; \
	$(PY) -m pip install -q --require-hashes --find-links $(TORCH_WHEELS) -r $$lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -m mixkit.runtime.environment --check
	$(PY) -c "from PIL import features; import sys; sys.exit(0 if features.check('raqm') and features.version('fribidi') else 'Pillow has no raqm/FriBiDi: install libfribidi0 (apt-get install libfribidi0)')"
	touch $@

# Into an existing environment (a GPU image with its own CUDA torch): keeps every installed package
# that mixkit's ranges accept (torch above all), installs the missing ones at the lock's versions
# and hashes (no dependency resolution, nothing upgraded behind your back), checks the result.
#   make install-into-env ENV_PYTHON=/opt/conda/bin/python [WHEELS=dir] [EXTRAS=dev] [PLAN=missing.txt]
# WHEELS: an offline folder (`make offline-wheels` fills one); PLAN: only write what is missing.
ENV_PYTHON ?= python3
install-into-env:
	$(ENV_PYTHON) -m pip --version >/dev/null
	PYTHONPATH=$(CURDIR) $(ENV_PYTHON) -m mixkit.runtime.install_into_env $(if $(WHEELS),--wheels $(WHEELS)) \
	  $(if $(EXTRAS),--extras $(EXTRAS)) $(if $(PLAN),--plan $(PLAN))

# On a machine with network, for an offline one: the wheels of a plan (PLAN, written above) for
# that machine's Python (PY_FOR=3.12) into DEST, verified against the lock's hashes.
MANYLINUX := $(foreach v,$(shell seq 28 -1 5),--platform manylinux_2_$(v)_x86_64) \
  --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64
PY_FOR ?= 3.12
DEST ?= wheels
offline-wheels:
	@test -n "$(PLAN)" || { echo "error: PLAN=missing.txt (make install-into-env PLAN=missing.txt on the offline machine)" >&2; exit 1; }
	$(PYTHON) -m pip download -q --no-deps --require-hashes --only-binary=:all: --implementation cp \
	  --python-version $(PY_FOR) $(MANYLINUX) -r $(PLAN) -d $(DEST)

# Refresh the locks after a change to pyproject.toml's dependencies (or requirements/*.in): one
# lock per Python in LOCK_PYTHONS, each resolved by uv for that Python (it need not be installed).
# Pins already in a lock stay unless the change needs otherwise; `make lock UPGRADE=1` moves every
# package to its newest release in range. uv resolves (seconds); pip installs the result.
UV_VERSION := 0.13.8
TORCH_IN_3.11 := requirements/torch-cpu.in
TORCH_IN_3.12 := requirements/torch-pypi.in
TORCH_IN_3.13 := requirements/torch-pypi.in
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "uv==$(UV_VERSION)"
	@for v in $(LOCK_PYTHONS); do \
	  case $$v in 3.11) torch=$(TORCH_IN_3.11);; 3.12) torch=$(TORCH_IN_3.12);; 3.13) torch=$(TORCH_IN_3.13);; esac; \
	  echo "lock for Python $$v"; \
	  $(VENV)/bin/uv pip compile -q pyproject.toml requirements/lock.in $$torch --extra dev --generate-hashes \
	    --find-links $(TORCH_WHEELS) --python-version $$v --python-platform x86_64-manylinux_2_28 \
	    --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) -o requirements/lock-py$$v.txt || exit 1; \
	done

# Needs PyPI (CI runs it, about a minute): each lock is what uv resolves for its Python (it
# resolves, and `make lock` was run since pyproject.toml changed), and every pin has a wheel for
# that Python on manylinux x86_64 among the files whose hashes the lock records.
lock-check: install
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "uv==$(UV_VERSION)"
	@tmp=$$(mktemp -d); for v in $(LOCK_PYTHONS); do \
	  case $$v in 3.11) torch=$(TORCH_IN_3.11);; 3.12) torch=$(TORCH_IN_3.12);; 3.13) torch=$(TORCH_IN_3.13);; esac; \
	  cp requirements/lock-py$$v.txt $$tmp/lock-py$$v.txt; \
	  $(VENV)/bin/uv pip compile -q pyproject.toml requirements/lock.in $$torch --extra dev --generate-hashes \
	    --find-links $(TORCH_WHEELS) --python-version $$v --python-platform x86_64-manylinux_2_28 \
	    --custom-compile-command "make lock" -o $$tmp/lock-py$$v.txt || exit 1; \
	  diff -q requirements/lock-py$$v.txt $$tmp/lock-py$$v.txt >/dev/null || { diff requirements/lock-py$$v.txt $$tmp/lock-py$$v.txt | head -20; echo "error: requirements/lock-py$$v.txt is stale: run make lock" >&2; exit 1; }; \
	  $(PY) scripts/check_lock_wheels.py requirements/lock-py$$v.txt --python $$v --find-links $(TORCH_WHEELS) || exit 1; \
	done; rm -rf $$tmp

# GPU benchmark (benchmarks/bench_gpu.py): one JSON summary, offline, <= 7 minutes on one GPU.
# MIXKIT_BENCH_DEVICE=cpu runs the same script at tiny sizes on the CPU. BENCH_PYTHON: the
# environment that has CUDA torch (after make install-into-env).
BENCH_PYTHON ?= $(if $(wildcard $(PY)),$(PY),python3)
bench-gpu:
	PYTHONPATH=$(CURDIR) $(BENCH_PYTHON) -m mixkit.runtime.install_into_env --check
	PYTHONPATH=$(CURDIR) timeout 420 $(BENCH_PYTHON) benchmarks/bench_gpu.py --json runs/bench-gpu.json

demo: install
	$(MIXKIT) build recipes/demo.yaml --out runs/demo
	$(MIXKIT) audit runs/demo/shards --recipe recipes/demo.yaml --json runs/demo/audit.json --html runs/demo/report.html
	@echo "shards:  runs/demo/shards/  (manifest.json, rejects.parquet)"
	@echo "report:  runs/demo/report.html  (audit.json beside it)"

# tests/test_install_into_env.py needs a user's environment with another torch (tests/user_env.py):
# prepared here, with network, once per machine (~1.5 min, 5.6 GB in ~/.cache/mixkit/user-env).
test-user-env: install
	$(PY) tests/user_env.py prepare

# pytest exits 5 when it collected no test: that must fail, not pass silently.
test: install test-user-env
	@$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "error: pytest ran no tests" >&2; exit 1; fi; exit $$rc

test-fast: install
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf runs .pytest_cache
