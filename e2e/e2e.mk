# Included by the top-level Makefile. Both targets need root and keepalived
# (apt-get install -y keepalived iproute2); DO_FIP_E2E=1 makes a missing prerequisite
# a failure instead of a skip.
E2E_TIMEOUT ?= 25m
E2E_RUN ?= .

.PHONY: e2e examples-check

e2e: ## failover tests with real keepalived in network namespaces (root); timings in e2e/timings.md
	DO_FIP_E2E=1 go test ./e2e/ -run '$(E2E_RUN)' -count=1 -v -timeout $(E2E_TIMEOUT)

examples-check: ## validate examples/ keepalived configs with keepalived itself (root)
	DO_FIP_E2E=1 go test ./e2e/ -run 'TestLintKeepalived|TestExamples' -count=1 -v -timeout 3m
