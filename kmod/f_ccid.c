// SPDX-License-Identifier: GPL-2.0
/*
 * f_ccid.c -- USB CCID (smartcard reader) gadget function
 *
 * The function presents one CCID interface (bulk-out, bulk-in and
 * interrupt-in endpoints) to the USB host and one character device,
 * /dev/ccidg<N>, to a userspace daemon that provides the cards. The CCID
 * protocol itself lives in ccid_engine.c; this file moves bytes between
 * the endpoints, the engine and the character device, copying as little
 * as it can:
 *
 * - bulk-out: a message is received in place into one of a few buffers
 *   (header first: a message need not end with a short packet). A command
 *   APDU stays where it arrived until read() copies it to userspace. Only
 *   the pieces of a chained command are copied, into the slot's buffer in
 *   the engine, and that happens in process context (copy_work).
 * - bulk-in: every slot has an IN request of its own. write() copies the
 *   response APDU from userspace straight into it, after the 10-byte
 *   header that the engine writes in place. Replies to the host's own
 *   commands (status, parameters, an ATR, errors) and time extensions go
 *   through a few small requests. Several requests may be queued at once.
 *
 * Locking: one spinlock, f_ccid.lock, taken with irqsave, protects the
 * engine and every piece of state below it. It is held across the calls
 * into the UDC that can give a request back (usb_ep_queue(),
 * usb_ep_dequeue(), usb_ep_disable()), so that nothing can come between
 * building a request and queueing it: a reset (set_alt, disable) cannot
 * slip in and make a request of the old session go out in the new one. A
 * UDC may give a request back from inside such a call (dummy_hcd does it
 * for short IN transfers), on the same CPU: see ccid_udc_begin(). Copies
 * to and from userspace happen with no lock held, into buffers reserved
 * for the purpose (a slot's IN request marked filling, an OUT buffer
 * pinned).
 *
 * Lifetime: each binding has a struct ccid_node (the char device's struct
 * device and cdev), which holds a reference on the f_ccid. An open file
 * pins the cdev, the cdev pins the node, so an open file keeps the f_ccid
 * alive after unbind and after the function is freed; it then only gets
 * errors.
 */

#include <linux/cdev.h>
#include <linux/compat.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/kref.h>
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
#include <linux/workqueue.h>
#include <linux/usb/ch9.h>
#include <linux/usb/composite.h>
#include <linux/usb/gadget.h>
#include <linux/usb/g_ccid.h>

#include "ccid_compat.h"
#include "ccid_engine.h"
#include "u_ccid.h"

#define CCIDG_MINORS		16

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
/* After a failed usb_ep_queue(), try again this much later */
#define CCID_RETRY_DELAY	msecs_to_jiffies(20)
/*
 * NotifySlotChange pacing, for libccid before 1.7.0: its multi-slot
 * polling thread clears its "completed" flag only after submitting the
 * interrupt transfer, so a transfer that completes at once (a message
 * already waiting in the function) can be reaped by another thread first;
 * the flag is then lost and the thread waits for ever, and the reader
 * reports no card change again. So a message is queued only when the
 * host's transfer is likely waiting already: once the host has sent a
 * bulk-out message since it connected, CCID_NOTIFY_HOLD after that and
 * after the previous message was taken. One that no host takes within
 * CCID_NOTIFY_STALE (its driver is closed) is taken back, and offered
 * again after the next bulk-out message.
 */
#define CCID_NOTIFY_HOLD	msecs_to_jiffies(50)
#define CCID_NOTIFY_STALE	(2 * HZ)

#define CCID_NOTIFY_BUF		8	/* interrupt-in wMaxPacketSize */
/* A bulk-out transfer is a whole number of packets: it may end up to a
 * packet (1024 bytes at super speed) past the end of the message
 */
#define CCID_RX_SLACK		1024
/* Small IN requests: one for the reply to the message being received,
 * one for each slot (a time extension, or a chained command's piece),
 * one spare
 */
#define CCID_NSMALL(cfg)	((cfg)->nslots + 2)
#define CCID_MAX_SMALL		(CCID_MAX_SLOTS + 2)
/* OUT buffers: one for each command that may be pending, one to receive */
#define CCID_NRX(cfg)		((cfg)->busy_slots + 1)
#define CCID_MAX_RX		(CCID_MAX_SLOTS + 1)

static int ccidg_major;
static struct class *ccidg_class;
static DEFINE_IDA(ccidg_ida);
static DEFINE_MUTEX(ccidg_ida_lock);	/* ccidg_ida, class and region */
/* Nodes not released yet: module exit waits for them (their release is
 * module code)
 */
static atomic_t ccidg_nodes = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(ccidg_nodes_wq);

#ifdef CCID_DEBUG_WINDOWS
/*
 * Test builds only (make ... CCID_DEBUG_WINDOWS=y): knobs that widen the
 * windows in which requests are queued and make usb_ep_queue() fail, so
 * that the VM tests can reach races and error paths on demand.
 */
static unsigned int dbg_queue_delay_us;
module_param(dbg_queue_delay_us, uint, 0644);
MODULE_PARM_DESC(dbg_queue_delay_us, "test builds: delay before each usb_ep_queue()");
static unsigned int dbg_queue_stall_us;
module_param(dbg_queue_stall_us, uint, 0644);
MODULE_PARM_DESC(dbg_queue_stall_us, "test builds: delay the next usb_ep_queue() only");
static unsigned int dbg_fail_queue;
module_param(dbg_fail_queue, uint, 0644);
MODULE_PARM_DESC(dbg_fail_queue,
		 "test builds: fail the next usb_ep_queue() on bulk-in (1), bulk-out (2), interrupt-in (4)");
#endif

/*-------------------------------------------------------------------------*/

enum ccid_rx_state {
	CCID_RX_HDR,		/* waiting for the first packet of a message */
	CCID_RX_BODY,		/* header known, receiving the rest */
	CCID_RX_DISCARD,	/* message too long, skipping its data */
};

struct ccid_evq_ent {
	u8 type;		/* enum ccidg_event_type */
	u8 slot;
	u32 id;
	u32 seq;		/* tells this event from a later one */
};

/* An OUT buffer; a message arrives in it and may stay there */
struct ccid_rxbuf {
	u8 *buf;
	u32 pins;		/* a pending APDU, a copy job or read() use it */
};

/* The bulk-in side of one slot */
struct ccid_slot_in {
	struct usb_request *req;	/* answers the slot's commands */
	bool busy;			/* queued, waiting to be, or filling */
	bool filling;			/* write() or copy_work fills it */
	bool deferred;			/* a failure reply waits for req */
	u8 defer_hdr[CCID_HDR_LEN];
	u8 *rsp;			/* a response too long for one
					 * message, while it is chained out
					 */
	int apdu_rx;			/* OUT buffer of the pending APDU */
	u32 apdu_id;
	bool reading;			/* read() copies the APDU from the
					 * engine's chaining buffer
					 */
	/* a copy job (CCID_EV_CMD_COPY or CCID_EV_RSP_NEXT) */
	u32 job;
	u32 job_gen;
	const u8 *job_src;
	u8 *job_dst;
	u32 job_off, job_len;
	int job_rx;			/* OUT buffer the piece is in */
	int job_small;			/* small request for the reply */
};

struct ccid_file;
struct ccid_node;

struct f_ccid {
	struct usb_function func;
	struct kref ref;		/* the function and each node */
	int minor;
	struct ccid_config cfg;		/* fixed when the function is made */
	u8 intf_id;
	struct usb_composite_dev *cdev;

	spinlock_t lock;		/* all that follows */
	struct task_struct *udc_caller;	/* see ccid_udc_begin() */
	bool bound;			/* engine and buffers exist */
	bool online;			/* endpoints enabled by the host */
	bool kicking;			/* ccid_kick() is running */
	bool kick_again;		/* ...and should look once more */
	bool retry_pending;		/* a queue failed, the timer retries */
	u32 gen;			/* bumped at every bind */
	struct ccid_node *node;		/* char device of this binding */
	struct ccid_file *owner;	/* the O_RDWR opener */
	struct ccid_engine eng;
	u8 *eng_buf;
	u32 queued;			/* requests on the endpoints */
	u32 users;			/* copies made outside the lock */
	wait_queue_head_t idle_wq;	/* unbind waits for both to be 0 */

	struct usb_ep *in_ep, *out_ep, *intr_ep;
	bool eps_down;			/* a request came back -ESHUTDOWN */

