// SPDX-License-Identifier: GPL-2.0
/*
 * test_xml.c -- ccidctl's XML reader: libvirt's own test data, our own,
 * every error path with its line number, and hostile input.
 *
 * Data: $CCID_SHARED_DIR (default ../shared, beside the repository) for
 * libvirt's files, $CCID_REPO_DIR (default .) for tests/data/xml and
 * docs/examples. Run from the repository root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#include "config.h"
#include "diag.h"
#include "xml.h"

#define NS "xmlns:ccid='" CCIDCTL_XMLNS "'"

static char shared[8192];
static char repo[4096];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* helpers */

struct result {
	int rc;
	struct cfg *cfg;
	char *errs;
};

static void result_free(struct result *r)
{
	cfg_free(r->cfg);
	free(r->errs);
	memset(r, 0, sizeof(*r));
}

static struct result load_buf(const char *xml)
{
	struct result r = { 0 };
	struct diag d;

	diag_init(&d, "t.xml");
	r.rc = xmlcfg_load_buffer(xml, strlen(xml), "t.xml", NULL, &r.cfg, &d);
	r.errs = diag_join(&d);
	diag_free(&d);
	return r;
}

static struct result load_path(const char *path)
{
	struct result r = { 0 };
	struct diag d;

	diag_init(&d, path);
	r.rc = xmlcfg_load_file(path, NULL, &r.cfg, &d);
	r.errs = diag_join(&d);
	diag_free(&d);
	return r;
}

static struct result load_shared(const char *name)
{
	char path[16384];

	snprintf(path, sizeof(path), "%s/conformance/libvirt/%s", shared, name);
	return load_path(path);
}

static struct result load_repo(const char *name)
{
	char path[16384];

	snprintf(path, sizeof(path), "%s/%s", repo, name);
	return load_path(path);
}

static const struct cfg_card *card_at(const struct cfg *cfg, unsigned int ctl,
				      unsigned int slot)
{
	size_t i;

	for (i = 0; cfg && i < cfg->ncards; i++)
		if (cfg->cards[i].controller == ctl && cfg->cards[i].slot == slot)
			return &cfg->cards[i];
	return NULL;
}

/* Show messages as TAP comments, one a line. */
static void show(const char *errs)
{
	const char *p = errs ? errs : "(no messages)";

	while (*p) {
		size_t n = strcspn(p, "\n");

		diag("%.*s", (int)n, p);
		p += n;
		if (*p)
			p++;
	}
}

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The document is refused and the messages contain @want. */
static void refused(const char *xml, const char *want, const char *what)
{
	struct result r = load_buf(xml);

	if (!ok(r.rc == -1 && r.cfg == NULL && r.errs && strstr(r.errs, want),
		"refused: %s", what)) {
		diag("rc %d, wanted '%s' in:", r.rc, want);
		show(r.errs);
	}
	result_free(&r);
}

/* ------------------------------------------------------------------ */
/* libvirt's files */

static void test_conformance(void)
{
	struct result r;
	const struct cfg_card *c;

	r = load_shared("seed-smartcard-host.xml");
	ok(r.rc == 0, "seed-smartcard-host.xml accepted");
	if (r.rc)
		show(r.errs);
	c = card_at(r.cfg, 0, 0);
	ok(r.cfg && r.cfg->ncards == 1 && c && c->mode == CFG_MODE_HOST &&
	   c->addr_assigned,
	   "seed-smartcard-host: mode host, address assigned controller 0 slot 0");
	ok(r.cfg && r.cfg->nctrls == 1 && r.cfg->ctrls[0].index == 0 &&
	   r.cfg->ctrls[0].implied && r.cfg->ctrls[0].nslots == 1,
	   "seed-smartcard-host: controller 0 implied, 1 slot");
	result_free(&r);

	/* libvirt's normalized output of that input: the same result */
	r = load_shared("smartcard-host.x86_64-latest.xml");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && r.cfg->ncards == 1 && c && c->mode == CFG_MODE_HOST &&
	   !c->addr_assigned && r.cfg->nctrls == 1 &&
	   !r.cfg->ctrls[0].implied && r.cfg->ctrls[0].nslots == 1,
	   "smartcard-host.x86_64-latest.xml: the same card, address and controller explicit");
	result_free(&r);

	r = load_shared("seed-smartcard-controller.xml");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->mode == CFG_MODE_HOST && c->has_address &&
	   r.cfg->nctrls == 1 && !r.cfg->ctrls[0].implied,
	   "seed-smartcard-controller.xml: declared controller 0, card in slot 0");
	result_free(&r);

	r = load_shared("seed-smartcard-host-certificates.xml");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->mode == CFG_MODE_HOST_CERTIFICATES &&
	   streq(c->cert[0], "cert1") && streq(c->cert[1], "cert2") &&
	   streq(c->cert[2], "cert3"),
	   "seed-smartcard-host-certificates.xml: three certificates");
	ok(c && !c->database_given && streq(c->database, "/etc/pki/nssdb"),
	   "seed-smartcard-host-certificates.xml: database defaults to /etc/pki/nssdb");
	result_free(&r);

	r = load_shared("smartcard-host-certificates-database.xml");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->database_given &&
	   streq(c->database, "/tmp/foo"),
	   "smartcard-host-certificates-database.xml: database /tmp/foo");
	result_free(&r);

	r = load_shared("seed-smartcard-passthrough-tcp.xml");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->mode == CFG_MODE_PASSTHROUGH &&
	   c->chr.type == CFG_CHR_TCP && c->chr.mode == CFG_CHR_CONNECT &&
	   streq(c->chr.host, "127.0.0.1") && streq(c->chr.service, "2001") &&
	   c->chr.proto == CFG_PROTO_RAW && c->wire == CFG_WIRE_VSCARD,
	   "seed-smartcard-passthrough-tcp.xml: tcp connect 127.0.0.1:2001, raw, vscard");
	result_free(&r);

	r = load_shared("smartcard-passthrough-tcp.xml");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->chr.type == CFG_CHR_TCP &&
	   c->chr.mode == CFG_CHR_BIND && streq(c->chr.service, "2001"),
	   "smartcard-passthrough-tcp.xml: tcp bind");
	result_free(&r);

	r = load_shared("chardev-reconnect.xml");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && r.cfg->ncards == 1 && r.cfg->nctrls == 1,
	   "chardev-reconnect.xml: one smartcard, the other devices ignored");
	ok(c && c->chr.type == CFG_CHR_UNIX && c->chr.mode == CFG_CHR_CONNECT &&
	   streq(c->chr.path, "/var/lib/libvirt/qemu/channel/target/asdf") &&
	   c->chr.reconnect && c->chr.reconnect_timeout == 20,
	   "chardev-reconnect.xml: unix connect, reconnect after 20 s");
	result_free(&r);

	r = load_shared("smartcard-passthrough-spicevmc.xml");
	ok(r.rc == -1 && r.cfg == NULL && r.errs &&
	   strstr(r.errs, "smartcard-passthrough-spicevmc.xml:13: smartcard mode='passthrough' type='spicevmc' is not supported"),
	   "smartcard-passthrough-spicevmc.xml refused, file and line named");
	show(r.errs);
	result_free(&r);
}

