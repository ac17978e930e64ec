# Included by the top Makefile: the single-file header, the unit tests built
# against it, and install/uninstall.

# ---------------------------------------------------------------- single header
SINGLE          := single/cws.h
SINGLE_IMPL_OBJ := $(BUILD)/obj/tests/dist/single_impl.o
UNIT_SINGLE_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests-single/%,$(UNIT_SRC))

.PHONY: tests-single

single-header:
	tools/amalgamate.sh $(SINGLE)

# The committed header must be what the sources generate today.
check-single-header:
	@tmp=$$(mktemp) && tools/amalgamate.sh "$$tmp" && \
	if cmp -s "$$tmp" $(SINGLE); then \
		rm -f "$$tmp"; echo "$(SINGLE) is up to date"; \
	else \
		diff -u $(SINGLE) "$$tmp" | head -n 40; rm -f "$$tmp"; \
		echo "$(SINGLE) is out of date: run 'make single-header'" >&2; exit 1; \
	fi

# Every unit test a second time, linked with the library compiled from
# single/cws.h instead of libcws.a (tests/run.sh runs them as unit-single/).
tests-single: $(UNIT_SINGLE_BIN)
test unit: tests-single

$(SINGLE_IMPL_OBJ): tests/dist/single_impl.c $(SINGLE) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@tools/amalgamate.sh | cmp -s - $(SINGLE) || \
		echo "warning: $(SINGLE) is out of date (run 'make single-header'); testing it as it is" >&2
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests-single/%: $(BUILD)/obj/tests/unit/%.o $(SINGLE_IMPL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBCWS_LIBS)

-include $(SINGLE_IMPL_OBJ:.o=.d)

# ---------------------------------------------------------------- install
# make install PREFIX=/usr/local DESTDIR=/tmp/stage [INSTALL_EXAMPLES=0]
INSTALL          ?= install
BINDIR           ?= $(PREFIX)/bin
LIBDIR           ?= $(PREFIX)/lib
INCLUDEDIR       ?= $(PREFIX)/include
MANDIR           ?= $(PREFIX)/share/man
PKGCONFIGDIR     ?= $(LIBDIR)/pkgconfig
INSTALL_EXAMPLES ?= 1

# The example programs worth a place in bin/ (each has a man page).
INSTALL_PROGRAMS := cws-chat cws-echo cws-client
INSTALL_BIN      := $(if $(filter 1,$(INSTALL_EXAMPLES)),$(filter $(addprefix $(BUILD)/,$(INSTALL_PROGRAMS)),$(EXAMPLE_BIN)))

# In cws.pc, paths under PREFIX are written relative to ${prefix}, so that
# pkg-config --define-prefix can relocate a DESTDIR tree.
pc_rel = $(patsubst $(PREFIX)%,$${prefix}%,$(1))

install: lib $(INSTALL_BIN)
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 644 include/cws.h include/cws_util.h include/cws_deflate.h $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libcws.a
	$(INSTALL) -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libcws.so.$(VERSION)
	ln -sf libcws.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libcws.so.$(SOMAJOR)
	ln -sf libcws.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libcws.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@REQUIRES_PRIVATE@|$(if $(TLS_LIBS),openssl)|' -e 's|@LIBS_PRIVATE@|$(LIBCWS_LIBS)|' \
	    cws.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/cws.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/cws.pc
ifneq ($(strip $(INSTALL_BIN)),)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 755 $(INSTALL_BIN) $(DESTDIR)$(BINDIR)/
	for p in $(notdir $(INSTALL_BIN)); do \
		if [ -f man/$$p.1 ]; then $(INSTALL) -m 644 man/$$p.1 $(DESTDIR)$(MANDIR)/man1/$$p.1 || exit 1; fi; \
	done
endif

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/cws.h $(DESTDIR)$(INCLUDEDIR)/cws_util.h \
	      $(DESTDIR)$(INCLUDEDIR)/cws_deflate.h $(DESTDIR)$(PKGCONFIGDIR)/cws.pc \
	      $(DESTDIR)$(LIBDIR)/libcws.a $(DESTDIR)$(LIBDIR)/libcws.so \
	      $(DESTDIR)$(LIBDIR)/libcws.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libcws.so.$(VERSION)
	for p in $(INSTALL_PROGRAMS); do \
		rm -f $(DESTDIR)$(BINDIR)/$$p $(DESTDIR)$(MANDIR)/man1/$$p.1; \
	done

# The unit-test objects are shared by tests/ and tests-single/: keep them
# instead of letting make delete them as intermediates.
.SECONDARY: $(patsubst tests/unit/%.c,$(BUILD)/obj/tests/unit/%.o,$(UNIT_SRC)) $(SINGLE_IMPL_OBJ)
