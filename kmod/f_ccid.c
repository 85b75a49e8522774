// SPDX-License-Identifier: GPL-2.0
/*
 * f_ccid.c -- USB CCID (smartcard reader) gadget function
 *
 * The function presents one CCID interface (bulk-out, bulk-in and
 * interrupt-in endpoints) to the USB host and one character device,
 * /dev/ccidg<N>, to a userspace daemon that provides the cards. The CCID
 * protocol itself lives in ccid_engine.c; this file moves bytes between
 * the endpoints, the engine and the character device.
 *
 * Locking: one spinlock (f_ccid.lock, taken with irqsave) protects the
 * engine and every piece of state below it. It is never held across
 * usb_ep_queue() or usb_ep_disable(): a UDC may give a request back from
 * inside those calls, and the completion handlers take the lock.
 *
 * Lifetime: f_ccid embeds the struct device of the character device, whose
 * release callback frees it. An open file pins the cdev, the cdev pins the
 * device, so an open file keeps f_ccid alive after unbind and after the
 * function is freed; it then only gets errors.
 */

#include <linux/cdev.h>
#include <linux/compat.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/usb/ch9.h>
#include <linux/usb/composite.h>
#include <linux/usb/gadget.h>
#include <linux/usb/g_ccid.h>

#include "ccid_compat.h"
#include "ccid_engine.h"

#define CCIDG_MINORS		16

/* Bulk-in reply buffers: one per slot (the answer to its pending
 * command), two for answers to host messages, and one scratch buffer that
 * is never queued (see ccid_get_buf()).
 */
#define CCID_NBUFS_MAX		(CCID_MAX_SLOTS + 2)

/* Events: host events are dropped beyond this many; APDU events are never
 * dropped and there is at most one per slot.
 */
#define CCID_EVQ_HOST		64
#define CCID_EVQ_LEN		(CCID_EVQ_HOST + CCID_MAX_SLOTS)

/*
 * Time extension: libccid waits at least 3 s for a reply and restarts its
 * wait on every time extension (multiplying that wait by bError), so one
 * per second with bError 1 keeps any slow command alive.
 */
#define CCID_TE_INTERVAL	HZ
#define CCID_TE_MULT		1

#define CCID_NOTIFY_BUF		8	/* interrupt-in wMaxPacketSize */
#define CCID_RX_ALIGN		1024	/* largest bulk wMaxPacketSize */

static int ccidg_major;
static struct class *ccidg_class;

static DEFINE_IDA(ccidg_ida);
static DEFINE_MUTEX(ccidg_ida_lock);	/* ccidg_ida, class and region */

/*-------------------------------------------------------------------------*/

struct f_ccid_opts {
	struct usb_function_instance func_inst;
	struct mutex lock;		/* everything below */
	int refcnt;			/* functions linked into a config */
	int minor;
	struct ccid_config cfg;
	bool busy_slots_set;		/* else busy_slots follows nslots */
};

enum ccid_rx_state {
	CCID_RX_HDR,		/* waiting for the first packet of a message */
	CCID_RX_BODY,		/* header known, receiving the rest */
	CCID_RX_DISCARD,	/* message too long, skipping its data */
};

struct ccid_evq_ent {
	u8 type;		/* enum ccidg_event_type */
	u8 slot;
	u32 id;
};

struct ccid_fifo_ent {
	u32 idx;		/* pool buffer */
	u32 len;
};

struct ccid_file;

struct f_ccid {
	struct usb_function func;
	struct device dev;
	struct cdev *cdev;
	int minor;
	struct ccid_config cfg;		/* fixed when the function is made */
	u8 intf_id;

	spinlock_t lock;		/* all that follows */
	bool bound;			/* engine and buffers exist */
	bool online;			/* endpoints enabled by the host */
	bool halted;			/* a queue failed; wait for set_alt */
	bool pumping;			/* ccid_pump() is queueing requests */
	u32 gen;			/* bumped at every bind */
	struct ccid_file *owner;	/* the O_RDWR opener */
	struct ccid_engine eng;
	u8 *eng_buf;

	struct usb_ep *in_ep, *out_ep, *intr_ep;
	struct usb_request *in_req, *out_req, *intr_req;
	bool in_busy, out_busy, intr_busy;
	bool notify_all;		/* report every slot on connect */

	/* bulk-out framing */
	u8 *rx_buf;
	u32 rx_size;
	u32 mps;			/* bulk-out wMaxPacketSize */
	enum ccid_rx_state rx_state;
	u32 rx_have;			/* bytes of the message received */
	u32 rx_total;			/* its announced total length */
	u32 rx_req_len;			/* length of the queued request */
	u32 rx_discard;			/* bytes still to skip */

	/* bulk-in replies: a FIFO of pool buffers */
	u8 *pool;
	u32 bufsz;			/* cfg.max_msg_len */
	u32 nbufs;			/* queueable buffers; pool has one more */
	u32 nfree;
	u32 free_idx[CCID_NBUFS_MAX];
	struct ccid_fifo_ent fifo[CCID_NBUFS_MAX];
	u32 fifo_head, fifo_count;
	u32 dropped;			/* replies lost, should stay 0 */

	/* time extensions */
	struct timer_list te_timer;
	unsigned long te_due[CCID_MAX_SLOTS];
	bool te_want[CCID_MAX_SLOTS];

	/* events for the O_RDWR opener */
	struct ccid_evq_ent evq[CCID_EVQ_LEN];
	u32 evq_head, evq_count, evq_host;
	wait_queue_head_t read_wq;
};

/* One open file */
struct ccid_file {
	struct f_ccid *cc;
	u32 gen;			/* cc->gen when opened */
	bool rw;			/* the owner: may read, write, insert */
	struct mutex read_lock;		/* read_buf */
	struct mutex write_lock;	/* write_buf */
	u8 *read_buf;			/* CCIDG_EVENT_MAX bytes */
	u8 *write_buf;			/* CCIDG_MAX_RSP_APDU bytes */
};

static inline struct f_ccid *func_to_ccid(struct usb_function *f)
{
	return container_of(f, struct f_ccid, func);
}

static inline struct f_ccid_opts *to_ccid_opts(struct config_item *item)
{
	return container_of(to_config_group(item), struct f_ccid_opts,
			    func_inst.group);
}

static void ccid_pump(struct f_ccid *cc);

/*-------------------------------------------------------------------------*/
/* Reply buffers and FIFO (cc->lock held) */

static inline u8 *ccid_buf(struct f_ccid *cc, u32 idx)
{
	return cc->pool + (size_t)idx * cc->bufsz;
}

/*
 * A buffer for the engine to build a reply into. Every slot with a command
 * in userspace has one reserved (ccid_pump() only accepts a host message
 * while at least two are spare), so this cannot run dry; if it ever did,
 * the scratch buffer takes the reply and ccid_fifo_push() drops it.
 */
static u32 ccid_get_buf(struct f_ccid *cc)
{
	if (!cc->nfree)
		return cc->nbufs;
	return cc->free_idx[--cc->nfree];
}

static void ccid_put_buf(struct f_ccid *cc, u32 idx)
{
	if (idx < cc->nbufs && cc->nfree < cc->nbufs)
		cc->free_idx[cc->nfree++] = idx;
}

static void ccid_fifo_push(struct f_ccid *cc, u32 idx, u32 len)
{
	struct ccid_fifo_ent *ent;

	if (idx >= cc->nbufs || !len || len > cc->bufsz ||
	    cc->fifo_count >= cc->nbufs) {
		if (len)
			cc->dropped++;
		ccid_put_buf(cc, idx);
		return;
	}
	ent = &cc->fifo[(cc->fifo_head + cc->fifo_count) % cc->nbufs];
	ent->idx = idx;
	ent->len = len;
	cc->fifo_count++;
}

static void ccid_fifo_flush(struct f_ccid *cc)
{
	while (cc->fifo_count) {
		ccid_put_buf(cc, cc->fifo[cc->fifo_head].idx);
		cc->fifo_head = (cc->fifo_head + 1) % cc->nbufs;
		cc->fifo_count--;
	}
	cc->fifo_head = 0;
}