/* ------------------------------------------------------------------ */
/* our own files */

static void test_own_files(void)
{
	struct result r;
	const struct cfg_card *c;
	const struct cfg_controller *k;

	r = load_repo("tests/data/xml/multi.xml");
	ok(r.rc == 0 && r.cfg->ncards == 5 && r.cfg->nctrls == 3,
	   "multi.xml: 5 smartcards on 3 controllers");
	if (r.rc)
		show(r.errs);
	if (r.rc == 0) {
		k = cfg_find_controller(r.cfg, 0);
		ok(k && k->implied && k->nslots == 5 && k->ncards == 3,
		   "multi.xml: controller 0 implied, sized by its highest slot (5)");
		k = cfg_find_controller(r.cfg, 1);
		ok(k && !k->implied && k->nslots == 4,
		   "multi.xml: controller 1 declared with ccid:slots='4'");
		k = cfg_find_controller(r.cfg, 3);
		ok(k && k->implied && k->nslots == 1,
		   "multi.xml: controller 3 implied by an address");
		c = card_at(r.cfg, 0, 3);
		ok(c && c->mode == CFG_MODE_HOST && c->addr_assigned &&
		   c->line == 10,
		   "multi.xml: first card without address -> controller 0 slot 3 (after the highest, 2)");
		c = card_at(r.cfg, 0, 4);
		ok(c && c->addr_assigned && c->chr.type == CFG_CHR_TCP &&
		   c->wire == CFG_WIRE_VPCD && c->chr.reconnect &&
		   c->chr.reconnect_timeout == 5,
		   "multi.xml: second card without address -> slot 4; vpcd, reconnect 5 s");
		c = card_at(r.cfg, 0, 2);
		ok(c && c->chr.type == CFG_CHR_UNIX &&
		   c->chr.mode == CFG_CHR_BIND &&
		   streq(c->chr.path, "/run/ccidctl/card0.sock"),
		   "multi.xml: unix bind at controller 0 slot 2");
		c = card_at(r.cfg, 1, 2);
		ok(c && streq(c->cert[0], "Alice Sign") &&
		   streq(c->database, "/var/lib/ccidctl/nssdb"),
		   "multi.xml: certificates with spaces, database given");
		c = card_at(r.cfg, 3, 0);
		ok(c && streq(c->alias, "ua-third-reader"),
		   "multi.xml: alias kept");
		ok(r.cfg->cards[0].controller == 0 &&
		   r.cfg->cards[0].slot == 2 && r.cfg->cards[4].controller == 3,
		   "multi.xml: cards sorted by controller and slot");
	}
	result_free(&r);

	r = load_repo("tests/data/xml/devices-fragment.xml");
	c = card_at(r.cfg, 0, 2);
	ok(r.rc == 0 && r.cfg->ncards == 2 && c && c->addr_assigned &&
	   c->chr.type == CFG_CHR_UNIX && c->chr.mode == CFG_CHR_CONNECT &&
	   c->chr.reconnect_given && !c->chr.reconnect,
	   "devices-fragment.xml: <devices> alone; unix, mode defaults to connect, reconnect off");
	result_free(&r);

	r = load_repo("tests/data/xml/smartcard-vpcd.xml");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->wire_given && c->wire == CFG_WIRE_VPCD &&
	   c->chr.mode == CFG_CHR_BIND && streq(c->chr.service, "35963"),
	   "smartcard-vpcd.xml: a lone <smartcard>, vpcd extension");
	result_free(&r);

	r = load_repo("docs/examples/demo.xml");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->mode == CFG_MODE_HOST_CERTIFICATES &&
	   r.cfg->ctrls[0].nslots == 2,
	   "docs/examples/demo.xml: valid, host-certificates in slot 0 of 2");
	if (r.rc)
		show(r.errs);
	result_free(&r);
}

