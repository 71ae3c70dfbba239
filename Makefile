# The test command of the README: formatting, vet, then every test with the
# race detector. PostgreSQL tests run when STEWARD_TEST_POSTGRES is set
# (and fail if STEWARD_REQUIRE_POSTGRES=1 and it is not).
.PHONY: test run build lint pg-up pg-down

test:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go test -race -count=1 ./...

run:
	go run ./cmd/steward serve

build:
	CGO_ENABLED=0 go build -o bin/steward ./cmd/steward

lint:
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# A throwaway local PostgreSQL for the tests: eval "$$(scripts/pg-up)"
pg-up:
	@scripts/pg-up
