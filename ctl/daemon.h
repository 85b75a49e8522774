/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daemon.h -- ccidctl apply: serve the cards of a configuration, reload it
 */
#ifndef CCIDCTL_DAEMON_H
#define CCIDCTL_DAEMON_H

#include "card.h"
#include "config.h"

/* Where `ccidctl reload` finds the daemon, unless told otherwise */
#define DAEMON_DEFAULT_CONTROL	"/run/ccidctl.sock"

struct daemon_opts {
	const char *file;	/* re-read on reload */
	const char *schema;	/* or NULL */
	const char *udc;	/* create/bind a gadget on this UDC, or NULL */
	unsigned int vid, pid;	/* for a gadget ccidctl creates; 0: default */
	int ready_fd;		/* written "ready\n" and closed once serving */
	const char *control;	/* control socket path; NULL: none */
	struct card_env env;
};

/*
 * Serve @cfg (as loaded from o->file by plan_load()) until SIGTERM or
 * SIGINT; SIGHUP and `ccidctl reload` re-read o->file. Takes @cfg.
 * Returns the exit status.
 */
int daemon_run(struct cfg *cfg, const struct daemon_opts *o);

/* `ccidctl reload`: ask the daemon at @control to reload. Exit status. */
int daemon_reload_request(const char *control);

#endif /* CCIDCTL_DAEMON_H */
