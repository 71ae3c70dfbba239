# The test command of the README: formatting, vet, then every test with the
# race detector, and last, so it is the thing you see, whether the PostgreSQL
# half ran. PostgreSQL tests run when STEWARD_TEST_POSTGRES is set (and fail
# if STEWARD_REQUIRE_POSTGRES=1 and it is not).
.PHONY: test run build lint pg-up pg-down

# Version stamps for make build; a plain go build reads the commit from the
# build information instead (see cmd/steward/version.go).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
MODIFIED ?= $(shell if [ -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then echo true; else echo false; fi)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.modified=$(MODIFIED)

# Extra checks that run after the tests and before the summary, each a shell
# command followed by "|| rc=1;" so a failure is reported but the summary
# still prints. Brief fuzz runs go here.
EXTRA_CHECKS := scripts/fuzz-brief || rc=1;

test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	@rc=0; \
	  echo "go test -race -count=1 -timeout 30m ./..."; go test -race -count=1 -timeout 30m ./... || rc=1; \
	  $(EXTRA_CHECKS) \
	  scripts/test-summary $$rc

run:
	go run ./cmd/steward serve

build:
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o bin/steward ./cmd/steward

lint:
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# A throwaway local PostgreSQL for the tests: eval "$$(scripts/pg-up)";
# make pg-down stops the one pg-up started (and only that one).
pg-up:
	@scripts/pg-up

pg-down:
	@scripts/pg-down
