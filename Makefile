# mailfs - plain GNU make with pkg-config.
#
#   make                      build ./mailfs
#   make check                install what is missing, run unit tests, a short
#                             fuzz run (fuzz-smoke) and integration tests; any
#                             skipped test fails it unless ALLOW_SKIP=1
#   make demo / demo-stop     mount / unmount a demo account on a private Dovecot
#   make bench                the SPEC §7 benchmark (not part of check)
#   make bench SCALE=200000,1000000
#                             only the scale rows of §7 instead: a folder of
#                             each size seeded into the private Dovecot (one
#                             run each; 200,000: 2 min, 1,000,000: 9 min)
#   make SANITIZE=address,undefined check
#   make SANITIZE=thread check  ThreadSanitizer over the unit and integration
#                             tests (it needs no suppressions)
#   make fuzz FUZZ_TIME=60    run each libFuzzer target (clang) for 60 s; fuzz-smoke: 10 s
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

PKGS = fuse3 openssl sqlite3 gmime-3.0 libxml-2.0
# Recursive (=) so that pkg-config only runs when something is compiled,
# after `make check` or `make demo` installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = $(WARN) $(WERROR) $(SANFLAGS) $(CFLAGS) -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
             -DMAILFS_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

NET_SRC   := $(wildcard net/*.c)
CACHE_SRC := $(wildcard cache/*.c)
FS_SRC    := $(wildcard fs/*.c fs/face/*.c fs/engine/*.c fs/engine/drivers/*.c)
SRC       := $(NET_SRC) $(CACHE_SRC) $(FS_SRC)
OBJ       := $(SRC:%.c=$(BUILD)/%.o)

.SECONDEXPANSION:
.PHONY: all mailfs structcheck build-deps check layers unit integration deps demo demo-stop bench fuzz fuzz-smoke install clean
all: mailfs

# Plain `make` on a fresh Debian machine installs what building needs first
# (README: `make && sudo make install`); a quick dpkg check when all is there.
build-deps:
	@contrib/install-deps.sh --build

$(BUILD)/%.o: %.c | build-deps
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
deps_utf8    := net/utf8
deps_mutf7   := net/mutf7 net/utf8
deps_mime    := net/mime net/utf8
deps_layout  := fs/engine/layout net/mime net/utf8
deps_render  := fs/engine/render fs/engine/layout net/mime net/utf8 net/bodystructure net/wire
deps_options := fs/options
deps_config  := fs/config fs/options
deps_secret  := fs/secret fs/config fs/options net/utf8
deps_store   := cache/store
# test_dirlist: the face's streamed listing over the store (libfuse formats it)
deps_dirlist := fs/face/dirlist cache/store
deps_body    := cache/body
deps_imap    := net/imap net/wire net/conn net/tls net/mime net/utf8 net/sasl net/bodystructure net/search
deps_search  := net/search
deps_pop3_wire := net/pop3_wire
deps_bodystructure := net/bodystructure net/wire
deps_pop3    := net/pop3 net/pop3_wire net/conn net/tls net/sasl
deps_conn    := net/conn net/tls
# test_pop3_send #includes net/pop3.c
deps_pop3_send := net/pop3_wire net/conn net/tls net/sasl
deps_sasl    := net/sasl
deps_engine  := fs/engine/engine fs/engine/tree fs/engine/folder fs/engine/poll fs/engine/evict \
                fs/engine/fetch fs/engine/prefetch fs/engine/change fs/engine/append \
                fs/engine/driver fs/engine/layout fs/engine/status fs/log fs/nap \
                cache/store cache/body net/imap net/wire net/conn net/tls net/sasl \
                net/mime net/mutf7 net/utf8 fs/engine/view fs/engine/render net/bodystructure \
                net/search fs/engine/search

# ldflags_<name>: more link flags for one test binary. test_store and
# test_body count fsync/fdatasync calls through the linker's --wrap
# (tests/unit/synccount.h); a shared library's calls cannot be wrapped, so
# test_store links SQLite statically.
SYNC_WRAP := -Wl,--wrap=fsync -Wl,--wrap=fdatasync
ldflags_store := $(SYNC_WRAP) -Wl,-Bstatic -lsqlite3 -Wl,-Bdynamic -lm
ldflags_body  := $(SYNC_WRAP)
# test_bodystructure makes allocations fail (test_out_of_memory)
ldflags_bodystructure := -Wl,--wrap=malloc -Wl,--wrap=realloc -Wl,--wrap=calloc
# test_search too
ldflags_search := $(ldflags_bodystructure)

UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/test_%)
$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/testutil.h $$(addprefix $(BUILD)/,$$(addsuffix .o,$$(deps_$$*)))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(filter %.o,$^) $(ldflags_$*) \
		$(PKG_LIBS) $$(pkg-config --libs cmocka) -lpthread

# A "SKIP:" line (a case that cannot run here) fails the run, as in
# tests/integration/run.sh, unless ALLOW_SKIP=1. G_SLICE=always-malloc: GLib
# 2.74 (GMime's) otherwise keeps small blocks in per-thread magazines behind
# locks ThreadSanitizer cannot see, and reports their reuse as data races
# (GLib 2.76 and later always use malloc).
unit: $(UNIT_BINS)
	@fail=0; skips=0; out=$(BUILD)/tests/unit.out; for t in $(UNIT_BINS); do \
		echo "== $$t"; \
		G_SLICE=always-malloc $$t > $$out 2>&1 || fail=1; \
		cat $$out; \
		skips=$$((skips + $$(grep -c '^ *SKIP:' $$out))); \
	done; \
	if [ $$fail -ne 0 ]; then echo "unit tests FAILED"; exit 1; fi; \
	if [ $$skips -gt 0 ] && [ "$$ALLOW_SKIP" != 1 ]; then \
		echo "unit tests: $$skips case(s) skipped, so not tested; accept with ALLOW_SKIP=1"; exit 1; \
	fi; \
	echo "unit tests passed"

integration: mailfs structcheck
	tests/integration/run.sh

# The test program of t_render_structure.sh (render.c beside Dovecot); not
# part of mailfs. build/structcheck points at the one just built.
STRUCTCHECK_DEPS := fs/engine/render fs/engine/layout net/mime net/utf8 net/bodystructure net/wire
$(BUILD)/tests/structcheck: tests/integration/structcheck.c tests/unit/render_fixtures.h \
		$(STRUCTCHECK_DEPS:%=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(filter %.o,$^) $(PKG_LIBS) -lpthread

structcheck: $(BUILD)/tests/structcheck
	@ln -sf $(patsubst build/%,%,$<) build/structcheck

# The include rules of the layers (FUSE-free engine, drivers that only
# report, no include cycle): tests/layers.py.
layers:
	@tests/layers.py

# Installs what is missing (apt-get, as root or through sudo), then builds and
# runs every test. This is the README's test command.
check: deps
	@tests/layers.py
	$(MAKE) --no-print-directory mailfs
	$(MAKE) --no-print-directory unit
	@# The unit tests again under AddressSanitizer and UBSan (issue 6) and
	@# ThreadSanitizer (issue 11), unless this whole run is already a
	@# sanitizer build.
	@if [ -z "$(SANITIZE)" ]; then \
		$(MAKE) --no-print-directory SANITIZE=address,undefined unit || exit 1; \
		$(MAKE) --no-print-directory SANITIZE=thread unit || exit 1; \
	fi
	@if $(FUZZ_PROBE); then \
		$(MAKE) --no-print-directory fuzz-smoke || exit 1; \
	elif [ "$$ALLOW_SKIP" = 1 ]; then \
		echo "SKIP: fuzzing: clang with libFuzzer not available (ALLOW_SKIP=1)"; \
	else \
		echo "SKIP: fuzzing: clang with libFuzzer not available: install it" \
		     "(make deps) or accept the skip with ALLOW_SKIP=1"; exit 1; \
	fi
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
	@$(if $(SCALE),tests/bench/scale.sh $(SCALE),tests/bench/run.sh)

# --- fuzzing (clang libFuzzer) ----------------------------------------------
# Each target tests/fuzz/fuzz_<name>.c is linked with the modules it needs,
# compiled again with the fuzzer's instrumentation and the sanitizers into
# build/fuzz/obj/ (never the objects of another configuration). `make fuzz`
# runs every target for FUZZ_TIME seconds on a copy of its seed corpus in
# build/fuzz/work/<name>, so tests/fuzz/corpus/ stays as committed; a crash
# leaves its input in build/fuzz/artifacts/<name>/ and fails the run.
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1
FUZZ_RUN_FLAGS := -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
FUZZ_TARGETS := wire fetch pop3_wire mutf7 rfc2047 layout bodystructure render search
# fuzzdeps_<name>: the modules linked in (fuzz_fetch #includes net/imap.c)
fuzzdeps_wire      := net/wire
fuzzdeps_fetch     := net/wire net/conn net/tls net/mime net/utf8 net/sasl net/bodystructure net/search
fuzzdeps_pop3_wire := net/pop3_wire
fuzzdeps_mutf7     := net/mutf7 net/utf8
fuzzdeps_rfc2047   := net/mime net/utf8
fuzzdeps_layout    := fs/engine/layout net/mime net/utf8
fuzzdeps_bodystructure := net/bodystructure net/wire
fuzzdeps_render    := fs/engine/render fs/engine/layout net/mime net/utf8 net/bodystructure net/wire
fuzzdeps_search    := net/search
fuzzlibs_fetch      = $(shell pkg-config --libs openssl) -lpthread
fuzzlibs_render     = $(shell pkg-config --libs gmime-3.0 libxml-2.0)
FUZZ_BINS := $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
FUZZ_OBJS := $(sort $(foreach t,$(FUZZ_TARGETS),$(fuzzdeps_$(t):%=build/fuzz/obj/%.o)))
FUZZ_CFLAGS = $(WARN) $(WERROR) $(FUZZ_FLAGS) -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
              $(shell pkg-config --cflags openssl gmime-3.0 libxml-2.0) -MMD -MP
# Whether FUZZ_CC can link a fuzzer at all (clang and its libFuzzer runtime).
FUZZ_PROBE = mkdir -p build/fuzz && \
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' | \
	$(FUZZ_CC) $(FUZZ_FLAGS) -x c -o build/fuzz/probe - >/dev/null 2>&1

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(addprefix build/fuzz/obj/,$$(addsuffix .o,$$(fuzzdeps_$$*)))
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(filter %.o,$^) $(fuzzlibs_$*)

# The objects are shared between targets; keep them between runs.
.SECONDARY: $(FUZZ_OBJS)

fuzz: $(FUZZ_BINS)
	@fail=0; for t in $(FUZZ_TARGETS); do \
		work=build/fuzz/work/$$t; art=build/fuzz/artifacts/$$t; \
		rm -rf $$work; mkdir -p $$work $$art; \
		cp tests/fuzz/corpus/$$t/* $$work/ 2>/dev/null || true; \
		echo "== fuzz_$$t: $(FUZZ_TIME) s"; \
		if build/fuzz/fuzz_$$t $(FUZZ_RUN_FLAGS) -max_total_time=$(FUZZ_TIME) \
			-artifact_prefix=$$art/ $$work >build/fuzz/fuzz_$$t.log 2>&1; then \
			sed -n 's/^stat::\(number_of_executed_units\|average_exec_per_sec\|peak_rss_mb\): *\(.*\)/   \1 \2/p' \
				build/fuzz/fuzz_$$t.log; \
		else \
			fail=1; tail -n 60 build/fuzz/fuzz_$$t.log; \
			echo "fuzz_$$t FAILED: input in $$art/, log in build/fuzz/fuzz_$$t.log;" \
			     "rerun one input with build/fuzz/fuzz_$$t FILE"; \
		fi; \
	done; \
	if [ $$fail -ne 0 ]; then echo "fuzzing FAILED"; exit 1; fi; \
	echo "fuzzing passed"

fuzz-smoke:
	$(MAKE) --no-print-directory fuzz FUZZ_TIME=10

install: mailfs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/mailfs $(DESTDIR)$(PREFIX)/bin/mailfs
	if [ -f contrib/mailfs.1 ]; then install -m 0644 contrib/mailfs.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/lib/systemd/user
	install -m 0644 contrib/mailfs.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mailfs
	sed 's|/usr/local/bin/mailfs|$(PREFIX)/bin/mailfs|' contrib/mailfs@.service > $(DESTDIR)$(PREFIX)/lib/systemd/user/mailfs@.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/user/mailfs@.service

clean:
	rm -rf build mailfs

-include $(OBJ:.o=.d) $(UNIT_BINS:=.d) $(FUZZ_BINS:=.d) $(FUZZ_OBJS:.o=.d)
