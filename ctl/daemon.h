/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daemon.h -- ccidctl apply: serve the cards of a configuration
 */
#ifndef CCIDCTL_DAEMON_H
#define CCIDCTL_DAEMON_H

#include "config.h"

/* Seconds a passthrough provider may take to answer one APDU */
#define DAEMON_DEFAULT_APDU_TIMEOUT	60

struct daemon_opts {
	const char *udc;	/* create/bind a gadget on this UDC, or NULL */
	unsigned int vid, pid;	/* for a gadget ccidctl creates; 0: default */
	const char *host_db;	/* NSS database for mode host, or NULL */
	int verbose;
	int ready_fd;		/* written "ready\n" and closed once serving */
	int apdu_timeout;	/* seconds, passthrough; 0: no limit */
};

/* Runs until SIGTERM/SIGINT/SIGHUP; returns the exit status */
int daemon_run(const struct cfg *cfg, const struct daemon_opts *o);

#endif /* CCIDCTL_DAEMON_H */
