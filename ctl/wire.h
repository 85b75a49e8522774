/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wire.h -- the protocols a passthrough card speaks with its provider
 *
 * A wire session sits between a byte stream (the transport: tcp, unix,
 * TLS; transport.h) and one card. It is given the bytes the provider
 * sends and the commands the USB host sends, and tells its host (the
 * passthrough backend) what to send back, when the card comes and goes,
 * and the provider's answers. Two protocols, one interface:
 *
 *   VSCard  QEMU's ccid-card-passthru protocol (libcacard's
 *           vscard_common.h), answered the way QEMU answers it
 *   vpcd    vsmartcard's vpcd/vicc protocol
 *
 * No I/O, no clock, no library beyond libc: sessions are unit-tested and
 * fuzzed without sockets. Answers come in the order the commands went out;
 * which command an answer belongs to is the host's business.
 */
#ifndef CCIDCTL_WIRE_H
#define CCIDCTL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct wire_host {
	/* Queue bytes for the provider (one whole message per call) */
	void (*send)(void *h, const void *buf, size_t len);
	/* The provider's card is there, with this ATR (2..33 bytes) */
	void (*insert)(void *h, const uint8_t *atr, size_t len);
	/* ... and is gone */
	void (*eject)(void *h);
	/* The answer to the oldest command not answered yet */
	void (*answer)(void *h, const uint8_t *rsp, size_t len);
	/* The provider reports an error (VSCard Error, its code) */
	void (*error)(void *h, uint32_t code);
	/* The provider has said who it is (VSCard Init or ATR, vpcd ATR) */
	void (*opened)(void *h);
	/* A line for the log; debug lines only matter with --verbose */
	void (*log)(void *h, bool debug, const char *msg);
};

struct wire;

struct wire_proto {
	const char *name;
	/* The longest command APDU it can carry */
	size_t max_command;
	int (*init)(struct wire *w);
	void (*free)(struct wire *w);
	void (*connected)(struct wire *w);
	int (*input)(struct wire *w, const uint8_t *in, size_t len);
	int (*command)(struct wire *w, const uint8_t *apdu, size_t len);
	void (*power)(struct wire *w, bool on);
	bool (*partial)(const struct wire *w);
};

struct wire {
	const struct wire_proto *proto;
	const struct wire_host *host;
	void *h;
	void *state;		/* the protocol's */
	uint8_t *out;		/* one encoded message */
	size_t out_cap;
	char why[160];		/* after input() < 0: why the peer must go */
	bool debug;		/* format debug lines (off: they cost nothing) */
};

extern const struct wire_proto wire_vscard;
extern const struct wire_proto wire_vpcd;

/* 0, or -ENOMEM */
int wire_init(struct wire *w, enum cfg_wire kind, const struct wire_host *host,
	      void *h);
void wire_free(struct wire *w);

/* A new connection: forget the old one, send what opens the protocol. */
static inline void wire_connected(struct wire *w)
{
	w->why[0] = '\0';
	w->proto->connected(w);
}

/*
 * Bytes from the provider, in chunks of any size. 0, or a negative errno
 * when the peer breaks the protocol and must be dropped (w->why says why);
 * after that the session wants wire_connected() before more input.
 */
static inline int wire_input(struct wire *w, const uint8_t *in, size_t len)
{
	return w->proto->input(w, in, len);
}

/* Send a command APDU: 0, or -EMSGSIZE if the protocol cannot carry it. */
static inline int wire_command(struct wire *w, const uint8_t *apdu, size_t len)
{
	return w->proto->command(w, apdu, len);
}

/* The host powered the card on (a warm or cold reset) or off. */
static inline void wire_power(struct wire *w, bool on)
{
	w->proto->power(w, on);
}

/* A message from the provider is half read (more bytes are due). */
static inline bool wire_partial(const struct wire *w)
{
	return w->proto->partial(w);
}

/*
 * Internal to the protocols: a log line, formatted. A debug line is
 * formatted only when w->debug is set: there is one per message on the
 * APDU path, and vsnprintf() was a sixth of ccidctl's instructions there.
 */
void wire_log(struct wire *w, bool debug, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int wire_fail(struct wire *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* CCIDCTL_WIRE_H */
