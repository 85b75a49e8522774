// SPDX-License-Identifier: GPL-2.0
/*
 * test_plan.c -- the pipeline that validate, apply and a reload share
 * (plan_load): what ccidctl refuses beyond libvirt's own rules, what it
 * warns about, and what it finds wrong on this system.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

#include "card.h"
#include "diag.h"
#include "plan.h"
#include "xml.h"

static char dir[128];

struct result {
	int rc;
	char *msgs;
	size_t errors, warnings;
};

static struct result plan(const char *xml, const struct card_env *env)
{
	char path[256];
	struct result r = { 0 };
	struct cfg *cfg = NULL;
	struct diag d;
	FILE *f;

	snprintf(path, sizeof(path), "%s/t.xml", dir);
	f = fopen(path, "w");
	fputs(xml, f);
	fclose(f);
	diag_init(&d, "t.xml");
	r.rc = plan_load(path, NULL, env, &cfg, &d);
	r.msgs = diag_join(&d);
	r.errors = diag_count(&d);
	r.warnings = diag_warnings(&d);
	diag_free(&d);
	cfg_free(cfg);
	return r;
}

static void show(const char *m)
{
	while (m && *m) {
		size_t n = strcspn(m, "\n");

		diag("%.*s", (int)n, m);
		m += n + (m[n] ? 1 : 0);
	}
}

static void refused(const char *xml, const struct card_env *env,
		    const char *want, const char *what)
{
	struct result r = plan(xml, env);

	if (!ok(r.rc == -1 && r.msgs && strstr(r.msgs, want), "refused: %s", what)) {
		diag("wanted '%s' in:", want);
		show(r.msgs);
	}
	free(r.msgs);
}

static void accepted(const char *xml, const struct card_env *env,
		     const char *warn, const char *what)
{
	struct result r = plan(xml, env);
	bool good = r.rc == 0 && r.errors == 0 &&
		    (warn ? r.msgs && strstr(r.msgs, warn) && r.warnings : !r.warnings);

	if (!ok(good, "accepted%s: %s", warn ? " with a warning" : "", what))
		show(r.msgs);
	free(r.msgs);
}

int main(void)
{
	struct card_env env, off;
	char xml[8192], db1[200], db2[200], sock[200];
	size_t n;
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/test_plan.%d", getpid());
	mkdir(dir, 0700);
	snprintf(db1, sizeof(db1), "%s/db1", dir);
	snprintf(db2, sizeof(db2), "%s/db2", dir);
	mkdir(db1, 0700);
	mkdir(db2, 0700);
	snprintf(xml, sizeof(xml), "%s/cert9.db", db1);
	fclose(fopen(xml, "w"));
	snprintf(xml, sizeof(xml), "%s/cert9.db", db2);
	fclose(fopen(xml, "w"));
	card_env_init(&env);
	off = env;
	off.offline = true;

	/* what apply used to refuse only after validate had said yes */
	snprintf(xml, sizeof(xml),
		 "<devices>\n"
		 "  <smartcard mode='host-certificates'><certificate>a</certificate><certificate>b</certificate><certificate>c</certificate><database>%s</database></smartcard>\n"
		 "  <smartcard mode='host-certificates'><certificate>a</certificate><certificate>b</certificate><certificate>c</certificate><database>%s</database></smartcard>\n"
		 "</devices>\n", db1, db2);
	refused(xml, &off, "use different NSS databases",
		"two host-certificates cards with different <database> (libcacard has one per process)");
	env.host_db = db2;
	snprintf(xml, sizeof(xml),
		 "<smartcard mode='host-certificates'><certificate>a</certificate><certificate>b</certificate><certificate>c</certificate><database>%s</database></smartcard>\n",
		 db1);
	refused(xml, &env, "--host-db", "--host-db that differs from the cards' database");
	env.host_db = NULL;
	accepted(xml, &env, NULL, "one database, there on this system");

	n = (size_t)snprintf(xml, sizeof(xml), "<devices>\n");
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(xml + n, sizeof(xml) - n,
				      "  <controller type='ccid' index='%d'/>\n", i);
	snprintf(xml + n, sizeof(xml) - n, "</devices>\n");
	refused(xml, &off, "ccidctl serves at most 16", "17 ccid controllers (one gadget has 16 functions)");

	snprintf(sock, sizeof(sock), "%s/card.sock", dir);
	snprintf(xml, sizeof(xml),
		 "<devices>\n"
		 "  <smartcard mode='passthrough' type='unix'><source mode='bind' path='%s'/></smartcard>\n"
		 "  <smartcard mode='passthrough' type='unix'><source mode='bind' path='%s'/></smartcard>\n"
		 "</devices>\n", sock, sock);
	refused(xml, &off, "both listen on",
		"two cards binding one unix path (the second would take the first's socket)");
	refused("<devices>\n"
		"  <smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='2001'/></smartcard>\n"
		"  <smartcard mode='passthrough' type='tcp'><source mode='bind' host='0.0.0.0' service='2001'/></smartcard>\n"
		"</devices>\n", &off, "both listen on",
		"two cards binding one port (127.0.0.1 and 0.0.0.0)");
	refused("<devices>\n"
		"  <smartcard mode='passthrough' type='tcp'><source mode='bind' host='::1' service='2001'/></smartcard>\n"
		"  <smartcard mode='passthrough' type='tcp'><source mode='bind' host='0:0::1' service='2001'/></smartcard>\n"
		"</devices>\n", &off, "both listen on",
		"two cards binding one address written two ways (::1, 0:0::1)");
	accepted("<devices>\n"
		 "  <smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='2001'/></smartcard>\n"
		 "  <smartcard mode='passthrough' type='tcp'><source mode='connect' host='127.0.0.1' service='2001'/></smartcard>\n"
		 "</devices>\n", &off, "without TLS",
		 "a bind and a connect on one port (not a conflict)");

	/* not silent any more */
	accepted("<smartcard mode='passthrough' type='tcp'><source mode='bind' host='0.0.0.0' service='2001'/></smartcard>\n",
		 &off, "listens on every address (0.0.0.0) without TLS",
		 "host='0.0.0.0' without TLS");
	accepted("<smartcard mode='passthrough' type='tcp'><source mode='bind' host='192.0.2.7' service='2001'/></smartcard>\n",
		 &off, "listens on 192.0.2.7 without TLS", "a non-loopback host without TLS");
	accepted("<smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='2001'/></smartcard>\n",
		 &off, "any local user who connects first", "a loopback bind without TLS");
	accepted("<smartcard mode='passthrough' type='unix'><source mode='bind' path='/run/x.sock'/></smartcard>\n",
		 &off, NULL, "a unix socket: no warning");

	/* the system */
	env.tls_dir = "/nonexistent/chardev-tls";
	refused("<smartcard mode='passthrough' type='tcp'><source mode='bind' host='0.0.0.0' service='2001' tls='yes'/></smartcard>\n",
		&env, "tls='yes': TLS credentials directory /nonexistent/chardev-tls",
		"tls='yes' without the credentials");
	off.tls_dir = env.tls_dir;
	accepted("<smartcard mode='passthrough' type='tcp'><source mode='bind' host='0.0.0.0' service='2001' tls='yes'/></smartcard>\n",
		 &off, NULL, "... with --offline, and no warning: TLS protects it");
	env.tls_dir = CARD_DEFAULT_TLS_DIR;
	f = fopen(sock, "w");
	fclose(f);
	snprintf(xml, sizeof(xml),
		 "<smartcard mode='passthrough' type='unix'><source mode='bind' path='%s'/></smartcard>\n", sock);
	refused(xml, &env, "exists and is not a socket", "a regular file where the socket would go");
	snprintf(xml, sizeof(xml),
		 "<smartcard mode='passthrough' type='unix'><source mode='bind' path='%s/no/such/dir/s'/></smartcard>\n", dir);
	refused(xml, &env, "does not exist", "a socket in a directory that is not there");
	refused("<smartcard mode='host-certificates'><certificate>a</certificate><certificate>b</certificate><certificate>c</certificate><database>/nonexistent/nssdb</database></smartcard>\n",
		&env, "NSS database /nonexistent/nssdb", "an NSS database that is not there");
	snprintf(xml, sizeof(xml),
		 "<smartcard mode='host-certificates'><certificate>a</certificate><certificate>b</certificate><certificate>c</certificate><database>%s</database></smartcard>\n",
		 dir);
	refused(xml, &env, "has no cert9.db", "a directory that is not an NSS database");

	snprintf(xml, sizeof(xml), "rm -rf %s", dir);
	if (system(xml))
		diag("cannot remove %s", dir);
	xmlcfg_cleanup();
	return tap_done();
}