/* ------------------------------------------------------------------ */
/* resolution rules, in memory */

/* What libvirt accepts and ccidctl must accept too, or refuse clearly. */
static void test_libvirt_fidelity(void)
{
	struct result r;
	const struct cfg_card *c;

	r = load_buf("<smartcard mode='passthrough' type='tcp'>\n"
		     "  <source mode='connect' host='h' service='1' tls='yes'/>\n"
		     "</smartcard>\n");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->chr.tls && c->chr.tls_given,
	   "<source tls='yes'> on a tcp chardev is accepted");
	if (r.rc)
		show(r.errs);
	result_free(&r);

	r = load_buf("<smartcard mode='passthrough' type='tcp'>\n"
		     "  <source mode='connect' host='h' service='1' tls='no'/>\n"
		     "</smartcard>\n");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && !c->chr.tls && c->chr.tls_given,
	   "<source tls='no'> is accepted");
	result_free(&r);

	r = load_buf("<smartcard mode='passthrough' type='tcp'>\n"
		     "  <source mode='connect' host='h' service='1'/>\n"
		     "  <protocol/>\n</smartcard>\n");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->chr.proto == CFG_PROTO_RAW,
	   "<protocol/> without a type is raw, as libvirt reads it");
	if (r.rc)
		show(r.errs);
	result_free(&r);

	r = load_buf("<devices>\n"
		     "  <smartcard mode='host'>\n"
		     "    <acpi index='3'/>\n"
		     "    <address type='ccid' controller='0' slot='0'/>\n"
		     "  </smartcard>\n</devices>\n");
	ok(r.rc == 0 && card_at(r.cfg, 0, 0),
	   "<acpi index='3'/> inside <smartcard> is accepted and ignored");
	if (r.rc)
		show(r.errs);
	result_free(&r);

	refused("<smartcard mode='passthrough' type='qemu-vdagent'>\n"
		"  <source>\n    <clipboard copypaste='yes'/>\n"
		"    <mouse mode='client'/>\n  </source>\n</smartcard>\n",
		"t.xml:1: smartcard mode='passthrough' type='qemu-vdagent' is not supported",
		"type='qemu-vdagent' with <source><clipboard/>: the type is named, not a schema error");
	r = load_buf("<smartcard mode='passthrough' type='qemu-vdagent'>\n"
		     "  <source><clipboard copypaste='yes'/></source>\n</smartcard>\n");
	ok(r.rc == -1 && r.errs && !strstr(r.errs, "schema"),
	   "... and no schema message beside it");
	if (r.errs && strstr(r.errs, "schema"))
		show(r.errs);
	result_free(&r);
}

static void test_resolution(void)
{
	struct result r;
	const struct cfg_card *c;

	/* libvirt: an address-less card goes after every explicit slot */
	r = load_buf("<devices>\n"
		     "  <smartcard mode='host'/>\n"
		     "  <smartcard mode='host'><address type='ccid' controller='0' slot='0'/></smartcard>\n"
		     "</devices>\n");
	c = card_at(r.cfg, 0, 1);
	ok(r.rc == 0 && c && c->line == 2 && c->addr_assigned,
	   "a card without address before one in slot 0 gets slot 1, as libvirt does");
	result_free(&r);

	r = load_buf("<devices>\n"
		     "  <smartcard mode='host'><address type='ccid' controller='0' slot='15'/></smartcard>\n"
		     "  <smartcard mode='host'/>\n"
		     "</devices>\n");
	c = card_at(r.cfg, 0, 0);
	ok(r.rc == 0 && c && c->line == 3,
	   "when the slot after the highest would be 16, the lowest free one is taken");
	result_free(&r);

	r = load_buf("<devices>\n"
		     "  <smartcard mode='host'><address type='ccid' controller='2' slot='1'/></smartcard>\n"
		     "  <smartcard mode='host'/>\n"
		     "</devices>\n");
	ok(r.rc == 0 && card_at(r.cfg, 0, 0) && card_at(r.cfg, 2, 1) &&
	   r.cfg->nctrls == 2 && r.cfg->ctrls[1].nslots == 2,
	   "cards on another controller do not count for controller 0; controller 2 implied with 2 slots");
	result_free(&r);

	r = load_buf("<devices>\n"
		     "  <controller type='ccid'/>\n"
		     "  <controller type='ccid' index='0'/>\n"
		     "</devices>\n");
	ok(r.rc == 0 && r.cfg->nctrls == 2 && r.cfg->ctrls[0].index == 0 &&
	   r.cfg->ctrls[1].index == 1 && r.cfg->ctrls[0].nslots == 1,
	   "a controller without index gets the lowest unused one; an empty reader has 1 slot");
	result_free(&r);

	r = load_buf("<smartcard mode='passthrough' type='tcp'>"
		     "<source mode='bind' host='::' service='vscard'/></smartcard>");
	ok(r.rc == 0, "a service name is accepted as well as a port");
	result_free(&r);

	r = load_buf("<?xml version='1.0'?>\n<!DOCTYPE smartcard>\n<smartcard mode='host'/>\n");
	ok(r.rc == 0, "a DOCTYPE without internal subset is harmless and accepted");
	result_free(&r);

	{
		char xml[8192];
		size_t n = 0;
		int i;

		n += (size_t)snprintf(xml + n, sizeof(xml) - n, "<devices>\n");
		for (i = 0; i < 16; i++)
			n += (size_t)snprintf(xml + n, sizeof(xml) - n,
					      "<smartcard mode='host'/>\n");
		snprintf(xml + n, sizeof(xml) - n, "</devices>\n");
		r = load_buf(xml);
		ok(r.rc == 0 && r.cfg->ncards == 16 &&
		   r.cfg->ctrls[0].nslots == 16,
		   "16 cards without address fill controller 0");
		result_free(&r);

		n = (size_t)snprintf(xml, sizeof(xml), "<devices>\n");
		for (i = 0; i < 17; i++)
			n += (size_t)snprintf(xml + n, sizeof(xml) - n,
					      "<smartcard mode='host'/>\n");
		snprintf(xml + n, sizeof(xml) - n, "</devices>\n");
		refused(xml, "t.xml:18: no free slot on controller 0 for this smartcard",
			"a 17th card without address");
	}
}

