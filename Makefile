# make run  -- start the all-in-one cluster (creates everything it needs)
# make test -- set up the venv and run the whole suite
# make conformance -- OpenStack Swift's functional tests against a fresh aio
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test venv apt unit functional probe conformance clean

# Debian/Ubuntu ship venv separately (python3-venv): install it when we can.
$(VENV)/.installed: setup.cfg pyproject.toml
	python3 -m venv $(VENV) || { [ "$$(id -u)" = 0 ] && rm -rf $(VENV) && apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv \
	  && python3 -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# xfsprogs for the real-XFS tests, iproute2 for network-namespace probes, chromium and
# chromium-driver for the real-browser test (tests/functional/test_browser.py); best
# effort when not root (the tests that need them are skipped, saying why).
apt:
	@if [ "$$(id -u)" = 0 ]; then \
	  if ! command -v mkfs.xfs >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xfsprogs iproute2) \
	    || echo "apt: could not install xfsprogs; XFS tests will be skipped"; fi; \
	  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	    || echo "apt: could not install chromium; the browser test will be skipped"; fi; \
	  if ! command -v memcached >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq memcached) \
	    || echo "apt: could not install memcached; the memcached tests will be skipped"; fi; \
	fi

run: venv
	$(VENV)/bin/swiftlike-aio $(AIO_ARGS)

# Three runs, not one: unit tests run eventlet in-process and must not share a
# worker process with the threaded HTTP peers of the functional tests.
test: venv apt
	$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS) tests/unit
	$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS) tests/functional
	$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS) tests/probe

unit: venv
	$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS) tests/unit

functional: venv apt
	$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS) tests/functional

probe: venv apt
	$(PY) -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS) tests/probe

# Swift's own functional tests (downloaded from PyPI into var/conformance/cache)
# against a fresh aio; not part of `make test`. MODULES=, PYTEST_ARGS=, EXTRAS=1.
conformance: venv apt
	$(PY) tools/conformance.py

clean:
	rm -rf $(VENV) var build *.egg-info
