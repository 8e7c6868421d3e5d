# qhall: build, run, test and benchmark.
# Objects and programs go to $(BUILD) (build/ by default; build-san/ for the sanitizer run).

BUILD   ?= build
SAN     ?= 0
CC      ?= cc
PKG_CONFIG ?= pkg-config

PKGS     := libevent hiredis libcjson libcrypt libcrypto
UI_PKGS  := ncursesw
TEST_PKGS := cmocka

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -D_GNU_SOURCE -pthread -Icommon -I$(BUILD)
LDFLAGS += -pthread
ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

pkg_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pkg_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

BASE_CFLAGS := $(call pkg_cflags,$(PKGS))
BASE_LIBS   := $(call pkg_libs,$(PKGS))
UI_CFLAGS   := $(call pkg_cflags,$(UI_PKGS))
UI_LIBS     := $(call pkg_libs,$(UI_PKGS))
TEST_CFLAGS := $(call pkg_cflags,$(TEST_PKGS))
TEST_LIBS   := $(call pkg_libs,$(TEST_PKGS))

COMMON_SRC  := $(wildcard common/*.c)
QSERVER_SRC := $(filter-out qserver/main.c,$(wildcard qserver/*.c))
COUNTER_SRC := $(wildcard counter-client/*.c)
DISPLAY_SRC := $(wildcard display/*.c)
PRINTER_SRC := $(wildcard printer/*.c)
TESTLIB_SRC := $(wildcard tests/lib/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_OBJ  := $(call obj,$(COMMON_SRC))
QSERVER_OBJ := $(call obj,$(QSERVER_SRC)) $(BUILD)/obj/functions_lua.o
TESTLIB_OBJ := $(call obj,$(TESTLIB_SRC))

PROGRAMS := $(BUILD)/qserver $(BUILD)/qcli $(BUILD)/eventbuild-dump
ifneq ($(COUNTER_SRC),)
PROGRAMS += $(BUILD)/counter-client
endif
ifneq ($(DISPLAY_SRC),)
PROGRAMS += $(BUILD)/display
endif
ifneq ($(PRINTER_SRC),)
PROGRAMS += $(BUILD)/printer
endif
ifneq ($(wildcard bench/*.c),)
PROGRAMS += $(BUILD)/qbench $(BUILD)/qbench-raw $(BUILD)/qbench-sse
endif
ifneq ($(wildcard sim/*.c),)
PROGRAMS += $(BUILD)/qsim
endif

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(wildcard tests/integration/test_*.c))
HA_TESTS := $(patsubst tests/ha/%.c,$(BUILD)/tests/%,$(wildcard tests/ha/test_*.c))

# Keep test objects between runs.
.SECONDARY:

.PHONY: all deps run test test-ha install test-build test-san check bench sim clean fuzz fuzz-build fuzz-corpus
all: $(PROGRAMS)

deps:
	@scripts/deps.sh

# The Bao'an-like region of 135 halls (generated into $(BUILD)/baoan-region), open around the
# clock so the README's tour works at any hour; `make run HALL=examples/baoan.json` serves the
# one sample hall, and `make run RUN_ARGS=` keeps to the halls' opening hours.
RUN_ARGS ?= --always-open
RUN_HTTP ?= 127.0.0.1:8080
REGION_DIR := $(BUILD)/baoan-region
HALL ?= $(REGION_DIR)
run: deps
	@$(MAKE) --no-print-directory all
	@[ "$(HALL)" != "$(REGION_DIR)" ] || python3 examples/baoan-region/generate.py $(REGION_DIR)
	@echo "HTTP API:      http://$(RUN_HTTP)/api/v1/sites/baoan/snapshot"
	@echo "live events:   http://$(RUN_HTTP)/api/v1/sites/baoan/events"
	@echo "start page:    http://$(RUN_HTTP)/"
	@echo "TV display:    http://$(RUN_HTTP)/display?site=baoan"
	@echo "remote ticket: http://$(RUN_HTTP)/take/baoan"
	@echo "appointments:  http://$(RUN_HTTP)/book/baoan"
	@echo "rating pad:    http://$(RUN_HTTP)/pad/baoan/1"
	@echo "hall manager:  http://$(RUN_HTTP)/manager   (sample users: docs/web.md)"
	@echo "region view:   http://$(RUN_HTTP)/region"
	@echo "ticket status: the status_url of a take's answer (/t/{id}?k=...)"
	$(BUILD)/qserver --config $(HALL) --http $(RUN_HTTP) --web web $(RUN_ARGS)

test: deps
	@$(MAKE) --no-print-directory test-build
	@scripts/run-tests.sh $(BUILD)
	@$(MAKE) --no-print-directory test-san
	@$(MAKE) --no-print-directory fuzz-corpus

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-san:
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 test-build
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		QHALL_SANITIZED=1 scripts/run-tests.sh build-san

test-build: $(PROGRAMS) $(UNIT_TESTS) $(INTEG_TESTS) $(HA_TESTS)

# Failover under load (tests/ha/): both --durable cases and a qserver killed, with figures.
test-ha: deps
	@$(MAKE) --no-print-directory test-build
	@QHALL_HA_FULL=1 scripts/run-tests.sh $(BUILD) test_ha

# `make install PREFIX=/usr DESTDIR=pkg`: the programs, web/ (when present), the docs, the
# example configs and the systemd units (docs/operations.md, "Installing").
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/qhall
DOCDIR ?= $(PREFIX)/share/doc/qhall
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
INSTALL_PROGRAMS := qserver qcli counter-client display printer
UNIT_PATHS := -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(UNITDIR)
	install -m 755 $(addprefix $(BUILD)/,$(INSTALL_PROGRAMS)) $(DESTDIR)$(BINDIR)
	install -m 644 README.md docs/*.md $(DESTDIR)$(DOCDIR)
	install -m 644 examples/*.json packaging/etc/*.example packaging/nginx/qhall.conf $(DESTDIR)$(DATADIR)/examples
	if [ -d web ]; then cp -R web $(DESTDIR)$(DATADIR)/ && chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/web; fi
	for u in packaging/systemd/*.service; do \
		sed $(UNIT_PATHS) $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	done

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh $(BUILD)

# A region of 135 halls: start time, RSS and 135 simultaneous day changes (docs/operations.md).
bench-region: deps
	@$(MAKE) --no-print-directory all
	@python3 bench/region.py $(BUILD)

# The hall simulator's report (SIMULATION.md): a few minutes; `make sim SIM_DAYS=30` for the
# long version with narrower intervals.
SIM_DAYS ?= 6
sim: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/qsim --report SIMULATION.md --days $(SIM_DAYS)

clean:
	rm -rf build build-san $(FUZZ_BUILD)

# ---- libFuzzer harnesses (tests/fuzz/, see docs/testing.md) ----
# Built by clang with the fuzzer, ASan and UBSan in a folder of their own; `make fuzz` runs each
# for FUZZ_SECONDS, `make fuzz-corpus` (part of `make test`) runs each seed corpus once.
FUZZ_BUILD   ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(addprefix $(FUZZ_BUILD)/fuzz/fuzz_,$(FUZZ_NAMES))
FUZZ_ENV     := ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The objects take the usual rules with clang's flags from the environment (CFLAGS given on
# the command line would replace the Makefile's own).
fuzz-build:
	@CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(MAKE) --no-print-directory \
		BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) $(FUZZ_BINS)

$(FUZZ_BUILD)/fuzz/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/libqserver.a $(FUZZ_BUILD)/libqhall.a
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(BASE_LIBS) -lm

# Each harness once over every seed of its corpus (files given: libFuzzer runs them and exits).
fuzz-corpus: fuzz-build
	@for n in $(FUZZ_NAMES); do \
		echo "== fuzz_$$n: corpus of $$(ls tests/fuzz/corpus/$$n | wc -l) inputs"; \
		$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz/fuzz_$$n tests/fuzz/corpus/$$n/* >$(FUZZ_BUILD)/fuzz/fuzz_$$n.log 2>&1 \
			|| { tail -n 40 $(FUZZ_BUILD)/fuzz/fuzz_$$n.log; echo "fuzz_$$n failed on its corpus"; exit 1; }; \
	done

# Each harness for FUZZ_SECONDS; new inputs go to $(FUZZ_BUILD)/corpus/NAME, crashes to
# $(FUZZ_BUILD)/crashes/ (copy a crash into tests/fuzz/corpus/NAME once fixed).
fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/crashes
	@for n in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
		dict=; [ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
		echo "== fuzz_$$n for $(FUZZ_SECONDS) s"; \
		$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz/fuzz_$$n $$dict -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/crashes/$$n- $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
			>$(FUZZ_BUILD)/fuzz/fuzz_$$n.log 2>&1 \
			|| { tail -n 60 $(FUZZ_BUILD)/fuzz/fuzz_$$n.log; echo "fuzz_$$n found a crash: see $(FUZZ_BUILD)/crashes/"; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' $(FUZZ_BUILD)/fuzz/fuzz_$$n.log; \
	done

# The Lua library is compiled into qserver as a C string.
$(BUILD)/functions_lua.c: qserver/functions.lua scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh qserver_functions_lua $< > $@

$(BUILD)/obj/functions_lua.o: $(BUILD)/functions_lua.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Every object depends on the headers of its own folder and of common/ (tests also see
# qserver's internal header and the test library's; no % here: make would put the stem in it).
.SECONDEXPANSION:
$(BUILD)/obj/%.o: %.c $$(wildcard $$(dir $$*)*.h) common/*.h $$(if $$(findstring tests/,$$*),$$(wildcard qserver/*.h tests/lib/*.h counter-client/*.h display/*.h printer/*.h sim/*.h))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(UI_CFLAGS) $(TEST_CFLAGS) -Itests/lib -Iqserver -c $< -o $@

$(BUILD)/libqhall.a: $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libqserver.a: $(QSERVER_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/qserver: $(BUILD)/obj/qserver/main.o $(BUILD)/libqserver.a $(BUILD)/libqhall.a
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) -lm

$(BUILD)/qcli: $(BUILD)/obj/tools/qcli.o $(BUILD)/libqhall.a
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) -lm

# What clients get from the library's records (scripts/functions-diff.py).
$(BUILD)/eventbuild-dump: $(BUILD)/obj/tools/eventbuild_dump.o $(BUILD)/libqserver.a $(BUILD)/libqhall.a
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) -lm

$(BUILD)/counter-client: $(call obj,$(COUNTER_SRC)) $(BUILD)/libqhall.a
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(UI_LIBS) -lm

$(BUILD)/display: $(call obj,$(DISPLAY_SRC)) $(BUILD)/libqhall.a
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(UI_LIBS) -lm

$(BUILD)/printer: $(call obj,$(PRINTER_SRC)) $(BUILD)/libqhall.a
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(UI_LIBS) -lm

$(BUILD)/qbench: $(call obj,$(wildcard bench/*.c)) $(BUILD)/libqhall.a
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) -lm

# The Redis baselines of the benchmark (bench/raw/): a program of its own.
$(BUILD)/qbench-raw: $(call obj,bench/raw/qbench_raw.c)
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS)

# The event-stream scenario of the benchmark (bench/sse/): a program of its own.
$(BUILD)/qbench-sse: $(call obj,bench/sse/qbench_sse.c) $(BUILD)/libqhall.a
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS)

$(BUILD)/qsim: $(call obj,$(wildcard sim/*.c)) $(BUILD)/libqhall.a
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) -lm

# Unit tests link libqhall and qserver's library (not its main).
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTLIB_OBJ) $(BUILD)/libqserver.a $(BUILD)/libqhall.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(UI_LIBS) $(TEST_LIBS) -lm

# Unit tests of the display also link its objects (not its main).
$(BUILD)/tests/test_display_%: $(BUILD)/obj/tests/unit/test_display_%.o $(filter-out %/main.o,$(call obj,$(DISPLAY_SRC))) $(BUILD)/libqhall.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(UI_LIBS) $(TEST_LIBS) -lm

# Unit tests of the printer also link its objects (not its main) and the test library.
$(BUILD)/tests/test_printer_%: $(BUILD)/obj/tests/unit/test_printer_%.o $(filter-out %/main.o,$(call obj,$(PRINTER_SRC))) $(TESTLIB_OBJ) $(BUILD)/libqhall.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(UI_LIBS) $(TEST_LIBS) -lm

# Unit tests of the clerk console also link its objects (not its main).
$(BUILD)/tests/test_counter_%: $(BUILD)/obj/tests/unit/test_counter_%.o $(filter-out %/main.o,$(call obj,$(COUNTER_SRC))) $(BUILD)/libqhall.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(UI_LIBS) $(TEST_LIBS) -lm

# Unit tests of the simulator also link its objects (not its main).
$(BUILD)/tests/test_sim_%: $(BUILD)/obj/tests/unit/test_sim_%.o $(filter-out %/main.o,$(call obj,$(wildcard sim/*.c))) $(BUILD)/libqhall.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(TEST_LIBS) -lm

# The failover harness links like an integration test.
$(BUILD)/tests/test_ha: $(BUILD)/obj/tests/ha/test_ha.o $(TESTLIB_OBJ) $(BUILD)/libqserver.a $(BUILD)/libqhall.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(TEST_LIBS) -lm

# Integration tests link qserver's library too (test_functions reads the events as qserver
# makes them).
$(BUILD)/tests/%: $(BUILD)/obj/tests/integration/%.o $(TESTLIB_OBJ) $(BUILD)/libqserver.a $(BUILD)/libqhall.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) $(TEST_LIBS) -lm
