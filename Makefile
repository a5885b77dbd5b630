# Two entry points (see README): `make demo` and `make test`. Both set up what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup bench clean

$(BIN)/bundle: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/bundle

setup: $(BIN)/bundle

demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" sh examples/demo.sh
	@echo; echo "== The school's page: run"
	@echo "  $(BIN)/bundle serve -C demo/school --inbox demo/usb"
	@echo "then open http://127.0.0.1:8080/ in a browser (needs Debian's pandoc: apt-get install pandoc)."

test: setup
	sh scripts/setup-mediawiki.sh
	sh scripts/setup-page.sh
	$(BIN)/python -m pytest -q

bench: setup  # about an hour for the corpus on 2 cores
	PYTHONPATH=. $(BIN)/python benchmarks/sizes.py ../shared/data/bench/shintowiki-category-history.xml.zst examples/ldnont/ldnont-full-20230102T000002-8cd8781.xml.xz tests/data/eslagunanegra-pages-full.xml.xz

clean:
	rm -rf $(VENV) demo
