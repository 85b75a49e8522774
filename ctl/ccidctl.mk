# SPDX-License-Identifier: GPL-2.0
#
# ctl/ccidctl.mk -- ccidctl's sources and flags, included by the top-level
# Makefile (which owns the rules). Paths are relative to the repository root.
#
#   CTL_MAIN       the command line (main())
#   CTL_CORE_SRCS  configuration reader (XML, schema, model) and the VSCard
#                  and vpcd codecs: needs libxml2 only; what test_xml and
#                  test_codec link
#   CTL_SRCS       every ctl/*.c but CTL_MAIN (core, daemon, gadget set-up,
#                  card backends)
#   CTL_CFLAGS     compiler flags for all of them
#   CTL_LIBS       libraries for all of them
#   CTL_UNIT_TESTS the unit tests of this part, tests/unit/test_*.c names
#
# The schema docs/schemas/ccidctl.rng is built into the program by
# ctl/schema_embed.c (.incbin, from CCIDCTL_SCHEMA_SRC), so whatever links
# schema_embed.c must be rebuilt when the schema changes: see the
# dependency lines at the end. At run time a program under this tree
# (CCIDCTL_TREE_DIR) reads the tree's copy; an installed one reads
# CCIDCTL_SCHEMA_DIR, where `make install` and the package put it
# (CTL_SCHEMA_INSTALL_DIR, set by the top-level Makefile).

PKG_CONFIG ?= pkg-config

CTL_MAIN := ctl/main.c
CTL_CODEC_SRCS := ctl/framer.c ctl/vscard.c ctl/vpcd.c
CTL_CORE_SRCS := ctl/diag.c ctl/config.c ctl/xml.c ctl/schema_embed.c \
		 $(CTL_CODEC_SRCS)
CTL_SRCS := $(sort $(CTL_CORE_SRCS) \
		   $(filter-out $(CTL_MAIN),$(wildcard ctl/*.c)))

# libcacard only if a card backend that needs it is present
CTL_PKGS := libxml-2.0 glib-2.0 gnutls libsystemd \
	    $(if $(shell grep -l 'libcacard.h' $(wildcard ctl/*.c) 2>/dev/null),libcacard)

CTL_SCHEMA_SRC := $(CURDIR)/docs/schemas
CTL_SCHEMA_INSTALL_DIR ?= /usr/local/share/ccid-gadget
CTL_TREE_DIR ?= $(CURDIR)
CTL_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(CTL_PKGS)) -Ictl -Iuapi \
	      -DCCIDCTL_SCHEMA_SRC='"$(CTL_SCHEMA_SRC)"' \
	      -DCCIDCTL_SCHEMA_DIR='"$(CTL_SCHEMA_INSTALL_DIR)"' \
	      -DCCIDCTL_TREE_DIR='"$(CTL_TREE_DIR)"'
CTL_LIBS := $(shell $(PKG_CONFIG) --libs $(CTL_PKGS)) -lpthread

CTL_UNIT_TESTS := xml codec wire passthrough plan json

# Rebuild whatever embeds the schema when the schema changes.
ctl/ccidctl: docs/schemas/ccidctl.rng
$(or $(B),build)/tests/test_xml: docs/schemas/ccidctl.rng

# The wire protocols (no I/O): test_wire and fuzz_wire
CTL_WIRE_SRCS := ctl/wire.c ctl/wire_vscard.c ctl/wire_vpcd.c $(CTL_CODEC_SRCS)
UNIT_SRCS_wire := $(CTL_WIRE_SRCS)
FUZZ_SRCS_wire := $(CTL_WIRE_SRCS)

# Cards, backends, transports and TLS in one process, and the pipeline
# that validate and apply share: everything but main()
UNIT_SRCS_passthrough = $(CTL_SRCS)
UNIT_LIBS_passthrough = $(CTL_LIBS)
UNIT_SRCS_plan = $(CTL_SRCS)
UNIT_LIBS_plan = $(CTL_LIBS)
UNIT_SRCS_json := ctl/json.c

# The PC/SC client of tests/vm/guest/bench-ctl.sh: built by tests-build
$(or $(B),build)/tests/pcsc-bench: tests/vm/pcsc-bench.c
	mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -Werror -O2 -g $$($(PKG_CONFIG) --cflags libpcsclite) $< -o $@ $$($(PKG_CONFIG) --libs libpcsclite)
tests-build: $(or $(B),build)/tests/pcsc-bench
