# motcua — `make run` starts the product on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL_CLI := .tools/bin/temporal

# The cluster topology's Temporal server (its services run as separate processes) and its schema tool.
TEMPORAL_SERVER_VERSION := v1.29.1
TEMPORAL_SERVER := .tools/temporal-server

TEST_SERVER_LIB := .tools/temporal-test-server/lib

# Keycloak (Quarkus distribution, Maven Central) plays the national SSO and VNeID (devstack/oidc_server.py); the
# SHA-512 is the one Maven Central publishes beside the archive.
KEYCLOAK_VERSION := 26.7.3
KEYCLOAK_SHA512 := 664c8ac2997d94b69825af70acc3a6017a7a53a1504a6e21b2d82a04e5f53593b30cabdf80ffe3eb661f13442a57fbc15c4186a1899f2841e8145532e5ae7e1c
KEYCLOAK := .tools/keycloak-$(KEYCLOAK_VERSION)

CHROMIUM := /usr/bin/chromium

# $(call debian_package,<a shell test that it is there>,<package>): Debian's package, installed when the test fails,
# with sudo unless already root.
debian_package = if $(1); then true; else \
	echo "installing Debian's $(2) …"; \
	SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2); \
	fi

.PHONY: translations setup venv temporal-cli graphviz pdfsig temporal-server postgres prometheus redis test-server oidc-server browser run run-cluster test test-cluster bench clean chaos

setup: venv temporal-cli graphviz pdfsig

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "motcua needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The Temporal CLI (and its dev server) is compiled once from source with the Go toolchain;
# a `temporal` already on PATH is used as it is.
temporal-cli:
	@if command -v temporal >/dev/null 2>&1; then \
		echo "using $$(command -v temporal)"; \
	elif [ -x $(TEMPORAL_CLI) ]; then \
		true; \
	else \
		echo "compiling the Temporal CLI $(TEMPORAL_CLI_VERSION) into .tools/bin (a few minutes, once) …"; \
		GOBIN=$(CURDIR)/.tools/bin GOFLAGS=-buildvcs=false go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION); \
	fi

# The Temporal server and its SQL schema tool, compiled once from source (no cgo; the optional gRPC modules left
# out); the PostgreSQL schemas they install come from the same module.
temporal-server: $(TEMPORAL_SERVER)/.installed-$(TEMPORAL_SERVER_VERSION)

$(TEMPORAL_SERVER)/.installed-$(TEMPORAL_SERVER_VERSION):
	@echo "compiling the Temporal server $(TEMPORAL_SERVER_VERSION) and its schema tool into $(TEMPORAL_SERVER) (a few minutes, once) …"
	rm -rf $(TEMPORAL_SERVER)/bin $(TEMPORAL_SERVER)/schema $(TEMPORAL_SERVER)/.installed-*
	mkdir -p $(TEMPORAL_SERVER)/bin $(TEMPORAL_SERVER)/schema
	GOBIN=$(CURDIR)/$(TEMPORAL_SERVER)/bin GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -tags disable_grpc_modules \
		go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION) \
		go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)
	mv $(TEMPORAL_SERVER)/bin/server $(TEMPORAL_SERVER)/bin/temporal-server
	mv $(TEMPORAL_SERVER)/bin/sql $(TEMPORAL_SERVER)/bin/temporal-sql-tool
	cp -R "$$(go env GOMODCACHE)/go.temporal.io/server@$(TEMPORAL_SERVER_VERSION)/schema/postgresql" $(TEMPORAL_SERVER)/schema/
	chmod -R u+w $(TEMPORAL_SERVER)/schema
	@touch $@

# Debian's PostgreSQL server for the cluster topology and the tests that need it; the project runs its own server
# in a data folder, whatever the package starts.
postgres:
	@$(call debian_package,ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1,postgresql)

# Debian's Prometheus: a test scrapes the stack with it and asks it a PromQL query.
prometheus:
	@$(call debian_package,command -v prometheus >/dev/null 2>&1,prometheus)

# Debian's Redis: the store the API processes share their rate limits in, started by the rate limits' test.
redis:
	@$(call debian_package,command -v redis-server >/dev/null 2>&1,redis-server)

# Temporal's time-skipping test server (Java, from Maven Central) lets tests cross days of deadlines.
test-server: $(TEST_SERVER_LIB)/.installed