/* ------------------------------------------------------------------ */
/* every error, with its line */

static void test_errors(void)
{
	static const char *const bad_types[] = {
		"spicevmc", "pty", "file", "vc", "null", "udp", "stdio",
		"pipe", "dev", "spiceport",
	};
	char xml[1024], want[256];
	size_t i;

	refused("<devices>\n"
		"  <smartcard mode='host-certificates'>\n"
		"    <certificate>a</certificate>\n"
		"    <certificate>b</certificate>\n"
		"  </smartcard>\n"
		"</devices>\n",
		"t.xml:2: smartcard mode='host-certificates' needs exactly three <certificate>, found 2",
		"host-certificates with 2 certificates");
	refused("<smartcard mode='host-certificates'>\n"
		"<certificate>a</certificate><certificate>b</certificate>\n"
		"<certificate>c</certificate><certificate>d</certificate>\n"
		"</smartcard>\n",
		"t.xml:1: smartcard mode='host-certificates' needs exactly three <certificate>, found 4",
		"host-certificates with 4 certificates");
	refused("<smartcard mode='host-certificates'/>\n",
		"t.xml:1: smartcard mode='host-certificates' needs exactly three <certificate>, found 0",
		"host-certificates without certificates");
	refused("<smartcard mode='host-certificates'>\n"
		"<certificate>a</certificate>\n<certificate>  </certificate>\n"
		"<certificate>c</certificate>\n</smartcard>\n",
		"t.xml:3: <certificate> is empty",
		"an empty certificate name");
	refused("<smartcard mode='host-certificates'>\n"
		"<certificate>a</certificate>\n<certificate>b,c</certificate>\n"
		"<certificate>c</certificate>\n</smartcard>\n",
		"t.xml:3: certificate nickname 'b,c' cannot be used",
		"a certificate name with a comma");
	refused("<smartcard mode='host-certificates'>\n"
		"<certificate>a</certificate><certificate>b</certificate>"
		"<certificate>c</certificate>\n"
		"<database>nssdb</database>\n</smartcard>\n",
		"t.xml:3: <database> must be an absolute directory path, not 'nssdb'",
		"a relative database");
	refused("<devices>\n"
		"  <smartcard mode='host'>\n"
		"    <certificate>a</certificate>\n"
		"  </smartcard>\n"
		"</devices>\n",
		"t.xml:3: smartcard mode='host' takes no <certificate> (found 1)",
		"a certificate in mode host");
	refused("<smartcard mode='passthrough' type='tcp'>\n"
		"<source mode='connect' host='h' service='1'/>\n"
		"<database>/x</database>\n</smartcard>\n",
		"t.xml:3: smartcard mode='passthrough' takes no <database>",
		"a database in mode passthrough");
	refused("<devices>\n\n  <smartcard mode='passthrough'>\n"
		"    <source mode='connect' host='h' service='1'/>\n"
		"  </smartcard>\n</devices>\n",
		"t.xml:3: smartcard mode='passthrough' needs a type attribute",
		"passthrough without type");
	for (i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		snprintf(xml, sizeof(xml),
			 "<devices>\n<smartcard mode='passthrough' type='%s'/>\n</devices>\n",
			 bad_types[i]);
		snprintf(want, sizeof(want),
			 "t.xml:2: smartcard mode='passthrough' type='%s' is not supported",
			 bad_types[i]);
		refused(xml, want, bad_types[i]);
	}
	refused("<smartcard mode='host' type='tcp'/>\n",
		"t.xml:1: smartcard mode='host' takes no type attribute",
		"a chardev type in mode host");
	refused("<smartcard mode='passthrough' type='tcp'>\n</smartcard>\n",
		"t.xml:1: smartcard type='tcp' needs a <source> element",
		"tcp without source");
	refused("<smartcard mode='passthrough' type='tcp'>\n"
		"<source mode='connect' host='h' service='1'/>\n"
		"<source mode='bind' host='h' service='2'/>\n</smartcard>\n",
		"t.xml:1: smartcard type='tcp' takes one <source> element, found 2",
		"two sources");
	refused("<smartcard mode='passthrough' type='tcp'>\n"
		"  <source mode='connect' host='h'/>\n</smartcard>\n",
		"t.xml:2: <source> of type='tcp' needs a service attribute",
		"tcp without service");
	refused("<smartcard mode='passthrough' type='tcp'>\n"
		"  <source mode='connect' service='1'/>\n</smartcard>\n",
		"t.xml:2: <source> of type='tcp' needs a host attribute",
		"tcp without host");
	refused("<smartcard mode='passthrough' type='tcp'>\n"
		"  <source mode='connect' host='h' service='70000'/>\n</smartcard>\n",
		"t.xml:2: <source> service='70000' is not a port number",
		"tcp port out of range");
	refused("<smartcard mode='passthrough' type='unix'>\n"
		"  <source mode='bind'/>\n</smartcard>\n",
		"t.xml:2: <source> of type='unix' needs a path attribute",
		"unix without path");
	refused("<smartcard mode='passthrough' type='unix'>\n"
		"  <source mode='bind' path='card.sock'/>\n</smartcard>\n",
		"t.xml:2: <source> path='card.sock' must be an absolute path",
		"unix with a relative path");
	snprintf(xml, sizeof(xml),
		 "<smartcard mode='passthrough' type='unix'>\n"
		 "  <source mode='bind' path='/%0120d'/>\n</smartcard>\n", 0);
	refused(xml, "t.xml:2: <source> path is 121 bytes long",
		"unix path longer than sun_path");
	refused("<smartcard mode='passthrough' type='tcp'>\n"
		"  <source mode='connect' host='h' service='1'/>\n"
		"  <protocol type='telnet'/>\n</smartcard>\n",
		"t.xml:1: <protocol type='telnet'> is not supported",
		"protocol telnet");
	refused("<smartcard mode='passthrough' type='unix'>\n"
		"  <source mode='connect' path='/s' tls='yes'/>\n"
		"</smartcard>\n",
		"t.xml:2: <source tls='yes'> applies to type='tcp' only",
		"tls on a unix socket");
	refused("<smartcard mode='passthrough' type='tcp'>\n"
		"  <source mode='bind' host='h' service='1'>\n"
		"    <clipboard copypaste='yes'/>\n"
		"  </source>\n</smartcard>\n",
		"t.xml:3: <source> of type='tcp' has no <clipboard> child",
		"a qemu-vdagent <clipboard/> in a tcp source");
	refused("<smartcard mode='passthrough' type='tcp'>\n"
		"  <source mode='bind' host='h' service='1'>\n"
		"    <reconnect enabled='yes' timeout='3'/>\n"
		"  </source>\n</smartcard>\n",
		"t.xml:2: <reconnect> is possible only with <source mode='connect'>",
		"reconnect with bind");
	refused("<smartcard mode='passthrough' type='unix'>\n"
		"  <source mode='connect' path='/s'>\n"
		"    <reconnect enabled='yes'/>\n"
		"  </source>\n</smartcard>\n",
		"t.xml:2: <reconnect enabled='yes'> needs a timeout attribute",
		"reconnect without timeout");
	refused("<smartcard mode='host' " NS ">\n"
		"  <ccid:wire protocol='vpcd'/>\n</smartcard>\n",
		"t.xml:1: <ccid:wire> applies to mode='passthrough' only",
		"the vpcd extension outside passthrough");
	refused("<devices>\n"
		"  <smartcard mode='host'><address type='ccid' controller='0' slot='1'/></smartcard>\n"
		"  <smartcard mode='host'>\n"
		"    <address type='ccid' controller='0' slot='1'/>\n"
		"  </smartcard>\n"
		"</devices>\n",
		"t.xml:3: two smartcards in controller 0 slot 1: this one and the one at line 2",
		"two smartcards in one slot");
	refused("<devices>\n"
		"  <smartcard mode='host'>\n"
		"    <address type='ccid' controller='0' slot='16'/>\n"
		"  </smartcard>\n</devices>\n",
		"t.xml:3: slot='16' is out of range: a reader has slots 0-15",
		"slot 16");
	refused("<smartcard mode='host'>\n"
		"  <address type='ccid' controller='256'/>\n</smartcard>\n",
		"t.xml:2: controller='256' is out of range",
		"controller 256");
	refused("<smartcard mode='host'>\n"
		"  <address type='usb' bus='0' port='1'/>\n</smartcard>\n",
		"t.xml:2: smartcard <address type='usb'> is not supported",
		"a usb address on a smartcard");
	refused("<devices " NS ">\n"
		"  <controller type='ccid' index='0' ccid:slots='2'/>\n"
		"  <smartcard mode='host'>\n"
		"    <address type='ccid' controller='0' slot='3'/>\n"
		"  </smartcard>\n</devices>\n",
		"t.xml:3: smartcard in slot 3, but controller 0 has ccid:slots='2'",
		"a card beyond the declared slots");
	refused("<devices " NS ">\n"
		"  <controller type='ccid' index='0' ccid:slots='17'/>\n"
		"</devices>\n",
		"t.xml:2: ccid:slots='17' is out of range: a reader has 1-16 slots",
		"ccid:slots 17");
	refused("<devices>\n"
		"  <controller type='ccid' index='1'/>\n"
		"  <controller type='ccid' index='1'/>\n"
		"</devices>\n",
		"t.xml:3: <controller type='ccid' index='1'> is declared twice (first at line 2)",
		"a controller declared twice");
	refused("<devices>\n"
		"  <controller type='ccid' index='0' model='x'/>\n"
		"</devices>\n",
		"t.xml:2: <controller type='ccid'> has no attribute model",
		"an unknown attribute on a ccid controller");
	refused("<domain type='kvm'>\n  <devices/>\n  <devices/>\n</domain>\n",
		"t.xml:3: a domain has one <devices> element",
		"two <devices>");

	/* the schema's own findings, with their line */
	refused("<devices>\n"
		"  <smartcard mode='host'/>\n"
		"  <smartcard mode='host' colour='red'/>\n"
		"</devices>\n",
		"t.xml:3: does not match the ccidctl schema: Invalid attribute colour for element smartcard",
		"an unknown attribute (schema)");
	refused("<devices>\n"
		"  <smartcard mode='host'>\n"
		"    <certificat>a</certificat>\n"
		"  </smartcard>\n"
		"</devices>\n",
		"t.xml:3: does not match the ccidctl schema",
		"an unknown element in <smartcard> (schema)");
	refused("<smartcard mode='guest'/>\n",
		"t.xml:1: does not match the ccidctl schema",
		"an unknown mode (schema)");
	refused("<devices>\n"
		"  <smartcard mode='passthrough' type='tcp'>\n"
		"    <source mode='listen' host='h' service='1'/>\n"
		"  </smartcard>\n"
		"</devices>\n",
		"t.xml:3: does not match the ccidctl schema",
		"source mode='listen' (schema)");
	refused("<devices " NS ">\n"
		"  <smartcard mode='host'/>\n"
		"  <ccid:bogus/>\n"
		"</devices>\n",
		"does not match the ccidctl schema",
		"an unknown element of the ccid namespace");
	refused("<smartcard mode='host'>\n"
		"  <address type='ccid' controller='0' slot='x'/>\n"
		"</smartcard>\n",
		"t.xml:2: does not match the ccidctl schema",
		"a slot that is not a number (schema)");
	refused("<foo/>\n", "t.xml:1: does not match the ccidctl schema",
		"a root element that is none of domain, devices, smartcard");
	refused("<smartcard xmlns='urn:x' mode='host'/>\n",
		"does not match the ccidctl schema",
		"smartcard in another namespace");

	{
		size_t cap = 1100 * 32, n = 0, i;
		char *many = malloc(cap);

		n += (size_t)snprintf(many + n, cap - n, "<devices>\n");
		for (i = 0; i < 1100; i++)
			n += (size_t)snprintf(many + n, cap - n,
					      "<smartcard mode='host'/>\n");
		snprintf(many + n, cap - n, "</devices>\n");
		refused(many, "t.xml:1026: too many <smartcard>: at most 1024",
			"1100 smartcards");
		free(many);
	}
	{
		struct result r = load_buf(
			"<devices " NS ">\n"
			"  <controller type='ccid' index='0' ccid:slots='0'/>\n"
			"  <smartcard mode='host-certificates'/>\n"
			"</devices>\n");

		ok(r.rc == -1 && r.errs &&
		   strstr(r.errs, "t.xml:2: ccid:slots='0' is out of range") &&
		   strstr(r.errs, "t.xml:3: smartcard mode='host-certificates' needs exactly three"),
		   "a controller error does not hide a smartcard error");
		result_free(&r);
	}

	/* several problems at once are all reported */
	{
		struct result r = load_buf(
			"<devices>\n"
			"  <smartcard mode='host-certificates'/>\n"
			"  <smartcard mode='passthrough'/>\n"
			"</devices>\n");

		ok(r.rc == -1 && r.errs &&
		   strstr(r.errs, "t.xml:2: smartcard mode='host-certificates'") &&
		   strstr(r.errs, "t.xml:3: smartcard mode='passthrough' needs a type"),
		   "every error is reported, not only the first");
		result_free(&r);
	}
}

