// SPDX-License-Identifier: GPL-2.0
/*
 * commands.c -- ccidctl apply, gadget up|down and status
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/usb/g_ccid.h>

#include "commands.h"
#include "config.h"
#include "daemon.h"
#include "diag.h"
#include "gadget.h"
#include "xml.h"

#define EXIT_INVALID	1
#define EXIT_USAGE	2

static int parse_id(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno || *s == '\0' || *end != '\0' || v > 0xffff)
		return -1;
	*out = v;
	return 0;
}

/* Load and resolve FILE, printing errors; NULL if it is not valid */
static struct cfg *load(const char *file, const char *schema)
{
	struct xmlcfg_opts opts = { .schema = schema };
	struct cfg *cfg = NULL;
	struct diag d;

	diag_init(&d, file);
	if (xmlcfg_load_file(file, &opts, &cfg, &d) < 0) {
		diag_print(&d, stderr);
		cfg = NULL;
	}
	for (size_t i = 0; cfg && i < cfg->ncards; i++) {
		if (cfg->cards[i].chr.tls) {
			fprintf(stderr, "%s:%lu: <source tls='yes'> is not served yet\n",
				file, cfg->cards[i].chr.src_line);
			cfg_free(cfg);
			cfg = NULL;
		}
	}
	diag_free(&d);
	xmlcfg_cleanup();
	return cfg;
}

static void usage_apply(FILE *f)
{
	fprintf(f,
		"Usage: ccidctl apply [OPTIONS] FILE\n"
		"\n"
		"Serve the smartcards of FILE (libvirt domain XML, <devices> or\n"
		"<smartcard>) in the slots of the ccid gadget functions, in the\n"
		"foreground, until SIGTERM, SIGINT or SIGHUP. Controller index N is the\n"
		"function instance ccid.N. On exit the cards are removed; a gadget that\n"
		"ccidctl created is removed, one it found is left as it was.\n"
		"\n"
		"Options:\n"
		"  -u, --udc UDC       use the gadget bound to UDC, or create one (a\n"
		"                      ccid.N function per controller) and bind it\n"
		"      --vid HEX       idVendor of a created gadget (default 08e6)\n"
		"      --pid HEX       idProduct of a created gadget (default 4433)\n"
		"      --host-db DIR   NSS database for mode 'host' (default: the\n"
		"                      host-certificates database, else /etc/pki/nssdb)\n"
		"      --ready-fd N    write \"ready\" to descriptor N once serving\n"
		"      --apdu-timeout S  a passthrough provider that has not answered\n"
		"                      an APDU after S seconds is dropped and its card\n"
		"                      removed (default 60; 0: wait forever)\n"
		"  -s, --schema FILE   RELAX NG schema instead of the built-in one\n"
		"  -v, --verbose       log every event\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status: 0 stopped by a signal, 1 error, 2 usage error.\n");
}

int cmd_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "udc", required_argument, NULL, 'u' },
		{ "vid", required_argument, NULL, 'V' },
		{ "pid", required_argument, NULL, 'P' },
		{ "host-db", required_argument, NULL, 'd' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "apdu-timeout", required_argument, NULL, 't' },
		{ "schema", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon_opts o = {
		.ready_fd = -1,
		.apdu_timeout = DAEMON_DEFAULT_APDU_TIMEOUT,
	};
	const char *schema = NULL;
	struct cfg *cfg;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "u:s:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			o.udc = optarg;
			break;
		case 'V':
		case 'P':
			if (parse_id(optarg, c == 'V' ? &o.vid : &o.pid)) {
				fprintf(stderr, "ccidctl apply: --%s takes a 16-bit hex number\n",
					c == 'V' ? "vid" : "pid");
				return EXIT_USAGE;
			}
			break;
		case 'd':
			o.host_db = optarg;
			break;
		case 'r': {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *optarg == '\0' || *end != '\0' || v < 0 || v > 65535) {
				fprintf(stderr, "ccidctl apply: --ready-fd takes a file descriptor number\n");
				return EXIT_USAGE;
			}
			o.ready_fd = v;
			break;
		}
		case 't': {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *optarg == '\0' || *end != '\0' || v < 0 || v > 86400) {
				fprintf(stderr, "ccidctl apply: --apdu-timeout takes seconds, 0 to 86400\n");
				return EXIT_USAGE;
			}
			o.apdu_timeout = v;
			break;
		}
		case 's':
			schema = optarg;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'h':
			usage_apply(stdout);
			return 0;
		default:
			usage_apply(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "ccidctl apply: expected one FILE\n");
		usage_apply(stderr);
		return EXIT_USAGE;
	}
	cfg = load(argv[optind], schema);
	if (!cfg)
		return EXIT_INVALID;
	rc = daemon_run(cfg, &o);
	cfg_free(cfg);
	return rc;
}

