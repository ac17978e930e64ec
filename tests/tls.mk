# Included by the top Makefile: `make test` also builds everything with
# the OpenSSL backend (TLS=openssl) into $(BUILD)/tls and runs the TLS
# tests there (tests/run.sh tls: tests/unit/tls, also under ASan and
# valgrind, and tests/integration/tls against real peers). The default
# build stays libc only; libssl-dev comes from `make deps`.
TLS_TEST_BUILD := $(if $(filter openssl,$(TLS)),$(BUILD),$(BUILD)/tls)

.PHONY: test-tls
test: test-tls

test-tls:
	@$(MAKE) -s --no-print-directory TLS=openssl BUILD=$(TLS_TEST_BUILD) -j2 all tests-single
	BUILD=$(TLS_TEST_BUILD) tests/run.sh tls
