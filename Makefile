# The two commands: `make book` and `make test`. Both set up .venv first.
# `make course`: the course's student versions (nbgrader), into course/release/.
# The install reruns only when pyproject.toml is newer than the stamp inside .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.lthkit-installed
BROWSER_STAMP := $(VENV)/.lthkit-browser
COURSE_STAMP := $(VENV)/.lthkit-course

.PHONY: book test course bench setup browser-tools clean distclean

book: $(STAMP)
	$(VENV)/bin/lthkit book

test: $(STAMP) browser-tools $(COURSE_STAMP)
	$(PY) -m pytest

# What tests/test_browser.py needs, installed where it can be: Debian's chromium (as root, with
# apt-get; never a browser download) and the playwright package (the `browser` extra). Never
# fails: where either cannot be had, that one test module is skipped and says why.
browser-tools: $(BROWSER_STAMP)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser test (apt-get)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends chromium fonts-dejavu-core >/dev/null; } \
	      || echo "warning: apt-get could not install chromium: the browser test will be skipped"; \
	  else \
	    echo "note: no /usr/bin/chromium, and apt-get needs root: the browser test will be skipped"; \
	  fi; \
	fi

$(BROWSER_STAMP): pyproject.toml | $(STAMP)
	@$(PY) -m pip install --progress-bar off -q -e '.[browser]' && touch $@ \
	  || echo "warning: pip could not install playwright: the browser test will be skipped"

# nbgrader, the `course` extra: tests/test_course.py grades every assignment with it, and
# `make course` releases them (sources, student versions, SQLite gradebook in course/).
$(COURSE_STAMP): pyproject.toml | $(STAMP)
	$(PY) -m pip install --progress-bar off -q -e '.[course]'
	touch $@

course: $(COURSE_STAMP)
	$(PY) -m lthkit.course

bench: $(STAMP)
	@set -e; for f in benchmarks/[!_]*.py; do \
	  if [ -e "$$f" ]; then echo "== $$f"; $(PY) "$$f"; fi; \
	done

setup: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --progress-bar off -e '.[dev,cluster]'
	$(PY) -m ipykernel install --sys-prefix --name lthkit --display-name "Python (lthkit)"
	touch $@

# Build outputs only. Kept: the venv and the result store (.lthkit/), slow to rebuild,
# runs/ (results of `lthkit run`, which are yours) and the course's gradebook and submissions.
clean:
	rm -rf book/_build book/chapters book/_toc.yml book/scoreboard.md .pytest_cache test-artifacts \
	  course/source course/release
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .lthkit
