// SPDX-License-Identifier: GPL-2.0
/*
 * commands.c -- ccidctl validate, apply, reload, gadget up|down and status
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

#include "card.h"
#include "commands.h"
#include "config.h"
#include "daemon.h"
#include "diag.h"
#include "gadget.h"
#include "json.h"
#include "plan.h"
#include "xml.h"

#define EXIT_INVALID	1
#define EXIT_USAGE	2

/* Long options without a short form */
enum {
	OPT_VID = 256, OPT_PID, OPT_HOST_DB, OPT_READY_FD, OPT_APDU_TIMEOUT,
	OPT_OPEN_TIMEOUT, OPT_TLS_DIR, OPT_TLS_VERIFY, OPT_CONTROL, OPT_OFFLINE,
	OPT_JSON,
};

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

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/*
 * The options that change what the checks say, shared by validate and
 * apply: the same options give the same verdict. Returns 1 if @c was one
 * of them, 0 if not, -1 for a bad value (reported).
 */
static int common_option(const char *cmd, int c, const char *arg,
			 struct card_env *env, const char **schema)
{
	switch (c) {
	case 's':
		*schema = arg;
		return 1;
	case OPT_HOST_DB:
		env->host_db = arg;
		return 1;
	case OPT_TLS_DIR:
		env->tls_dir = arg;
		return 1;
	case OPT_TLS_VERIFY:
		if (!strcmp(arg, "yes") || !strcmp(arg, "1")) {
			env->tls_verify = true;
		} else if (!strcmp(arg, "no") || !strcmp(arg, "0")) {
			env->tls_verify = false;
		} else {
			fprintf(stderr, "ccidctl %s: --tls-verify takes yes or no\n", cmd);
			return -1;
		}
		return 1;
	}
	return 0;
}

#define COMMON_LONGOPTS \
	{ "schema", required_argument, NULL, 's' }, \
	{ "host-db", required_argument, NULL, OPT_HOST_DB }, \
	{ "tls-dir", required_argument, NULL, OPT_TLS_DIR }, \
	{ "tls-verify", required_argument, NULL, OPT_TLS_VERIFY }

#define COMMON_HELP \
	"  -s, --schema FILE   RELAX NG schema instead of the default one\n" \
	"      --host-db DIR   NSS database for mode 'host' (default: the\n" \
	"                      host-certificates database, else /etc/pki/nssdb)\n" \
	"      --tls-dir DIR   x509 files for tls='yes', laid out as libvirt's\n" \
	"                      chardev TLS directory (default " CARD_DEFAULT_TLS_DIR ")\n" \
	"      --tls-verify yes|no  verify the peer's certificate (default yes)\n"

/* Load FILE through the one pipeline, print what it says; NULL if invalid */
static struct cfg *load(const char *file, const char *schema,
			const struct card_env *env, bool quiet)
{
	struct cfg *cfg = NULL;
	struct diag d;

	diag_init(&d, file);
	if (plan_load(file, schema, env, &cfg, &d) < 0 || !quiet)
		diag_print(&d, stderr);
	diag_free(&d);
	return cfg;
}

/* ------------------------------------------------------------------ */
/* validate */

static void usage_validate(FILE *f)
{
	fprintf(f,
		"Usage: ccidctl validate [OPTIONS] FILE\n"
		"\n"
		"Read FILE (libvirt domain XML, <devices> or <smartcard>), validate it\n"
		"against the ccidctl schema, apply libvirt's defaults (controllers,\n"
		"slots, NSS database), check it as 'ccidctl apply' does before it\n"
		"serves anything, and print the resulting readers and cards.\n"
		"Errors and warnings are printed as FILE:LINE: message.\n"
		"\n"
		"Options:\n"
		COMMON_HELP
		"      --offline       leave out the checks that look at this system\n"
		"                      (TLS files, NSS database, unix socket paths)\n"
		"  -q, --quiet         print nothing on success, warnings neither\n"
		"  -h, --help          show this help\n"
		"\n"
		"Exit status: 0 valid, 1 invalid or unreadable, 2 usage error.\n");
}

