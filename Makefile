# payledger: the two commands are `make run` and `make test`.
# With DATABASE_URL unset, a throwaway PostgreSQL is started under target/pg (see scripts/pg.sh).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test bench db db-stop lint fmt

run:
	$(CARGO) build --release --bin payledger
	scripts/pg.sh with target/release/payledger serve --dev

test:
	scripts/pg.sh with $(CARGO) test --workspace --all-targets --no-fail-fast

bench:
	$(CARGO) build --release --bin payledger
	scripts/pg.sh with scripts/bench.sh

db:
	@scripts/pg.sh start

db-stop:
	scripts/pg.sh stop

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