	/* bulk-out */
	struct usb_request *out_req;
	bool out_queued;
	struct ccid_rxbuf rx[CCID_MAX_RX];
	u32 nrx;
	u32 rx_size;
	int rx_cur;			/* buffer receiving a message, or -1 */
	int rx_small;			/* small request for its reply, or -1 */
	u32 mps;			/* bulk-out wMaxPacketSize */
	enum ccid_rx_state rx_state;
	u8 rx_slot;			/* bSlot of the message in BODY state */
	bool rx_resync;			/* drop what the queued request brings */
	u32 rx_have;			/* bytes of the message received */
	u32 rx_total;			/* its announced total length */
	u32 rx_req_len;			/* length of the queued request */
	u32 rx_discard;			/* bytes still to skip */

	/* bulk-in */
	struct ccid_slot_in sin[CCID_MAX_SLOTS];
	u32 sin_size;			/* a slot request's buffer */
	struct usb_request *small[CCID_MAX_SMALL];
	bool small_busy[CCID_MAX_SMALL];
	u32 nsmall;
	struct list_head in_ready;	/* built, in the order to queue */

	/* interrupt-in */
	struct usb_request *intr_req;
	bool intr_busy;			/* queued or waiting to be */
	bool intr_ready;		/* built, not queued yet */
	bool notify_all;		/* report every slot on connect */
	bool intr_dequeuing;		/* taken back, not given back yet */
	bool host_seen;			/* a bulk-out message since connect */
	unsigned long intr_hold_until;	/* see CCID_NOTIFY_HOLD */
	unsigned long intr_queued_at;

	/* time extensions and retries */
	struct timer_list timer;
	unsigned long te_due[CCID_MAX_SLOTS];
	bool te_want[CCID_MAX_SLOTS];

	/* chained copies, in process context */
	struct work_struct copy_work;
	wait_queue_head_t slot_wq;	/* a slot request became free */

	/* events for the O_RDWR opener */
	struct ccid_evq_ent evq[CCID_EVQ_LEN];
	u32 evq_head, evq_count, evq_host, evq_seq;
	wait_queue_head_t read_wq;
};

/**
 * struct ccid_node - the char device of one binding
 * @dev: /dev/ccidg<N>'s device; its release frees the node
 * @cdev: the char device, whose kobject holds @dev
 * @cc: the function, with a reference
 *
 * A node is made at every bind and deleted at unbind (a struct device is
 * added once in its life), so an open file of an earlier binding keeps
 * its own node.
 */
struct ccid_node {
	struct device dev;
	struct cdev cdev;
	struct f_ccid *cc;
};

/* One open file */
struct ccid_file {
	struct f_ccid *cc;
	u32 gen;			/* cc->gen when opened */
	bool rw;			/* the owner: may read, write, insert */
	struct mutex read_lock;		/* one read() at a time */
	struct mutex write_lock;	/* one write() at a time */
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

static void ccid_kick(struct f_ccid *cc);

/*-------------------------------------------------------------------------*/
/* Calls into the UDC (cc->lock held) */

/**
 * ccid_udc_begin() - mark the start of a call into the UDC
 * @cc: the function, cc->lock held
 *
 * cc->lock stays held across usb_ep_queue(), usb_ep_dequeue() and
 * usb_ep_disable(). A completion handler that the UDC calls from inside
 * one of them runs in the same task (or in the interrupt it runs in) and
 * must not take cc->lock again: ccid_in_udc_call() tells it so. Any other
 * completion, on this CPU or another, finds a different task and takes
 * the lock as usual. The handler then only records what happened and
 * leaves the queueing to the ccid_kick() loop that called the UDC.
 */
static void ccid_udc_begin(struct f_ccid *cc)
{
	lockdep_assert_held(&cc->lock);
	WRITE_ONCE(cc->udc_caller, current);
}

static void ccid_udc_end(struct f_ccid *cc)
{
	WRITE_ONCE(cc->udc_caller, NULL);
}

static bool ccid_in_udc_call(struct f_ccid *cc)
{
	return READ_ONCE(cc->udc_caller) == current;
}

#ifdef CCID_DEBUG_WINDOWS
static int ccid_dbg_queue(struct f_ccid *cc, struct usb_ep *ep)
{
	unsigned int bit = ep == cc->in_ep ? 1 : ep == cc->out_ep ? 2 : 4;
	unsigned int us = READ_ONCE(dbg_queue_delay_us);

	/* one call only: several in a row, with interrupts off, would stall RCU */
	us += xchg(&dbg_queue_stall_us, 0);
	if (us) {
		mdelay(us / 1000);
		udelay(us % 1000);
	}
	if (READ_ONCE(dbg_fail_queue) & bit) {
		WRITE_ONCE(dbg_fail_queue, dbg_fail_queue & ~bit);
		return -EIO;
	}
	return 0;
}
#else
static inline int ccid_dbg_queue(struct f_ccid *cc, struct usb_ep *ep)
{
	return 0;
}
#endif

static int ccid_queue(struct f_ccid *cc, struct usb_ep *ep,
		      struct usb_request *req)
{
	int ret;

	ret = ccid_dbg_queue(cc, ep);
	if (ret)
		return ret;
	ccid_udc_begin(cc);
	cc->queued++;
	ret = usb_ep_queue(ep, req, GFP_ATOMIC);
	if (ret)
		cc->queued--;
	ccid_udc_end(cc);
	return ret;
}

static void ccid_disable_eps(struct f_ccid *cc)
{
	ccid_udc_begin(cc);
	usb_ep_disable(cc->in_ep);
	usb_ep_disable(cc->out_ep);
	usb_ep_disable(cc->intr_ep);
	ccid_udc_end(cc);
}

/* A request came back (cc->lock held) */
static void ccid_given_back(struct f_ccid *cc)
{
	if (!WARN_ON_ONCE(!cc->queued))
		cc->queued--;
	if (!cc->queued)
		wake_up_all(&cc->idle_wq);
}

/* A queue failed: try again shortly, unless the host is gone */
static void ccid_queue_failed(struct f_ccid *cc, struct usb_ep *ep, int ret)
{
	if (cc->online)
		dev_warn_ratelimited(&cc->cdev->gadget->dev,
				     "ccid: queue on %s failed (%d), retrying\n",
				     ep->name, ret);
	if (!cc->retry_pending && cc->online) {
		cc->retry_pending = true;
		timer_reduce(&cc->timer, jiffies + CCID_RETRY_DELAY);
	}
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
		dev_warn_ratelimited(&cc->cdev->gadget->dev,
				     "ccidg%d: event queue full, event %u dropped\n",
				     cc->minor, type);
		return;
	}
	if (WARN_ON_ONCE(cc->evq_count >= CCID_EVQ_LEN))
		return;		/* cannot happen, see CCID_EVQ_LEN */

	ev = &cc->evq[(cc->evq_head + cc->evq_count) % CCID_EVQ_LEN];
	ev->type = type;
	ev->slot = slot;
	ev->id = id;
	ev->seq = ++cc->evq_seq;
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
/* Buffers and requests (cc->lock held) */

static void ccid_rx_unpin(struct f_ccid *cc, int i)
{
	if (i >= 0 && !WARN_ON_ONCE(!cc->rx[i].pins))
		cc->rx[i].pins--;
}

/* The OUT buffer of a slot's APDU is released once the APDU is gone */
static void ccid_unpin_stale(struct f_ccid *cc)
{
	u32 s;

	for (s = 0; s < cc->cfg.nslots; s++) {
		struct ccid_slot_in *si = &cc->sin[s];

		if (si->apdu_rx >= 0 &&
		    !ccid_id_pending(&cc->eng, s, si->apdu_id)) {
			ccid_rx_unpin(cc, si->apdu_rx);
			si->apdu_rx = -1;
		}
	}
}

static int ccid_small_get(struct f_ccid *cc)
{
	u32 i;

	for (i = 0; i < cc->nsmall; i++) {
		if (!cc->small_busy[i]) {
			cc->small_busy[i] = true;
			return i;
		}
	}
	return -1;
}

static void ccid_small_put(struct f_ccid *cc, int i)
{
	if (i >= 0)
		cc->small_busy[i] = false;
}

/* Queue req after everything built before it */
static void ccid_in_ready(struct f_ccid *cc, struct usb_request *req, u32 len)
{
	req->length = len;
	list_add_tail(&req->list, &cc->in_ready);
}

/* Send small request i with the len bytes built in it, or free it */
static void ccid_small_send(struct f_ccid *cc, int i, u32 len)
{
	if (i < 0)
		return;
	if (len && cc->online)
		ccid_in_ready(cc, cc->small[i], len);
	else
		ccid_small_put(cc, i);
}

/*
 * A failure reply (a header) for the command pending on slot goes out on
 * the slot's request; if that is still busy with the previous answer,
 * once it is free.
 */
static u8 *ccid_fail_buf(struct f_ccid *cc, u32 slot)
{
	struct ccid_slot_in *si = &cc->sin[slot];

	return si->busy ? si->defer_hdr : si->req->buf;
}

static void ccid_fail_send(struct f_ccid *cc, u32 slot, u32 len)
{
	struct ccid_slot_in *si = &cc->sin[slot];

	if (!len || !cc->online)
		return;
	if (si->busy) {
		si->deferred = true;
		return;
	}
	si->busy = true;
	ccid_in_ready(cc, si->req, len);
}

/* The slot's request is free again: a deferred failure goes now */
static void ccid_sin_release(struct f_ccid *cc, u32 slot)
{
	struct ccid_slot_in *si = &cc->sin[slot];

	si->busy = false;
	si->filling = false;
	if (si->deferred && cc->online) {
		si->deferred = false;
		memcpy(si->req->buf, si->defer_hdr, CCID_HDR_LEN);
		si->busy = true;
		ccid_in_ready(cc, si->req, CCID_HDR_LEN);
	}
	si->deferred = false;
	wake_up_all(&cc->slot_wq);
}

/*-------------------------------------------------------------------------*/
/* Engine results (cc->lock held) */

/* Events of a message or request, for userspace and the timer */
static void ccid_apply(struct f_ccid *cc, const struct ccid_result *res)
{
	u32 slot = res->slot;

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
		timer_reduce(&cc->timer, cc->te_due[slot]);
	}
	ccid_unpin_stale(cc);
}

