# Reliability targets: the fault matrix as a table, and fuzzing. Included by the Makefile
# (-include faults.mk). The matrix and the fuzz seed corpora also run in every `make unit`.
FUZZTIME ?= 30s
FUZZ_TARGETS := ./notify:FuzzParseKeepalivedArgs ./config:FuzzParseFile ./doapi:FuzzAPIAnswer ./metadata:FuzzMetadataAnswer

.PHONY: faults fuzz

faults: ## the fault matrix against the simulator, as a table (requests, time, outcome)
	@out=$$(FAULTS_TABLE=1 $(GO) test -count=1 -v -run '^TestFaultMatrix$$' ./app/ 2>&1); rc=$$?; \
	echo "$$out" | sed -n '/^FAULT MATRIX$$/,/^END FAULT MATRIX$$/p' | grep -v 'FAULT MATRIX$$'; \
	if [ $$rc != 0 ]; then echo "$$out" | grep -Ev '^(\||=== |FAULT MATRIX|END FAULT MATRIX)'; exit $$rc; fi

fuzz: ## run each fuzz target for FUZZTIME (default 30s); findings land in testdata/fuzz
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn ($$pkg), $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; \
	done
