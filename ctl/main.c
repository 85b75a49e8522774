// SPDX-License-Identifier: GPL-2.0
/*
 * main.c -- the ccidctl command line
 *
 *   ccidctl validate [--schema FILE] [--quiet] FILE
 *   ccidctl apply FILE | gadget up|down | status     (commands.c)
 *
 * Exit status: 0 success, 1 the configuration is invalid or unreadable,
 * 2 usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "diag.h"
#include "xml.h"

#ifndef CCIDCTL_VERSION
#define CCIDCTL_VERSION "0.1"
#endif

#define EXIT_INVALID	1
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

static void usage_validate(FILE *f)
{
	fprintf(f,
		"Usage: %s validate [--schema FILE] [--quiet] FILE\n"
		"\n"
		"Read FILE (libvirt domain XML, <devices> or <smartcard>), validate it\n"
		"against the ccidctl schema, apply libvirt's defaults (controllers,\n"
		"slots, NSS database) and print the resulting readers and cards.\n"
		"Errors are printed as FILE:LINE: message.\n"
		"\n"
		"Options:\n"
		"  -s, --schema FILE  use this RELAX NG schema instead of the default\n"
		"  -q, --quiet        print nothing on success\n"
		"  -h, --help         show this help\n"
		"\n"
		"Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n",
		prog);
}

static int cmd_validate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "schema", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct xmlcfg_opts opts = { 0 };
	struct cfg *cfg = NULL;
	struct diag d;
	int quiet = 0;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opts.schema = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage_validate(stdout);
			return 0;
		default:
			usage_validate(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s validate: expected one FILE\n", prog);
		usage_validate(stderr);
		return EXIT_USAGE;
	}

	diag_init(&d, argv[optind]);
	ret = xmlcfg_load_file(argv[optind], &opts, &cfg, &d);
	if (ret < 0) {
		diag_print(&d, stderr);
		diag_free(&d);
		xmlcfg_cleanup();
		return EXIT_INVALID;
	}
	if (!quiet) {
		printf("%s: valid: %zu controller%s, %zu smartcard%s\n",
		       argv[optind], cfg->nctrls, cfg->nctrls == 1 ? "" : "s",
		       cfg->ncards, cfg->ncards == 1 ? "" : "s");
		cfg_print(cfg, stdout);
	}
	cfg_free(cfg);
	diag_free(&d);
	xmlcfg_cleanup();
	return 0;
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
		printf("ccidctl %s\n", CCIDCTL_VERSION);
		return 0;
	}
	/* getopt names the program by argv[0]: "ccidctl validate: ..." */
	snprintf(cmdname, sizeof(cmdname), "%s %s", prog, cmd);
	argv[1] = cmdname;
	if (!strcmp(cmd, "validate"))
		return cmd_validate(argc - 1, argv + 1);
	if (!strcmp(cmd, "apply"))
		return cmd_apply(argc - 1, argv + 1);
	if (!strcmp(cmd, "gadget"))
		return cmd_gadget(argc - 1, argv + 1);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);

	fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
	usage(stderr);
	return EXIT_USAGE;
}
