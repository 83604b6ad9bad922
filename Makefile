# tiktok-audienced - GNU make build.
#
#   make                 build/tiktok-audienced and the developer tools
#   make demo            the daemon end to end on a local stack (moto + fake TikTok)
#   make check           install what is missing, then every test (unit, cross-check, integration)
#   make faults          the fault-injection suite: AWS and TikTok faults, KILL_TRIALS kill -9 trials
#   make check-asan      the same tests built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make lint            clang-format check, cppcheck, banned-function check
#   make fuzz            libFuzzer targets under ASan/UBSan, FUZZ_SECONDS each (default 60)
#   make fuzz-ci         every fuzz target briefly (FUZZ_CI_SECONDS each, default 15), for CI
#   make bench           the SPEC benchmarks (bench/), printed side by side with their baselines
#   make install         PREFIX=/usr/local DESTDIR=
#   make print-binary    path of the daemon binary
#
# SAN=1 builds into build-asan/ with sanitizers; WERROR=1 turns warnings into errors (CI).

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
CC         ?= cc
SAN        ?= 0
WERROR     ?= 0

ifeq ($(SAN),1)
BUILD      ?= build-asan
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT        := -O1 -g
else
BUILD      ?= build
SANFLAGS   :=
OPT        := -O2 -g
endif

PKGS       := libcurl jansson libcrypto yaml-0.1 libsystemd libmicrohttpd zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
              -Wvla -Wpointer-arith -Wundef -Wnull-dereference -Wimplicit-fallthrough
ifeq ($(WERROR),1)
WARN       += -Werror
endif

CFLAGS     ?= $(OPT)
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE -pthread $(WARN) $(SANFLAGS) -Iinclude $(PKG_CFLAGS) \
              -DTAD_VERSION='"$(VERSION)"' -MMD -MP $(CFLAGS)
ALL_LDFLAGS:= -pthread $(SANFLAGS) $(LDFLAGS)
LIBS       := $(PKG_LIBS) -lm

LIB_SRCS   := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libtad.a
BIN        := $(BUILD)/tiktok-audienced
TOOL_SRCS  := $(wildcard tools/*.c)
TOOLS      := $(TOOL_SRCS:tools/%.c=$(BUILD)/%)
TEST_SRCS  := $(wildcard tests/unit/t_*.c)
TESTS      := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRCS := $(wildcard tests/integration/it_*.c)
ITESTS     := $(ITEST_SRCS:tests/integration/%.c=$(BUILD)/itests/%)
TEST_SUPPORT_SRCS := $(filter-out $(TEST_SRCS),$(wildcard tests/unit/*.c))
TEST_SUPPORT_OBJS := $(TEST_SUPPORT_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all deps check check-unit check-integration check-asan crosscheck lint format install \
        uninstall print-binary clean bench fuzz fuzz-ci demo faults

all: $(BIN) $(TOOLS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(BUILD)/src/main.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(TOOLS): $(BUILD)/%: $(BUILD)/tools/%.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(TESTS): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TEST_SUPPORT_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

$(ITESTS): $(BUILD)/itests/%: $(BUILD)/tests/integration/%.o $(TEST_SUPPORT_OBJS) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

deps:
	@scripts/install-deps.sh

check: deps
	@$(MAKE) --no-print-directory all $(TESTS) $(ITESTS)
	@BUILD=$(BUILD) scripts/run-tests.sh

demo: deps
	@BUILD=$(BUILD) scripts/demo.sh

faults: deps all
	@BUILD=$(BUILD) tests/faults/fault_suite.sh --kill-trials $${KILL_TRIALS:-20} --table $(BUILD)/fault-table.md

check-unit: all $(TESTS)
	@BUILD=$(BUILD) scripts/run-tests.sh unit

check-integration: all $(ITESTS)
	@BUILD=$(BUILD) scripts/run-tests.sh integration

check-asan: deps
	@$(MAKE) --no-print-directory SAN=1 all $(TESTS:$(BUILD)/%=build-asan/%) $(ITESTS:$(BUILD)/%=build-asan/%)
	@BUILD=build-asan SAN=1 scripts/run-tests.sh

crosscheck: all
	@BUILD=$(BUILD) scripts/run-tests.sh crosscheck

lint:
	@scripts/lint.sh

fuzz:
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-60} scripts/fuzz.sh

fuzz-ci: deps
	@scripts/fuzz-ci.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

bench: all
	@BUILD=$(BUILD) bench/run-all.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system \
	  $(DESTDIR)$(PREFIX)/share/doc/tiktok-audienced $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tiktok-audienced
	sed 's#/usr/local/bin/#$(PREFIX)/bin/#g' systemd/tiktok-audienced.service \
	  > $(DESTDIR)$(PREFIX)/lib/systemd/system/tiktok-audienced.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/tiktok-audienced.service
	install -m 0644 etc/config.yaml.example systemd/tiktok-audienced.default \
	  $(DESTDIR)$(PREFIX)/share/doc/tiktok-audienced/
	install -m 0644 docs/tiktok-audienced.8 $(DESTDIR)$(PREFIX)/share/man/man8/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tiktok-audienced \
	      $(DESTDIR)$(PREFIX)/lib/systemd/system/tiktok-audienced.service \
	      $(DESTDIR)$(PREFIX)/share/man/man8/tiktok-audienced.8
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/tiktok-audienced

print-binary:
	@echo $(BIN)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