$(TEST_SERVER_LIB)/.installed: devstack/temporal-test-server/pom.xml
	@command -v java >/dev/null || { echo "Java is needed for the time-skipping test server"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is needed to fetch the time-skipping test server"; exit 1; }
	mvn -q -B -f devstack/temporal-test-server/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/$(TEST_SERVER_LIB)
	@touch $@

# Keycloak, fetched with Maven (its SHA-1 checked against Central's, then the pinned SHA-512), unpacked into
# .tools/keycloak-<version>/ and built once for quick starts (its JDK, 21 or later, found by devstack/oidc_server.py).
oidc-server: $(KEYCLOAK)/.installed

$(KEYCLOAK)/.installed: | $(VENV)/.installed
	@command -v mvn >/dev/null || { echo "Maven is needed to fetch Keycloak"; exit 1; }
	@echo "fetching Keycloak $(KEYCLOAK_VERSION) into $(KEYCLOAK) (once) …"
	rm -rf $(KEYCLOAK) $(KEYCLOAK).download
	mvn -q -B -C dependency:copy -Dartifact=org.keycloak:keycloak-quarkus-dist:$(KEYCLOAK_VERSION):tar.gz \
		-DoutputDirectory=$(CURDIR)/$(KEYCLOAK).download
	echo "$(KEYCLOAK_SHA512)  $(KEYCLOAK).download/keycloak-quarkus-dist-$(KEYCLOAK_VERSION).tar.gz" | sha512sum -c --quiet
	mkdir -p $(KEYCLOAK)
	tar -xzf $(KEYCLOAK).download/keycloak-quarkus-dist-$(KEYCLOAK_VERSION).tar.gz -C $(KEYCLOAK) --strip-components=1
	rm -rf $(KEYCLOAK).download
	$(BIN)/python -m devstack.oidc_server build
	@touch $@

# The page tests drive Debian's Chromium with Playwright (never a browser Playwright downloads itself);
# it is installed from Debian's packages when missing, with sudo unless already root.
# Graphviz's `dot` lays out the procedures' step graphs (GET /procedures/{code}/graph.svg).
graphviz:
	@$(call debian_package,command -v dot >/dev/null 2>&1,graphviz)

# Poppler's `pdfsig`, a PDF reader's signature check, verifies the signed result PDFs in the tests.
pdfsig:
	@$(call debian_package,command -v pdfsig >/dev/null 2>&1,poppler-utils)

browser:
	@$(call debian_package,[ -x $(CHROMIUM) ],chromium)

run: setup oidc-server
	$(BIN)/python -m devstack run

# PostgreSQL, Temporal's four services as separate processes, two workers, two API processes and the simulator.
run-cluster: setup temporal-server postgres
	$(BIN)/python -m devstack run --topology cluster $(ARGS)

# The embedded run, then the cluster suite (the tests marked `cluster`, on the cluster topology).
test: setup test-server oidc-server browser temporal-server postgres prometheus redis
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest
	TEST_TOPOLOGY=cluster $(BIN)/python -m pytest

test-cluster: setup temporal-server postgres
	TEST_TOPOLOGY=cluster $(BIN)/python -m pytest $(ARGS)

# The fault-injection scenarios on larger batches, and a longer fuzz of the whole API.
chaos: setup test-server
	MOTCUA_CHAOS_DOSSIERS=$(or $(DOSSIERS),30) $(BIN)/python -m pytest -m chaos -o timeout=1800
	MOTCUA_FUZZ_EXAMPLES=$(or $(EXAMPLES),30) $(BIN)/python -m pytest tests/test_bad_input_fuzzing.py -o timeout=3600

# Figures beside baselines measured in the same run (see bench/__main__.py; `ARGS=--help`).
bench: setup temporal-server postgres
	$(BIN)/python -m bench $(ARGS)

# After adding or changing what people read: extract the messages (Vietnamese) and update the English catalog, whose
# new entries then need their English (tests/test_every_message_has_its_translation.py says which).
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k t -k mark --no-location --sort-output -o .data/messages.pot .
	$(BIN)/pybabel update -i .data/messages.pot -d infrastructure/locale -l en --no-fuzzy-matching --ignore-obsolete --width 0

clean:
	rm -rf $(VENV) .data test-artifacts bench-results .pytest_cache