int cmd_validate(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "offline", no_argument, NULL, OPT_OFFLINE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct card_env env;
	const char *schema = NULL;
	struct cfg *cfg;
	bool quiet = false;
	int c, r;

	card_env_init(&env);
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:qh", longopts, NULL)) != -1) {
		r = common_option("validate", c, optarg, &env, &schema);
		if (r < 0)
			return EXIT_USAGE;
		if (r)
			continue;
		switch (c) {
		case OPT_OFFLINE:
			env.offline = true;
			break;
		case 'q':
			quiet = true;
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
		fprintf(stderr, "ccidctl validate: expected one FILE\n");
		usage_validate(stderr);
		return EXIT_USAGE;
	}
	cfg = load(argv[optind], schema, &env, quiet);
	xmlcfg_cleanup();
	if (!cfg)
		return EXIT_INVALID;
	if (!quiet) {
		printf("%s: valid: %zu controller%s, %zu smartcard%s\n",
		       argv[optind], cfg->nctrls, cfg->nctrls == 1 ? "" : "s",
		       cfg->ncards, cfg->ncards == 1 ? "" : "s");
		cfg_print(cfg, stdout);
	}
	cfg_free(cfg);
	return 0;
}

/* ------------------------------------------------------------------ */
/* apply */

static void usage_apply(FILE *f)
{
	fprintf(f,
		"Usage: ccidctl apply [OPTIONS] FILE\n"
		"\n"
		"Serve the smartcards of FILE (libvirt domain XML, <devices> or\n"
		"<smartcard>) in the slots of the ccid gadget functions, in the\n"
		"foreground, until SIGTERM or SIGINT. Controller index N is the\n"
		"function instance ccid.N. SIGHUP or 'ccidctl reload' re-reads FILE:\n"
		"unchanged cards stay, removed ones are taken out, new ones put in.\n"
		"On exit the cards are removed; a gadget that ccidctl created is\n"
		"removed, one it found is left as it was.\n"
		"\n"
		"Options:\n"
		"  -u, --udc UDC       use the gadget bound to UDC, or create one (a\n"
		"                      ccid.N function per controller) and bind it;\n"
		"                      'auto': the only UDC in /sys/class/udc\n"
		"      --vid HEX       idVendor of a created gadget (default 08e6)\n"
		"      --pid HEX       idProduct of a created gadget (default 4433)\n"
		COMMON_HELP
		"      --ready-fd N    write \"ready\" to descriptor N once serving\n"
		"      --apdu-timeout S  a passthrough provider that has not answered\n"
		"                      an APDU after S seconds is dropped and its card\n"
		"                      removed (default 60; 0: wait forever)\n"
		"      --open-timeout S  a provider must finish TLS and say who it is\n"
		"                      (VSCard Init, vpcd ATR) within S seconds of\n"
		"                      connecting, or it is dropped (default 10)\n"
		"      --control PATH  control socket for 'ccidctl reload' (default\n"
		"                      " DAEMON_DEFAULT_CONTROL "; 'none': no socket)\n"
		"  -v, --verbose       log every event\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status: 0 stopped by a signal, 1 error, 2 usage error.\n");
}

