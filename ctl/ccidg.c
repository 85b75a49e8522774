// SPDX-License-Identifier: GPL-2.0
/*
 * ccidg.c -- ccidctl's client of the kernel's /dev/ccidg<N> char device
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ccidg.h"

int ccidg_open(struct ccidg *d, const char *path)
{
	int err;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->buf = malloc(CCIDG_EVENT_MAX);
	d->wbuf = malloc(CCIDG_REPLY_MAX);
	if (!d->buf || !d->wbuf) {
		ccidg_close(d);
		return -ENOMEM;
	}
	d->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (d->fd < 0) {
		err = -errno;
		ccidg_close(d);
		return err;
	}
	if (ioctl(d->fd, CCIDG_IOC_GET_CONFIG, &d->cfg) < 0) {
		err = -errno;
		ccidg_close(d);
		return err;
	}
	return 0;
}

void ccidg_close(struct ccidg *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(d->buf);
	free(d->wbuf);
	d->buf = NULL;
	d->wbuf = NULL;
}

int ccidg_insert(struct ccidg *d, unsigned int slot, const uint8_t *atr,
		 size_t atr_len)
{
	struct ccidg_card card;

	if (atr_len > CCIDG_MAX_ATR)
		return -EINVAL;
	memset(&card, 0, sizeof(card));
	card.slot = slot;
	card.atr_len = atr_len;
	memcpy(card.atr, atr, atr_len);
	if (ioctl(d->fd, CCIDG_IOC_INSERT, &card) < 0)
		return -errno;
	return 0;
}

int ccidg_remove(struct ccidg *d, unsigned int slot)
{
	uint32_t s = slot;

	if (ioctl(d->fd, CCIDG_IOC_REMOVE, &s) < 0)
		return -errno;
	return 0;
}

int ccidg_read_event(struct ccidg *d, struct ccidg_event *ev,
		     const uint8_t **data)
{
	ssize_t n;

	n = read(d->fd, d->buf, CCIDG_EVENT_MAX);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if ((size_t)n < sizeof(*ev))
		return -EPROTO;
	memcpy(ev, d->buf, sizeof(*ev));
	if (ev->len != (size_t)n - sizeof(*ev))
		return -EPROTO;
	*data = d->buf + sizeof(*ev);
	return 1;
}

static int ccidg_write_reply(struct ccidg *d, uint32_t type,
			     unsigned int slot, uint32_t id,
			     const uint8_t *rsp, size_t len)
{
	struct ccidg_reply r;
	ssize_t n;

	if (len > CCIDG_MAX_RSP_APDU)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.type = type;
	r.slot = slot;
	r.id = id;
	r.len = len;
	memcpy(d->wbuf, &r, sizeof(r));
	if (len)
		memcpy(d->wbuf + sizeof(r), rsp, len);
	n = write(d->fd, d->wbuf, sizeof(r) + len);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(r) + len)
		return -EIO;
	return 0;
}

int ccidg_reply(struct ccidg *d, unsigned int slot, uint32_t id,
		const uint8_t *rsp, size_t len)
{
	return ccidg_write_reply(d, CCIDG_REPLY_APDU, slot, id, rsp, len);
}

int ccidg_reply_error(struct ccidg *d, unsigned int slot, uint32_t id)
{
	return ccidg_write_reply(d, CCIDG_REPLY_ERROR, slot, id, NULL, 0);
}

int ccidg_reply_fail(struct ccidg *d, unsigned int slot, uint32_t id,
		     uint8_t berror)
{
	return ccidg_write_reply(d, CCIDG_REPLY_ERROR, slot, id, &berror, 1);
}

int ccidg_status(struct ccidg *d, struct ccidg_status *st)
{
	return ioctl(d->fd, CCIDG_IOC_GET_STATUS, st) < 0 ? -errno : 0;
}

int ccidg_stats(struct ccidg *d, struct ccidg_stats *st)
{
	return ioctl(d->fd, CCIDG_IOC_GET_STATS, st) < 0 ? -errno : 0;
}

const char *ccidg_event_name(uint32_t type)
{
	switch (type) {
	case CCIDG_EV_HOST_CONNECT:
		return "host-connect";
	case CCIDG_EV_HOST_DISCONNECT:
		return "host-disconnect";
	case CCIDG_EV_POWER_ON:
		return "power-on";
	case CCIDG_EV_POWER_OFF:
		return "power-off";
	case CCIDG_EV_APDU:
		return "apdu";
	case CCIDG_EV_ABORT:
		return "abort";
	case CCIDG_EV_CARD_REMOVED:
		return "card-removed";
	}
	return "unknown";
}
