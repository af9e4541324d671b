# mailfs - plain GNU make with pkg-config.
#
#   make                      build ./mailfs
#   make check                install what is missing, run unit + integration tests
#   make demo / demo-stop     mount / unmount a demo account on a private Dovecot
#   make bench                the SPEC §7 benchmark (not part of check)
#   make SANITIZE=address,undefined check
#   make WERROR=              do not turn warnings into errors
#   make install PREFIX=/usr/local DESTDIR=

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?= -Werror
SANITIZE ?=
VERSION  := 0.1.0

comma := ,
WARN := -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wwrite-strings -Wformat=2
ifneq ($(SANITIZE),)
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# One build directory per configuration, so that a sanitizer build never
# mixes objects with a normal one.
BUILD := build/$(if $(SANITIZE),$(subst $(comma),-,$(SANITIZE)),default)

PKGS = fuse3 openssl sqlite3
# Recursive (=) so that pkg-config only runs when something is compiled,
# after `make check` or `make demo` installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = $(WARN) $(WERROR) $(SANFLAGS) $(CFLAGS) -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
             -DMAILFS_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

NET_SRC   := $(wildcard net/*.c)
CACHE_SRC := $(wildcard cache/*.c)
FS_SRC    := $(wildcard fs/*.c)
SRC       := $(NET_SRC) $(CACHE_SRC) $(FS_SRC)
OBJ       := $(SRC:%.c=$(BUILD)/%.o)

.SECONDEXPANSION:
.PHONY: all mailfs check unit integration deps demo demo-stop bench fuzz install clean
all: mailfs

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/mailfs: $(OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

# ./mailfs always points at the binary of the configuration just built.
mailfs: $(BUILD)/mailfs
	@ln -sf $< $@

# --- unit tests (cmocka): each binary links only the modules it tests -------
UNIT_TESTS := $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))
deps_wire    := net/wire
deps_mutf7   := net/mutf7
deps_mime    := net/mime
deps_layout  := fs/layout
deps_options := fs/options
deps_store   := cache/store
deps_body    := cache/body
deps_imap    := net/imap net/wire net/conn net/tls net/mime
deps_pop3_wire := net/pop3_wire
deps_pop3    := net/pop3 net/pop3_wire net/conn net/tls

UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/test_%)
$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/testutil.h $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(deps_$$*)))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(filter %.o,$^) \
		$(PKG_LIBS) $$(pkg-config --libs cmocka) -lpthread

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; \
		$$t || fail=1; \
	done; \
	if [ $$fail -ne 0 ]; then echo "unit tests FAILED"; exit 1; fi; \
	echo "unit tests passed"

integration: mailfs
	tests/integration/run.sh

# Installs what is missing (apt-get, as root or through sudo), then builds and
# runs every test. This is the README's test command.
check: deps
	$(MAKE) --no-print-directory mailfs
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration

deps:
	@contrib/install-deps.sh

demo: deps
	$(MAKE) --no-print-directory mailfs
	@contrib/demo.sh start

demo-stop:
	@contrib/demo.sh stop

bench: deps
	$(MAKE) --no-print-directory mailfs
	@tests/bench/run.sh

install: mailfs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/mailfs $(DESTDIR)$(PREFIX)/bin/mailfs
	if [ -f contrib/mailfs.1 ]; then install -m 0644 contrib/mailfs.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi

clean:
	rm -rf build mailfs

-include $(OBJ:.o=.d) $(UNIT_BINS:=.d)