/* Buffers neither free nor queued that the pending commands will need */
static inline int ccid_spare(struct f_ccid *cc)
{
	return (int)cc->nfree - (int)cc->eng.nbusy;
}

/*-------------------------------------------------------------------------*/
/* Event queue (cc->lock held) */

static void ccid_evq_reset(struct f_ccid *cc)
{
	cc->evq_head = 0;
	cc->evq_count = 0;
	cc->evq_host = 0;
}

/* Remove the APDU events of slot (all slots if slot < 0) with id (any
 * id if 0); returns true if one was removed.
 */
static bool ccid_evq_del_apdu(struct f_ccid *cc, int slot, u32 id)
{
	u32 i, n = 0, count = cc->evq_count;
	bool found = false;

	for (i = 0; i < count; i++) {
		struct ccid_evq_ent ev;

		ev = cc->evq[(cc->evq_head + i) % CCID_EVQ_LEN];
		if (ev.type == CCIDG_EV_APDU &&
		    (slot < 0 || ev.slot == slot) && (!id || ev.id == id)) {
			found = true;
			continue;
		}
		cc->evq[(cc->evq_head + n) % CCID_EVQ_LEN] = ev;
		n++;
	}
	cc->evq_count = n;
	return found;
}

static void ccid_evq_push(struct f_ccid *cc, u8 type, u32 slot, u32 id)
{
	struct ccid_evq_ent *ev;

	if (!cc->owner)
		return;
	if (type == CCIDG_EV_APDU) {
		/* a slot has one pending command: older ones are stale */
		ccid_evq_del_apdu(cc, slot, 0);
	} else if (cc->evq_host >= CCID_EVQ_HOST) {
		pr_warn_ratelimited("ccidg%d: event queue full, event %u dropped\n",
				    cc->minor, type);
		return;
	}
	if (cc->evq_count >= CCID_EVQ_LEN)
		return;		/* cannot happen, see CCID_EVQ_LEN */

	ev = &cc->evq[(cc->evq_head + cc->evq_count) % CCID_EVQ_LEN];
	ev->type = type;
	ev->slot = slot;
	ev->id = id;
	cc->evq_count++;
	if (type != CCIDG_EV_APDU)
		cc->evq_host++;
	wake_up_interruptible(&cc->read_wq);
}

static void ccid_evq_pop(struct f_ccid *cc)
{
	if (!cc->evq_count)
		return;
	if (cc->evq[cc->evq_head].type != CCIDG_EV_APDU && cc->evq_host)
		cc->evq_host--;
	cc->evq_head = (cc->evq_head + 1) % CCID_EVQ_LEN;
	cc->evq_count--;
}

/* A pending command went away: drop its APDU event, or tell userspace */
static void ccid_aborted(struct f_ccid *cc, u32 slot, u32 id)
{
	if (!ccid_evq_del_apdu(cc, slot, id))
		ccid_evq_push(cc, CCIDG_EV_ABORT, slot, id);
}

/*-------------------------------------------------------------------------*/
/* Engine results (cc->lock held) */

static void ccid_apply(struct f_ccid *cc, u32 idx, const struct ccid_result *res)
{
	u32 slot = res->slot;

	if (res->reply_len)
		ccid_fifo_push(cc, idx, res->reply_len);
	else
		ccid_put_buf(cc, idx);

	if (slot >= cc->cfg.nslots)
		return;
	if (res->events & CCID_EV_ABORT)
		ccid_aborted(cc, slot, res->abort_id);
	if (res->events & CCID_EV_POWER_OFF)
		ccid_evq_push(cc, CCIDG_EV_POWER_OFF, slot, 0);
	if (res->events & CCID_EV_POWER_ON)
		ccid_evq_push(cc, CCIDG_EV_POWER_ON, slot, 0);
	if (res->events & CCID_EV_APDU) {
		ccid_evq_push(cc, CCIDG_EV_APDU, slot, res->id);
		cc->te_want[slot] = false;
		cc->te_due[slot] = jiffies + CCID_TE_INTERVAL;
		timer_reduce(&cc->te_timer, cc->te_due[slot]);
	}
}

/* A complete (or truncated) bulk-out message */
static void ccid_deliver(struct f_ccid *cc, const u8 *msg, u32 len)
{
	struct ccid_result res;
	u32 idx = ccid_get_buf(cc);

	ccid_handle_msg(&cc->eng, msg, len, ccid_buf(cc, idx), cc->bufsz,
			&res);
	ccid_apply(cc, idx, &res);
}

/*-------------------------------------------------------------------------*/
/* Requests */

/*
 * Queue whatever can be queued: the next reply on bulk-in, the next
 * bulk-out request, a slot change on interrupt-in. The lock is dropped
 * around usb_ep_queue(); a completion that runs meanwhile (on this CPU,
 * from inside usb_ep_queue(), or on another one) finds pumping set and
 * leaves the work to the loop here, which looks again before it stops.
 */
static void ccid_pump(struct f_ccid *cc)
{
	struct usb_request *req;
	struct usb_ep *ep;
	unsigned long flags;
	bool *busy;
	u32 len, s;
	int ret;

	spin_lock_irqsave(&cc->lock, flags);
	if (cc->pumping) {
		spin_unlock_irqrestore(&cc->lock, flags);
		return;
	}
	cc->pumping = true;

	while (cc->online && !cc->halted) {
		ep = NULL;
		if (!cc->in_busy && cc->fifo_count) {
			struct ccid_fifo_ent *ent = &cc->fifo[cc->fifo_head];

			memcpy(cc->in_req->buf, ccid_buf(cc, ent->idx),
			       ent->len);
			cc->in_req->length = ent->len;
			ccid_put_buf(cc, ent->idx);
			cc->fifo_head = (cc->fifo_head + 1) % cc->nbufs;
			cc->fifo_count--;
			ep = cc->in_ep;
		} else if (!cc->in_busy) {
			for (s = 0; s < cc->cfg.nslots && !ep; s++) {
				if (!cc->te_want[s])
					continue;
				cc->te_want[s] = false;
				if (!ccid_time_extension(&cc->eng, s,
							 CCID_TE_MULT,
							 cc->in_req->buf,
							 cc->bufsz, &len)) {
					cc->in_req->length = len;
					ep = cc->in_ep;
				}
			}
		}
		if (ep) {
			req = cc->in_req;
			busy = &cc->in_busy;
		} else if (!cc->out_busy && ccid_spare(cc) >= 2) {
			req = cc->out_req;
			switch (cc->rx_state) {
			case CCID_RX_BODY:
				req->buf = cc->rx_buf + cc->rx_have;
				len = roundup(cc->rx_total - cc->rx_have,
					      cc->mps);
				len = min(len, cc->rx_size - cc->rx_have);
				break;
			case CCID_RX_DISCARD:
				req->buf = cc->rx_buf;
				len = min_t(u32, roundup(cc->rx_discard, cc->mps),
					    cc->rx_size);
				break;
			default:
				req->buf = cc->rx_buf;
				len = cc->mps;
				break;
			}
			req->length = len;
			cc->rx_req_len = len;
			ep = cc->out_ep;
			busy = &cc->out_busy;
		} else if (!cc->intr_busy) {
			req = cc->intr_req;
			if (cc->notify_all)
				len = ccid_build_notify_all(&cc->eng, req->buf,
							    CCID_NOTIFY_BUF);
			else
				len = ccid_build_notify(&cc->eng, req->buf,
							CCID_NOTIFY_BUF);
			cc->notify_all = false;
			if (!len)
				break;
			req->length = len;
			ep = cc->intr_ep;
			busy = &cc->intr_busy;
		} else {
			break;
		}

		*busy = true;
		spin_unlock_irqrestore(&cc->lock, flags);
		ret = usb_ep_queue(ep, req, GFP_ATOMIC);
		spin_lock_irqsave(&cc->lock, flags);
		if (ret) {
			/* the endpoint is going away: stop until set_alt */
			*busy = false;
			cc->halted = true;
		}
	}

	cc->pumping = false;
	spin_unlock_irqrestore(&cc->lock, flags);
}

