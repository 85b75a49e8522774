/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * g_ccid.h -- userspace ABI of the USB CCID gadget function (usb_f_ccid)
 *
 * One char device /dev/ccidg<N> exists per ccid function instance. One
 * process at a time opens it read-write (the card daemon); further O_RDWR
 * opens fail with -EBUSY. Read-only opens are allowed at any time and may
 * only use the query ioctls (CCIDG_IOC_GET_CONFIG, _GET_STATUS, _GET_STATS).
 *
 * read() returns exactly one event: a struct ccidg_event followed by
 * ev.len bytes of data (the command APDU of a CCIDG_EV_APDU). A buffer
 * shorter than the whole event fails with -EMSGSIZE, a buffer that cannot
 * be written with -EFAULT, and in both cases the event stays queued;
 * CCIDG_EVENT_MAX bytes are always enough. read() blocks unless O_NONBLOCK
 * is set (then -EAGAIN); poll() reports EPOLLIN when an event is queued
 * and EPOLLOUT always. Later kernels may add event types and event flags:
 * userspace skips an event whose type it does not know (ev.len tells how
 * much data it carries) and ignores flags it does not know.
 *
 * write() takes exactly one struct ccidg_reply followed by reply.len bytes
 * (the response APDU, status word included) and answers the CCIDG_EV_APDU
 * with the same slot and id. A reply for an id that is not pending (it was
 * aborted, its card was removed, the host went away, or it was answered
 * already) fails with -ESTALE and changes nothing. reply.flags must be
 * zero (-EINVAL otherwise).
 *
 * When the read-write file is closed, every card it inserted is removed,
 * the host is notified, and pending commands are answered with an error.
 *
 * All structures have a fixed layout, no pointers, and the same size on
 * 32- and 64-bit userspace.
 */
#ifndef _UAPI__LINUX_USB_G_CCID_H
#define _UAPI__LINUX_USB_G_CCID_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define CCIDG_MAX_SLOTS		16
#define CCIDG_MAX_ATR		33
/* Largest command APDU: 4 header + 3 Lc + 65535 data + 2 Le */
#define CCIDG_MAX_CMD_APDU	65544
/* Largest response APDU: 65536 data + SW1 SW2 */
#define CCIDG_MAX_RSP_APDU	65538

/* Event types, read() */
enum ccidg_event_type {
	CCIDG_EV_HOST_CONNECT = 1,	/* host configured the function */
	CCIDG_EV_HOST_DISCONNECT = 2,	/* host deconfigured or detached */
	CCIDG_EV_POWER_ON = 3,		/* slot powered (IccPowerOn), ATR sent */
	CCIDG_EV_POWER_OFF = 4,		/* slot powered off (IccPowerOff) */
	CCIDG_EV_APDU = 5,		/* command APDU follows, answer by id */
	CCIDG_EV_ABORT = 6,		/* pending APDU id cancelled by host */
	CCIDG_EV_CARD_REMOVED = 7,	/* card removed by the kernel */
};

struct ccidg_event {
	__u32 type;		/* enum ccidg_event_type; skip unknown ones */
	__u32 slot;		/* slot number, 0 for host events */
	__u32 id;		/* APDU id for CCIDG_EV_APDU and _ABORT */
	__u32 len;		/* bytes of data following this header */
	__u32 flags;		/* none defined yet: 0; ignore unknown bits */
};

#define CCIDG_EVENT_MAX	(sizeof(struct ccidg_event) + CCIDG_MAX_CMD_APDU)

/* Reply types, write() */
enum ccidg_reply_type {
	CCIDG_REPLY_APDU = 1,	/* response APDU follows (len >= 2) */
	CCIDG_REPLY_ERROR = 2,	/* the card failed; len 0: the host gets
				 * bError ICC mute (0xfe), len 1: the byte
				 * that follows is the bError it gets
				 */
};

struct ccidg_reply {
	__u32 type;		/* enum ccidg_reply_type */
	__u32 slot;
	__u32 id;		/* id of the CCIDG_EV_APDU answered */
	__u32 len;		/* bytes of data following */
	__u32 flags;		/* must be 0 */
};

#define CCIDG_REPLY_MAX	(sizeof(struct ccidg_reply) + CCIDG_MAX_RSP_APDU)

/* CCIDG_IOC_INSERT: put a card with this ATR into a slot */
struct ccidg_card {
	__u32 slot;
	__u32 atr_len;		/* 2 .. CCIDG_MAX_ATR */
	__u8 atr[CCIDG_MAX_ATR];
	__u8 reserved[7];	/* must be zero */
};

/* CCIDG_IOC_GET_CONFIG: the function's configuration */
struct ccidg_config {
	__u32 nslots;
	__u32 busy_slots;	/* bMaxCCIDBusySlots */
	__u32 protocols;	/* dwProtocols: bit 0 T=0, bit 1 T=1 */
	__u32 features;		/* dwFeatures */
	__u32 max_msg_len;	/* dwMaxCCIDMessageLength */
	__u32 online;		/* 1 if the host has configured us */
	__u32 reserved[10];
};

/* Slot states in struct ccidg_status */
#define CCIDG_SLOT_EMPTY	0
#define CCIDG_SLOT_PRESENT	1	/* card present, not powered */
#define CCIDG_SLOT_POWERED	2	/* card present and powered */

/* CCIDG_IOC_GET_STATUS: the state of every slot */
struct ccidg_status {
	__u32 nslots;
	__u32 online;
	__u8 state[CCIDG_MAX_SLOTS];	/* CCIDG_SLOT_* */
	__u8 busy[CCIDG_MAX_SLOTS];	/* 1 if an APDU is pending */
	__u32 reserved[4];
};

/* CCIDG_IOC_GET_STATS: counters since the function was bound */
struct ccidg_stats {
	__u64 msgs_in;		/* PC_to_RDR messages received */
	__u64 msgs_out;		/* RDR_to_PC messages sent on bulk-in */
	__u64 apdus;		/* APDUs delivered to userspace */
	__u64 replies;		/* APDU replies accepted from userspace */
	__u64 errors;		/* replies sent with bmCommandStatus failed */
	__u64 bad_msgs;		/* malformed messages (dropped or refused) */
	__u64 time_ext;		/* time extension replies sent */
	__u64 aborts;		/* commands aborted by the host */
	__u64 notify;		/* NotifySlotChange messages sent */
	__u64 bytes_in;		/* bulk-out payload bytes */
	__u64 bytes_out;	/* bulk-in payload bytes */
	__u64 reserved[5];
};

/*
 * ioctl numbers: type 'g' is shared by gadgetfs (0x00-0x0f) and g_printer
 * (0x20-0x2f); this function uses 0x60-0x6f.
 */
#define CCIDG_IOC_INSERT	_IOW('g', 0x60, struct ccidg_card)
#define CCIDG_IOC_REMOVE	_IOW('g', 0x61, __u32)
#define CCIDG_IOC_GET_CONFIG	_IOR('g', 0x62, struct ccidg_config)
#define CCIDG_IOC_GET_STATUS	_IOR('g', 0x63, struct ccidg_status)
#define CCIDG_IOC_GET_STATS	_IOR('g', 0x64, struct ccidg_stats)

#endif /* _UAPI__LINUX_USB_G_CCID_H */