static void usage_gadget(FILE *f)
{
	fprintf(f,
		"Usage: ccidctl gadget up --udc UDC [--vid HEX] [--pid HEX] FILE\n"
		"       ccidctl gadget down --udc UDC\n"
		"\n"
		"up: create the gadget ccidctl-UDC in configfs with a ccid.N function\n"
		"per controller of FILE (slots sized from FILE), bind it to UDC and\n"
		"leave it; cards are then served by 'ccidctl apply FILE'.\n"
		"down: unbind and remove the gadget ccidctl-UDC that 'up' created.\n");
}

int cmd_gadget(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "udc", required_argument, NULL, 'u' },
		{ "vid", required_argument, NULL, 'V' },
		{ "pid", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gadget g;
	const char *udc = NULL, *verb;
	unsigned int vid = 0, pid = 0;
	struct cfg *cfg;
	size_t i;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "u:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			udc = optarg;
			break;
		case 'V':
		case 'P':
			if (parse_id(optarg, c == 'V' ? &vid : &pid)) {
				fprintf(stderr, "ccidctl gadget: --vid/--pid take a 16-bit hex number\n");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage_gadget(stdout);
			return 0;
		default:
			usage_gadget(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc || !udc) {
		usage_gadget(stderr);
		return EXIT_USAGE;
	}
	verb = argv[optind++];
	if (!strcmp(verb, "down")) {
		if (optind != argc) {
			usage_gadget(stderr);
			return EXIT_USAGE;
		}
		if (gadget_load(&g, udc))
			return 1;
		return gadget_down(&g) ? 1 : 0;
	}
	if (strcmp(verb, "up") || argc - optind != 1) {
		usage_gadget(stderr);
		return EXIT_USAGE;
	}
	cfg = load(argv[optind], NULL);
	if (!cfg)
		return EXIT_INVALID;
	memset(&g, 0, sizeof(g));
	snprintf(g.udc, sizeof(g.udc), "%s", udc);
	g.vid = vid;
	g.pid = pid;
	for (i = 0; i < cfg->nctrls && i < GADGET_MAX_FUNCS; i++) {
		g.funcs[i].index = cfg->ctrls[i].index;
		g.funcs[i].nslots = cfg->ctrls[i].nslots;
	}
	g.nfuncs = i;
	cfg_free(cfg);
	if (gadget_up(&g))
		return 1;
	if (!g.created) {
		fprintf(stderr, "ccidctl gadget up: a gadget is already bound to %s (%s); left as it is\n",
			udc, g.dir);
		return 1;
	}
	for (i = 0; i < g.nfuncs; i++)
		printf("controller %u: %s %s\n", g.funcs[i].index, g.funcs[i].dir, g.funcs[i].dev);
	return 0;
}

static const char *slot_state(unsigned int s)
{
	switch (s) {
	case CCIDG_SLOT_EMPTY:
		return "empty";
	case CCIDG_SLOT_PRESENT:
		return "present";
	case CCIDG_SLOT_POWERED:
		return "powered";
	}
	return "unknown";
}

/* One function instance: its attributes, slots and counters */
static void status_func(const char *gname, const char *fdir, const char *fname,
			bool json, bool *first)
{
	static const char * const attrs[] = {
		"nslots", "busy_slots", "protocols", "features", "max_msg_len",
	};
	struct ccidg_status st;
	struct ccidg_stats sx;
	char dev[64] = "", val[64];
	bool have_st = false, have_sx = false;
	size_t i;
	int fd;

	if (gadget_func_dev(fdir, dev, sizeof(dev)) == 0) {
		fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			have_st = ioctl(fd, CCIDG_IOC_GET_STATUS, &st) == 0;
			have_sx = ioctl(fd, CCIDG_IOC_GET_STATS, &sx) == 0;
			close(fd);
		}
	}
	if (json) {
		printf("%s\n    {\"gadget\": \"%s\", \"function\": \"%s\", \"dev\": \"%s\"",
		       *first ? "" : ",", gname, fname, dev);
		for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
			if (gadget_read_attr(fdir, attrs[i], val, sizeof(val)) == 0)
				printf(", \"%s\": \"%s\"", attrs[i], val);
		if (have_st) {
			printf(", \"online\": %s, \"slots\": [", st.online ? "true" : "false");
			for (i = 0; i < st.nslots && i < CCIDG_MAX_SLOTS; i++)
				printf("%s{\"slot\": %zu, \"state\": \"%s\", \"busy\": %s}",
				       i ? ", " : "", i, slot_state(st.state[i]),
				       st.busy[i] ? "true" : "false");
			printf("]");
		}
		if (have_sx)
			printf(", \"stats\": {\"msgs_in\": %llu, \"msgs_out\": %llu, \"apdus\": %llu, \"replies\": %llu, \"errors\": %llu, \"bad_msgs\": %llu, \"time_ext\": %llu, \"aborts\": %llu, \"notify\": %llu, \"bytes_in\": %llu, \"bytes_out\": %llu}",
			       (unsigned long long)sx.msgs_in, (unsigned long long)sx.msgs_out,
			       (unsigned long long)sx.apdus, (unsigned long long)sx.replies,
			       (unsigned long long)sx.errors, (unsigned long long)sx.bad_msgs,
			       (unsigned long long)sx.time_ext, (unsigned long long)sx.aborts,
			       (unsigned long long)sx.notify, (unsigned long long)sx.bytes_in,
			       (unsigned long long)sx.bytes_out);
		printf("}");
		*first = false;
		return;
	}
	printf("%s/%s: %s\n", gname, fname, dev[0] ? dev : "(not bound)");
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (gadget_read_attr(fdir, attrs[i], val, sizeof(val)) == 0)
			printf("  %-12s %s\n", attrs[i], val);
	if (have_st) {
		printf("  host         %s\n", st.online ? "connected" : "not connected");
		for (i = 0; i < st.nslots && i < CCIDG_MAX_SLOTS; i++)
			printf("  slot %-7zu %s%s\n", i, slot_state(st.state[i]),
			       st.busy[i] ? ", APDU pending" : "");
	}
	if (have_sx)
		printf("  counters     msgs_in %llu msgs_out %llu apdus %llu replies %llu errors %llu bad_msgs %llu time_ext %llu aborts %llu notify %llu\n",
		       (unsigned long long)sx.msgs_in, (unsigned long long)sx.msgs_out,
		       (unsigned long long)sx.apdus, (unsigned long long)sx.replies,
		       (unsigned long long)sx.errors, (unsigned long long)sx.bad_msgs,
		       (unsigned long long)sx.time_ext, (unsigned long long)sx.aborts,
		       (unsigned long long)sx.notify);
}