static void ccid_in_complete(struct usb_ep *ep, struct usb_request *req)
{
	struct f_ccid *cc = req->context;
	unsigned long flags;

	spin_lock_irqsave(&cc->lock, flags);
	cc->in_busy = false;
	spin_unlock_irqrestore(&cc->lock, flags);
	ccid_pump(cc);
}

static void ccid_intr_complete(struct usb_ep *ep, struct usb_request *req)
{
	struct f_ccid *cc = req->context;
	unsigned long flags;

	spin_lock_irqsave(&cc->lock, flags);
	cc->intr_busy = false;
	spin_unlock_irqrestore(&cc->lock, flags);
	ccid_pump(cc);
}

/*
 * Bulk-out framing. A message is 10 + dwLength bytes and need not end
 * with a short packet, so the first request asks for one packet and, once
 * the header is known, the second for the rest rounded up to a packet:
 * the transfer then ends exactly at the end of the message or earlier at
 * a short packet. A message longer than dwMaxCCIDMessageLength is handed
 * to the engine as far as it came (the engine answers bad dwLength) and
 * the rest of it is skipped.
 */
static void ccid_rx(struct f_ccid *cc, u32 actual)
{
	bool short_xfer = actual < cc->rx_req_len;
	u32 total;

	switch (cc->rx_state) {
	case CCID_RX_HDR:
		if (!actual)
			break;		/* a stray zero-length packet */
		if (actual < CCID_HDR_LEN || short_xfer) {
			ccid_deliver(cc, cc->rx_buf, actual);
			break;
		}
		total = ccid_msg_total_len(cc->rx_buf);
		if (total <= actual) {
			ccid_deliver(cc, cc->rx_buf, actual);
		} else if (total > cc->cfg.max_msg_len) {
			ccid_deliver(cc, cc->rx_buf, actual);
			cc->rx_discard = total - actual;
			cc->rx_state = CCID_RX_DISCARD;
		} else {
			cc->rx_have = actual;
			cc->rx_total = total;
			cc->rx_state = CCID_RX_BODY;
		}
		break;
	case CCID_RX_BODY:
		cc->rx_have += actual;
		ccid_deliver(cc, cc->rx_buf, cc->rx_have);
		cc->rx_state = CCID_RX_HDR;
		break;
	case CCID_RX_DISCARD:
		cc->rx_discard -= min(cc->rx_discard, actual);
		if (short_xfer || !cc->rx_discard)
			cc->rx_state = CCID_RX_HDR;
		break;
	}
}

static void ccid_out_complete(struct usb_ep *ep, struct usb_request *req)
{
	struct f_ccid *cc = req->context;
	unsigned long flags;

	spin_lock_irqsave(&cc->lock, flags);
	cc->out_busy = false;
	if (cc->online && cc->bound) {
		switch (req->status) {
		case 0:
			ccid_rx(cc, min(req->actual, cc->rx_req_len));
			break;
		case -ECONNABORTED:
		case -ECONNRESET:
		case -ESHUTDOWN:
			cc->rx_state = CCID_RX_HDR;
			break;
		default:
			/* e.g. -EOVERFLOW: lose the message, resync */
			cc->eng.stats.bad_msgs++;
			cc->rx_state = CCID_RX_HDR;
			break;
		}
	}
	spin_unlock_irqrestore(&cc->lock, flags);
	ccid_pump(cc);
}

/*-------------------------------------------------------------------------*/
/* Time extensions */

static void ccid_te_timer(struct timer_list *t)
{
	struct f_ccid *cc = timer_container_of(cc, t, te_timer);
	unsigned long flags, now = jiffies, next = 0;
	bool any = false;
	u32 s;

	spin_lock_irqsave(&cc->lock, flags);
	if (!cc->bound || !cc->online) {
		spin_unlock_irqrestore(&cc->lock, flags);
		return;
	}
	for (s = 0; s < cc->cfg.nslots; s++) {
		if (!cc->eng.slot[s].busy)
			continue;
		if (time_after_eq(now, cc->te_due[s])) {
			cc->te_want[s] = true;
			cc->te_due[s] = now + CCID_TE_INTERVAL;
		}
		if (!any || time_before(cc->te_due[s], next))
			next = cc->te_due[s];
		any = true;
	}
	if (any)
		mod_timer(&cc->te_timer, next);
	spin_unlock_irqrestore(&cc->lock, flags);
	ccid_pump(cc);
}

/*-------------------------------------------------------------------------*/
/* usb_function callbacks */

/* The host went away, or set_alt starts afresh; any context */
static void ccid_stop(struct f_ccid *cc)
{
	unsigned long flags;
	u32 s;

	spin_lock_irqsave(&cc->lock, flags);
	if (cc->bound) {
		ccid_host_reset(&cc->eng);
		ccid_fifo_flush(cc);
		ccid_evq_del_apdu(cc, -1, 0);
		for (s = 0; s < CCID_MAX_SLOTS; s++)
			cc->te_want[s] = false;
	}
	if (cc->online)
		ccid_evq_push(cc, CCIDG_EV_HOST_DISCONNECT, 0, 0);
	cc->online = false;
	cc->rx_state = CCID_RX_HDR;
	spin_unlock_irqrestore(&cc->lock, flags);

	/* gives back the queued requests; their completions take the lock */
	usb_ep_disable(cc->in_ep);
	usb_ep_disable(cc->out_ep);
	usb_ep_disable(cc->intr_ep);
	wake_up_interruptible_all(&cc->read_wq);
}

static int ccid_enable_ep(struct usb_function *f, struct usb_ep *ep)
{
	struct f_ccid *cc = func_to_ccid(f);
	int ret;

	ret = config_ep_by_speed(f->config->cdev->gadget, f, ep);
	if (ret)
		return ret;
	ret = usb_ep_enable(ep);
	if (ret)
		return ret;
	ep->driver_data = cc;
	return 0;
}

static int ccid_set_alt(struct usb_function *f, unsigned int intf,
			unsigned int alt)
{
	struct f_ccid *cc = func_to_ccid(f);
	struct usb_composite_dev *cdev = f->config->cdev;
	unsigned long flags;
	u32 mps;
	int ret;

	if (intf != cc->intf_id || alt)
		return -EINVAL;

	ccid_stop(cc);

	ret = ccid_enable_ep(f, cc->out_ep);
	if (!ret)
		ret = ccid_enable_ep(f, cc->in_ep);
	if (!ret)
		ret = ccid_enable_ep(f, cc->intr_ep);
	if (ret) {
		ERROR(cdev, "ccid: cannot enable endpoints: %d\n", ret);
		usb_ep_disable(cc->out_ep);
		usb_ep_disable(cc->in_ep);
		usb_ep_disable(cc->intr_ep);
		return ret;
	}

	mps = usb_endpoint_maxp(cc->out_ep->desc);
	if (!mps || mps > CCID_RX_ALIGN || CCID_RX_ALIGN % mps)
		mps = 64;

	spin_lock_irqsave(&cc->lock, flags);
	cc->mps = mps;
	cc->rx_state = CCID_RX_HDR;
	cc->halted = false;
	cc->notify_all = true;
	cc->online = true;
	ccid_evq_push(cc, CCIDG_EV_HOST_CONNECT, 0, 0);
	spin_unlock_irqrestore(&cc->lock, flags);

	ccid_pump(cc);
	return 0;
}

static void ccid_disable(struct usb_function *f)
{
	ccid_stop(func_to_ccid(f));
}