/* ------------------------------------------------------------------ */
/* hostile and broken input */

static const char laughs[] =
	"<?xml version='1.0'?>\n"
	"<!DOCTYPE smartcard [\n"
	" <!ENTITY a 'lollollollollollollollollollollollollollollollol'>\n"
	" <!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>\n"
	" <!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>\n"
	" <!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>\n"
	" <!ENTITY e '&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;'>\n"
	" <!ENTITY f '&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;'>\n"
	" <!ENTITY g '&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;'>\n"
	" <!ENTITY h '&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;'>\n"
	"]>\n"
	"<smartcard mode='host-certificates'>\n"
	"<certificate>&h;</certificate><certificate>&h;</certificate>"
	"<certificate>&h;</certificate>\n</smartcard>\n";

/* Run @fn with stderr redirected; true if nothing was written there. */
static int quiet_stderr(void (*fn)(void))
{
	char path[] = "/tmp/test_xml_stderr.XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(2);
	struct stat st;

	if (fd < 0 || saved < 0)
		return 0;
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fstat(fd, &st);
	close(fd);
	unlink(path);
	return st.st_size == 0;
}

static void broken_docs(void)
{
	static const char *const docs[] = {
		"<devices>\n<smartcard mode='host'>\n</smartcrd>\n</devices>\n",
		"<smartcard mode='host'",
		"<smartcard mode='host'/><smartcard mode='host'/>",
		laughs,
		"\xff\xfe\x00<",
	};
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct result r = load_buf(docs[i]);

		result_free(&r);
	}
}

