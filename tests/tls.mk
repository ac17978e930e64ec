# Included by the top Makefile: `make test` also builds everything with
# the OpenSSL backend (TLS=openssl) into $(BUILD)/tls and runs the TLS
# tests there (tests/run.sh tls: tests/unit/tls, also under ASan and
# valgrind, and tests/integration/tls against real peers). The default
# build stays libc only; libssl-dev comes from `make deps`.
TLS_TEST_BUILD := $(if $(filter openssl,$(TLS)),$(BUILD),$(BUILD)/tls)

.PHONY: test-tls
test: test-tls

# The library, the examples and the TLS unit tests (both variants); the
# other unit tests gain nothing from a second build.
TLS_UNIT := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/tls/test_*.c))

test-tls:
	@$(MAKE) -s --no-print-directory TLS=openssl BUILD=$(TLS_TEST_BUILD) -j2 lib examples \
		$(foreach t,$(TLS_UNIT),$(TLS_TEST_BUILD)/tests/$(t) $(TLS_TEST_BUILD)/tests-single/$(t))
	BUILD=$(TLS_TEST_BUILD) tests/run.sh tls