static int ccid_setup(struct usb_function *f,
		      const struct usb_ctrlrequest *ctrl)
{
	struct f_ccid *cc = func_to_ccid(f);
	struct usb_composite_dev *cdev = f->config->cdev;
	struct usb_request *req = cdev->req;
	u16 w_value = le16_to_cpu(ctrl->wValue);
	u16 w_index = le16_to_cpu(ctrl->wIndex);
	u16 w_length = le16_to_cpu(ctrl->wLength);
	bool dir_in = ctrl->bRequestType & USB_DIR_IN;
	struct ccid_result res;
	unsigned long flags;
	u32 len, idx;
	int ret;

	if ((ctrl->bRequestType & USB_TYPE_MASK) != USB_TYPE_CLASS ||
	    (ctrl->bRequestType & USB_RECIP_MASK) != USB_RECIP_INTERFACE ||
	    (w_index & 0xff) != cc->intf_id)
		return -EOPNOTSUPP;

	switch (ctrl->bRequest) {
	case CCID_REQ_ABORT:
		if (dir_in || w_length)
			return -EOPNOTSUPP;
		spin_lock_irqsave(&cc->lock, flags);
		if (!cc->bound || !cc->online) {
			spin_unlock_irqrestore(&cc->lock, flags);
			return -EOPNOTSUPP;
		}
		idx = ccid_get_buf(cc);
		ret = ccid_class_abort(&cc->eng, w_value, ccid_buf(cc, idx),
				       cc->bufsz, &res);
		if (ret)
			ccid_put_buf(cc, idx);
		else
			ccid_apply(cc, idx, &res);
		spin_unlock_irqrestore(&cc->lock, flags);
		if (ret)
			return ret;
		ccid_pump(cc);
		len = 0;
		break;
	case CCID_REQ_GET_CLOCK_FREQUENCIES:
		if (!dir_in)
			return -EOPNOTSUPP;
		len = ccid_clock_frequencies(req->buf, USB_COMP_EP0_BUFSIZ);
		break;
	case CCID_REQ_GET_DATA_RATES:
		if (!dir_in)
			return -EOPNOTSUPP;
		len = ccid_data_rates(req->buf, USB_COMP_EP0_BUFSIZ);
		break;
	default:
		return -EOPNOTSUPP;
	}

	len = min_t(u32, len, w_length);
	req->length = len;
	req->zero = len < w_length;
	ret = usb_ep_queue(cdev->gadget->ep0, req, GFP_ATOMIC);
	if (ret < 0)
		ERROR(cdev, "ccid: ep0 queue failed: %d\n", ret);
	return ret;
}

/*-------------------------------------------------------------------------*/
/* Character device */

/* The file no longer talks to a live binding (cc->lock held) */
static inline bool ccid_file_dead(struct f_ccid *cc, struct ccid_file *cf)
{
	return !cc->bound || cf->gen != cc->gen;
}

/*
 * The next event into cf->read_buf (cc->lock held): 0 and *len, -EAGAIN if
 * there is none, -EMSGSIZE if it does not fit in count, -ENODEV once the
 * binding is gone and the events it left are read.
 */
static int ccid_next_event(struct f_ccid *cc, struct ccid_file *cf,
			   size_t count, size_t *len)
{
	struct ccidg_event ev;
	const u8 *apdu;
	size_t need;
	int n;

	if (cf->gen != cc->gen)
		return -ENODEV;
	while (cc->evq_count) {
		struct ccid_evq_ent *e = &cc->evq[cc->evq_head];

		n = 0;
		if (e->type == CCIDG_EV_APDU) {
			n = cc->bound ? ccid_pending_apdu(&cc->eng, e->slot,
							  e->id, &apdu) :
					-ESTALE;
			if (n < 0) {
				/* answered or cancelled: skip it */
				ccid_evq_pop(cc);
				continue;
			}
		}
		need = sizeof(ev) + n;
		if (count < need)
			return -EMSGSIZE;
		memset(&ev, 0, sizeof(ev));
		ev.type = e->type;
		ev.slot = e->slot;
		ev.id = e->id;
		ev.len = n;
		memcpy(cf->read_buf, &ev, sizeof(ev));
		if (n)
			memcpy(cf->read_buf + sizeof(ev), apdu, n);
		ccid_evq_pop(cc);
		*len = need;
		return 0;
	}
	return cc->bound ? -EAGAIN : -ENODEV;
}

static bool ccid_readable(struct f_ccid *cc, struct ccid_file *cf)
{
	unsigned long flags;
	bool ret;

	spin_lock_irqsave(&cc->lock, flags);
	ret = cc->evq_count || ccid_file_dead(cc, cf);
	spin_unlock_irqrestore(&cc->lock, flags);
	return ret;
}

static ssize_t ccid_read(struct file *file, char __user *buf, size_t count,
			 loff_t *ppos)
{
	struct ccid_file *cf = file->private_data;
	struct f_ccid *cc = cf->cc;
	unsigned long flags;
	size_t len = 0;
	int ret;

	if (!cf->rw)
		return -EPERM;
	if (mutex_lock_interruptible(&cf->read_lock))
		return -ERESTARTSYS;
	for (;;) {
		spin_lock_irqsave(&cc->lock, flags);
		ret = ccid_next_event(cc, cf, count, &len);
		spin_unlock_irqrestore(&cc->lock, flags);
		if (ret != -EAGAIN)
			break;
		if (file->f_flags & O_NONBLOCK)
			break;
		ret = wait_event_interruptible(cc->read_wq,
					       ccid_readable(cc, cf));
		if (ret)
			break;
	}
	if (!ret && copy_to_user(buf, cf->read_buf, len))
		ret = -EFAULT;
	mutex_unlock(&cf->read_lock);
	return ret ? ret : len;
}

static ssize_t ccid_write(struct file *file, const char __user *buf,
			  size_t count, loff_t *ppos)
{
	struct ccid_file *cf = file->private_data;
	struct f_ccid *cc = cf->cc;
	struct ccidg_reply r;
	unsigned long flags;
	u32 idx, len = 0;
	int ret;

	if (!cf->rw)
		return -EPERM;
	if (count < sizeof(r))
		return -EINVAL;
	if (copy_from_user(&r, buf, sizeof(r)))
		return -EFAULT;
	if (r.len > CCIDG_MAX_RSP_APDU || count != sizeof(r) + r.len ||
	    r.flags)
		return -EINVAL;
	if (r.type == CCIDG_REPLY_APDU ? r.len < 2 :
	    r.type != CCIDG_REPLY_ERROR || r.len > 1)
		return -EINVAL;

	if (mutex_lock_interruptible(&cf->write_lock))
		return -ERESTARTSYS;
	if (copy_from_user(cf->write_buf, buf + sizeof(r), r.len)) {
		ret = -EFAULT;
		goto out;
	}

	spin_lock_irqsave(&cc->lock, flags);
	if (ccid_file_dead(cc, cf)) {
		ret = -ENODEV;
	} else if (r.slot >= cc->cfg.nslots) {
		ret = -EINVAL;
	} else {
		idx = ccid_get_buf(cc);
		if (r.type == CCIDG_REPLY_APDU)
			ret = ccid_apdu_reply(&cc->eng, r.slot, r.id,
					      cf->write_buf, r.len,
					      ccid_buf(cc, idx), cc->bufsz,
					      &len);
		else
			ret = ccid_apdu_fail(&cc->eng, r.slot, r.id,
					     r.len ? cf->write_buf[0] :
					     CCID_ERR_ICC_MUTE,
					     ccid_buf(cc, idx), cc->bufsz,
					     &len);
		if (ret) {
			ccid_put_buf(cc, idx);
		} else {
			ccid_fifo_push(cc, idx, len);
			ccid_evq_del_apdu(cc, r.slot, r.id);
		}
	}
	spin_unlock_irqrestore(&cc->lock, flags);
	if (!ret)
		ccid_pump(cc);
out:
	mutex_unlock(&cf->write_lock);
	return ret ? ret : count;
}

static __poll_t ccid_poll(struct file *file, poll_table *wait)
{
	struct ccid_file *cf = file->private_data;
	struct f_ccid *cc = cf->cc;
	unsigned long flags;
	__poll_t mask = 0;

	poll_wait(file, &cc->read_wq, wait);

	spin_lock_irqsave(&cc->lock, flags);
	if (ccid_file_dead(cc, cf))
		mask = EPOLLHUP | (cf->rw ? EPOLLIN | EPOLLRDNORM : 0);
	else if (cf->rw)
		mask = EPOLLOUT | EPOLLWRNORM |
		       (cc->evq_count ? EPOLLIN | EPOLLRDNORM : 0);
	spin_unlock_irqrestore(&cc->lock, flags);
	return mask;
}

