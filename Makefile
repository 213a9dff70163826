# Set-up, the demo and the tests. Every target installs what it needs into $(VENV).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUTPUT ?= training/demo
DEMO_TEXT ?= The old man read a long book in the garden.

.PHONY: setup demo test lint ewt languages clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml requirements/torch-cpu.txt requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/torch-cpu.txt
	$(BIN)/python -m pip install --quiet -c requirements/torch-cpu.txt -r requirements/dev.txt -e ".[transformers,report,ray]"
	touch $@

# Train on the bundled corpus with `spacy train`, then tag a sentence with the best model.
demo: setup
	$(BIN)/python -m spacy train configs/demo.cfg --output $(DEMO_OUTPUT)
	$(BIN)/python -c "import spacy, sys; doc = spacy.load(sys.argv[1])(sys.argv[2]); \
	print('\n'.join(f'{t.text:12} {t.pos_:6} {t.tag_}' for t in doc))" $(DEMO_OUTPUT)/model-best "$(DEMO_TEXT)"

# The whole test suite, then ruff and mypy: what CI runs (.ci/run).
test: setup
	$(BIN)/python -m pytest
	$(MAKE) lint

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The UD English-EWT recipe (project.yml): convert, train and benchmark the three pipelines, package.
# Reads the treebank from EWT_DIR when it exists, else fetches it at the pinned revision.
EWT_DIR ?= ../shared/corpora/ud_english_ewt
ewt: setup
	if [ -d "$(EWT_DIR)" ]; then \
		$(BIN)/python -m weasel run all . --vars.ewt_dir "$(EWT_DIR)"; \
	else \
		$(BIN)/python -m weasel assets . && $(BIN)/python -m weasel run all .; \
	fi

# The languages workflow (project.yml): UD Hungarian-Szeged and Greek-GDT with configs/ud_fast.cfg
# beside spaCy's CPU pipeline. Reads the treebanks from HU_DIR and EL_DIR when they exist.
HU_DIR ?= ../shared/corpora/ud_hungarian_szeged
EL_DIR ?= ../shared/corpora/ud_greek_gdt
languages: setup
	if [ -d "$(HU_DIR)" ] && [ -d "$(EL_DIR)" ]; then \
		$(BIN)/python -m weasel run languages . --vars.hu_dir "$(HU_DIR)" --vars.el_dir "$(EL_DIR)"; \
	else \
		$(BIN)/python -m weasel assets . && $(BIN)/python -m weasel run languages .; \
	fi

clean:
	rm -rf $(VENV) training
