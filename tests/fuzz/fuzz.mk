# libFuzzer harnesses (included by the top Makefile).
#   make fuzz FUZZ_SECONDS=N   build, then run every harness N s (default 60)
#   make fuzz-smoke            the same, about 20 s each
#   make fuzz-build            build only, into $(BUILD)/fuzz/
# The core (src/*.c) is rebuilt with clang and -fsanitize=fuzzer-no-link,
# address,undefined; each tests/fuzz/fuzz_<name>.c becomes
# $(BUILD)/fuzz/fuzz_<name>. Any finding (crash, leak, broken invariant,
# timeout) fails the target; see tests/fuzz/run.sh for where inputs go.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_CFLAGS  := -std=c11 -Wall -Wextra -Wpedantic -Werror -O1 -g -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -Iinclude
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRC))
# Not obj/: $(BUILD)/fuzz/obj holds the plain objects of BUILD=$(BUILD)/fuzz.
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_DIR)/fuzz-obj/%.o,$(CORE_SRC))

.PHONY: fuzz fuzz-build fuzz-smoke conformance conformance-peers

fuzz-build: $(FUZZ_BIN)

# Kept between runs (make would delete them as intermediates).
.SECONDARY: $(FUZZ_LIB_OBJ)

$(FUZZ_DIR)/fuzz-obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# zlib is the deflater harness's oracle only (libcws never links it).
$(FUZZ_DIR)/fuzz_deflate: FUZZ_LIBS := -lz
# ... and the peer's codec of the permessage-deflate connection harness.
$(FUZZ_DIR)/fuzz_pmd_conn: FUZZ_LIBS := -lz

# The topic table is a runtime file, usable alone (fake sockets).
FUZZ_TOPICS_OBJ := $(FUZZ_DIR)/fuzz-obj/src/runtime/topics.o
.SECONDARY: $(FUZZ_TOPICS_OBJ)
$(FUZZ_DIR)/fuzz_topics: FUZZ_LIBS := $(FUZZ_TOPICS_OBJ)
$(FUZZ_DIR)/fuzz_topics: $(FUZZ_TOPICS_OBJ)

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d -o $@ $< $(FUZZ_LIB_OBJ) $(FUZZ_LIBS)

fuzz: fuzz-build
	FUZZ_DIR=$(FUZZ_DIR) FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	FUZZ_DIR=$(FUZZ_DIR) FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh 20

# The conformance suite against cws-echo, and against other servers to
# check the suite itself (tests/conformance/README.md).
conformance: $(BUILD)/cws-echo
	/usr/bin/python3 tests/conformance/run.py --strict --server $(BUILD)/cws-echo --port 0

conformance-peers:
	BUILD=$(BUILD) tests/conformance/peers.sh

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BIN:=.d)
