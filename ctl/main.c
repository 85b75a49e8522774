// SPDX-License-Identifier: GPL-2.0
/*
 * main.c -- the ccidctl command line
 *
 *   ccidctl validate | apply | reload | gadget up|down | status
 *   (commands.c)
 *
 * Exit status: 0 success, 1 the configuration is invalid or unreadable,
 * 2 usage error.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "xml.h"

#ifndef CCIDCTL_VERSION
#define CCIDCTL_VERSION "0.1"
#endif

#define EXIT_USAGE	2

static const char *prog = "ccidctl";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s COMMAND [OPTIONS] [ARGS]\n"
		"\n"
		"Feed virtual smartcards, described by libvirt <smartcard> XML, to the\n"
		"USB CCID gadget function (usb_f_ccid).\n"
		"\n"
		"Commands:\n"
		"  validate FILE     check FILE and print the resolved configuration\n"
		"  apply FILE        run the daemon: put the cards of FILE into the readers\n"
		"  reload            make the running daemon re-read its FILE\n"
		"  gadget up|down    set up or remove the USB gadget with the readers\n"
		"  status            show readers and cards\n"
		"\n"
		"Options:\n"
		"  -h, --help        show this help (after a command: that command's help)\n"
		"  -V, --version     show the version\n"
		"\n"
		"FILE is a libvirt domain XML, a <devices> element or one <smartcard>.\n"
		"Exit status: 0 success, 1 invalid configuration or error, 2 usage\n"
		"error. See ccidctl(8).\n",
		prog);
}

int main(int argc, char **argv)
{
	char cmdname[64];
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		char buf[PATH_MAX];
		const char *schema = getenv("CCIDCTL_SCHEMA");

		if (!schema || !*schema)
			schema = xmlcfg_default_schema(buf, sizeof(buf));
		printf("ccidctl %s\nschema: %s\n", CCIDCTL_VERSION,
		       schema ? schema : "built-in");
		return 0;
	}
	/* getopt names the program by argv[0]: "ccidctl validate: ..." */
	snprintf(cmdname, sizeof(cmdname), "%s %s", prog, cmd);
	argv[1] = cmdname;
	if (!strcmp(cmd, "validate"))
		return cmd_validate(argc - 1, argv + 1);
	if (!strcmp(cmd, "apply"))
		return cmd_apply(argc - 1, argv + 1);
	if (!strcmp(cmd, "reload"))
		return cmd_reload(argc - 1, argv + 1);
	if (!strcmp(cmd, "gadget"))
		return cmd_gadget(argc - 1, argv + 1);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);

	fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
	usage(stderr);
	return EXIT_USAGE;
}