/* Hand a copy job to copy_work */
static void ccid_job(struct f_ccid *cc, const struct ccid_result *res,
		     int rx, int small)
{
	struct ccid_slot_in *si = &cc->sin[res->slot];

	si->job = res->events & (CCID_EV_CMD_COPY | CCID_EV_RSP_NEXT);
	si->job_gen = res->gen;
	si->job_src = res->copy_src;
	si->job_dst = res->copy_dst;
	si->job_off = res->copy_off;
	si->job_len = res->copy_len;
	si->job_rx = rx;
	if (rx >= 0)
		cc->rx[rx].pins++;
	si->job_small = small;
	queue_work(system_wq, &cc->copy_work);
}

/*
 * A complete (or truncated) bulk-out message in rx buffer cc->rx_cur:
 * the engine answers it, keeps its APDU where it lies, or hands out a
 * copy job.
 */
static void ccid_deliver(struct f_ccid *cc, u32 len)
{
	int rx = cc->rx_cur, small = cc->rx_small;
	struct ccid_result res;
	u8 *out = cc->small[small]->buf;

	cc->rx_small = -1;
	ccid_handle_msg(&cc->eng, cc->rx[rx].buf, len, out,
			CCID_SMALL_REPLY_MAX, &res);
	if (res.reply_len) {
		ccid_small_send(cc, small, res.reply_len);
		small = -1;
	}
	if (res.events & (CCID_EV_APDU_IN_MSG | CCID_EV_CMD_COPY))
		cc->rx_cur = -1;	/* it stays in use: receive elsewhere */
	if (res.events & CCID_EV_APDU_IN_MSG) {
		cc->sin[res.slot].apdu_rx = rx;
		cc->sin[res.slot].apdu_id = res.id;
		cc->rx[rx].pins++;
	}
	if (res.events & CCID_EV_CMD_COPY) {
		/* the chain ack goes out on the reserved small request */
		ccid_job(cc, &res, rx, small);
		small = -1;
	} else if (res.events & CCID_EV_RSP_NEXT) {
		ccid_job(cc, &res, -1, -1);
	}
	ccid_small_put(cc, small);
	ccid_apply(cc, &res);
}

/*-------------------------------------------------------------------------*/
/* Queueing */

/* A free OUT buffer for the next message, or -1 */
static int ccid_rx_pick(struct f_ccid *cc)
{
	u32 i;

	for (i = 0; i < cc->nrx; i++)
		if (!cc->rx[i].pins)
			return i;
	return -1;
}

/*
 * Bulk-out framing. A message is 10 + dwLength bytes and need not end
 * with a short packet, so the first request asks for one packet and, once
 * the header is known, the second for the rest rounded up to a packet:
 * the transfer then ends exactly at the end of the message or earlier at
 * a short packet. A message longer than dwMaxCCIDMessageLength is handed
 * to the engine as far as it came (the engine answers bad dwLength) and
 * the rest of it is skipped. The request is only queued with a small IN
 * request reserved for the reply, so a host that does not read bulk-in
 * stops being read from.
 */
static void ccid_queue_out(struct f_ccid *cc)
{
	struct usb_request *req = cc->out_req;
	u8 *base;
	u32 len;
	int ret;

	if (cc->out_queued)
		return;
	if (cc->rx_cur < 0) {
		/* a new message only: a message never changes buffer */
		if (cc->rx_state == CCID_RX_BODY)
			return;
		cc->rx_cur = ccid_rx_pick(cc);
		if (cc->rx_cur < 0)
			return;
	}
	if (cc->rx_small < 0) {
		cc->rx_small = ccid_small_get(cc);
		if (cc->rx_small < 0)
			return;
	}
	base = cc->rx[cc->rx_cur].buf;
	switch (cc->rx_state) {
	case CCID_RX_BODY:
		req->buf = base + cc->rx_have;
		len = roundup(cc->rx_total - cc->rx_have, cc->mps);
		len = min(len, cc->rx_size - cc->rx_have);
		break;
	case CCID_RX_DISCARD:
		req->buf = base;
		len = min_t(u32, roundup(cc->rx_discard, cc->mps),
			    cc->rx_size);
		break;
	default:
		req->buf = base;
		len = cc->mps;
		break;
	}
	req->length = len;
	cc->rx_req_len = len;
	cc->out_queued = true;
	ret = ccid_queue(cc, cc->out_ep, req);
	if (ret) {
		cc->out_queued = false;
		ccid_queue_failed(cc, cc->out_ep, ret);
	}
}

/* Queue what is ready for bulk-in, in order; stop at the first failure */
static void ccid_queue_in(struct f_ccid *cc)
{
	struct usb_request *req;
	int ret;

	while (!list_empty(&cc->in_ready)) {
		req = list_first_entry(&cc->in_ready, struct usb_request, list);
		list_del_init(&req->list);
		ret = ccid_queue(cc, cc->in_ep, req);
		if (ret) {
			list_add(&req->list, &cc->in_ready);
			ccid_queue_failed(cc, cc->in_ep, ret);
			return;
		}
	}
}

/* Time extensions the timer asked for, each on a small request */
static void ccid_build_te(struct f_ccid *cc)
{
	u32 s, len;
	int i;

	for (s = 0; s < cc->cfg.nslots; s++) {
		if (!cc->te_want[s])
			continue;
		i = ccid_small_get(cc);
		if (i < 0)
			return;		/* the next tick tries again */
		cc->te_want[s] = false;
		if (ccid_time_extension(&cc->eng, s, CCID_TE_MULT,
					cc->small[i]->buf,
					CCID_SMALL_REPLY_MAX, &len))
			len = 0;
		ccid_small_send(cc, i, len);
	}
}

static void ccid_queue_intr(struct f_ccid *cc)
{
	struct usb_request *req = cc->intr_req;
	unsigned long now = jiffies;
	u32 len;
	int ret;

	if (cc->intr_busy && !cc->intr_ready) {
		/* in the UDC: wait for a host to take it, or take it back */
		if (time_before(now, cc->intr_queued_at + CCID_NOTIFY_STALE)) {
			timer_reduce(&cc->timer,
				     cc->intr_queued_at + CCID_NOTIFY_STALE);
		} else if (!cc->intr_dequeuing) {
			cc->intr_dequeuing = true;
			ccid_udc_begin(cc);
			usb_ep_dequeue(cc->intr_ep, req);
			ccid_udc_end(cc);
		}
		return;
	}
	if (!cc->intr_busy) {
		if (!cc->host_seen)
			return;
		if (time_before(now, cc->intr_hold_until)) {
			timer_reduce(&cc->timer, cc->intr_hold_until);
			return;
		}
		if (cc->notify_all)
			len = ccid_build_notify_all(&cc->eng, req->buf,
						    CCID_NOTIFY_BUF);
		else
			len = ccid_build_notify(&cc->eng, req->buf,
						CCID_NOTIFY_BUF);
		cc->notify_all = false;
		if (!len)
			return;
		req->length = len;
		cc->intr_busy = true;
		cc->intr_ready = true;
	}
	if (!cc->intr_ready)
		return;
	cc->intr_ready = false;
	cc->intr_queued_at = now;
	ret = ccid_queue(cc, cc->intr_ep, req);
	if (ret) {
		cc->intr_ready = true;	/* the same message, later */
		ccid_queue_failed(cc, cc->intr_ep, ret);
		return;
	}
	if (cc->intr_busy)	/* not given back inside ccid_queue() */
		timer_reduce(&cc->timer, now + CCID_NOTIFY_STALE);
}

