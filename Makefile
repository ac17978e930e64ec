# cws — build, test, run. See README.md for the two commands that matter:
#   make run          build and start the chat server
#   make deps test    install test dependencies (Debian), run every test
#
# Variables: CC=clang, SANITIZE=1 (ASan+UBSan build under build/asan),
#            REDIS=1 (cws-chat with its Redis Streams store; needs hiredis),
#            TSAN=1 (ThreadSanitizer; `make tsan` builds and runs it),
#            PREFIX=/usr/local DESTDIR= for install.

CC       ?= cc
AR       ?= ar
PREFIX   ?= /usr/local
DESTDIR  ?=
VERSION  := $(shell sed -n 's/^\#define CWS_VERSION_STRING "\(.*\)"/\1/p' include/cws.h)
SOMAJOR  := $(word 1,$(subst ., ,$(VERSION)))

WARN     := -std=c11 -Wall -Wextra -Wpedantic -Werror
OPT      ?= -O2 -g
# Debug info as DWARF 4 when OPT asks for any: valgrind 3.19 (Debian 12)
# cannot read clang 14's DWARF 5. It comes first, so a -gdwarf-5 in OPT wins.
DWARF    := $(if $(filter -g%,$(OPT)),-gdwarf-4)
CPPFLAGS += -Iinclude -MMD -MP
CFLAGS   += $(WARN) $(DWARF) $(OPT) -fPIC -fvisibility=hidden

# TLS=openssl: the runtime's TLS transport (wss://, https://) through
# OpenSSL (Debian libssl-dev), built into build/tls unless BUILD says
# otherwise. The default build stays libc only and refuses wss://.
TLS      ?=
ifeq ($(TLS),openssl)
BUILD    ?= build/tls$(if $(filter 1,$(SANITIZE)),-asan)
CPPFLAGS += -DCWS_TLS_OPENSSL
TLS_LIBS := -lssl -lcrypto
else ifneq ($(TLS),)
$(error TLS=$(TLS): the only backend is TLS=openssl)
endif

ifeq ($(SANITIZE),1)
BUILD    ?= build/asan
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif
ifeq ($(TSAN),1)
BUILD    ?= build/tsan
CFLAGS   += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=thread
endif
BUILD    ?= build
# The loop's job queue (cws_loop_post) takes a mutex: glibc 2.34+ has
# pthreads in libc, older and other libcs want -pthread at link time.
THREAD_LIBS := -pthread
# What a program linking libcws.a needs besides it.
LIBCWS_LIBS := $(TLS_LIBS) $(THREAD_LIBS)

# The compiler and flags the objects in $(BUILD) were built with. The file
# is rewritten only when they change, and every object depends on it: so
# `make CC=clang` after `make` rebuilds everything instead of linking a mix.
FLAGS_STAMP := $(BUILD)/build-flags
BUILD_FLAGS  = CC=$(CC) CFLAGS=$(CFLAGS) CPPFLAGS=$(CPPFLAGS) LDFLAGS=$(LDFLAGS) REDIS=$(REDIS)

CORE_SRC    := $(sort $(wildcard src/*.c)) $(sort $(wildcard src/deflate/*.c))
RUNTIME_SRC := $(sort $(wildcard src/runtime/*.c))
LIB_OBJ     := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRC) $(RUNTIME_SRC))
LIB_A       := $(BUILD)/libcws.a
LIB_SO      := $(BUILD)/libcws.so.$(VERSION)

EXAMPLES    := $(notdir $(patsubst %/,%,$(sort $(dir $(wildcard examples/*/*.c)))))
EXAMPLE_BIN := $(patsubst %,$(BUILD)/cws-%,$(EXAMPLES))

UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
# The TLS tests exist only where TLS does (tests/run.sh tls runs them).
ifeq ($(TLS),openssl)
UNIT_SRC    += $(sort $(wildcard tests/unit/tls/test_*.c))
endif
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# zlib is a test oracle only (tests of the DEFLATE codec); libcws never links it.
TEST_LIBS   := -lcmocka -lz

.PHONY: all lib examples tests test unit integration deps run clean install uninstall \
        bench bench-deps fuzz single-header check-single-header FORCE
