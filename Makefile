# SPDX-License-Identifier: GPL-2.0
#
# ccid-gadget: the module goes through Kbuild (see Kbuild), everything else
# is built here. `make help` lists the targets.

SHELL := /bin/bash
.DEFAULT_GOAL := all

# The kernel the module is built for, and the VM boots: the running
# kernel's build directory if it has one, else the newest installed Debian
# kernel with both an image and headers. KDIR= overrides.
ifeq ($(origin KDIR),undefined)
KVER := $(shell tests/vm/kver 2>/dev/null)
KDIR := /lib/modules/$(KVER)/build
else
KVER := $(shell KDIR=$(KDIR) tests/vm/kver 2>/dev/null)
endif
export CCID_KVER := $(KVER)

B := build
CC ?= cc

# The source version (CCID_VERSION=, else ctl/version.sh: git describe,
# or debian/changelog), and where `make install` puts things. PREFIX, DESTDIR
# and each directory below can be overridden; the module goes to
# $(DESTDIR)/lib/modules/KVER/updates (INSTALL_MOD_PATH=$(DESTDIR)).
ifeq ($(CCID_VERSION),)
VERSION := $(shell ctl/version.sh)
else
VERSION := $(CCID_VERSION)
endif
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
INCLUDEDIR ?= $(PREFIX)/include
SCHEMADIR ?= $(DATADIR)/ccid-gadget
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
LIBVIRTHOOKDIR ?= /etc/libvirt/hooks/qemu.d
CONFDIR ?= /etc/ccid-gadget
DKMSSRCDIR ?= /usr/src/ccid-gadget-$(VERSION)
export CTL_SCHEMA_INSTALL_DIR := $(SCHEMADIR)
CLANG ?= clang
PROVE ?= prove
PKG_CONFIG ?= pkg-config

CSTD := -std=c11 -D_GNU_SOURCE
WARN := -Wall -Wextra
CFLAGS ?= -O2 -g
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
INC := -Iuapi -Itests/include -Ikmod

# ccidctl, its libraries and its unit tests: ctl/ccidctl.mk defines
# CTL_SRCS (everything but main), CTL_MAIN, CTL_CFLAGS, CTL_LIBS.
-include ctl/ccidctl.mk
CTL_MAIN ?= ctl/main.c
CCIDCTL := ctl/ccidctl

# Unit tests: tests/unit/test_NAME.c -> $(B)/tests/test_NAME, with the
# sources in UNIT_SRCS_NAME linked in, sanitizers on.
UNIT_SRCS_engine := kmod/ccid_engine.c
CTL_CORE_LIBS := $(shell $(PKG_CONFIG) --libs libxml-2.0)
UNIT_SRCS_xml := $(CTL_CORE_SRCS)
UNIT_SRCS_codec := $(CTL_CORE_SRCS)
UNIT_LIBS_xml := $(CTL_CORE_LIBS)
UNIT_LIBS_codec := $(CTL_CORE_LIBS)
UNIT_NAMES := $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst %,$(B)/tests/test_%,$(UNIT_NAMES))

# Programs the VM tests run on the USB host side or as the card
VM_PROGS := $(B)/tests/ccid-testcard $(B)/tests/ccid-rawusb $(B)/tests/vscard-provider \
	    $(B)/tests/ccid-fault $(B)/tests/pt-floor

# libFuzzer targets: tests/fuzz/fuzz_NAME.c with FUZZ_SRCS_NAME
FUZZ_SRCS_engine := kmod/ccid_engine.c
FUZZ_SRCS_xml := $(CTL_CORE_SRCS)
FUZZ_LIBS_xml := $(CTL_CORE_LIBS)
FUZZ_SRCS_vscard := $(CTL_CODEC_SRCS)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_TIME ?= 600

KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h) Kbuild uapi/linux/usb/g_ccid.h