/**
 * ccid_kick() - queue whatever can be queued
 * @cc: the function, cc->lock held
 *
 * Bulk-in replies in the order they were built, the next bulk-out
 * request, time extensions, a slot change on interrupt-in. A completion
 * that the UDC runs from inside one of these calls sets kick_again, and
 * the loop looks once more.
 *
 * Nothing is queued once a request came back with -ESHUTDOWN until
 * set_alt enables the endpoints again: the UDC is taking them down, and
 * some give back every queued request in a loop before they tell the
 * function (usbip-vudc's disconnect), so a request queued again from the
 * completion would come back at once, for ever.
 */
static void ccid_kick(struct f_ccid *cc)
{
	lockdep_assert_held(&cc->lock);
	if (cc->kicking) {
		cc->kick_again = true;
		return;
	}
	cc->kicking = true;
	do {
		cc->kick_again = false;
		if (!cc->online || !cc->bound || cc->eps_down)
			break;
		ccid_build_te(cc);
		ccid_queue_in(cc);
		ccid_queue_out(cc);
		ccid_queue_intr(cc);
	} while (cc->kick_again);
	cc->kicking = false;
}

/*-------------------------------------------------------------------------*/
/* Completions */

/* The request of slot or a small one came back (cc->lock held) */
static void ccid_in_done(struct f_ccid *cc, struct usb_request *req)
{
	long i = (long)req->context;

	ccid_given_back(cc);
	if (req->status == -ESHUTDOWN)
		cc->eps_down = true;
	if (i < CCID_MAX_SLOTS)
		ccid_sin_release(cc, i);
	else
		ccid_small_put(cc, i - CCID_MAX_SLOTS);
	cc->kick_again = true;
}

static void ccid_in_complete(struct usb_ep *ep, struct usb_request *req)
{
	struct f_ccid *cc = ep->driver_data;
	unsigned long flags;

	if (ccid_in_udc_call(cc)) {
		ccid_in_done(cc, req);
		return;
	}
	spin_lock_irqsave(&cc->lock, flags);
	ccid_in_done(cc, req);
	ccid_kick(cc);
	spin_unlock_irqrestore(&cc->lock, flags);
}

static void ccid_intr_done(struct f_ccid *cc, struct usb_request *req)
{
	ccid_given_back(cc);
	if (req->status == -ESHUTDOWN)
		cc->eps_down = true;
	cc->intr_busy = false;
	cc->intr_dequeuing = false;
	if (!req->status) {
		cc->intr_hold_until = jiffies + CCID_NOTIFY_HOLD;
	} else if (req->status == -ECONNRESET && cc->online) {
		/* taken back: nobody polls; again after host traffic */
		ccid_notify_again(&cc->eng, req->buf, req->length);
		cc->host_seen = false;
	}
	cc->kick_again = true;
}

static void ccid_intr_complete(struct usb_ep *ep, struct usb_request *req)
{
	struct f_ccid *cc = ep->driver_data;
	unsigned long flags;

	if (ccid_in_udc_call(cc)) {
		ccid_intr_done(cc, req);
		return;
	}
	spin_lock_irqsave(&cc->lock, flags);
	ccid_intr_done(cc, req);
	ccid_kick(cc);
	spin_unlock_irqrestore(&cc->lock, flags);
}

