# The two commands: `make book` and `make test`. Both set up .venv first.
# The install reruns only when pyproject.toml is newer than the stamp inside .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.lthkit-installed

.PHONY: book test bench setup clean distclean

book: $(STAMP)
	$(VENV)/bin/lthkit book

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	@set -e; for f in benchmarks/*.py; do \
	  if [ -e "$$f" ]; then echo "== $$f"; $(PY) "$$f"; fi; \
	done

setup: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --progress-bar off -e '.[dev,cluster]'
	$(PY) -m ipykernel install --sys-prefix --name lthkit --display-name "Python (lthkit)"
	touch $@

# Build outputs only. Kept: the venv and the result store (.lthkit/), slow to rebuild, and
# runs/ (results of `lthkit run`, which are yours).
clean:
	rm -rf book/_build book/chapters book/_toc.yml .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .lthkit
