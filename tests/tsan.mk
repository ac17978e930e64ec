# Included by the top Makefile: `make tsan` builds the library and the
# threaded unit tests with ThreadSanitizer into $(BUILD)/tsan and runs
# them; `make test` runs it first. Only the tests that start threads are
# worth it (the rest would just run slower).
TSAN_TESTS := test_runtime_post
TSAN_BUILD := $(BUILD)/tsan

.PHONY: tsan
test: tsan

# SANITIZE= : ASan and TSan cannot share a binary, whatever the caller's build.
tsan:
	@$(MAKE) -s --no-print-directory SANITIZE= TSAN=1 BUILD=$(TSAN_BUILD) OPT="-O1 -g" \
		$(addprefix $(TSAN_BUILD)/tests/,$(TSAN_TESTS))
	@for t in $(TSAN_TESTS); do \
		echo "=== tsan/$$t"; \
		TSAN_OPTIONS="halt_on_error=1 exitcode=66 $(TSAN_OPTIONS)" \
			timeout 300 $(TSAN_BUILD)/tests/$$t || exit 1; \
	done
