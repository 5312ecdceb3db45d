# shopstream: `make all-in-one` runs everything in one process; `make test`
# runs every test (unit, embedded integration, then the real servers).

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The real servers deploy/local/up starts, and where the suites find them
# (the ports of deploy/config/local.yaml).
REAL_SERVERS ?= all
REAL_ENV     ?= SHOPSTREAM_TEST_KAFKA=127.0.0.1:19092 \
	SHOPSTREAM_TEST_MYSQL='shopstream:shopstream@tcp(127.0.0.1:13306)/shopstream' \
	SHOPSTREAM_TEST_CASSANDRA=127.0.0.1:19042 \
	SHOPSTREAM_TEST_ELASTICSEARCH=http://127.0.0.1:19200 \
	SHOPSTREAM_TEST_CLICKHOUSE=127.0.0.1:19000
# Contract suites name their real-server subtests real-<server>.
REAL_SUBTESTS := TestContract/real-

.PHONY: all-in-one build test check chromium test-unit test-real bench fuzz clean

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

chromium: ## Debian's chromium, for the dashboard's browser test
	deploy/local/chromium

test-unit: chromium ## unit tests and integration tests on the embedded engines
	$(GO) test -count=1 -skip '$(REAL_SUBTESTS)' ./...

# Starts the real servers (installing what is missing), runs every store
# contract suite's real subtests, then every suite that takes a Kafka
# (eventlog, processors, the REST edge and order-taking, payment,
# shipping, the search sink, all-in-one) on the real servers, and stops
# the servers again whatever the outcome.
test-real: ## the same suites against real servers on loopback
	@set -e; trap 'deploy/local/down $(REAL_SERVERS)' EXIT; \
	deploy/local/up $(REAL_SERVERS); \
	$(REAL_ENV) $(GO) test -count=1 -run '$(REAL_SUBTESTS)' ./...; \
	$(REAL_ENV) $(GO) test -count=1 -skip 'TestContract' ./eventlog/... ./processors/... ./api/... ./payment/... ./shipping/... ./sinks/search/... ./app/...

bench: ## the benchmarks behind docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchtime 3x ./eventlog/ ./cmd/shopstream/

fuzz: ## fuzz the envelope decoder for a minute each
	$(GO) test -run '^$$' -fuzz 'FuzzDecode$$' -fuzztime 60s ./topics/
	$(GO) test -run '^$$' -fuzz 'FuzzCanonicalMatchesGeneral$$' -fuzztime 60s ./topics/

clean:
	rm -rf bin data