static long ccid_ioctl_insert(struct f_ccid *cc, struct ccid_file *cf,
			      void __user *arg)
{
	struct ccidg_card card;
	unsigned long flags;
	u32 i;
	int ret;

	if (copy_from_user(&card, arg, sizeof(card)))
		return -EFAULT;
	for (i = 0; i < sizeof(card.reserved); i++)
		if (card.reserved[i])
			return -EINVAL;
	if (card.atr_len < 2 || card.atr_len > CCIDG_MAX_ATR)
		return -EINVAL;

	spin_lock_irqsave(&cc->lock, flags);
	if (ccid_file_dead(cc, cf))
		ret = -ENODEV;
	else if (card.slot >= cc->cfg.nslots)
		ret = -EINVAL;
	else
		ret = ccid_card_insert(&cc->eng, card.slot, card.atr,
				       card.atr_len);
	spin_unlock_irqrestore(&cc->lock, flags);
	if (!ret)
		ccid_pump(cc);
	return ret;
}

/* Take the card out of slot (cc->lock held) */
static int ccid_remove_card(struct f_ccid *cc, u32 slot)
{
	u32 idx, len = 0, aborted = 0;
	int ret;

	idx = ccid_get_buf(cc);
	ret = ccid_card_remove(&cc->eng, slot, ccid_buf(cc, idx), cc->bufsz,
			       &len, &aborted);
	if (ret || !len) {
		ccid_put_buf(cc, idx);
		return ret;
	}
	ccid_fifo_push(cc, idx, len);
	if (aborted)
		ccid_evq_del_apdu(cc, slot, aborted);
	return 0;
}

static long ccid_ioctl_remove(struct f_ccid *cc, struct ccid_file *cf,
			      u32 __user *arg)
{
	unsigned long flags;
	u32 slot;
	int ret;

	if (get_user(slot, arg))
		return -EFAULT;

	spin_lock_irqsave(&cc->lock, flags);
	if (ccid_file_dead(cc, cf))
		ret = -ENODEV;
	else if (slot >= cc->cfg.nslots)
		ret = -EINVAL;
	else
		ret = ccid_remove_card(cc, slot);
	spin_unlock_irqrestore(&cc->lock, flags);
	if (!ret)
		ccid_pump(cc);
	return ret;
}

static long ccid_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct ccid_file *cf = file->private_data;
	struct f_ccid *cc = cf->cc;
	void __user *uarg = (void __user *)arg;
	unsigned long flags;

	switch (cmd) {
	case CCIDG_IOC_INSERT:
		if (!cf->rw)
			return -EPERM;
		return ccid_ioctl_insert(cc, cf, uarg);

	case CCIDG_IOC_REMOVE:
		if (!cf->rw)
			return -EPERM;
		return ccid_ioctl_remove(cc, cf, uarg);

	case CCIDG_IOC_GET_CONFIG: {
		struct ccidg_config c;

		memset(&c, 0, sizeof(c));
		c.nslots = cc->cfg.nslots;
		c.busy_slots = cc->cfg.busy_slots;
		c.protocols = cc->cfg.protocols;
		c.features = cc->cfg.features;
		c.max_msg_len = cc->cfg.max_msg_len;
		spin_lock_irqsave(&cc->lock, flags);
		c.online = cc->bound && cc->online;
		spin_unlock_irqrestore(&cc->lock, flags);
		return copy_to_user(uarg, &c, sizeof(c)) ? -EFAULT : 0;
	}

	case CCIDG_IOC_GET_STATUS: {
		struct ccidg_status st;

		spin_lock_irqsave(&cc->lock, flags);
		if (cc->bound) {
			ccid_get_status(&cc->eng, &st);
		} else {
			memset(&st, 0, sizeof(st));
			st.nslots = cc->cfg.nslots;
		}
		st.online = cc->bound && cc->online;
		spin_unlock_irqrestore(&cc->lock, flags);
		return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
	}

	case CCIDG_IOC_GET_STATS: {
		struct ccidg_stats st;

		spin_lock_irqsave(&cc->lock, flags);
		st = cc->eng.stats;
		spin_unlock_irqrestore(&cc->lock, flags);
		return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
	}

	default:
		return -ENOTTY;
	}
}

static int ccid_open(struct inode *inode, struct file *file)
{
	struct f_ccid *cc = container_of(inode->i_cdev->kobj.parent,
					 struct f_ccid, dev.kobj);
	unsigned int mode = file->f_flags & O_ACCMODE;
	struct ccid_file *cf;
	unsigned long flags;
	int ret = 0;

	if (mode == O_WRONLY)
		return -EINVAL;

	cf = kzalloc(sizeof(*cf), GFP_KERNEL);
	if (!cf)
		return -ENOMEM;
	cf->cc = cc;
	mutex_init(&cf->read_lock);
	mutex_init(&cf->write_lock);
	if (mode == O_RDWR) {
		cf->read_buf = kvmalloc(CCIDG_EVENT_MAX, GFP_KERNEL);
		cf->write_buf = kvmalloc(CCIDG_MAX_RSP_APDU, GFP_KERNEL);
		if (!cf->read_buf || !cf->write_buf) {
			ret = -ENOMEM;
			goto fail;
		}
	}

	spin_lock_irqsave(&cc->lock, flags);
	if (!cc->bound) {
		ret = -ENODEV;
	} else if (mode == O_RDWR && cc->owner) {
		ret = -EBUSY;
	} else {
		cf->gen = cc->gen;
		if (mode == O_RDWR) {
			cf->rw = true;
			cc->owner = cf;
			ccid_evq_reset(cc);
			if (cc->online)
				ccid_evq_push(cc, CCIDG_EV_HOST_CONNECT, 0, 0);
		}
	}
	spin_unlock_irqrestore(&cc->lock, flags);
	if (ret)
		goto fail;

	file->private_data = cf;
	return stream_open(inode, file);

fail:
	kvfree(cf->read_buf);
	kvfree(cf->write_buf);
	kfree(cf);
	return ret;
}

static int ccid_release(struct inode *inode, struct file *file)
{
	struct ccid_file *cf = file->private_data;
	struct f_ccid *cc = cf->cc;
	unsigned long flags;
	bool owner;
	u32 s;

	spin_lock_irqsave(&cc->lock, flags);
	owner = cc->owner == cf;
	if (owner) {
		/* the cards were this file's: take them out */
		if (cc->bound)
			for (s = 0; s < cc->cfg.nslots; s++)
				ccid_remove_card(cc, s);
		cc->owner = NULL;
		ccid_evq_reset(cc);
	}
	spin_unlock_irqrestore(&cc->lock, flags);
	if (owner)
		ccid_pump(cc);

	kvfree(cf->read_buf);
	kvfree(cf->write_buf);
	kfree(cf);
	return 0;
}