static void test_hostile(void)
{
	struct result r;
	double t0;
	char path[] = "/tmp/test_xml_big.XXXXXX";
	int fd;

	t0 = now();
	r = load_buf(laughs);
	ok(r.rc == -1 && r.errs &&
	   strstr(r.errs, "t.xml:2: a DOCTYPE with an internal subset is not accepted"),
	   "billion laughs: refused at the DOCTYPE, line 2");
	ok(now() - t0 < 1.0, "billion laughs: refused in %.3f s", now() - t0);
	result_free(&r);

	refused("<?xml version='1.0'?>\n"
		"<!DOCTYPE smartcard [ <!ENTITY xxe SYSTEM 'file:///etc/passwd'> ]>\n"
		"<smartcard mode='host-certificates'><certificate>&xxe;</certificate>"
		"<certificate>b</certificate><certificate>c</certificate></smartcard>\n",
		"t.xml:2: a DOCTYPE with an internal subset is not accepted",
		"external entity (file:///etc/passwd)");
	refused("<!DOCTYPE smartcard [\n<!ENTITY % p SYSTEM 'http://127.0.0.1:9/x.dtd'>\n%p;\n]>\n"
		"<smartcard mode='host'/>\n",
		"t.xml:1: a DOCTYPE with an internal subset is not accepted",
		"external parameter entity");
	refused("<?xml version='1.0'?>\n"
		"<!DOCTYPE smartcard SYSTEM 'http://127.0.0.1:9/evil.dtd'>\n"
		"<smartcard mode='host-certificates'><certificate>&xxe;</certificate>"
		"<certificate>b</certificate><certificate>c</certificate></smartcard>\n",
		"t.xml:3: Entity 'xxe' not defined",
		"an entity from an external DTD, which is never loaded");

	{
		/* an external DTD on disk that defines the entity: never read */
		char dtd[] = "/tmp/test_xml_dtd.XXXXXX", xml[512];
		int dfd = mkstemp(dtd);
		static const char decl[] =
			"<!ENTITY xxe SYSTEM 'file:///etc/hostname'>\n";

		if (dfd >= 0 && write(dfd, decl, sizeof(decl) - 1) > 0) {
			close(dfd);
			snprintf(xml, sizeof(xml),
				 "<!DOCTYPE smartcard SYSTEM '%s'>\n"
				 "<smartcard mode='host-certificates'><certificate>&xxe;</certificate>"
				 "<certificate>b</certificate><certificate>c</certificate></smartcard>\n",
				 dtd);
			refused(xml, "t.xml:2: Entity 'xxe' not defined",
				"an external DTD on disk is not loaded");
		} else {
			ok(0, "cannot write a DTD in /tmp");
		}
		unlink(dtd);
	}
	refused("<devices>\n  <controller type='ccid' ccid:slots='2'/>\n</devices>\n",
		"t.xml:2: Namespace prefix ccid for slots on controller is not defined",
		"an undeclared namespace prefix");

	refused("<devices>\n  <smartcard mode='host'>\n  </smartcrd>\n</devices>\n",
		"t.xml:3: Opening and ending tag mismatch: smartcard line 2 and smartcrd",
		"malformed: mismatched end tag, line given");
	refused("<smartcard mode='host'", "t.xml:1:", "malformed: truncated");
	refused("", "Document is empty", "malformed: empty document");
	refused("<smartcard mode='host'/>\n<smartcard mode='host'/>\n",
		"t.xml:2: Extra content at the end of the document",
		"malformed: two root elements");
	refused("<smartcard mode=host/>\n", "t.xml:1:",
		"malformed: unquoted attribute");
	refused("<smartcard mode='host'>\n\n&#0;</smartcard>\n", "t.xml:3:",
		"malformed: character reference to NUL");

	{
		/* 10000 nested elements: libxml2's depth limit, not our stack */
		size_t n = 10000, i;
		char *deep = malloc(n * 7 + 64), *p = deep;

		p += sprintf(p, "<domain type='kvm'>");
		for (i = 0; i < n; i++)
			p += sprintf(p, "<a>");
		for (i = 0; i < n; i++)
			p += sprintf(p, "</a>");
		sprintf(p, "</domain>");
		r = load_buf(deep);
		ok(r.rc == -1 && r.errs && strstr(r.errs, "t.xml:1:"),
		   "10000 nested elements refused by the depth limit");
		result_free(&r);
		free(deep);
	}

	ok(quiet_stderr(broken_docs),
	   "libxml2 writes nothing to stderr: its errors are all captured");

	/* a 100 MB file: refused from its size, without reading it */
	fd = mkstemp(path);
	if (fd >= 0 && ftruncate(fd, 100L * 1024 * 1024) == 0) {
		close(fd);
		t0 = now();
		r = load_path(path);
		ok(r.rc == -1 && r.errs &&
		   strstr(r.errs, "file is 104857600 bytes, more than the 1048576-byte limit"),
		   "a 100 MB file is refused with its size");
		ok(now() - t0 < 0.5, "a 100 MB file is refused in %.4f s",
		   now() - t0);
		result_free(&r);
	} else {
		ok(0, "cannot make a 100 MB file in /tmp: %s", strerror(errno));
		ok(0, "skipped");
	}
	unlink(path);

	{
		size_t n = XMLCFG_MAX_SIZE + 1;
		char *big = malloc(n + 1);
		struct diag d;
		struct cfg *cfg;
		int rc;

		memset(big, ' ', n);
		memcpy(big, "<devices>", 9);
		big[n] = '\0';
		diag_init(&d, "big.xml");
		rc = xmlcfg_load_buffer(big, n, "big.xml", NULL, &cfg, &d);
		ok(rc == -1 && d.n == 1 &&
		   strstr(d.msgs[0].text, "1048577 bytes is more than the 1048576-byte limit"),
		   "a buffer one byte over the limit is refused");
		diag_free(&d);
		free(big);
	}

	r = load_path("/nonexistent/ccidctl.xml");
	ok(r.rc == -1 && r.errs &&
	   strstr(r.errs, "/nonexistent/ccidctl.xml: cannot open: No such file or directory"),
	   "a missing file: named, with the reason");
	result_free(&r);

	r = load_path("/tmp");
	ok(r.rc == -1 && r.errs && strstr(r.errs, "/tmp: is a directory"),
	   "a directory is refused");
	result_free(&r);
}

