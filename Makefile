# sluice — make targets. `make test` is what CI runs.
GO ?= go
PKGS := ./...
STATICCHECK_VERSION := v0.8.2

.PHONY: test test-deps test-short lint vet bench bench-checkpoint nexmark torture fmt

## test: vet + race-enabled unit and integration tests (CI runs this)
test: test-deps vet
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

## test-deps: install and start what the tests need beyond Go modules (chromium, Redis, RabbitMQ, the Kinesis emulator)
test-deps:
	@bash scripts/test-deps

## test-short: quick tests without the race detector
test-short:
	$(GO) test -count=1 -short $(PKGS)

vet:
	$(GO) vet $(PKGS)

## lint: go vet, gofmt and staticcheck
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

## bench: engine benchmarks against hand-written loops (figures in docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./bench/

## bench-checkpoint: checkpoint cost (full and incremental) and restore time with 10 MB, 100 MB and 1 GB of keyed state
## (SLUICE_STATE_SIZES=10MB,100MB to limit)
bench-checkpoint:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./bench/checkpoint/

## nexmark: Nexmark per CPU-second against hand loops and Flink's figures (docs/nexmark.md)
nexmark:
	$(GO) run ./nexmark/cmd/nexmark-bench -all -events 10000000 -reps 3 -markdown

## torture: long crash-recovery runs (SIGKILL at random moments)
torture:
	SLUICE_TORTURE=long $(GO) test -count=1 -timeout 60m -run Torture ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
