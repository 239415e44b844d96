# Two commands do all the set-up on a fresh Debian machine with Python 3.11+:
#   make demo   — install, run the built-in demo plan, print where the report is
#   make test   — install (with test tools and Chromium), lint, run the whole test suite
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PLAN    ?= parameters/demo/2024Q2.yaml
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
CHROMIUM := /usr/bin/chromium
# Debian packages: a CJK font for the charts, pango for WeasyPrint (the proposal's PDF), headless
# Chromium for the browser tests, poppler-utils (pdftotext, pdffonts, pdftoppm) for the PDF tests,
# PostgreSQL and MariaDB (MySQL-compatible) for the database-source tests (they start their own
# throwaway servers in temp folders; the system cluster/service is never used).
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT     := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: demo test setup lint fonts pango chromium poppler postgres mariadb clean

demo: setup
	$(BIN)/planlib run $(PLAN)

test: setup chromium poppler postgres mariadb
	$(BIN)/python -m planlib.run.floors --pyproject pyproject.toml --extra test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

setup: $(STAMP) fonts pango
	@# planlib is installed editable, so pip does not byte-compile it; where PYTHONDONTWRITEBYTECODE
	@# is set (as on our machines) every process — each kernel too — would compile it again.
	@$(BIN)/python -m compileall -q planlib

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable '.[test]'
	touch $@

fonts:
	@test -f $(CJK_FONT) || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends fonts-noto-cjk; }

# chromium-l10n: the browser tests run Chromium in zh-CN, as Chinese planners do (date fields read 2024/04/01)
chromium:
	@test -x $(CHROMIUM) || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends chromium; }
	@test -f /usr/lib/chromium/locales/zh-CN.pak || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends chromium-l10n; }

# WeasyPrint loads pango at import; a minimal Debian (e.g. the python:3.11-slim image) does not have it.
pango:
	@dpkg -s libpango-1.0-0 libpangoft2-1.0-0 >/dev/null 2>&1 || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0; }

poppler:
	@command -v pdftotext >/dev/null || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends poppler-utils; }

postgres:
	@test -x "$$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1)" || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends postgresql; }

mariadb:
	@test -x /usr/sbin/mariadbd || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends mariadb-server; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) outputs/*/ .pytest_cache