# The kernel matrix of the VM tests (tests/vm/kernels): Debian's 6.1 and
# 6.12, and "debug", the 7.3 sanitizer kernel that tests/kernel/build
# makes. KERNELS= and VM_TESTS= narrow a run.
KERNELS ?= 6.1 6.12 debug
VM_TESTS ?= $(sort $(wildcard tests/vm/*.t))
# What each kernel runs (docs/testing.md). The whole suite three times
# does not fit CI's 75 minutes on the slower of the two-core machines CI
# runs on (AMD EPYC, under TCG, where the sanitizer kernel runs about
# three times slower than 6.1). The guests of every kernel run the same
# userspace (this machine's root), so a file that tests userspace alone
# says nothing more on a second kernel. 6.1 runs every file. 6.12 runs
# the module's own files, USB/IP (usbip-vudc is a module of that kernel)
# and the packages (DKMS builds the module for it). The sanitizer kernel
# runs the runner's self-test, the defects, fault injection, lifecycle,
# the module's own data-path files (raw USB, chaining, pcsc-basic,
# configfs) and ccidctl-faults (a daemon that dies or fails with commands
# pending: the module's release paths).
# FULL=1 runs every file on every kernel, and so do files named in
# VM_TESTS= (asked for by name, they run on each kernel of KERNELS);
# KERNELS= narrows a run.
VM_TESTS_612_NAMES = pcsc-basic rawusb chaining lifecycle configfs defects \
	usbip packages
VM_TESTS_DEBUG_NAMES = 00-runner-selftest defects faults lifecycle rawusb \
	chaining pcsc-basic configfs ccidctl-faults
vm_subset = $(filter $(patsubst %,tests/vm/%.t,$(1)),$(VM_TESTS))
ifeq ($(FULL),1)
VM_TESTS_FOR =
else ifneq ($(origin VM_TESTS),file)
VM_TESTS_FOR =
else
VM_TESTS_FOR = --tests-for 6.12 "$(call vm_subset,$(VM_TESTS_612_NAMES))" \
	--tests-for debug "$(call vm_subset,$(VM_TESTS_DEBUG_NAMES))"
endif
# VM test files run in parallel, one VM each (two on 2 cores)
VM_JOBS ?= 2
MATRIX_KOS := $(patsubst %,$(B)/kmod/%/usb_f_ccid.ko,$(KERNELS))
SELFTEST_SRCS := tests/vm/selftest/Kbuild $(wildcard tests/vm/selftest/*.c)

.PHONY: all help deps module ccidctl check check-run check-vm unit \
	tests-build fuzz bench bench-remote demo vm-shell clean install kver \
	install-module install-ctl install-dkms deb \
	kernel-debug kernel-debug-bg modules-matrix FORCE

all: module ccidctl

help:
	@echo "make            build usb_f_ccid.ko and ccidctl"
	@echo "make deps       install the Debian packages the project needs"
	@echo "make check      deps, build, then every test (static, unit, fuzz smoke, VM) under prove"
	@echo "make demo       boot the VM, bring up the reader with a card, show what the USB host sees"
	@echo "make bench      figures in the VM beside their floors (BENCH_KERNEL=$(BENCH_KERNEL)), then bench-remote"
	@echo "make bench-remote  APDUs/s and attach times in a second VM over usbredir and USB/IP"
	@echo "make fuzz       run the fuzz targets (FUZZ_TIME=$(FUZZ_TIME) seconds each)"
	@echo "make vm-shell   an interactive shell in the test VM, module loaded"
	@echo "make check-vm   only the VM tests, on KERNELS=\"$(KERNELS)\" (VM_TESTS=... to pick files)"
	@echo "FULL=1          with check or check-vm: every VM test file on every kernel, not only each kernel's list"
	@echo "                (files named in VM_TESTS= always run on every kernel of KERNELS)"
	@echo "make kernel-debug  build (once, cached) the 7.3 sanitizer kernel"
	@echo "make modules-matrix  usb_f_ccid.ko for every kernel of KERNELS, in build/kmod/"
	@echo "make install    install the module and ccidctl (PREFIX=$(PREFIX), DESTDIR=)"
	@echo "make install-dkms  the module's source and dkms.conf in $(DKMSSRCDIR)"
	@echo "make deb        the Debian packages ccid-gadget-dkms and ccidctl, lintian, in $(B)/deb"
	@echo "KDIR=...        kernel build directory (now: $(KDIR))"

kver:
	@echo "KVER=$(KVER) KDIR=$(KDIR)"

deps:
	@tests/deps.sh

module: usb_f_ccid.ko

usb_f_ccid.ko: $(KMOD_SRCS)
	@test -d "$(KDIR)" || { echo "no kernel build directory '$(KDIR)': run 'make deps' or set KDIR"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

ccidctl: $(CCIDCTL)

# What is compiled into ccidctl besides its sources: rebuilt when it changes
$(B)/ccidctl.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(VERSION) $(SCHEMADIR) $(CTL_TREE_DIR)' | cmp -s - $@ || \
		echo '$(VERSION) $(SCHEMADIR) $(CTL_TREE_DIR)' > $@

$(CCIDCTL): $(CTL_SRCS) $(CTL_MAIN) $(wildcard ctl/*.h) uapi/linux/usb/g_ccid.h $(B)/ccidctl.stamp
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(CPPFLAGS) $(CTL_CFLAGS) -Iuapi \
		-DCCIDCTL_VERSION='"$(VERSION)"' $(CTL_SRCS) $(CTL_MAIN) -o $@ \
		$(LDFLAGS) $(CTL_LIBS)

$(B)/tests $(B)/fuzz:
	mkdir -p $@

.SECONDEXPANSION:
$(B)/tests/test_%: tests/unit/test_%.c $$(UNIT_SRCS_$$*) $(wildcard tests/unit/*.h kmod/*.h ctl/*.h) | $(B)/tests
	$(CC) $(CSTD) $(WARN) -Werror -g -O1 $(SAN) $(INC) $(CTL_CFLAGS) $< $(UNIT_SRCS_$*) -o $@ $(UNIT_LIBS_$*)

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) $(wildcard kmod/*.h ctl/*.h) | $(B)/fuzz
	$(CLANG) $(CSTD) $(WARN) -Werror -g -O1 -fsanitize=fuzzer,address,undefined $(INC) $(CTL_CFLAGS) $< $(FUZZ_SRCS_$*) -o $@ $(FUZZ_LIBS_$*)

$(B)/tests/ccid-testcard: tests/vm/ccid-testcard.c uapi/linux/usb/g_ccid.h | $(B)/tests
	$(CC) $(CSTD) $(WARN) -Werror -O2 -g -Iuapi $< -o $@ -lpthread

$(B)/tests/ccid-fault: tests/vm/ccid-fault.c uapi/linux/usb/g_ccid.h | $(B)/tests
	$(CC) $(CSTD) $(WARN) -Werror -O2 -g -Iuapi $< -o $@

$(B)/tests/pt-floor: tests/vm/pt-floor.c uapi/linux/usb/g_ccid.h | $(B)/tests
	$(CC) $(CSTD) $(WARN) -Werror -O2 -g -Iuapi $$($(PKG_CONFIG) --cflags glib-2.0) $< -o $@ $$($(PKG_CONFIG) --libs glib-2.0) -lpthread

$(B)/tests/ccid-rawusb: tests/vm/ccid-rawusb.c uapi/linux/usb/g_ccid.h | $(B)/tests
	$(CC) $(CSTD) $(WARN) -Werror -O2 -g -Iuapi $$($(PKG_CONFIG) --cflags libusb-1.0) $< -o $@ $$($(PKG_CONFIG) --libs libusb-1.0)

$(B)/tests/vscard-provider: tests/vm/vscard-provider.c | $(B)/tests
	$(CC) $(CSTD) $(WARN) -Werror -O2 -g $$($(PKG_CONFIG) --cflags libcacard gnutls) $< -o $@ $$($(PKG_CONFIG) --libs libcacard gnutls)

# The sanitizer kernel, built once and cached (see tests/kernel/build)
kernel-debug:
	@tests/kernel/build >/dev/null

# usb_f_ccid.ko and the runner's self-test modules for each kernel of the
# matrix, in build/kmod/NAME/ (the VM runner's --kernel NAME loads them)
modules-matrix: $(MATRIX_KOS)

# Always asked: Kbuild knows best whether anything changed (a kernel
# upgrade changes the release, and with it the build tree)
$(B)/kmod/%/usb_f_ccid.ko: FORCE
	@tests/vm/build-module $*

FORCE:

unit: $(UNIT_BINS)
	$(PROVE) --exec '' $(UNIT_BINS)

tests-build: all $(UNIT_BINS) $(FUZZ_BINS) $(VM_PROGS)

# `make check` installs what is missing first, then re-reads this Makefile
# (the kernel version may only be known once the packages are there).
check: deps
	@$(MAKE) --no-print-directory check-run

# The sanitizer kernel (and its module) is built by run-checks, while the
# other kernels are tested
DEBIAN_KERNELS = $(filter-out debug 7.3,$(KERNELS))
# (the packages of `make deb`: tests/vm/systemd.t installs ccidctl's)
# On a fresh machine the sanitizer kernel's build is the longest part of
# make check: it starts (niced, in the background) before the tests and
# packages are built. tests/kernel/build holds a lock, so the call of
# tests/run-checks waits for this one and then finds the kernel built.
kernel-debug-bg:
	@case " $(KERNELS) " in *" debug "*|*" 7.3 "*) \
		tests/kernel/build --check 2>/dev/null || { mkdir -p build; \
		echo "check: building the sanitizer kernel in the background (build/kernel-build.log)"; \
		nice -n 19 tests/kernel/build > build/kernel-build.log 2>&1 & } ;; \
	esac

check-run: kernel-debug-bg tests-build deb
	@$(MAKE) --no-print-directory KERNELS="$(DEBIAN_KERNELS)" modules-matrix
	@tests/run-checks --jobs $(VM_JOBS) --kernels "$(KERNELS)" \
		$(VM_TESTS_FOR) -- $(VM_TESTS)

check-vm: kernel-debug-bg tests-build deb
	@$(MAKE) --no-print-directory KERNELS="$(DEBIAN_KERNELS)" modules-matrix
	@tests/run-checks --vm-only --jobs $(VM_JOBS) --kernels "$(KERNELS)" \
		$(VM_TESTS_FOR) -- $(VM_TESTS)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_NAMES); do \
		mkdir -p $(B)/fuzz/corpus-$$f; \
		echo "fuzzing $$f for $(FUZZ_TIME) s"; \
		$(B)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
			$(B)/fuzz/corpus-$$f tests/fuzz/corpus/$$f || exit 1; \
	done

# One boot of BENCH_KERNEL (a name of the matrix); the sanitizer kernel
# would measure its own checks
BENCH_KERNEL ?= 6.1
bench: deps
	@$(MAKE) --no-print-directory tests-build
	@$(MAKE) --no-print-directory KERNELS=$(BENCH_KERNEL) modules-matrix
	tests/vm/run-vm --kernel $(BENCH_KERNEL) --timeout 1500 tests/vm/bench.sh
	tests/vm/run-vm --kernel $(BENCH_KERNEL) --timeout 900 tests/vm/guest/bench-ctl.sh
	tests/vm/bench-remote.sh --kernel $(BENCH_KERNEL)

# The reader in a second VM, over usbredir and USB/IP (tests/vm/run-pair)
bench-remote: deps
	@$(MAKE) --no-print-directory tests-build
	@$(MAKE) --no-print-directory KERNELS=$(BENCH_KERNEL) modules-matrix
	tests/vm/bench-remote.sh --kernel $(BENCH_KERNEL)

demo: deps
	@$(MAKE) --no-print-directory tests-build
	tests/vm/run-vm --timeout 900 tests/vm/demo.sh

vm-shell: all
	tests/vm/run-vm --shell

# make install: the module for KDIR's kernel and everything of ccidctl.
# install-dkms instead puts the module's source where DKMS builds it for
# every kernel (then: dkms install ccid-gadget/$(VERSION)).
install: install-module install-ctl

install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) modules_install
	@if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); \
	else echo "install: DESTDIR set: run depmod -a $(KVER) where the module lands"; fi

SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g'

install-ctl: ccidctl
	install -D -m 0755 $(CCIDCTL) $(DESTDIR)$(SBINDIR)/ccidctl
	install -D -m 0644 docs/ccidctl.8 $(DESTDIR)$(MANDIR)/man8/ccidctl.8
	install -D -m 0644 docs/schemas/ccidctl.rng $(DESTDIR)$(SCHEMADIR)/ccidctl.rng
	install -D -m 0644 uapi/linux/usb/g_ccid.h $(DESTDIR)$(INCLUDEDIR)/linux/usb/g_ccid.h
	install -D -m 0644 pkg/60-ccid-gadget.rules $(DESTDIR)$(UDEVRULESDIR)/60-ccid-gadget.rules
	install -D -m 0644 pkg/ccid-gadget.sysusers $(DESTDIR)$(SYSUSERSDIR)/ccid-gadget.conf
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in ccidctl@ ccidctl-gadget@; do \
		$(SUBST) pkg/$$u.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.service && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.service || exit 1; \
	done
	install -d -m 0755 $(DESTDIR)$(LIBVIRTHOOKDIR)
	$(SUBST) pkg/libvirt-hook.in > $(DESTDIR)$(LIBVIRTHOOKDIR)/ccid-gadget
	chmod 0755 $(DESTDIR)$(LIBVIRTHOOKDIR)/ccid-gadget
	install -D -m 0644 pkg/ccidctl.bash-completion $(DESTDIR)$(BASHCOMPDIR)/ccidctl
	install -d -m 0755 $(DESTDIR)$(CONFDIR)

install-dkms:
	install -d -m 0755 $(DESTDIR)$(DKMSSRCDIR)/kmod $(DESTDIR)$(DKMSSRCDIR)/uapi/linux/usb
	install -m 0644 Kbuild $(DESTDIR)$(DKMSSRCDIR)/
	install -m 0644 kmod/*.c kmod/*.h $(DESTDIR)$(DKMSSRCDIR)/kmod/
	install -m 0644 uapi/linux/usb/g_ccid.h $(DESTDIR)$(DKMSSRCDIR)/uapi/linux/usb/
	sed 's|#MODULE_VERSION#|$(VERSION)|' pkg/dkms.conf > $(DESTDIR)$(DKMSSRCDIR)/dkms.conf

# The Debian packages (debian/), in $(B)/deb: ccid-gadget-dkms and ccidctl
deb:
	rm -rf $(B)/deb && mkdir -p $(B)/deb/src
	git ls-files -z | xargs -0 cp --parents -t $(B)/deb/src
	cd $(B)/deb/src && dpkg-buildpackage -b -us -uc -rfakeroot
	lintian --fail-on error $(B)/deb/*.changes
	@ls $(B)/deb/*.deb

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean >/dev/null 2>&1
	rm -rf $(B) $(CCIDCTL)