int cmd_status(int argc, char **argv)
{
	bool json = false, first = true;
	char gdir[512], fdir[1024];
	struct dirent *g, *f;
	DIR *gd, *fd;
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: ccidctl status [--json]\n\n"
			       "Every ccid function in configfs: its attributes, char device,\n"
			       "slots (empty, present, powered; APDU pending) and the kernel's\n"
			       "counters. Readable while a daemon serves the cards.\n");
			return 0;
		} else {
			fprintf(stderr, "ccidctl status: unknown argument %s\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	gd = opendir(GADGET_CONFIGFS);
	if (!gd) {
		fprintf(stderr, "ccidctl status: %s: %s (configfs mounted? libcomposite loaded?)\n",
			GADGET_CONFIGFS, strerror(errno));
		return 1;
	}
	if (json)
		printf("{\"functions\": [");
	while ((g = readdir(gd))) {
		if (g->d_name[0] == '.')
			continue;
		snprintf(gdir, sizeof(gdir), "%s/%s/functions", GADGET_CONFIGFS, g->d_name);
		fd = opendir(gdir);
		if (!fd)
			continue;
		while ((f = readdir(fd))) {
			if (strncmp(f->d_name, "ccid.", 5))
				continue;
			snprintf(fdir, sizeof(fdir), "%s/%s", gdir, f->d_name);
			status_func(g->d_name, fdir, f->d_name, json, &first);
			n++;
		}
		closedir(fd);
	}
	closedir(gd);
	if (json)
		printf("\n]}\n");
	else if (!n)
		printf("no ccid functions in %s\n", GADGET_CONFIGFS);
	return 0;
}
