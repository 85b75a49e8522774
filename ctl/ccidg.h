/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccidg.h -- ccidctl's client of the kernel's /dev/ccidg<N> char device
 *
 * A thin layer over uapi/linux/usb/g_ccid.h: open, insert and remove cards,
 * read one event, answer an APDU. Every call returns 0 (or a count) on
 * success and a negative errno on failure.
 */
#ifndef CCIDCTL_CCIDG_H
#define CCIDCTL_CCIDG_H

#include <stddef.h>
#include <stdint.h>

#include <linux/usb/g_ccid.h>

struct ccidg {
	int fd;
	char path[64];
	struct ccidg_config cfg;
	uint8_t *buf;		/* CCIDG_EVENT_MAX bytes, for read() */
	uint8_t *wbuf;		/* CCIDG_REPLY_MAX bytes, for write() */
};

/* Open path read-write, non-blocking, and read the configuration. */
int ccidg_open(struct ccidg *d, const char *path);
void ccidg_close(struct ccidg *d);
int ccidg_insert(struct ccidg *d, unsigned int slot, const uint8_t *atr,
		 size_t atr_len);
int ccidg_remove(struct ccidg *d, unsigned int slot);
/*
 * Read one event: 1 and *ev, *data (valid until the next call) when there
 * was one, 0 when none is queued, a negative errno on error.
 */
int ccidg_read_event(struct ccidg *d, struct ccidg_event *ev,
		     const uint8_t **data);
/* Answer APDU id with a response (SW1 SW2 included), or with an error. */
int ccidg_reply(struct ccidg *d, unsigned int slot, uint32_t id,
		const uint8_t *rsp, size_t len);
int ccidg_reply_error(struct ccidg *d, unsigned int slot, uint32_t id);
/* ... with the bError the host sees (CCID 6.2.6), 1 byte after the reply */
int ccidg_reply_fail(struct ccidg *d, unsigned int slot, uint32_t id,
		     uint8_t berror);
int ccidg_status(struct ccidg *d, struct ccidg_status *st);
int ccidg_stats(struct ccidg *d, struct ccidg_stats *st);

/* The name of an event type, for logs */
const char *ccidg_event_name(uint32_t type);

#endif /* CCIDCTL_CCIDG_H */