.DEFAULT_GOAL := all

all: lib examples tests
lib: $(LIB_A) $(LIB_SO) $(BUILD)/libcws.so
examples: $(EXAMPLE_BIN)
tests: $(UNIT_BIN)

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# Runs every time; make compares the file's time afterwards, so what
# depends on it is rebuilt only when the content changed.
$(FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@{ printf '%s\n' '$(subst ','\'',$(BUILD_FLAGS))'; $(CC) --version 2>&1 | head -n 1; } > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; echo "$@: new compiler or flags"; fi

FORCE:

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libcws.so.$(SOMAJOR) $(LDFLAGS) -o $@ $^ $(LIBCWS_LIBS)

$(BUILD)/libcws.so: $(LIB_SO)
	ln -sf libcws.so.$(VERSION) $(BUILD)/libcws.so.$(SOMAJOR)
	ln -sf libcws.so.$(VERSION) $@

# Each example is every .c file in examples/<name>/, linked statically.
.SECONDEXPANSION:
# ($(PERCENT) keeps patsubst's wildcard from being read as the rule's stem.)
PERCENT := %
$(BUILD)/cws-%: $$(patsubst $$(PERCENT).c,$(BUILD)/obj/$$(PERCENT).o,$$(wildcard examples/$$*/*.c)) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBCWS_LIBS)
.PRECIOUS: $(BUILD)/obj/%.o

# cws-chat's Redis store (examples/chat/redis_*.c) needs hiredis, which
# nothing else links: `make` builds cws-chat without it (noredis.c stands
# in and refuses --redis), `make REDIS=1` with it. `make test` also builds
# $(BUILD)/redis/cws-chat, with Redis, for the Redis tests, when hiredis
# is installed (`make deps`); without it those tests fail and say so.
HIREDIS_CFLAGS := $(shell pkg-config --cflags hiredis 2>/dev/null)
HIREDIS_LIBS   := $(or $(shell pkg-config --libs hiredis 2>/dev/null),-lhiredis)
HAVE_HIREDIS   := $(shell pkg-config --exists hiredis 2>/dev/null && echo 1)
CHAT_COMMON    := $(filter-out examples/chat/redis_%.c examples/chat/noredis.c,$(wildcard examples/chat/*.c))
CHAT_PLAIN_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CHAT_COMMON) examples/chat/noredis.c)
CHAT_REDIS_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CHAT_COMMON) $(wildcard examples/chat/redis_*.c))
REDIS_CHAT     := $(BUILD)/redis/cws-chat

$(BUILD)/obj/examples/chat/redis_%.o: CPPFLAGS += $(HIREDIS_CFLAGS)
ifeq ($(REDIS),1)
$(BUILD)/cws-chat: $(CHAT_REDIS_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(HIREDIS_LIBS) $(LIBCWS_LIBS)
else
$(BUILD)/cws-chat: $(CHAT_PLAIN_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBCWS_LIBS)
endif
$(REDIS_CHAT): $(CHAT_REDIS_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(HIREDIS_LIBS) $(LIBCWS_LIBS)
.PHONY: redis-chat
redis-chat: $(REDIS_CHAT)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBCWS_LIBS)

# ---------------------------------------------------------------- tests
test: all $(if $(HAVE_HIREDIS),$(REDIS_CHAT))
	BUILD=$(BUILD) tests/run.sh

unit: tests
	BUILD=$(BUILD) tests/run.sh unit

integration: all $(if $(HAVE_HIREDIS),$(REDIS_CHAT))
	BUILD=$(BUILD) tests/run.sh integration

# Installs what the tests need on Debian; a no-op when already there.
deps:
	tests/deps.sh

# ---------------------------------------------------------------- run
run: $(BUILD)/cws-chat
	$(BUILD)/cws-chat --port 8080 --web examples/chat/web

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(UNIT_BIN:$(BUILD)/tests/%=$(BUILD)/obj/tests/unit/%.d)
-include $(wildcard $(BUILD)/obj/examples/*/*.d)

# Targets owned by their own folders.
-include bench/bench.mk
-include tests/fuzz/fuzz.mk
-include tools/tools.mk
-include tests/tsan.mk
-include tests/tls.mk
