# do-fip — `make help` lists what a developer can do.
SHELL      := bash
GO         ?= go
VERSION    ?= $(or $(patsubst v%,%,$(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null)),0.0.0)
LDFLAGS    := -s -w -X main.version=$(VERSION)
BIN        := bin/do-fip
GOTESTFLAGS ?=

.PHONY: help build test unit e2e bench demo lint clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

build: ## build bin/do-fip (static)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) .

demo: build ## failover demo on the built-in simulator (no DigitalOcean account needed)
	@scripts/demo.sh $(BIN)

test: lint unit e2e-if-possible package-test-if-possible ## every test: lint, unit + CLI, end-to-end (root), packages (root)

unit: ## unit and CLI tests (race detector on); the end-to-end package runs under make e2e
	$(GO) test -race -count=1 $(GOTESTFLAGS) $$($(GO) list ./... | grep -v /e2e$$)

lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

bench: ## benchmarks that print failover figures
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m ./bench/ | grep -E '^(FIGURE|Benchmark|ok|FAIL|---)'

clean: ## remove build outputs
	rm -rf bin dist

-include e2e/e2e.mk
-include packaging/package.mk
-include faults.mk

# Targets that need root (network namespaces, dpkg) run when they can; under CI they must.
.PHONY: e2e-if-possible package-test-if-possible
e2e-if-possible:
	@if [ "$$(id -u)" = 0 ] && command -v keepalived >/dev/null && grep -q '^e2e:' e2e/e2e.mk 2>/dev/null; then \
		$(MAKE) --no-print-directory e2e; \
	elif [ "$$CI" = true ]; then echo "e2e: CI must run the end-to-end tests: need root, keepalived and e2e/e2e.mk" >&2; exit 1; \
	else echo "e2e: skipped (needs root and keepalived: sudo make e2e)"; fi
package-test-if-possible:
	@if [ "$$(id -u)" = 0 ] && grep -q '^package-test:' packaging/package.mk 2>/dev/null && { [ "$$CI" = true ] || [ "$$DO_FIP_PACKAGE_TEST" = 1 ]; }; then \
		$(MAKE) --no-print-directory package-test; \
	elif [ "$$CI" = true ]; then echo "package-test: CI must run the package tests: need root and packaging/package.mk" >&2; exit 1; \
	else echo "package-test: skipped (installs the .deb: run as root with DO_FIP_PACKAGE_TEST=1, or make package-test)"; fi