static void test_schema_sources(void)
{
	struct xmlcfg_opts opts = { .builtin_schema = true };
	char path[16384];
	struct result r = { 0 };
	struct diag d;
	FILE *f;
	char *file = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/docs/schemas/ccidctl.rng", repo);
	f = fopen(path, "r");
	if (f) {
		file = calloc(1, 1 << 20);
		n = fread(file, 1, (1 << 20) - 1, f);
		fclose(f);
	}
	ok(file && n > 0 && strcmp(file, ccidctl_rng_text) == 0,
	   "the built-in schema is docs/schemas/ccidctl.rng, byte for byte");
	free(file);

	snprintf(path, sizeof(path), "%s/docs/examples/demo.xml", repo);
	diag_init(&d, path);
	r.rc = xmlcfg_load_file(path, &opts, &r.cfg, &d);
	ok(r.rc == 0 && strcmp(xmlcfg_schema_origin(), "built-in") == 0,
	   "demo.xml validates against the built-in schema");
	diag_free(&d);
	result_free(&r);

	opts.builtin_schema = false;
	opts.schema = "/nonexistent/ccidctl.rng";
	diag_init(&d, "t.xml");
	r.rc = xmlcfg_load_buffer("<smartcard mode='host'/>", 24, "t.xml",
				  &opts, &r.cfg, &d);
	r.errs = diag_join(&d);
	ok(r.rc == -1 && r.errs &&
	   strstr(r.errs, "t.xml: cannot load the schema /nonexistent/ccidctl.rng"),
	   "a schema that cannot be loaded is an error, named");
	diag_free(&d);
	result_free(&r);

	r = load_buf("<smartcard mode='host'/>");
	ok(r.rc == 0 && strstr(xmlcfg_schema_origin(), "docs/schemas/ccidctl.rng"),
	   "by default the schema file of the source tree is used (%s)",
	   xmlcfg_schema_origin());
	result_free(&r);
}

