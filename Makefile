# The two commands of the README are `make run` and `make test`; the rest are their parts.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8501
HOST   ?= localhost
STAFF_PORT ?= 8502

.PHONY: run test setup browser servers ingest app staff serve eval train bench lint format clean

run: setup ingest app  ## set up, build the index if missing or stale, start the chat

test: setup browser servers  ## set up and run every test tier, the eval gate included
	$(BIN)/python -m pytest -ra

setup: $(STAMP)  ## virtual environment with the project and its test tools

# torch first, pinned to the CPU build this machine carries, so that
# sentence-transformers does not pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,llm]'
	touch $(STAMP)

browser:  ## headless Chromium for the browser tests (Debian packages)
	@command -v chromium >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null)

# Shared state across hosts (issue 12): the tests start their own servers on loopback.
servers:  ## redis-server and PostgreSQL for the shared-state tests (Debian packages)
	@command -v redis-server >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq redis-server >/dev/null)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null)

ingest: setup  ## index knowledge/ (embeds only what changed)
	$(BIN)/cert-assistant ingest

# chat_server.py serves app.py once the model and the index are loaded: no first visitor waits.
app: setup  ## the Streamlit chat
	@echo "Starting the chat at http://$(HOST):$(PORT)  (HOST=0.0.0.0 to serve other machines)"
	$(BIN)/streamlit run chat_server.py --server.headless true --server.address $(HOST) \
	  --server.port $(PORT) --server.fileWatcherType none

staff: setup  ## the staff dashboard, its own app behind a sign-in (see README)
	$(BIN)/cert-assistant staff --host $(HOST) --port $(STAFF_PORT)

serve: setup  ## the HTTP API and the script-tag widget
	$(BIN)/cert-assistant serve

eval: setup  ## quality report for the three retrievers side by side
	$(BIN)/cert-assistant eval --compare

train: setup  ## refit the query adapter and the scorers on the dev split (writes retrieval/query_adapter.npz, weights.json)
	$(BIN)/python -m evals.train

bench: setup  ## latency benchmark against the plain LangChain baseline
	$(BIN)/cert-assistant bench

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) data test-artifacts