int cmd_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "udc", required_argument, NULL, 'u' },
		{ "vid", required_argument, NULL, OPT_VID },
		{ "pid", required_argument, NULL, OPT_PID },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "apdu-timeout", required_argument, NULL, OPT_APDU_TIMEOUT },
		{ "open-timeout", required_argument, NULL, OPT_OPEN_TIMEOUT },
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon_opts o = {
		.ready_fd = -1,
		.control = DAEMON_DEFAULT_CONTROL,
	};
	char udc[64];
	struct cfg *cfg;
	long v;
	int c, r;

	card_env_init(&o.env);
	optind = 1;
	while ((c = getopt_long(argc, argv, "u:s:vh", longopts, NULL)) != -1) {
		r = common_option("apply", c, optarg, &o.env, &o.schema);
		if (r < 0)
			return EXIT_USAGE;
		if (r)
			continue;
		switch (c) {
		case 'u':
			o.udc = optarg;
			break;
		case OPT_VID:
		case OPT_PID:
			if (parse_id(optarg, c == OPT_VID ? &o.vid : &o.pid)) {
				fprintf(stderr, "ccidctl apply: --%s takes a 16-bit hex number\n",
					c == OPT_VID ? "vid" : "pid");
				return EXIT_USAGE;
			}
			break;
		case OPT_READY_FD:
			if (parse_long(optarg, 0, 65535, &v)) {
				fprintf(stderr, "ccidctl apply: --ready-fd takes a file descriptor number\n");
				return EXIT_USAGE;
			}
			o.ready_fd = (int)v;
			break;
		case OPT_APDU_TIMEOUT:
			if (parse_long(optarg, 0, 86400, &v)) {
				fprintf(stderr, "ccidctl apply: --apdu-timeout takes seconds, 0 to 86400\n");
				return EXIT_USAGE;
			}
			o.env.apdu_timeout_ms = (int)v * 1000;
			break;
		case OPT_OPEN_TIMEOUT:
			if (parse_long(optarg, 1, 3600, &v)) {
				fprintf(stderr, "ccidctl apply: --open-timeout takes seconds, 1 to 3600\n");
				return EXIT_USAGE;
			}
			o.env.open_timeout_ms = (int)v * 1000;
			break;
		case OPT_CONTROL:
			o.control = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case 'v':
			o.env.verbose = true;
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
	o.file = argv[optind];
	if (o.udc) {
		if (gadget_resolve_udc(o.udc, udc, sizeof(udc)))
			return EXIT_INVALID;
		o.udc = udc;
	}
	cfg = load(o.file, o.schema, &o.env, false);
	if (!cfg) {
		xmlcfg_cleanup();
		return EXIT_INVALID;
	}
	return daemon_run(cfg, &o);
}

/* ------------------------------------------------------------------ */
/* reload */

static void usage_reload(FILE *f)
{
	fprintf(f,
		"Usage: ccidctl reload [--control PATH]\n"
		"\n"
		"Ask the running 'ccidctl apply' to re-read its FILE, as SIGHUP does,\n"
		"and print what it did: unchanged cards stay in their slots with\n"
		"their sessions, removed ones are taken out, new ones put in. A FILE\n"
		"that does not pass the checks changes nothing; the reasons are\n"
		"printed.\n"
		"\n"
		"Options:\n"
		"      --control PATH  the daemon's control socket (default\n"
		"                      " DAEMON_DEFAULT_CONTROL ")\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status: 0 applied, 1 not applied (or partly) or no daemon,\n"
		"2 usage error.\n");
}

int cmd_reload(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = DAEMON_DEFAULT_CONTROL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CONTROL:
			control = optarg;
			break;
		case 'h':
			usage_reload(stdout);
			return 0;
		default:
			usage_reload(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ccidctl reload: no arguments expected; the daemon re-reads the FILE it was started with\n");
		return EXIT_USAGE;
	}
	return daemon_reload_request(control);
}

/* ------------------------------------------------------------------ */
/* gadget up|down */

static void usage_gadget(FILE *f)
{
	fprintf(f,
		"Usage: ccidctl gadget up --udc UDC [--vid HEX] [--pid HEX] FILE\n"
		"       ccidctl gadget down --udc UDC\n"
		"\n"
		"up: create the gadget ccidctl-UDC in configfs with a ccid.N function\n"
		"per controller of FILE (slots sized from FILE), bind it to UDC and\n"
		"leave it; cards are then served by 'ccidctl apply FILE'.\n"
		"down: unbind and remove the gadget ccidctl-UDC that 'up' created.\n"
		"UDC 'auto' is the only one in /sys/class/udc.\n");
}

int cmd_gadget(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "udc", required_argument, NULL, 'u' },
		{ "vid", required_argument, NULL, OPT_VID },
		{ "pid", required_argument, NULL, OPT_PID },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct card_env env;
	struct gadget g;
	const char *udc = NULL, *verb;
	unsigned int vid = 0, pid = 0;
	char udcbuf[64];
	struct cfg *cfg;
	size_t i;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "u:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			udc = optarg;
			break;
		case OPT_VID:
		case OPT_PID:
			if (parse_id(optarg, c == OPT_VID ? &vid : &pid)) {
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
	if (gadget_resolve_udc(udc, udcbuf, sizeof(udcbuf)))
		return 1;
	udc = udcbuf;
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
	/* the readers only: what the cards need is apply's business */
	card_env_init(&env);
	env.offline = true;
	cfg = load(argv[optind], NULL, &env, true);
	xmlcfg_cleanup();
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

/* ------------------------------------------------------------------ */
/* status */

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

static const char * const status_attrs[] = {
	"nslots", "busy_slots", "protocols", "features", "max_msg_len",
};

struct func_status {
	char dev[64];
	bool have_st, have_sx;
	struct ccidg_status st;
	struct ccidg_stats sx;
};

static void query_func(const char *fdir, struct func_status *fs)
{
	int fd;

	memset(fs, 0, sizeof(*fs));
	if (gadget_func_dev(fdir, fs->dev, sizeof(fs->dev)))
		return;
	fd = open(fs->dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	fs->have_st = ioctl(fd, CCIDG_IOC_GET_STATUS, &fs->st) == 0;
	fs->have_sx = ioctl(fd, CCIDG_IOC_GET_STATS, &fs->sx) == 0;
	close(fd);
}

static void json_stat(const char *name, unsigned long long v, bool first)
{
	printf("%s", first ? "" : ", ");
	json_string(stdout, name);
	printf(": %llu", v);
}

static void status_json(const char *gname, const char *fdir,
			const char *fname, bool *first)
{
	struct func_status fs;
	char val[64];
	size_t i;

	query_func(fdir, &fs);
	printf("%s\n    {\"gadget\": ", *first ? "" : ",");
	json_string(stdout, gname);
	printf(", \"function\": ");
	json_string(stdout, fname);
	printf(", \"dev\": ");
	json_string(stdout, fs.dev[0] ? fs.dev : NULL);
	for (i = 0; i < sizeof(status_attrs) / sizeof(status_attrs[0]); i++) {
		if (gadget_read_attr(fdir, status_attrs[i], val, sizeof(val)))
			continue;
		printf(", ");
		json_string(stdout, status_attrs[i]);
		printf(": ");
		json_number_or_string(stdout, val);
	}
	if (fs.have_st) {
		printf(", \"online\": %s, \"slots\": [", fs.st.online ? "true" : "false");
		for (i = 0; i < fs.st.nslots && i < CCIDG_MAX_SLOTS; i++)
			printf("%s{\"slot\": %zu, \"state\": \"%s\", \"busy\": %s}",
			       i ? ", " : "", i, slot_state(fs.st.state[i]),
			       fs.st.busy[i] ? "true" : "false");
		printf("]");
	}
	if (fs.have_sx) {
		const struct ccidg_stats *x = &fs.sx;

		printf(", \"stats\": {");
		json_stat("msgs_in", x->msgs_in, true);
		json_stat("msgs_out", x->msgs_out, false);
		json_stat("apdus", x->apdus, false);
		json_stat("replies", x->replies, false);
		json_stat("errors", x->errors, false);
		json_stat("bad_msgs", x->bad_msgs, false);
		json_stat("time_ext", x->time_ext, false);
		json_stat("aborts", x->aborts, false);
		json_stat("notify", x->notify, false);
		json_stat("bytes_in", x->bytes_in, false);
		json_stat("bytes_out", x->bytes_out, false);
		printf("}");
	}
	printf("}");
	*first = false;
}

static void status_text(const char *gname, const char *fdir, const char *fname)
{
	struct func_status fs;
	char val[64];
	size_t i;

	query_func(fdir, &fs);
	printf("%s/%s: %s\n", gname, fname, fs.dev[0] ? fs.dev : "(not bound)");
	for (i = 0; i < sizeof(status_attrs) / sizeof(status_attrs[0]); i++)
		if (gadget_read_attr(fdir, status_attrs[i], val, sizeof(val)) == 0)
			printf("  %-12s %s\n", status_attrs[i], val);
	if (fs.have_st) {
		printf("  host         %s\n", fs.st.online ? "connected" : "not connected");
		for (i = 0; i < fs.st.nslots && i < CCIDG_MAX_SLOTS; i++)
			printf("  slot %-7zu %s%s\n", i, slot_state(fs.st.state[i]),
			       fs.st.busy[i] ? ", APDU pending" : "");
	}
	if (fs.have_sx)
		printf("  counters     msgs_in %llu msgs_out %llu apdus %llu replies %llu errors %llu bad_msgs %llu time_ext %llu aborts %llu notify %llu\n",
		       (unsigned long long)fs.sx.msgs_in, (unsigned long long)fs.sx.msgs_out,
		       (unsigned long long)fs.sx.apdus, (unsigned long long)fs.sx.replies,
		       (unsigned long long)fs.sx.errors, (unsigned long long)fs.sx.bad_msgs,
		       (unsigned long long)fs.sx.time_ext, (unsigned long long)fs.sx.aborts,
		       (unsigned long long)fs.sx.notify);
}

static void usage_status(FILE *f)
{
	fprintf(f,
		"Usage: ccidctl status [--json]\n"
		"\n"
		"Every ccid function in configfs: its attributes, char device,\n"
		"slots (empty, present, powered; APDU pending) and the kernel's\n"
		"counters. Readable while a daemon serves the cards.\n"
		"\n"
		"Options:\n"
		"  -j, --json          one JSON object instead of text\n"
		"  -h, --help          this help\n");
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, first = true;
	const char *root = GADGET_CONFIGFS;
	char gdir[4096], fdir[8192];
	struct dirent **gl = NULL, **fl = NULL;
	int ng, nf, n = 0, c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage_status(stdout);
			return 0;
		default:
			usage_status(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ccidctl status: unexpected argument '%s'\n", argv[optind]);
		usage_status(stderr);
		return EXIT_USAGE;
	}
	ng = scandir(root, &gl, NULL, name_cmp);
	if (ng < 0) {
		fprintf(stderr, "ccidctl status: %s: %s (configfs mounted? libcomposite loaded?)\n",
			root, strerror(errno));
		return 1;
	}
	if (json)
		printf("{\"functions\": [");
	for (int i = 0; i < ng; i++) {
		const char *gname = gl[i]->d_name;

		if (gname[0] == '.')
			continue;
		snprintf(gdir, sizeof(gdir), "%s/%s/functions", root, gname);
		nf = scandir(gdir, &fl, NULL, name_cmp);
		for (int k = 0; k < nf; k++) {
			if (!strncmp(fl[k]->d_name, "ccid.", 5)) {
				snprintf(fdir, sizeof(fdir), "%s/%s", gdir, fl[k]->d_name);
				if (json)
					status_json(gname, fdir, fl[k]->d_name, &first);
				else
					status_text(gname, fdir, fl[k]->d_name);
				n++;
			}
			free(fl[k]);
		}
		free(fl);
		fl = NULL;
	}
	for (int i = 0; i < ng; i++)
		free(gl[i]);
	free(gl);
	if (json)
		printf("%s]}\n", n ? "\n" : "");
	else if (!n)
		printf("no ccid functions in %s\n", root);
	return 0;
}
