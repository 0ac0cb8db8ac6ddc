# Included by the top-level Makefile. These targets need root and keepalived
# (apt-get install -y keepalived iproute2); DO_FIP_E2E=1 makes a missing prerequisite
# a failure instead of a skip. make e2e and make examples-check run on every keepalived
# version (scripts/e2e-matrix.sh); KEEPALIVED=/path/to/keepalived runs one version only.
E2E_TIMEOUT ?= 25m
E2E_RUN     ?= .
E2E_RUNS    ?= 5
export E2E_TIMEOUT

.PHONY: e2e e2e-timings examples-check

e2e: ## failover tests with real keepalived in namespaces, every keepalived version (root); KEEPALIVED=path: one
	@if [ -n "$(KEEPALIVED)" ]; then \
		DO_FIP_E2E=1 KEEPALIVED='$(KEEPALIVED)' $(GO) test ./e2e/ -run '$(E2E_RUN)' -count=1 -v -timeout $(E2E_TIMEOUT); \
	else E2E_RUN='$(E2E_RUN)' scripts/e2e-matrix.sh e2e; fi

e2e-timings: ## the README's failover table: medians of E2E_RUNS runs of scenarios 2, 3 and 6 (root)
	DO_FIP_E2E=1 $(GO) test ./e2e/ -run 'TestFailoverHealthCheck|TestFailoverKeepalivedKilled|TestSplitBrain' \
		-count=$(E2E_RUNS) -timeout 60m
	@cat bin/e2e/timings.md

examples-check: ## validate examples/ with keepalived itself, on each version they are for, and with do-fip (root)
	@if [ -n "$(KEEPALIVED)" ]; then \
		DO_FIP_E2E=1 KEEPALIVED='$(KEEPALIVED)' $(GO) test ./e2e/ -run 'TestLintKeepalived|TestExamples' -count=1 -v -timeout 3m; \
	else scripts/e2e-matrix.sh examples; fi
