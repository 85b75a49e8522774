/* SPDX-License-Identifier: GPL-2.0 */
/*
 * transport.h -- the byte stream between a passthrough card and its
 * provider: a libvirt chardev of type tcp or unix, in mode bind or connect,
 * with TLS when tls='yes'
 *
 * One transport carries at most one connection at a time. In mode bind it
 * listens and takes the next provider that connects once the previous one
 * is gone; in mode connect it connects, and with <reconnect> connects
 * again reconnect_s seconds after a failure or a lost connection.
 *
 *   - Names are resolved in a thread of their own: the event loop never
 *     waits for DNS. Every address a name resolves to is tried in turn.
 *   - A provider has open_timeout_ms from its TCP connection to finish the
 *     TLS handshake and to say who it is (transport_opened()); one that
 *     stays silent is dropped and the slot is free again.
 *   - A unix socket is created with mode 0600; an existing socket at its
 *     path is replaced only if nobody listens on it, anything else there
 *     is never touched. On exit ccidctl removes only the socket it made.
 *   - A listening socket that cannot accept (too many open files) is left
 *     alone for a second instead of being polled in a loop.
 *   - A bind that fails because the address is in use or not there yet is
 *     retried every second.
 *
 * The callbacks are only ever called from the main loop's dispatch, never
 * from within a transport_*() call: a caller may call transport_*() from
 * any callback, and free the transport from any callback but data().
 */
#ifndef CCIDCTL_TRANSPORT_H
#define CCIDCTL_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct addrinfo;

struct transport_conf {
	const char *name;		/* for logs, "card 0.1" */
	const char *proto_name;		/* for logs, "VSCard" */
	const struct cfg_chardev *chr;	/* type, mode, host, service, path,
					 * reconnect, tls; copied */
	const char *tls_dir;
	bool tls_verify;
	int open_timeout_ms;
	bool verbose;
	/* resolve with this instead of getaddrinfo() (tests) */
	int (*resolve)(const char *host, const char *service,
		       const struct addrinfo *hints, struct addrinfo **res);
};

struct transport_ops {
	/* A provider connection is ready (after the TLS handshake) */
	void (*up)(void *ctx);
	/* Bytes from it */
	void (*data)(void *ctx, const uint8_t *buf, size_t len);
	/* It went away, or broke, or said nothing in time */
	void (*down)(void *ctx, const char *why);
	/*
	 * Once: the start is done. 0: listening (or retrying a bind that
	 * may work later), connected, or reconnecting in the background; a
	 * negative errno: it cannot work (a permanent bind error; a connect
	 * without <reconnect> that failed).
	 */
	void (*started)(void *ctx, int err, const char *why);
};

struct transport;

struct transport *transport_new(const struct transport_conf *conf,
				const struct transport_ops *ops, void *ctx);
/* Start: 0, and started() follows; -1 (logged) if it cannot even begin. */
int transport_start(struct transport *t);
void transport_free(struct transport *t);

/* Queue bytes for the connected provider (sent at once when possible). */
void transport_send(struct transport *t, const void *buf, size_t len);
/* The provider has said who it is: its open deadline no longer applies. */
void transport_opened(struct transport *t);
/* Close the connection (no down() follows); listen or reconnect again. */
void transport_drop(struct transport *t, const char *why);
/* Ask the kernel to acknowledge at once (a message is half-received). */
void transport_quickack(struct transport *t);
bool transport_connected(const struct transport *t);

#endif /* CCIDCTL_TRANSPORT_H */
