# payledger: the two commands are `make run` and `make test`.
# With DATABASE_URL unset, a throwaway PostgreSQL is started under target/pg (see scripts/pg.sh)
# and stopped when the command ends; `make run` uses dev mode (a "dev" tenant and keys) only then.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test bench db db-stop db-reset lint fmt

run:
	$(CARGO) build --release --bin payledger
	scripts/pg.sh with --dev target/release/payledger serve

test:
	scripts/pg.sh with $(CARGO) test --workspace --all-targets --no-fail-fast

bench:
	$(CARGO) build --release -p payledger-bench
	scripts/pg.sh with scripts/bench.sh

db:
	@scripts/pg.sh start

db-stop:
	scripts/pg.sh stop

# Drops the local database and creates it empty (the cluster must be running: make db).
# Also forgets the dev keys, so the next `make run` creates the dev tenant afresh.
db-reset:
	scripts/pg.sh reset
	rm -f target/dev-keys.json

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