static const struct file_operations ccid_fops = {
	.owner		= THIS_MODULE,
	.open		= ccid_open,
	.release	= ccid_release,
	.read		= ccid_read,
	.write		= ccid_write,
	.poll		= ccid_poll,
	.unlocked_ioctl	= ccid_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/*-------------------------------------------------------------------------*/
/* Descriptors */

#define CCID_STR_INTERFACE	0

static struct usb_string ccid_string_defs[] = {
	[CCID_STR_INTERFACE].s	= "CCID Interface",
	{ }
};

static struct usb_gadget_strings ccid_string_table = {
	.language	= 0x0409,	/* en-US */
	.strings	= ccid_string_defs,
};

static struct usb_gadget_strings *ccid_strings[] = {
	&ccid_string_table,
	NULL,
};

/* Everything bind needs to describe one instance at every speed */
struct ccid_descs {
	struct usb_interface_descriptor intf;
	u8 class_desc[CCID_DESC_LEN];
	struct usb_endpoint_descriptor fs_out, fs_in, fs_intr;
	struct usb_endpoint_descriptor hs_out, hs_in, hs_intr;
	struct usb_endpoint_descriptor ss_out, ss_in, ss_intr;
	struct usb_ss_ep_comp_descriptor ss_bulk_comp, ss_intr_comp;
};

static void ccid_init_ep(struct usb_endpoint_descriptor *d, u8 addr,
			 u8 type, u16 mps, u8 interval)
{
	d->bLength = USB_DT_ENDPOINT_SIZE;
	d->bDescriptorType = USB_DT_ENDPOINT;
	d->bEndpointAddress = addr;
	d->bmAttributes = type;
	d->wMaxPacketSize = cpu_to_le16(mps);
	d->bInterval = interval;
}

static void ccid_init_descs(struct ccid_descs *d, const struct ccid_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->intf.bLength = USB_DT_INTERFACE_SIZE;
	d->intf.bDescriptorType = USB_DT_INTERFACE;
	d->intf.bNumEndpoints = 3;
	d->intf.bInterfaceClass = USB_CLASS_CSCID;
	ccid_build_class_desc(cfg, d->class_desc);

	ccid_init_ep(&d->fs_out, USB_DIR_OUT, USB_ENDPOINT_XFER_BULK, 64, 0);
	ccid_init_ep(&d->fs_in, USB_DIR_IN, USB_ENDPOINT_XFER_BULK, 64, 0);
	/* 16 ms at full speed, 2^(8-1) microframes at high speed */
	ccid_init_ep(&d->fs_intr, USB_DIR_IN, USB_ENDPOINT_XFER_INT,
		     CCID_NOTIFY_BUF, 16);
	ccid_init_ep(&d->hs_out, USB_DIR_OUT, USB_ENDPOINT_XFER_BULK, 512, 0);
	ccid_init_ep(&d->hs_in, USB_DIR_IN, USB_ENDPOINT_XFER_BULK, 512, 0);
	ccid_init_ep(&d->hs_intr, USB_DIR_IN, USB_ENDPOINT_XFER_INT,
		     CCID_NOTIFY_BUF, 8);
	ccid_init_ep(&d->ss_out, USB_DIR_OUT, USB_ENDPOINT_XFER_BULK, 1024, 0);
	ccid_init_ep(&d->ss_in, USB_DIR_IN, USB_ENDPOINT_XFER_BULK, 1024, 0);
	ccid_init_ep(&d->ss_intr, USB_DIR_IN, USB_ENDPOINT_XFER_INT,
		     CCID_NOTIFY_BUF, 8);

	d->ss_bulk_comp.bLength = USB_DT_SS_EP_COMP_SIZE;
	d->ss_bulk_comp.bDescriptorType = USB_DT_SS_ENDPOINT_COMP;
	d->ss_intr_comp.bLength = USB_DT_SS_EP_COMP_SIZE;
	d->ss_intr_comp.bDescriptorType = USB_DT_SS_ENDPOINT_COMP;
	d->ss_intr_comp.wBytesPerInterval = cpu_to_le16(CCID_NOTIFY_BUF);
}

/*-------------------------------------------------------------------------*/
/* bind / unbind */

static void ccid_free_resources(struct f_ccid *cc)
{
	if (cc->in_req) {
		kfree(cc->in_req->buf);
		usb_ep_free_request(cc->in_ep, cc->in_req);
		cc->in_req = NULL;
	}
	if (cc->out_req) {
		/* its buf points into rx_buf */
		usb_ep_free_request(cc->out_ep, cc->out_req);
		cc->out_req = NULL;
	}
	if (cc->intr_req) {
		kfree(cc->intr_req->buf);
		usb_ep_free_request(cc->intr_ep, cc->intr_req);
		cc->intr_req = NULL;
	}
	kfree(cc->rx_buf);
	cc->rx_buf = NULL;
	kvfree(cc->pool);
	cc->pool = NULL;
	kvfree(cc->eng_buf);
	cc->eng_buf = NULL;
}

static struct usb_request *ccid_alloc_req(struct f_ccid *cc, struct usb_ep *ep,
					  u32 size,
					  void (*complete)(struct usb_ep *,
							   struct usb_request *))
{
	struct usb_request *req;

	req = usb_ep_alloc_request(ep, GFP_KERNEL);
	if (!req)
		return NULL;
	if (size) {
		req->buf = kmalloc(size, GFP_KERNEL);
		if (!req->buf) {
			usb_ep_free_request(ep, req);
			return NULL;
		}
	}
	req->complete = complete;
	req->context = cc;
	return req;
}

static int ccid_alloc_resources(struct f_ccid *cc)
{
	u32 i;

	cc->bufsz = cc->cfg.max_msg_len;
	cc->nbufs = cc->cfg.nslots + 2;
	cc->rx_size = roundup(cc->cfg.max_msg_len, CCID_RX_ALIGN) +
		      CCID_RX_ALIGN;

	cc->eng_buf = kvzalloc(ccid_engine_buf_size(&cc->cfg), GFP_KERNEL);
	/* nbufs queueable buffers and the scratch one */
	cc->pool = kvzalloc((size_t)(cc->nbufs + 1) * cc->bufsz, GFP_KERNEL);
	cc->rx_buf = kmalloc(cc->rx_size, GFP_KERNEL);
	if (!cc->eng_buf || !cc->pool || !cc->rx_buf)
		return -ENOMEM;

	cc->in_req = ccid_alloc_req(cc, cc->in_ep, cc->bufsz,
				    ccid_in_complete);
	cc->out_req = ccid_alloc_req(cc, cc->out_ep, 0, ccid_out_complete);
	cc->intr_req = ccid_alloc_req(cc, cc->intr_ep, CCID_NOTIFY_BUF,
				      ccid_intr_complete);
	if (!cc->in_req || !cc->out_req || !cc->intr_req)
		return -ENOMEM;
	cc->in_req->zero = 1;	/* a ZLP after a multiple of maxpacket */
	cc->out_req->buf = cc->rx_buf;

	ccid_engine_init(&cc->eng, &cc->cfg, cc->eng_buf);
	cc->nfree = cc->nbufs;
	for (i = 0; i < cc->nbufs; i++)
		cc->free_idx[i] = i;
	cc->fifo_head = 0;
	cc->fifo_count = 0;
	cc->dropped = 0;
	for (i = 0; i < CCID_MAX_SLOTS; i++)
		cc->te_want[i] = false;
	cc->in_busy = false;
	cc->out_busy = false;
	cc->intr_busy = false;
	cc->rx_state = CCID_RX_HDR;
	cc->mps = 64;
	return 0;
}

static int ccid_bind(struct usb_configuration *c, struct usb_function *f)
{
	struct f_ccid *cc = func_to_ccid(f);
	struct usb_composite_dev *cdev = c->cdev;
	struct usb_descriptor_header *fs[7], *hs[7], *ss[10];
	struct usb_string *us;
	struct ccid_descs *d;
	unsigned long flags;
	struct cdev *chr;
	int ret;

	d = kmalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	ccid_init_descs(d, &cc->cfg);

	us = usb_gstrings_attach(cdev, ccid_strings,
				 ARRAY_SIZE(ccid_string_defs));
	if (IS_ERR(us)) {
		ret = PTR_ERR(us);
		goto fail_descs;
	}
	d->intf.iInterface = us[CCID_STR_INTERFACE].id;

	ret = usb_interface_id(c, f);
	if (ret < 0)
		goto fail_descs;
	cc->intf_id = ret;
	d->intf.bInterfaceNumber = ret;

	ret = -ENODEV;
	cc->out_ep = usb_ep_autoconfig(cdev->gadget, &d->fs_out);
	if (!cc->out_ep)
		goto fail_descs;
	cc->in_ep = usb_ep_autoconfig(cdev->gadget, &d->fs_in);
	if (!cc->in_ep)
		goto fail_descs;
	cc->intr_ep = usb_ep_autoconfig(cdev->gadget, &d->fs_intr);
	if (!cc->intr_ep)
		goto fail_descs;

	d->hs_out.bEndpointAddress = d->fs_out.bEndpointAddress;
	d->hs_in.bEndpointAddress = d->fs_in.bEndpointAddress;
	d->hs_intr.bEndpointAddress = d->fs_intr.bEndpointAddress;
	d->ss_out.bEndpointAddress = d->fs_out.bEndpointAddress;
	d->ss_in.bEndpointAddress = d->fs_in.bEndpointAddress;
	d->ss_intr.bEndpointAddress = d->fs_intr.bEndpointAddress;

	/* the class descriptor follows the interface descriptor */
	fs[0] = (struct usb_descriptor_header *)&d->intf;
	fs[1] = (struct usb_descriptor_header *)d->class_desc;
	fs[2] = (struct usb_descriptor_header *)&d->fs_out;
	fs[3] = (struct usb_descriptor_header *)&d->fs_in;
	fs[4] = (struct usb_descriptor_header *)&d->fs_intr;
	fs[5] = NULL;
	hs[0] = fs[0];
	hs[1] = fs[1];
	hs[2] = (struct usb_descriptor_header *)&d->hs_out;
	hs[3] = (struct usb_descriptor_header *)&d->hs_in;
	hs[4] = (struct usb_descriptor_header *)&d->hs_intr;
	hs[5] = NULL;
	ss[0] = fs[0];
	ss[1] = fs[1];
	ss[2] = (struct usb_descriptor_header *)&d->ss_out;
	ss[3] = (struct usb_descriptor_header *)&d->ss_bulk_comp;
	ss[4] = (struct usb_descriptor_header *)&d->ss_in;
	ss[5] = (struct usb_descriptor_header *)&d->ss_bulk_comp;
	ss[6] = (struct usb_descriptor_header *)&d->ss_intr;
	ss[7] = (struct usb_descriptor_header *)&d->ss_intr_comp;
	ss[8] = NULL;

	/* copies the descriptors: d is not needed afterwards */
	ret = usb_assign_descriptors(f, fs, hs, ss, ss);
	kfree(d);
	d = NULL;
	if (ret)
		goto fail;

	ret = ccid_alloc_resources(cc);
	if (ret)
		goto fail_free;

	chr = cdev_alloc();
	if (!chr) {
		ret = -ENOMEM;
		goto fail_free;
	}
	chr->ops = &ccid_fops;
	chr->owner = THIS_MODULE;
	cc->cdev = chr;

	spin_lock_irqsave(&cc->lock, flags);
	cc->gen++;
	cc->bound = true;
	cc->online = false;
	cc->owner = NULL;
	ccid_evq_reset(cc);
	spin_unlock_irqrestore(&cc->lock, flags);

	ret = cdev_device_add(chr, &cc->dev);
	if (ret) {
		spin_lock_irqsave(&cc->lock, flags);
		cc->bound = false;
		spin_unlock_irqrestore(&cc->lock, flags);
		kobject_put(&chr->kobj);
		cc->cdev = NULL;
		goto fail_free;
	}

	DBG(cdev, "ccid: %s speed, IN/%s OUT/%s INT/%s, /dev/ccidg%d\n",
	    gadget_is_superspeed(c->cdev->gadget) ? "super" :
	    gadget_is_dualspeed(c->cdev->gadget) ? "dual" : "full",
	    cc->in_ep->name, cc->out_ep->name, cc->intr_ep->name, cc->minor);
	return 0;

fail_free:
	ccid_free_resources(cc);
	usb_free_all_descriptors(f);
	goto fail;
fail_descs:
	kfree(d);
fail:
	ERROR(cdev, "ccid: bind failed: %d\n", ret);
	return ret;
}

static void ccid_unbind(struct usb_configuration *c, struct usb_function *f)
{
	struct f_ccid *cc = func_to_ccid(f);
	unsigned long flags;
	unsigned long deadline;
	bool busy;
	u32 s;

	/* no new opens; open files stay and see the binding die */
	cdev_device_del(cc->cdev, &cc->dev);
	cc->cdev = NULL;

	/* normally done by disable already */
	ccid_stop(cc);

	spin_lock_irqsave(&cc->lock, flags);
	for (s = 0; s < cc->cfg.nslots; s++)
		if (cc->eng.slot[s].state != CCIDG_SLOT_EMPTY)
			ccid_evq_push(cc, CCIDG_EV_CARD_REMOVED, s, 0);
	cc->bound = false;
	cc->online = false;
	cc->owner = NULL;
	spin_unlock_irqrestore(&cc->lock, flags);
	wake_up_interruptible_all(&cc->read_wq);

	/*
	 * Wait for completions still running on another CPU and for a pump
	 * still inside usb_ep_queue(); with online clear nothing new starts.
	 */
	deadline = jiffies + 2 * HZ;
	for (;;) {
		spin_lock_irqsave(&cc->lock, flags);
		busy = cc->pumping || cc->in_busy || cc->out_busy ||
		       cc->intr_busy;
		spin_unlock_irqrestore(&cc->lock, flags);
		if (!busy)
			break;
		if (time_after(jiffies, deadline)) {
			pr_err("ccidg%d: requests not given back, leaking them\n",
			       cc->minor);
			cc->in_req = NULL;
			cc->out_req = NULL;
			cc->intr_req = NULL;
			cc->rx_buf = NULL;	/* out_req may still fill it */
			break;
		}
		usleep_range(500, 1000);
	}
	timer_delete_sync(&cc->te_timer);

	if (cc->dropped)
		pr_warn("ccidg%d: %u replies dropped\n", cc->minor, cc->dropped);
	ccid_free_resources(cc);
	usb_free_all_descriptors(f);
}

/*-------------------------------------------------------------------------*/
/* configfs */

/* The attributes are u32 fields of struct ccid_config, named by offset */
#define CCID_OPT(field)		offsetof(struct ccid_config, field)

static inline u32 *ccid_opt_field(struct ccid_config *cfg, size_t off)
{
	return (u32 *)((u8 *)cfg + off);
}

static ssize_t ccid_opt_show(struct config_item *item, char *page,
			     size_t off)
{
	struct f_ccid_opts *opts = to_ccid_opts(item);
	u32 val;

	mutex_lock(&opts->lock);
	val = *ccid_opt_field(&opts->cfg, off);
	mutex_unlock(&opts->lock);

	if (off == CCID_OPT(features))
		return sysfs_emit(page, "0x%08x\n", val);
	return sysfs_emit(page, "%u\n", val);
}

static ssize_t ccid_opt_store(struct config_item *item, const char *page,
			      size_t len, size_t off)
{
	struct f_ccid_opts *opts = to_ccid_opts(item);
	struct ccid_config cfg;
	bool busy_set;
	u32 val;
	int ret;

	ret = kstrtou32(page, 0, &val);
	if (ret)
		return ret;

	mutex_lock(&opts->lock);
	if (opts->refcnt) {
		ret = -EBUSY;
		goto out;
	}
	cfg = opts->cfg;
	busy_set = opts->busy_slots_set;
	if (off == CCID_OPT(busy_slots)) {
		/* 0: follow nslots again */
		busy_set = val != 0;
		cfg.busy_slots = val ? val : cfg.nslots;
	} else {
		*ccid_opt_field(&cfg, off) = val;
		if (off == CCID_OPT(nslots) && !busy_set)
			cfg.busy_slots = val;
	}
	if (ccid_config_check(&cfg)) {
		ret = -EINVAL;
		goto out;
	}
	opts->cfg = cfg;
	opts->busy_slots_set = busy_set;
	ret = len;
out:
	mutex_unlock(&opts->lock);
	return ret;
}

static ssize_t f_ccid_opts_nslots_show(struct config_item *item, char *page)
{
	return ccid_opt_show(item, page, CCID_OPT(nslots));
}

static ssize_t f_ccid_opts_nslots_store(struct config_item *item,
					const char *page, size_t len)
{
	return ccid_opt_store(item, page, len, CCID_OPT(nslots));
}

CONFIGFS_ATTR(f_ccid_opts_, nslots);

static ssize_t f_ccid_opts_busy_slots_show(struct config_item *item, char *page)
{
	return ccid_opt_show(item, page, CCID_OPT(busy_slots));
}

static ssize_t f_ccid_opts_busy_slots_store(struct config_item *item,
					    const char *page, size_t len)
{
	return ccid_opt_store(item, page, len, CCID_OPT(busy_slots));
}

CONFIGFS_ATTR(f_ccid_opts_, busy_slots);

static ssize_t f_ccid_opts_protocols_show(struct config_item *item, char *page)
{
	return ccid_opt_show(item, page, CCID_OPT(protocols));
}

static ssize_t f_ccid_opts_protocols_store(struct config_item *item,
					   const char *page, size_t len)
{
	return ccid_opt_store(item, page, len, CCID_OPT(protocols));
}

CONFIGFS_ATTR(f_ccid_opts_, protocols);

static ssize_t f_ccid_opts_features_show(struct config_item *item, char *page)
{
	return ccid_opt_show(item, page, CCID_OPT(features));
}

static ssize_t f_ccid_opts_features_store(struct config_item *item,
					  const char *page, size_t len)
{
	return ccid_opt_store(item, page, len, CCID_OPT(features));
}

CONFIGFS_ATTR(f_ccid_opts_, features);

static ssize_t f_ccid_opts_max_msg_len_show(struct config_item *item, char *page)
{
	return ccid_opt_show(item, page, CCID_OPT(max_msg_len));
}

static ssize_t f_ccid_opts_max_msg_len_store(struct config_item *item,
					     const char *page, size_t len)
{
	return ccid_opt_store(item, page, len, CCID_OPT(max_msg_len));
}

CONFIGFS_ATTR(f_ccid_opts_, max_msg_len);

static ssize_t f_ccid_opts_dev_show(struct config_item *item, char *page)
{
	struct f_ccid_opts *opts = to_ccid_opts(item);

	return sysfs_emit(page, "%d:%d\n", ccidg_major, opts->minor);
}

CONFIGFS_ATTR_RO(f_ccid_opts_, dev);

static struct configfs_attribute *ccid_attrs[] = {
	&f_ccid_opts_attr_nslots,
	&f_ccid_opts_attr_busy_slots,
	&f_ccid_opts_attr_protocols,
	&f_ccid_opts_attr_features,
	&f_ccid_opts_attr_max_msg_len,
	&f_ccid_opts_attr_dev,
	NULL,
};

static void ccid_attr_release(struct config_item *item)
{
	struct f_ccid_opts *opts = to_ccid_opts(item);

	usb_put_function_instance(&opts->func_inst);
}

static struct configfs_item_operations ccid_item_ops = {
	.release	= ccid_attr_release,
};

static const struct config_item_type ccid_func_type = {
	.ct_item_ops	= &ccid_item_ops,
	.ct_attrs	= ccid_attrs,
	.ct_owner	= THIS_MODULE,
};

/*-------------------------------------------------------------------------*/
/* Instances and functions */

/* ccidg_ida_lock held */
static int ccidg_chrdev_setup(void)
{
	dev_t devt;
	int ret;

	ccidg_class = ccid_class_create("ccidg");
	if (IS_ERR(ccidg_class)) {
		ret = PTR_ERR(ccidg_class);
		ccidg_class = NULL;
		return ret;
	}
	ret = alloc_chrdev_region(&devt, 0, CCIDG_MINORS, "ccidg");
	if (ret) {
		class_destroy(ccidg_class);
		ccidg_class = NULL;
		return ret;
	}
	ccidg_major = MAJOR(devt);
	return 0;
}

/* ccidg_ida_lock held */
static void ccidg_chrdev_cleanup(void)
{
	if (ccidg_major) {
		unregister_chrdev_region(MKDEV(ccidg_major, 0), CCIDG_MINORS);
		ccidg_major = 0;
	}
	class_destroy(ccidg_class);
	ccidg_class = NULL;
}

static void ccid_free_inst(struct usb_function_instance *fi)
{
	struct f_ccid_opts *opts = container_of(fi, struct f_ccid_opts,
						func_inst);

	mutex_lock(&ccidg_ida_lock);
	ida_free(&ccidg_ida, opts->minor);
	if (ida_is_empty(&ccidg_ida))
		ccidg_chrdev_cleanup();
	mutex_unlock(&ccidg_ida_lock);

	mutex_destroy(&opts->lock);
	kfree(opts);
}

static struct usb_function_instance *ccid_alloc_inst(void)
{
	struct f_ccid_opts *opts;
	int ret = 0;

	opts = kzalloc(sizeof(*opts), GFP_KERNEL);
	if (!opts)
		return ERR_PTR(-ENOMEM);
	mutex_init(&opts->lock);
	opts->func_inst.free_func_inst = ccid_free_inst;
	ccid_config_default(&opts->cfg);

	mutex_lock(&ccidg_ida_lock);
	if (ida_is_empty(&ccidg_ida))
		ret = ccidg_chrdev_setup();
	if (!ret) {
		opts->minor = ida_alloc_max(&ccidg_ida, CCIDG_MINORS - 1,
					    GFP_KERNEL);
		if (opts->minor < 0) {
			ret = opts->minor == -ENOSPC ? -ENODEV : opts->minor;
			if (ida_is_empty(&ccidg_ida))
				ccidg_chrdev_cleanup();
		}
	}
	mutex_unlock(&ccidg_ida_lock);
	if (ret) {
		mutex_destroy(&opts->lock);
		kfree(opts);
		return ERR_PTR(ret);
	}

	config_group_init_type_name(&opts->func_inst.group, "",
				    &ccid_func_type);
	return &opts->func_inst;
}

static void ccid_dev_release(struct device *dev)
{
	struct f_ccid *cc = container_of(dev, struct f_ccid, dev);

	kfree(cc);
}

static void ccid_free(struct usb_function *f)
{
	struct f_ccid *cc = func_to_ccid(f);
	struct f_ccid_opts *opts = container_of(f->fi, struct f_ccid_opts,
						func_inst);

	mutex_lock(&opts->lock);
	opts->refcnt--;
	mutex_unlock(&opts->lock);
	put_device(&cc->dev);
}

static struct usb_function *ccid_alloc(struct usb_function_instance *fi)
{
	struct f_ccid_opts *opts = container_of(fi, struct f_ccid_opts,
						func_inst);
	struct f_ccid *cc;
	int ret;

	cc = kzalloc(sizeof(*cc), GFP_KERNEL);
	if (!cc)
		return ERR_PTR(-ENOMEM);

	spin_lock_init(&cc->lock);
	init_waitqueue_head(&cc->read_wq);
	timer_setup(&cc->te_timer, ccid_te_timer, 0);

	mutex_lock(&opts->lock);
	cc->cfg = opts->cfg;
	cc->minor = opts->minor;

	device_initialize(&cc->dev);
	cc->dev.release = ccid_dev_release;
	cc->dev.class = ccidg_class;
	cc->dev.devt = MKDEV(ccidg_major, opts->minor);
	ret = dev_set_name(&cc->dev, "ccidg%d", opts->minor);
	if (ret) {
		mutex_unlock(&opts->lock);
		put_device(&cc->dev);
		return ERR_PTR(ret);
	}
	opts->refcnt++;
	mutex_unlock(&opts->lock);

	cc->func.name = "ccid";
	cc->func.bind = ccid_bind;
	cc->func.unbind = ccid_unbind;
	cc->func.set_alt = ccid_set_alt;
	cc->func.disable = ccid_disable;
	cc->func.setup = ccid_setup;
	cc->func.free_func = ccid_free;
	return &cc->func;
}

DECLARE_USB_FUNCTION_INIT(ccid, ccid_alloc_inst, ccid_alloc);
MODULE_DESCRIPTION("USB CCID smartcard reader gadget function");
MODULE_LICENSE("GPL");