/* actual bytes of the current message arrived (see ccid_queue_out()) */
static void ccid_rx(struct f_ccid *cc, u32 actual)
{
	bool short_xfer = actual < cc->rx_req_len;
	u8 *hdr = cc->rx[cc->rx_cur].buf;
	u32 total;

	switch (cc->rx_state) {
	case CCID_RX_HDR:
		if (!actual)
			break;		/* a stray zero-length packet */
		if (actual < CCID_HDR_LEN || short_xfer) {
			ccid_deliver(cc, actual);
			break;
		}
		total = ccid_msg_total_len(hdr);
		cc->rx_slot = hdr[5];
		if (total <= actual) {
			ccid_deliver(cc, actual);
		} else if (total > cc->cfg.max_msg_len) {
			ccid_deliver(cc, actual);
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
		cc->rx_state = CCID_RX_HDR;
		ccid_deliver(cc, cc->rx_have);
		break;
	case CCID_RX_DISCARD:
		cc->rx_discard -= min(cc->rx_discard, actual);
		if (short_xfer || !cc->rx_discard)
			cc->rx_state = CCID_RX_HDR;
		break;
	}
}

static void ccid_out_done(struct f_ccid *cc, struct usb_request *req)
{
	ccid_given_back(cc);
	cc->out_queued = false;
	cc->kick_again = true;
	if (req->status == -ESHUTDOWN)
		cc->eps_down = true;
	if (!cc->online || !cc->bound)
		return;
	if (cc->rx_resync) {
		/* the rest of a message the host gave up on */
		cc->rx_resync = false;
		cc->rx_state = CCID_RX_HDR;
		return;
	}
	switch (req->status) {
	case 0:
		if (req->actual && !cc->host_seen) {
			/* its driver is up: the interrupt transfer follows */
			cc->host_seen = true;
			cc->intr_hold_until = jiffies + CCID_NOTIFY_HOLD;
		}
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

static void ccid_out_complete(struct usb_ep *ep, struct usb_request *req)
{
	struct f_ccid *cc = ep->driver_data;
	unsigned long flags;

	if (ccid_in_udc_call(cc)) {
		ccid_out_done(cc, req);
		return;
	}
	spin_lock_irqsave(&cc->lock, flags);
	ccid_out_done(cc, req);
	ccid_kick(cc);
	spin_unlock_irqrestore(&cc->lock, flags);
}

/*-------------------------------------------------------------------------*/
/* Time extensions and retries */

static void ccid_timer(struct timer_list *t)
{
	struct f_ccid *cc = timer_container_of(cc, t, timer);
	unsigned long flags, now = jiffies, next = 0;
	bool any = false;
	u32 s;

	spin_lock_irqsave(&cc->lock, flags);
	cc->retry_pending = false;
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
		mod_timer(&cc->timer, next);
	ccid_kick(cc);
	spin_unlock_irqrestore(&cc->lock, flags);
}

/*-------------------------------------------------------------------------*/
/* Chained copies, in process context */

/* Wait until the request of slot is free, then mark it filling */
static int ccid_sin_claim(struct f_ccid *cc, u32 slot, u32 gen,
			  unsigned long *flags, bool interruptible)
	__must_hold(&cc->lock)
{
	struct ccid_slot_in *si = &cc->sin[slot];
	int ret;

	while (si->busy) {
		spin_unlock_irqrestore(&cc->lock, *flags);
		if (interruptible)
			ret = wait_event_interruptible(cc->slot_wq,
						       READ_ONCE(cc->gen) != gen ||
						       !READ_ONCE(cc->bound) ||
						       !READ_ONCE(si->busy));
		else
			ret = wait_event_timeout(cc->slot_wq,
						 READ_ONCE(cc->gen) != gen ||
						 !READ_ONCE(cc->bound) ||
						 !READ_ONCE(si->busy),
						 5 * HZ) ? 0 : -ETIMEDOUT;
		spin_lock_irqsave(&cc->lock, *flags);
		if (ret)
			return ret;
		if (cc->gen != gen || !cc->bound)
			return -ENODEV;
	}
	si->busy = true;
	si->filling = true;
	return 0;
}

/* Do one job of slot s; called and returns with cc->lock held */
static void ccid_do_job(struct f_ccid *cc, u32 s, unsigned long *flags)
	__must_hold(&cc->lock)
{
	struct ccid_slot_in *si = &cc->sin[s];
	u32 job = si->job, gen = cc->gen, len = 0;
	struct ccid_result res;
	int small, rx, ret;

	si->job = 0;
	if (job & CCID_EV_CMD_COPY) {
		/* a read() of the slot's earlier APDU may be copying it */
		while (si->reading) {
			spin_unlock_irqrestore(&cc->lock, *flags);
			wait_event(cc->slot_wq, !READ_ONCE(si->reading));
			spin_lock_irqsave(&cc->lock, *flags);
		}
		cc->users++;
		spin_unlock_irqrestore(&cc->lock, *flags);
		memcpy(si->job_dst, si->job_src, si->job_len);
		spin_lock_irqsave(&cc->lock, *flags);
		cc->users--;
		rx = si->job_rx;
		small = si->job_small;
		si->job_rx = -1;
		si->job_small = -1;
		ccid_rx_unpin(cc, rx);
		ret = ccid_cmd_copied(&cc->eng, s, si->job_gen,
				      cc->small[small]->buf,
				      CCID_SMALL_REPLY_MAX, &res);
		ccid_small_send(cc, small, ret ? 0 : res.reply_len);
		if (!ret)
			ccid_apply(cc, &res);
	} else {
		/* the next chunk of a chained response */
		ret = ccid_sin_claim(cc, s, gen, flags, false);
		if (!ret) {
			cc->users++;
			spin_unlock_irqrestore(&cc->lock, *flags);
			memcpy(si->req->buf + CCID_HDR_LEN,
			       si->rsp + si->job_off, si->job_len);
			spin_lock_irqsave(&cc->lock, *flags);
			cc->users--;
		}
		if (ret) {
			/* no request to put the chunk in: the response goes */
			ccid_copy_cancel(&cc->eng, s);
		} else if (!ccid_rsp_chunk(&cc->eng, s, si->job_gen,
					   si->req->buf, cc->sin_size, &len) &&
			   cc->online) {
			si->filling = false;
			ccid_in_ready(cc, si->req, len);
		} else {
			ccid_sin_release(cc, s);
		}
	}
	if (!cc->users)
		wake_up_all(&cc->idle_wq);
}

static void ccid_copy_work(struct work_struct *work)
{
	struct f_ccid *cc = container_of(work, struct f_ccid, copy_work);
	unsigned long flags;
	bool again;
	u32 s;

	spin_lock_irqsave(&cc->lock, flags);
	do {
		again = false;
		for (s = 0; s < cc->cfg.nslots && cc->bound; s++) {
			if (!cc->sin[s].job)
				continue;
			ccid_do_job(cc, s, &flags);
			again = true;
		}
	} while (again);
	ccid_kick(cc);
	spin_unlock_irqrestore(&cc->lock, flags);
}

/*-------------------------------------------------------------------------*/
/* usb_function callbacks */

/*
 * The host went away, or set_alt starts afresh (cc->lock held): every
 * request is given back, every pending command dropped.
 */
static void ccid_stop(struct f_ccid *cc)
{
	struct usb_request *req, *tmp;
	u32 s;

	if (cc->bound) {
		ccid_host_reset(&cc->eng);
		ccid_evq_del_apdu(cc, -1, 0);
		for (s = 0; s < CCID_MAX_SLOTS; s++) {
			cc->te_want[s] = false;
			cc->sin[s].deferred = false;
		}
		ccid_unpin_stale(cc);
	}
	if (cc->online)
		ccid_evq_push(cc, CCIDG_EV_HOST_DISCONNECT, 0, 0);
	cc->online = false;
	cc->rx_state = CCID_RX_HDR;
	cc->rx_resync = false;

	/* built but never queued: back to free */
	list_for_each_entry_safe(req, tmp, &cc->in_ready, list) {
		long i = (long)req->context;

		list_del_init(&req->list);
		if (i < CCID_MAX_SLOTS)
			ccid_sin_release(cc, i);
		else
			ccid_small_put(cc, i - CCID_MAX_SLOTS);
	}
	if (cc->intr_busy && cc->intr_ready) {
		cc->intr_busy = false;
		cc->intr_ready = false;
	}

	/* gives back the queued requests: see ccid_udc_begin() */
	ccid_disable_eps(cc);
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
	unsigned long flags;
	u32 mps;
	int ret;

	if (intf != cc->intf_id || alt)
		return -EINVAL;

	spin_lock_irqsave(&cc->lock, flags);
	ccid_stop(cc);
	ret = ccid_enable_ep(f, cc->out_ep);
	if (!ret)
		ret = ccid_enable_ep(f, cc->in_ep);
	if (!ret)
		ret = ccid_enable_ep(f, cc->intr_ep);
	if (ret) {
		ERROR(cc->cdev, "ccid: cannot enable endpoints: %d\n", ret);
		ccid_disable_eps(cc);
		spin_unlock_irqrestore(&cc->lock, flags);
		return ret;
	}

	mps = usb_endpoint_maxp(cc->out_ep->desc);
	if (!mps || mps > CCID_RX_SLACK || CCID_RX_SLACK % mps)
		mps = 64;
	cc->mps = mps;
	cc->rx_state = CCID_RX_HDR;
	cc->notify_all = true;
	cc->host_seen = false;
	cc->intr_dequeuing = false;
	cc->eps_down = false;
	cc->online = true;
	ccid_evq_push(cc, CCIDG_EV_HOST_CONNECT, 0, 0);
	ccid_kick(cc);
	spin_unlock_irqrestore(&cc->lock, flags);
	return 0;
}

static void ccid_disable(struct usb_function *f)
{
	struct f_ccid *cc = func_to_ccid(f);
	unsigned long flags;

	spin_lock_irqsave(&cc->lock, flags);
	ccid_stop(cc);
	spin_unlock_irqrestore(&cc->lock, flags);
}

/*
 * Class request ABORT (cc->lock held). If the message being received
 * belongs to the aborted slot, the host gave up on its transfer: the
 * framing starts afresh with the next packet, which will be the
 * PC_to_RDR_Abort that completes the abort procedure.
 */
static int ccid_class_abort_req(struct f_ccid *cc, u16 w_value)
{
	struct ccid_result res;
	u32 slot = w_value & 0xff;
	int ret;

	if (slot >= cc->cfg.nslots)
		return -EINVAL;
	ret = ccid_class_abort(&cc->eng, w_value, ccid_fail_buf(cc, slot),
			       CCID_HDR_LEN, &res);
	if (ret)
		return ret;
	ccid_fail_send(cc, slot, res.reply_len);
	ccid_apply(cc, &res);
	if (cc->rx_state != CCID_RX_HDR && cc->rx_slot == slot) {
		cc->rx_state = CCID_RX_HDR;
		if (cc->out_queued) {
			cc->rx_resync = true;
			ccid_udc_begin(cc);
			usb_ep_dequeue(cc->out_ep, cc->out_req);
			ccid_udc_end(cc);
		}
	}
	ccid_kick(cc);
	return 0;
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
	unsigned long flags;
	u32 len;
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
		ret = cc->bound && cc->online ?
		      ccid_class_abort_req(cc, w_value) : -EOPNOTSUPP;
		spin_unlock_irqrestore(&cc->lock, flags);
		if (ret)
			return ret;
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

static bool ccid_readable(struct f_ccid *cc, struct ccid_file *cf)
{
	unsigned long flags;
	bool ret;

	spin_lock_irqsave(&cc->lock, flags);
	ret = cc->evq_count || ccid_file_dead(cc, cf);
	spin_unlock_irqrestore(&cc->lock, flags);
	return ret;
}

/**
 * ccid_read() - read one event
 * @file: the O_RDWR file
 * @buf: where the struct ccidg_event and its data go
 * @count: room in @buf
 * @ppos: unused, the file is a stream
 *
 * The event at the head of the queue is copied out with no lock held,
 * from where its data lies (the OUT buffer the APDU arrived in, or the
 * engine's chaining buffer), which stays pinned meanwhile. It leaves the
 * queue only once the copy succeeded: after -EFAULT (or -EMSGSIZE) the
 * next read() returns it again.
 *
 * Return: the length of the event, or a negative errno.
 */
static ssize_t ccid_read(struct file *file, char __user *buf, size_t count,
			 loff_t *ppos)
{
	struct ccid_file *cf = file->private_data;
	struct f_ccid *cc = cf->cc;
	struct ccidg_event ev;
	struct ccid_evq_ent e;
	struct ccid_slot_in *si = NULL;
	unsigned long flags;
	const u8 *apdu = NULL;
	int n = 0, rx = -1;
	ssize_t ret;

	if (!cf->rw)
		return -EPERM;
	if (mutex_lock_interruptible(&cf->read_lock))
		return -ERESTARTSYS;
	for (;;) {
		spin_lock_irqsave(&cc->lock, flags);
		if (cf->gen != cc->gen) {
			ret = -ENODEV;
			goto out_unlock;
		}
		if (cc->evq_count) {
			e = cc->evq[cc->evq_head];
			if (e.type != CCIDG_EV_APDU)
				break;
			n = cc->bound ? ccid_pending_apdu(&cc->eng, e.slot,
							  e.id, &apdu) :
					-ESTALE;
			if (n >= 0)
				break;
			/* answered or cancelled: skip it */
			ccid_evq_pop(cc);
			spin_unlock_irqrestore(&cc->lock, flags);
			continue;
		}
		ret = cc->bound ? -EAGAIN : -ENODEV;
		spin_unlock_irqrestore(&cc->lock, flags);
		if (ret != -EAGAIN || (file->f_flags & O_NONBLOCK))
			goto out;
		ret = wait_event_interruptible(cc->read_wq,
					       ccid_readable(cc, cf));
		if (ret)
			goto out;
	}

	/* the event is e; an APDU's data is at apdu */
	memset(&ev, 0, sizeof(ev));
	ev.type = e.type;
	ev.slot = e.slot;
	ev.id = e.id;
	ev.len = e.type == CCIDG_EV_APDU ? n : 0;
	if (count < sizeof(ev) + ev.len) {
		ret = -EMSGSIZE;
		goto out_unlock;
	}
	if (ev.len) {
		/* pin where the APDU lies */
		si = &cc->sin[e.slot];
		rx = si->apdu_rx;
		if (rx >= 0)
			cc->rx[rx].pins++;
		else
			si->reading = true;
		cc->users++;
	}
	spin_unlock_irqrestore(&cc->lock, flags);

	ret = sizeof(ev) + ev.len;
	if (copy_to_user(buf, &ev, sizeof(ev)) ||
	    (ev.len && copy_to_user(buf + sizeof(ev), apdu, ev.len)))
		ret = -EFAULT;

	spin_lock_irqsave(&cc->lock, flags);
	if (si) {
		cc->users--;
		if (rx >= 0)
			ccid_rx_unpin(cc, rx);
		else
			si->reading = false;
		if (!cc->users)
			wake_up_all(&cc->idle_wq);
		wake_up_all(&cc->slot_wq);
	}
	if (ret > 0 && cf->gen == cc->gen) {
		/* gone from the head only if it was cancelled meanwhile */
		if (cc->evq_count && cc->evq[cc->evq_head].seq == e.seq)
			ccid_evq_pop(cc);
		if (si && cc->bound) {
			/* the APDU is userspace's now: its buffer is free */
			ccid_apdu_consumed(&cc->eng, e.slot, e.id);
			if (si->apdu_rx >= 0 && si->apdu_id == e.id) {
				ccid_rx_unpin(cc, si->apdu_rx);
				si->apdu_rx = -1;
			}
			ccid_kick(cc);
		}
	}
out_unlock:
	spin_unlock_irqrestore(&cc->lock, flags);
out:
	mutex_unlock(&cf->read_lock);
	return ret;
}

/*
 * A failure reply for APDU id (cc->lock held): ICC mute by default, or
 * the bError userspace chose
 */
static int ccid_reply_error(struct f_ccid *cc, u32 slot, u32 id, u8 error)
{
	u32 len = 0;
	int ret;

	ret = ccid_apdu_fail(&cc->eng, slot, id, error,
			     ccid_fail_buf(cc, slot), CCID_HDR_LEN, &len);
	if (ret)
		return ret;
	ccid_evq_del_apdu(cc, slot, id);
	ccid_fail_send(cc, slot, len);
	ccid_unpin_stale(cc);
	return 0;
}

/**
 * ccid_write() - answer an APDU
 * @file: the O_RDWR file
 * @buf: a struct ccidg_reply and its data
 * @count: exactly sizeof(struct ccidg_reply) + reply.len
 * @ppos: unused, the file is a stream
 *
 * The response is copied from userspace straight into the slot's IN
 * request, after room for the header, with no lock held: the request is
 * claimed first (marked filling), and the engine checks afterwards that
 * the APDU is still pending before it writes the header. A response
 * longer than one message allows goes into the slot's chaining buffer,
 * and its first chunk into the request.
 *
 * Return: @count, or a negative errno.
 */
static ssize_t ccid_write(struct file *file, const char __user *buf,
			  size_t count, loff_t *ppos)
{
	struct ccid_file *cf = file->private_data;
	struct f_ccid *cc = cf->cc;
	const char __user *data = buf + sizeof(struct ccidg_reply);
	struct ccid_slot_in *si;
	struct ccidg_reply r;
	unsigned long flags;
	u32 room, gen, len = 0;
	u8 error = CCID_ERR_ICC_MUTE;
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
	if (r.type == CCIDG_REPLY_ERROR && r.len &&
	    copy_from_user(&error, data, 1))
		return -EFAULT;

	if (mutex_lock_interruptible(&cf->write_lock))
		return -ERESTARTSYS;
	spin_lock_irqsave(&cc->lock, flags);
	if (ccid_file_dead(cc, cf)) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (r.slot >= cc->cfg.nslots) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (r.type == CCIDG_REPLY_ERROR) {
		ret = ccid_reply_error(cc, r.slot, r.id, error);
		goto out_kick;
	}
	ret = ccid_apdu_check(&cc->eng, r.slot, r.id, r.len);
	if (ret)
		goto out_unlock;

	/* the slot's request: free unless its last answer is still going */
	gen = cc->gen;
	si = &cc->sin[r.slot];
	ret = ccid_sin_claim(cc, r.slot, gen, &flags, true);
	if (ret)
		goto out_unlock;
	room = ccid_rsp_room(&cc->eng);
	cc->users++;
	spin_unlock_irqrestore(&cc->lock, flags);

	if (r.len <= room) {
		ret = copy_from_user(si->req->buf + CCID_HDR_LEN, data, r.len);
	} else {
		ret = copy_from_user(si->rsp, data, r.len);
		if (!ret)
			memcpy(si->req->buf + CCID_HDR_LEN, si->rsp, room);
	}

	spin_lock_irqsave(&cc->lock, flags);
	cc->users--;
	if (!cc->users)
		wake_up_all(&cc->idle_wq);
	if (ret)
		ret = -EFAULT;
	else if (ccid_file_dead(cc, cf))
		ret = -ENODEV;
	else
		ret = ccid_apdu_reply(&cc->eng, r.slot, r.id, r.len,
				      si->req->buf, cc->sin_size, &len);
	if (!ret && cc->online) {
		ccid_evq_del_apdu(cc, r.slot, r.id);
		si->filling = false;
		ccid_in_ready(cc, si->req, len);
	} else {
		/* aborted meanwhile, or the host went away: nothing sent */
		ccid_sin_release(cc, r.slot);
	}
	ccid_unpin_stale(cc);
out_kick:
	if (!ret)
		ccid_kick(cc);
out_unlock:
	spin_unlock_irqrestore(&cc->lock, flags);
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
	if (!ret)
		ccid_kick(cc);
	spin_unlock_irqrestore(&cc->lock, flags);
	return ret;
}

/* Take the card out of slot (cc->lock held) */
static int ccid_remove_card(struct f_ccid *cc, u32 slot)
{
	u32 len = 0, aborted = 0;
	int ret;

	ret = ccid_card_remove(&cc->eng, slot, ccid_fail_buf(cc, slot),
			       CCID_HDR_LEN, &len, &aborted);
	if (ret)
		return ret;
	ccid_fail_send(cc, slot, len);
	if (aborted)
		ccid_evq_del_apdu(cc, slot, aborted);
	ccid_unpin_stale(cc);
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
	if (!ret)
		ccid_kick(cc);
	spin_unlock_irqrestore(&cc->lock, flags);
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
	struct ccid_node *node = container_of(inode->i_cdev, struct ccid_node,
					      cdev);
	unsigned int mode = file->f_flags & O_ACCMODE;
	struct f_ccid *cc = node->cc;
	struct ccid_file *cf;
	unsigned long flags;
	int ret = 0;

	if (mode == O_WRONLY)
		return -EINVAL;

	cf = kzalloc_obj(*cf, GFP_KERNEL);
	if (!cf)
		return -ENOMEM;
	cf->cc = cc;
	mutex_init(&cf->read_lock);
	mutex_init(&cf->write_lock);

	spin_lock_irqsave(&cc->lock, flags);
	if (!cc->bound || cc->node != node) {
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
	if (ret) {
		kfree(cf);
		return ret;
	}

	file->private_data = cf;
	return stream_open(inode, file);
}

static int ccid_release(struct inode *inode, struct file *file)
{
	struct ccid_file *cf = file->private_data;
	struct f_ccid *cc = cf->cc;
	unsigned long flags;
	u32 s;

	spin_lock_irqsave(&cc->lock, flags);
	if (cc->owner == cf) {
		/* the cards were this file's: take them out */
		if (cc->bound)
			for (s = 0; s < cc->cfg.nslots; s++)
				ccid_remove_card(cc, s);
		cc->owner = NULL;
		ccid_evq_reset(cc);
		ccid_kick(cc);
	}
	spin_unlock_irqrestore(&cc->lock, flags);
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

static const struct usb_interface_descriptor ccid_intf_tmpl = {
	.bLength		= USB_DT_INTERFACE_SIZE,
	.bDescriptorType	= USB_DT_INTERFACE,
	.bNumEndpoints		= 3,
	.bInterfaceClass	= USB_CLASS_CSCID,
};

#define CCID_EP(_dir, _type, _mps, _interval) {			\
	.bLength		= USB_DT_ENDPOINT_SIZE,			\
	.bDescriptorType	= USB_DT_ENDPOINT,			\
	.bEndpointAddress	= _dir,					\
	.bmAttributes		= _type,				\
	.wMaxPacketSize		= cpu_to_le16(_mps),			\
	.bInterval		= _interval,				\
}

/* out, in, interrupt; 16 ms at full speed, 2^(8-1) microframes above */
static const struct usb_endpoint_descriptor ccid_ep_tmpl[3][3] = {
	{	/* full speed */
		CCID_EP(USB_DIR_OUT, USB_ENDPOINT_XFER_BULK, 64, 0),
		CCID_EP(USB_DIR_IN, USB_ENDPOINT_XFER_BULK, 64, 0),
		CCID_EP(USB_DIR_IN, USB_ENDPOINT_XFER_INT, CCID_NOTIFY_BUF, 16),
	}, {	/* high speed */
		CCID_EP(USB_DIR_OUT, USB_ENDPOINT_XFER_BULK, 512, 0),
		CCID_EP(USB_DIR_IN, USB_ENDPOINT_XFER_BULK, 512, 0),
		CCID_EP(USB_DIR_IN, USB_ENDPOINT_XFER_INT, CCID_NOTIFY_BUF, 8),
	}, {	/* super speed */
		CCID_EP(USB_DIR_OUT, USB_ENDPOINT_XFER_BULK, 1024, 0),
		CCID_EP(USB_DIR_IN, USB_ENDPOINT_XFER_BULK, 1024, 0),
		CCID_EP(USB_DIR_IN, USB_ENDPOINT_XFER_INT, CCID_NOTIFY_BUF, 8),
	},
};

static const struct usb_ss_ep_comp_descriptor ccid_ss_bulk_comp_tmpl = {
	.bLength		= USB_DT_SS_EP_COMP_SIZE,
	.bDescriptorType	= USB_DT_SS_ENDPOINT_COMP,
};

static const struct usb_ss_ep_comp_descriptor ccid_ss_intr_comp_tmpl = {
	.bLength		= USB_DT_SS_EP_COMP_SIZE,
	.bDescriptorType	= USB_DT_SS_ENDPOINT_COMP,
	.wBytesPerInterval	= cpu_to_le16(CCID_NOTIFY_BUF),
};

/* One instance's descriptors at every speed, made from the templates */
struct ccid_descs {
	struct usb_interface_descriptor intf;
	struct ccid_descriptor class_desc;
	struct usb_endpoint_descriptor ep[3][3];
	struct usb_ss_ep_comp_descriptor ss_bulk_comp, ss_intr_comp;
};

/*-------------------------------------------------------------------------*/
/* bind / unbind */

static void ccid_free_resources(struct f_ccid *cc)
{
	u32 i;

	for (i = 0; i < CCID_MAX_SLOTS; i++) {
		struct ccid_slot_in *si = &cc->sin[i];

		if (si->req) {
			kfree(si->req->buf);
			usb_ep_free_request(cc->in_ep, si->req);
			si->req = NULL;
		}
		kvfree(si->rsp);
		si->rsp = NULL;
	}
	for (i = 0; i < CCID_MAX_SMALL; i++) {
		if (cc->small[i]) {
			kfree(cc->small[i]->buf);
			usb_ep_free_request(cc->in_ep, cc->small[i]);
			cc->small[i] = NULL;
		}
	}
	if (cc->out_req) {
		/* its buf points into an rx buffer */
		usb_ep_free_request(cc->out_ep, cc->out_req);
		cc->out_req = NULL;
	}
	if (cc->intr_req) {
		kfree(cc->intr_req->buf);
		usb_ep_free_request(cc->intr_ep, cc->intr_req);
		cc->intr_req = NULL;
	}
	for (i = 0; i < CCID_MAX_RX; i++) {
		kfree(cc->rx[i].buf);
		cc->rx[i].buf = NULL;
	}
	kvfree(cc->eng_buf);
	cc->eng_buf = NULL;
}

static struct usb_request *ccid_alloc_req(struct usb_ep *ep, u32 size,
					  void (*complete)(struct usb_ep *,
							   struct usb_request *),
					  long context)
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
	req->context = (void *)context;
	INIT_LIST_HEAD(&req->list);
	return req;
}

/*
 * Buffers: each OUT buffer holds a whole message (max_msg_len plus a
 * packet of slack), each slot's IN request a whole DataBlock (max_msg_len,
 * or less when no response could fill it). With the default max_msg_len
 * of 65554 bytes these are 128 KiB allocations (order 5); a max_msg_len
 * of 64512 or less keeps them at 64 KiB. Nothing else is larger than a
 * page: the engine's chaining buffers and the chained responses are
 * kvmalloc()ed.
 */
static int ccid_alloc_resources(struct f_ccid *cc)
{
	u32 i;

	cc->nrx = CCID_NRX(&cc->cfg);
	cc->nsmall = CCID_NSMALL(&cc->cfg);
	cc->rx_size = cc->cfg.max_msg_len + CCID_RX_SLACK;
	cc->sin_size = min_t(u32, cc->cfg.max_msg_len,
			     CCID_HDR_LEN + CCID_MAX_RSP_APDU);

	cc->eng_buf = kvzalloc(ccid_engine_buf_size(&cc->cfg), GFP_KERNEL);
	if (!cc->eng_buf)
		return -ENOMEM;
	for (i = 0; i < cc->nrx; i++) {
		cc->rx[i].buf = kmalloc(cc->rx_size, GFP_KERNEL);
		if (!cc->rx[i].buf)
			return -ENOMEM;
		cc->rx[i].pins = 0;
	}
	for (i = 0; i < cc->cfg.nslots; i++) {
		struct ccid_slot_in *si = &cc->sin[i];

		si->req = ccid_alloc_req(cc->in_ep, cc->sin_size,
					 ccid_in_complete, i);
		if (!si->req)
			return -ENOMEM;
		si->req->zero = 1;	/* a ZLP after a multiple of maxpacket */
		/* a response longer than a message is chained from here */
		if (cc->cfg.max_msg_len - CCID_HDR_LEN < CCID_MAX_RSP_APDU) {
			si->rsp = kvmalloc(CCID_MAX_RSP_APDU, GFP_KERNEL);
			if (!si->rsp)
				return -ENOMEM;
		}
		si->busy = false;
		si->filling = false;
		si->deferred = false;
		si->reading = false;
		si->apdu_rx = -1;
		si->job = 0;
		si->job_rx = -1;
		si->job_small = -1;
	}
	for (i = 0; i < cc->nsmall; i++) {
		cc->small[i] = ccid_alloc_req(cc->in_ep, CCID_SMALL_REPLY_MAX,
					      ccid_in_complete,
					      CCID_MAX_SLOTS + i);
		if (!cc->small[i])
			return -ENOMEM;
		cc->small_busy[i] = false;
	}
	cc->out_req = ccid_alloc_req(cc->out_ep, 0, ccid_out_complete, 0);
	cc->intr_req = ccid_alloc_req(cc->intr_ep, CCID_NOTIFY_BUF,
				      ccid_intr_complete, 0);
	if (!cc->out_req || !cc->intr_req)
		return -ENOMEM;

	ccid_engine_init(&cc->eng, &cc->cfg, cc->eng_buf);
	INIT_LIST_HEAD(&cc->in_ready);
	for (i = 0; i < CCID_MAX_SLOTS; i++)
		cc->te_want[i] = false;
	cc->out_queued = false;
	cc->intr_busy = false;
	cc->intr_ready = false;
	cc->rx_cur = -1;
	cc->rx_small = -1;
	cc->rx_state = CCID_RX_HDR;
	cc->rx_resync = false;
	cc->queued = 0;
	cc->users = 0;
	cc->mps = 64;
	return 0;
}

static void ccid_free_mem(struct kref *ref)
{
	kfree(container_of(ref, struct f_ccid, ref));
}

static void ccid_node_release(struct device *dev)
{
	struct ccid_node *node = container_of(dev, struct ccid_node, dev);

	kref_put(&node->cc->ref, ccid_free_mem);
	kfree(node);
	if (atomic_dec_and_test(&ccidg_nodes))
		wake_up_all(&ccidg_nodes_wq);
}

/* The char device of a new binding: added once, deleted at unbind */
static struct ccid_node *ccid_node_add(struct f_ccid *cc)
{
	struct ccid_node *node;
	int ret;

	node = kzalloc_obj(*node, GFP_KERNEL);
	if (!node)
		return ERR_PTR(-ENOMEM);
	node->cc = cc;
	kref_get(&cc->ref);
	atomic_inc(&ccidg_nodes);
	device_initialize(&node->dev);
	node->dev.release = ccid_node_release;
	node->dev.class = ccidg_class;
	node->dev.devt = MKDEV(ccidg_major, cc->minor);
	ret = dev_set_name(&node->dev, "ccidg%d", cc->minor);
	if (!ret) {
		cdev_init(&node->cdev, &ccid_fops);
		node->cdev.owner = THIS_MODULE;
		/* when device_add() fails, this has done cdev_del() itself */
		ret = cdev_device_add(&node->cdev, &node->dev);
	}
	if (ret) {
		put_device(&node->dev);
		return ERR_PTR(ret);
	}
	return node;
}

static int ccid_bind(struct usb_configuration *c, struct usb_function *f)
{
	struct f_ccid *cc = func_to_ccid(f);
	struct usb_composite_dev *cdev = c->cdev;
	struct usb_descriptor_header *fs[7], *hs[7], *ss[10];
	struct ccid_node *node;
	struct usb_string *us;
	struct ccid_descs *d;
	unsigned long flags;
	int ret, sp, e;

	cc->cdev = cdev;
	d = kzalloc_obj(*d, GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->intf = ccid_intf_tmpl;
	ccid_build_class_desc(&cc->cfg, &d->class_desc);
	memcpy(d->ep, ccid_ep_tmpl, sizeof(d->ep));
	d->ss_bulk_comp = ccid_ss_bulk_comp_tmpl;
	d->ss_intr_comp = ccid_ss_intr_comp_tmpl;

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
	cc->out_ep = usb_ep_autoconfig(cdev->gadget, &d->ep[0][0]);
	if (!cc->out_ep)
		goto fail_descs;
	cc->in_ep = usb_ep_autoconfig(cdev->gadget, &d->ep[0][1]);
	if (!cc->in_ep)
		goto fail_descs;
	cc->intr_ep = usb_ep_autoconfig(cdev->gadget, &d->ep[0][2]);
	if (!cc->intr_ep)
		goto fail_descs;
	for (sp = 1; sp < 3; sp++)
		for (e = 0; e < 3; e++)
			d->ep[sp][e].bEndpointAddress =
				d->ep[0][e].bEndpointAddress;

	/* the class descriptor follows the interface descriptor */
	fs[0] = (struct usb_descriptor_header *)&d->intf;
	fs[1] = (struct usb_descriptor_header *)&d->class_desc;
	fs[2] = (struct usb_descriptor_header *)&d->ep[0][0];
	fs[3] = (struct usb_descriptor_header *)&d->ep[0][1];
	fs[4] = (struct usb_descriptor_header *)&d->ep[0][2];
	fs[5] = NULL;
	hs[0] = fs[0];
	hs[1] = fs[1];
	hs[2] = (struct usb_descriptor_header *)&d->ep[1][0];
	hs[3] = (struct usb_descriptor_header *)&d->ep[1][1];
	hs[4] = (struct usb_descriptor_header *)&d->ep[1][2];
	hs[5] = NULL;
	ss[0] = fs[0];
	ss[1] = fs[1];
	ss[2] = (struct usb_descriptor_header *)&d->ep[2][0];
	ss[3] = (struct usb_descriptor_header *)&d->ss_bulk_comp;
	ss[4] = (struct usb_descriptor_header *)&d->ep[2][1];
	ss[5] = (struct usb_descriptor_header *)&d->ss_bulk_comp;
	ss[6] = (struct usb_descriptor_header *)&d->ep[2][2];
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

	spin_lock_irqsave(&cc->lock, flags);
	cc->gen++;
	cc->bound = true;
	cc->online = false;
	cc->owner = NULL;
	ccid_evq_reset(cc);
	spin_unlock_irqrestore(&cc->lock, flags);

	node = ccid_node_add(cc);
	if (IS_ERR(node)) {
		ret = PTR_ERR(node);
		spin_lock_irqsave(&cc->lock, flags);
		cc->bound = false;
		spin_unlock_irqrestore(&cc->lock, flags);
		goto fail_free;
	}
	spin_lock_irqsave(&cc->lock, flags);
	cc->node = node;
	spin_unlock_irqrestore(&cc->lock, flags);

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

static bool ccid_idle(struct f_ccid *cc)
{
	unsigned long flags;
	bool idle;

	spin_lock_irqsave(&cc->lock, flags);
	idle = !cc->queued && !cc->users;
	spin_unlock_irqrestore(&cc->lock, flags);
	return idle;
}

/**
 * ccid_unbind() - the binding ends
 * @c: the configuration
 * @f: the function
 *
 * The char device goes (open files stay and get errors), every request is
 * given back (disable has done that already when the host was there) and
 * waited for, as is every copy that read(), write() or copy_work make
 * outside the lock; then everything the binding allocated is freed.
 */
static void ccid_unbind(struct usb_configuration *c, struct usb_function *f)
{
	struct f_ccid *cc = func_to_ccid(f);
	struct ccid_node *node;
	unsigned long flags;
	u32 s;

	spin_lock_irqsave(&cc->lock, flags);
	node = cc->node;
	ccid_stop(cc);
	for (s = 0; s < cc->cfg.nslots; s++)
		if (cc->eng.slot[s].state != CCIDG_SLOT_EMPTY)
			ccid_evq_push(cc, CCIDG_EV_CARD_REMOVED, s, 0);
	cc->bound = false;
	cc->owner = NULL;
	spin_unlock_irqrestore(&cc->lock, flags);
	wake_up_interruptible_all(&cc->read_wq);
	wake_up_all(&cc->slot_wq);

	/* no new opens; open files stay and see the binding die */
	cdev_device_del(&node->cdev, &node->dev);

	/* completions on other CPUs, copies outside the lock, copy_work */
	wait_event(cc->idle_wq, ccid_idle(cc));
	cancel_work_sync(&cc->copy_work);
	timer_delete_sync(&cc->timer);

	spin_lock_irqsave(&cc->lock, flags);
	cc->node = NULL;
	spin_unlock_irqrestore(&cc->lock, flags);
	put_device(&node->dev);
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

	opts = kzalloc_obj(*opts, GFP_KERNEL);
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

static void ccid_free(struct usb_function *f)
{
	struct f_ccid *cc = func_to_ccid(f);
	struct f_ccid_opts *opts = container_of(f->fi, struct f_ccid_opts,
						func_inst);

	mutex_lock(&opts->lock);
	opts->refcnt--;
	mutex_unlock(&opts->lock);
	kref_put(&cc->ref, ccid_free_mem);
}

static struct usb_function *ccid_alloc(struct usb_function_instance *fi)
{
	struct f_ccid_opts *opts = container_of(fi, struct f_ccid_opts,
						func_inst);
	struct f_ccid *cc;

	cc = kzalloc_obj(*cc, GFP_KERNEL);
	if (!cc)
		return ERR_PTR(-ENOMEM);

	kref_init(&cc->ref);
	spin_lock_init(&cc->lock);
	init_waitqueue_head(&cc->read_wq);
	init_waitqueue_head(&cc->idle_wq);
	init_waitqueue_head(&cc->slot_wq);
	timer_setup(&cc->timer, ccid_timer, 0);
	INIT_WORK(&cc->copy_work, ccid_copy_work);
	INIT_LIST_HEAD(&cc->in_ready);

	mutex_lock(&opts->lock);
	cc->cfg = opts->cfg;
	cc->minor = opts->minor;
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

DECLARE_USB_FUNCTION(ccid, ccid_alloc_inst, ccid_alloc);

static int __init ccid_mod_init(void)
{
	return usb_function_register(&ccidusb_func);
}

static void __exit ccid_mod_exit(void)
{
	usb_function_unregister(&ccidusb_func);
	/* a node's release may still be on its way (a delayed kobject) */
	wait_event(ccidg_nodes_wq, !atomic_read(&ccidg_nodes));
}

module_init(ccid_mod_init);
module_exit(ccid_mod_exit);
MODULE_DESCRIPTION("USB CCID smartcard reader gadget function");
MODULE_LICENSE("GPL");
