# shopstream: `make all-in-one` runs everything in one process; `make test`
# runs every test (unit, embedded integration, then the real servers).

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Servers the real-server suites need, started by deploy/local/up.
REAL_SERVERS ?= kafka
REAL_KAFKA   ?= 127.0.0.1:19092

.PHONY: all-in-one build test check test-unit test-real bench fuzz clean

all-in-one: ## run every role in one process on embedded engines
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/shopstream all-in-one $(ARGS)

build: ## build bin/shopstream
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/shopstream ./cmd/shopstream

test: check test-unit test-real ## everything CI runs

check: ## gofmt, go vet and staticcheck must be clean
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

test-unit: ## unit tests and integration tests on the embedded engines
	$(GO) test -count=1 ./...

# Starts the real servers (installing what is missing), runs the suites that
# take a real server, and stops the servers again whatever the outcome.
test-real: ## the same integration suites against real servers on loopback
	@set -e; trap 'deploy/local/down $(REAL_SERVERS)' EXIT; \
	deploy/local/up $(REAL_SERVERS); \
	SHOPSTREAM_TEST_KAFKA=$(REAL_KAFKA) $(GO) test -count=1 ./eventlog/... ./app/...

bench: ## the benchmarks behind docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchtime 3x ./eventlog/ ./cmd/shopstream/

fuzz: ## fuzz the envelope decoder for a minute each
	$(GO) test -run '^$$' -fuzz 'FuzzDecode$$' -fuzztime 60s ./topics/
	$(GO) test -run '^$$' -fuzz 'FuzzCanonicalMatchesGeneral$$' -fuzztime 60s ./topics/

clean:
	rm -rf bin data