static void test_metadata(void)
{
	struct result r;
	const struct cfg_card *c;

	r = load_buf("<domain type='kvm'>\n"
		     "  <metadata>\n"
		     "    <app:x xmlns:app='http://example.org/app'><y/></app:x>\n"
		     "    <ccid:devices xmlns:ccid='" CCIDCTL_XMLNS "'>\n"
		     "      <controller type='ccid' index='1' ccid:slots='3'/>\n"
		     "      <smartcard mode='host'>\n"
		     "        <address type='ccid' controller='1' slot='2'/>\n"
		     "      </smartcard>\n"
		     "    </ccid:devices>\n"
		     "  </metadata>\n"
		     "  <devices><smartcard mode='host'/></devices>\n"
		     "</domain>\n");
	c = card_at(r.cfg, 1, 2);
	ok(r.rc == 0 && r.cfg->ncards == 1 && c && c->line == 6 &&
	   r.cfg->nctrls == 1 && r.cfg->ctrls[0].nslots == 3,
	   "a domain's <metadata><ccid:devices> gives the cards; those of <devices> (QEMU's) are left out");
	result_free(&r);

	r = load_buf("<domain><metadata><app:x xmlns:app='http://example.org/app'/></metadata>\n"
		     "<devices><smartcard mode='host'/></devices></domain>\n");
	ok(r.rc == 0 && r.cfg->ncards == 1 && card_at(r.cfg, 0, 0),
	   "without <ccid:devices> in <metadata> the cards of <devices> count, as before");
	result_free(&r);

	r = load_buf("<domain><metadata>\n"
		     "<ccid:devices xmlns:ccid='" CCIDCTL_XMLNS "'>\n"
		     "<smartcard mode='bogus'/></ccid:devices></metadata></domain>\n");
	ok(r.rc == -1 && r.errs && strstr(r.errs, "schema"),
	   "a smartcard in <metadata> is validated against the schema too");
	result_free(&r);

	r = load_buf("<domain><metadata>\n"
		     "<ccid:devices xmlns:ccid='" CCIDCTL_XMLNS "'/>\n"
		     "<ccid:devices xmlns:ccid='" CCIDCTL_XMLNS "'/>\n"
		     "</metadata></domain>\n");
	ok(r.rc == -1 && r.errs && strstr(r.errs, "one <ccid:devices>"),
	   "a second <ccid:devices> is refused");
	result_free(&r);

	r = load_buf("<domain><metadata>\n"
		     "<ccid:other xmlns:ccid='" CCIDCTL_XMLNS "'/>\n"
		     "</metadata></domain>\n");
	ok(r.rc == -1, "an unknown ccid: element in <metadata> does not match the schema");
	result_free(&r);
}

int main(void)
{
	const char *s = getenv("CCID_SHARED_DIR");
	const char *p = getenv("CCID_REPO_DIR");

	snprintf(repo, sizeof(repo), "%s", p && *p ? p : ".");
	if (s && *s)
		snprintf(shared, sizeof(shared), "%s", s);
	else
		snprintf(shared, sizeof(shared), "%s/../shared", repo);

	test_conformance();
	test_own_files();
	test_libvirt_fidelity();
	test_resolution();
	test_errors();
	test_hostile();
	test_schema_sources();
	test_metadata();

	xmlcfg_cleanup();
	return tap_done();
}
