# Benchmarks (never part of `make test`). Included by the top Makefile.
#   make bench-deps   install the peer servers' packages (Debian + npm)
#   make bench-micro  the one-process micro benchmark (table on stdout)
#   make bench-load   the two-process load benchmark against cws and peers
#   make bench-deflate  permessage-deflate only: codec tables, echo with
#                     compression against the peers, memory per connection
#   make bench-fanout fan-out only: broadcast to many receivers against the
#                     no-library yardstick and the peers (issue 18)
#   make bench-tls    TLS only: echo and handshakes over wss:// against
#                     ws://, cws and Node ws (issue 12); builds the TLS
#                     variant of cws-echo (TLS=openssl) itself
#   make bench        all of it; writes bench/RESULTS.md
# Everything builds into $(BUILD)/bench/.

BENCH_DIR    := $(BUILD)/bench
BENCH_CFLAGS := -std=c11 -Wall -Wextra -Wpedantic -Werror -O2 -g
# Peers include third-party headers that are not -Wpedantic clean.
PEER_CFLAGS  := -std=gnu11 -Wall -Wextra -O2 -g

BENCH_TOOLS  := $(BENCH_DIR)/loadgen $(BENCH_DIR)/reflector $(BENCH_DIR)/malloc_count.so \
                $(BENCH_DIR)/fanout_load $(BENCH_DIR)/fanout_yardstick
BENCH_CWS    := $(BENCH_DIR)/micro $(BENCH_DIR)/bcast_server $(BUILD)/cws-echo $(BUILD)/cws-chat
# permessage-deflate: the codec benches and the state reference (zlib as yardstick)
BENCH_DEFLATE := $(BENCH_DIR)/codec_inflate $(BENCH_DIR)/codec_deflate $(BENCH_DIR)/deflate_state
BENCH_PEERS  := $(BENCH_DIR)/lws_echo $(BENCH_DIR)/wslay_echo

.PHONY: bench-micro bench-load bench-tools bench-peers

# The tools' shared pieces (bench/common/: handshakes, framing, /proc, the
# listener...). Every tool that includes any of them depends on all: they
# include one another, and a rebuild of a one-file tool costs little.
BENCH_COMMON_H := $(wildcard bench/common/*.h)

# zlib: the generator's side of permessage-deflate (--deflate); OpenSSL:
# its side of wss:// (--tls).
$(BENCH_DIR)/loadgen: bench/loadgen.c $(BENCH_COMMON_H)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lz -lssl -lcrypto

# Fan-out (issue 18): the generator and the no-library yardstick.
$(BENCH_DIR)/fanout_load: bench/fanout_load.c $(BENCH_COMMON_H)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BENCH_DIR)/fanout_yardstick: bench/fanout_yardstick.c $(BENCH_COMMON_H)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BENCH_DIR)/reflector: bench/reflector.c $(BENCH_COMMON_H)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BENCH_DIR)/malloc_count.so: bench/malloc_count.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -fPIC -shared -o $@ $<

$(BENCH_DIR)/micro: bench/micro.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -Iinclude -o $@ $< $(LIB_A) $(LIBCWS_LIBS)

$(BENCH_DIR)/bcast_server: bench/bcast_server.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -Iinclude -o $@ $< $(LIB_A) $(LIBCWS_LIBS)

$(BENCH_DIR)/lws_echo: bench/peers/lws_echo.c
	@mkdir -p $(dir $@)
	$(CC) $(PEER_CFLAGS) -o $@ $< $$(pkg-config --libs libwebsockets 2>/dev/null || echo -lwebsockets)

$(BENCH_DIR)/wslay_echo: bench/peers/wslay_echo.c $(BENCH_COMMON_H)
	@mkdir -p $(dir $@)
	$(CC) $(PEER_CFLAGS) -o $@ $< -lwslay

bench-tools: $(BENCH_TOOLS)
bench-peers: $(BENCH_PEERS)

bench-deps:
	bench/deps.sh

bench-micro: $(BENCH_DIR)/micro
	$(BENCH_DIR)/micro

# Peers that fail to build (packages missing) are skipped by run.sh.
bench-load: $(BENCH_TOOLS) $(BENCH_CWS)
	-@$(MAKE) --no-print-directory -k bench-peers
	BUILD=$(BUILD) bench/run.sh load

bench: $(BENCH_TOOLS) $(BENCH_CWS) $(BENCH_DEFLATE) bench-tls-echo
	-@$(MAKE) --no-print-directory -k bench-peers
	BUILD=$(BUILD) BENCH_TLS_BUILD=$(BENCH_TLS_BUILD) bench/run.sh all

.PHONY: bench-deflate
bench-deflate: $(BENCH_TOOLS) $(BENCH_CWS) $(BENCH_DEFLATE)
	-@$(MAKE) --no-print-directory -k bench-peers
	BUILD=$(BUILD) bench/run.sh deflate

.PHONY: bench-fanout
bench-fanout: $(BENCH_TOOLS) $(BENCH_CWS)
	-@$(MAKE) --no-print-directory -k bench-peers
	BUILD=$(BUILD) bench/run.sh fanout

# Codec state per connection, cws's and zlib's, for the memory table.
$(BENCH_DIR)/deflate_state: bench/deflate_state.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -Iinclude -o $@ $< $(LIB_A) -lz $(LIBCWS_LIBS)

# DEFLATE codec: cws_inflate against zlib's raw inflate (zlib is only the
# yardstick here, as in the tests).
.PHONY: bench-codec-inflate

$(BENCH_DIR)/codec_inflate: bench/codec_inflate.c bench/codec_corpus.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -Iinclude -o $@ $< $(LIB_A) -lz $(LIBCWS_LIBS)

bench-codec-inflate: $(BENCH_DIR)/codec_inflate
	$(BENCH_DIR)/codec_inflate

# cws_deflate against zlib's raw deflate at levels 1 and 6: MB/s and ratio.
.PHONY: bench-codec-deflate

$(BENCH_DIR)/codec_deflate: bench/codec_deflate.c bench/codec_corpus.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -Iinclude -o $@ $< $(LIB_A) -lz $(LIBCWS_LIBS)

bench-codec-deflate: $(BENCH_DIR)/codec_deflate
	$(BENCH_DIR)/codec_deflate

# TLS (issue 12): cws-echo from a TLS=openssl build, serving both ws:// and
# wss:// in the same run. The default build stays libc only, so the TLS one
# has a directory of its own (build/tls, as `make TLS=openssl` picks);
# with TLS=openssl on this command line $(BUILD) is that directory already.
ifeq ($(TLS),openssl)
BENCH_TLS_BUILD := $(BUILD)
else
BENCH_TLS_BUILD := $(BUILD)/tls
endif

.PHONY: bench-tls bench-tls-echo
bench-tls-echo:
	@$(MAKE) --no-print-directory TLS=openssl BUILD=$(BENCH_TLS_BUILD) $(BENCH_TLS_BUILD)/cws-echo

bench-tls: $(BENCH_DIR)/loadgen bench-tls-echo
	BUILD=$(BUILD) BENCH_TLS_BUILD=$(BENCH_TLS_BUILD) bench/run.sh tls
