/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccid_engine.h -- the CCID protocol engine of usb_f_ccid
 *
 * Plain C with no gadget, allocation, locking or sleeping calls: it parses
 * PC_to_RDR messages, keeps the state of every slot and builds RDR_to_PC
 * messages into buffers owned by the caller. The very same source is built
 * into the kernel module and, for unit tests and fuzzing, into userspace
 * programs (where tests/include/ supplies the few kernel types it uses).
 *
 * The caller serialises all calls on one engine (the gadget glue holds a
 * spinlock around them). Message buffers handed in are trusted to be as long
 * as stated; their contents are not trusted at all.
 */
#ifndef CCID_ENGINE_H
#define CCID_ENGINE_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/usb/ccid.h>
#include "ccid_compat.h"	/* get_unaligned_le32() and friends */
#else
#include "kcompat.h"
#endif
#include <linux/usb/g_ccid.h>

#define CCID_HDR_LEN		10
#define CCID_DESC_LEN		54	/* sizeof(struct ccid_descriptor) */
#define CCID_DESC_TYPE		0x21
#define CCID_MAX_SLOTS		CCIDG_MAX_SLOTS
#define CCID_MAX_ATR		CCIDG_MAX_ATR
#define CCID_MAX_CMD_APDU	CCIDG_MAX_CMD_APDU
#define CCID_MAX_RSP_APDU	CCIDG_MAX_RSP_APDU
/* dwMaxCCIDMessageLength: a short APDU exchange at least, an extended
 * command APDU in one message at most
 */
#define CCID_MIN_MSG_LEN	(CCID_HDR_LEN + 261)
#define CCID_MAX_MSG_LEN	(CCID_HDR_LEN + CCID_MAX_CMD_APDU)
/* RDR_to_PC_NotifySlotChange for 16 slots: type + 2 bits per slot */
#define CCID_NOTIFY_MAX_LEN	(1 + (2 * CCID_MAX_SLOTS + 7) / 8)
/*
 * The largest message the engine builds itself (a DataBlock carrying an
 * ATR; parameters, status and errors are shorter): the size of the
 * buffers for replies to the host's own commands. Response APDUs go out
 * of buffers the caller fills (see ccid_apdu_reply()).
 */
#define CCID_SMALL_REPLY_MAX	64

/* PC_to_RDR message types */
#define CCID_PC_SET_PARAMETERS		0x61
#define CCID_PC_ICC_POWER_ON		0x62
#define CCID_PC_ICC_POWER_OFF		0x63
#define CCID_PC_GET_SLOT_STATUS		0x65
#define CCID_PC_SECURE			0x69
#define CCID_PC_T0APDU			0x6a
#define CCID_PC_ESCAPE			0x6b
#define CCID_PC_GET_PARAMETERS		0x6c
#define CCID_PC_RESET_PARAMETERS	0x6d
#define CCID_PC_ICC_CLOCK		0x6e
#define CCID_PC_XFR_BLOCK		0x6f
#define CCID_PC_MECHANICAL		0x71
#define CCID_PC_ABORT			0x72
#define CCID_PC_SET_DATA_RATE_CLOCK	0x73

/* RDR_to_PC message types */
#define CCID_RDR_DATA_BLOCK		0x80
#define CCID_RDR_SLOT_STATUS		0x81
#define CCID_RDR_PARAMETERS		0x82
#define CCID_RDR_ESCAPE			0x83
#define CCID_RDR_DATA_RATE_CLOCK	0x84
#define CCID_RDR_NOTIFY_SLOT_CHANGE	0x50	/* interrupt-in */
#define CCID_RDR_HARDWARE_ERROR		0x51	/* interrupt-in */

/* bmCommandStatus, bits 7:6 of bStatus */
#define CCID_CMD_OK		0x00
#define CCID_CMD_FAILED		0x40
#define CCID_CMD_TIME_EXT	0x80
/* bmICCStatus, bits 1:0 of bStatus */
#define CCID_ICC_ACTIVE		0x00
#define CCID_ICC_INACTIVE	0x01
#define CCID_ICC_ABSENT		0x02

/* bError when bmCommandStatus is failed; 1..127 is the offset of the
 * offending field in the message (1 dwLength, 5 bSlot, 7 bPowerSelect or
 * bProtocolNum, 8 wLevelParameter)
 */
#define CCID_ERR_CMD_ABORTED		0xff
#define CCID_ERR_ICC_MUTE		0xfe
#define CCID_ERR_XFR_PARITY		0xfd
#define CCID_ERR_XFR_OVERRUN		0xfc
#define CCID_ERR_HW_ERROR		0xfb
#define CCID_ERR_BAD_ATR_TS		0xf8
#define CCID_ERR_BAD_ATR_TCK		0xf7
#define CCID_ERR_PROTOCOL_NOT_SUPPORTED	0xf6
#define CCID_ERR_CLASS_NOT_SUPPORTED	0xf5
#define CCID_ERR_PROCEDURE_BYTE		0xf4
#define CCID_ERR_DEACTIVATED_PROTOCOL	0xf3
#define CCID_ERR_BUSY_AUTO_SEQUENCE	0xf2
#define CCID_ERR_PIN_TIMEOUT		0xf0
#define CCID_ERR_PIN_CANCELLED		0xef
#define CCID_ERR_CMD_SLOT_BUSY		0xe0
#define CCID_ERR_CMD_NOT_SUPPORTED	0x00
#define CCID_ERR_OFS_DWLENGTH		1
#define CCID_ERR_OFS_BSLOT		5
#define CCID_ERR_OFS_BSEQ		6
#define CCID_ERR_OFS_PARAM7		7
#define CCID_ERR_OFS_PARAM8		8

/* Class-specific requests (bRequest) */
#define CCID_REQ_ABORT			0x01
#define CCID_REQ_GET_CLOCK_FREQUENCIES	0x02
#define CCID_REQ_GET_DATA_RATES		0x03

/* dwFeatures bits */
#define CCID_FEAT_AUTO_CONF_ATR		0x00000002
#define CCID_FEAT_AUTO_ACTIVATION	0x00000004
#define CCID_FEAT_AUTO_VOLTAGE		0x00000008
#define CCID_FEAT_AUTO_CLOCK		0x00000010
#define CCID_FEAT_AUTO_BAUD		0x00000020
#define CCID_FEAT_AUTO_PARAM_NEG	0x00000040
#define CCID_FEAT_AUTO_PPS		0x00000080
#define CCID_FEAT_CLOCK_STOP		0x00000100
#define CCID_FEAT_NAD		0x00000200
#define CCID_FEAT_AUTO_IFSD		0x00000400
#define CCID_FEAT_LEVEL_TPDU		0x00010000
#define CCID_FEAT_LEVEL_SHORT_APDU	0x00020000
#define CCID_FEAT_LEVEL_EXT_APDU	0x00040000
#define CCID_FEAT_LEVEL_MASK		0x00070000
#define CCID_FEAT_USB_WAKEUP		0x00100000
#define CCID_FEAT_DEFAULT		(0x000000fe | CCID_FEAT_LEVEL_EXT_APDU)

/* dwProtocols bits */
#define CCID_PROTO_T0		0x1
#define CCID_PROTO_T1		0x2

/* The fixed clock and data rate the virtual reader reports */
#define CCID_CLOCK_KHZ		3580
#define CCID_DATA_RATE_BPS	9600
#define CCID_MAX_DATA_RATE_BPS	344086

struct ccid_config {
	u32 nslots;		/* 1 .. CCID_MAX_SLOTS */
	u32 busy_slots;		/* bMaxCCIDBusySlots, 1 .. nslots */
	u32 protocols;		/* dwProtocols, non-zero subset of T=0|T=1 */
	u32 features;		/* dwFeatures; one exchange level must be set,
				 * only APDU levels are supported
				 */
	u32 max_msg_len;	/* CCID_MIN_MSG_LEN .. CCID_MAX_MSG_LEN */
};

/* Slot state, see CCIDG_SLOT_* in the uapi */
struct ccid_slot {
	u8 state;		/* CCIDG_SLOT_EMPTY, _PRESENT, _POWERED */
	u8 atr_len;
	u8 atr[CCID_MAX_ATR];
	u8 protocol;		/* 0 = T=0, 1 = T=1 */
	u8 params[7];		/* abProtocolDataStructure */
	u8 clock_stopped;
	u8 changed;		/* presence changed since last notify */

	/* A command delivered to userspace and not answered yet */
	u8 busy;
	u8 busy_seq;		/* bSeq of the command to answer */
	u8 busy_type;		/* its bMessageType */
	u32 busy_id;		/* id given to userspace, never 0 */
	const u8 *apdu;		/* its command APDU, until consumed */
	u32 apdu_len;

	/* Abort class request seen, waiting for PC_to_RDR_Abort */
	u8 aborting;
	u8 abort_seq;
	/* PC_to_RDR_Abort seen before its class request (the two travel on
	 * different pipes and may arrive in either order); a class request
	 * with this bSeq then completes the abort instead of starting one
	 */
	u8 abort_early;
	u8 abort_early_seq;

	/*
	 * Bumped whenever the chaining state is dropped (abort, power off,
	 * host reset, an error), so that a copy the caller was asked to make
	 * for the old state is recognised as stale when it reports back
	 */
	u32 gen;
	/* The caller holds a copy job for this slot (CCID_EV_CMD_COPY or
	 * CCID_EV_RSP_NEXT) and has not reported it done
	 */
	u8 copying;

	/* Extended APDU command chaining (wLevelParameter 1, 3, 2): the
	 * pieces are joined in cmd_buf
	 */
	u8 cmd_chaining;
	u32 cmd_len;
	u8 *cmd_buf;		/* CCID_MAX_CMD_APDU bytes */
	u8 copy_seq;		/* bSeq and wLevelParameter of the piece */
	u8 copy_level;		/* being copied */
	u32 copy_len;

	/* Response chaining (bChainParameter 1, 3, 2); the response itself
	 * is the caller's
	 */
	u8 rsp_chaining;
	u8 rsp_seq;		/* bSeq of the request for the next chunk */
	u32 rsp_len;
	u32 rsp_off;		/* what the host has been sent */
};

struct ccid_engine {
	struct ccid_config cfg;
	struct ccid_slot slot[CCID_MAX_SLOTS];
	u32 next_id;
	u32 nbusy;		/* slots with a command in userspace */
	struct ccidg_stats stats;
};

/* Events a message produces, in struct ccid_result.events */
#define CCID_EV_POWER_ON	0x01	/* slot res->slot was powered */
#define CCID_EV_POWER_OFF	0x02	/* slot res->slot was powered off */
#define CCID_EV_APDU		0x04	/* APDU res->id on res->slot is ready:
					 * ccid_pending_apdu() returns it
					 */
#define CCID_EV_ABORT		0x08	/* APDU res->abort_id was cancelled */
#define CCID_EV_APDU_IN_MSG	0x10	/* with CCID_EV_APDU: the APDU lies in
					 * the message, which the caller keeps
					 * until the APDU is consumed or the
					 * id stops pending
					 */
#define CCID_EV_CMD_COPY	0x20	/* a piece of a chained command: copy
					 * res->copy_len bytes from
					 * res->copy_src to res->copy_dst, then
					 * call ccid_cmd_copied()
					 */
#define CCID_EV_RSP_NEXT	0x40	/* the host asks for the next chunk of
					 * a chained response: bytes
					 * res->copy_off .. + res->copy_len of
					 * it go after the header of a message,
					 * then call ccid_rsp_chunk()
					 */

struct ccid_result {
	u32 reply_len;		/* > 0: a reply of this length is in out,
				 * to be sent on bulk-in
				 */
	u32 events;		/* CCID_EV_* */
	u32 slot;		/* slot the events concern */
	u32 id;			/* CCID_EV_APDU */
	u32 abort_id;		/* CCID_EV_ABORT */
	/* CCID_EV_CMD_COPY, CCID_EV_RSP_NEXT */
	u32 gen;		/* to hand back when the copy is done */
	const u8 *copy_src;
	u8 *copy_dst;
	u32 copy_off;
	u32 copy_len;
};

/* Configuration */
void ccid_config_default(struct ccid_config *cfg);
int ccid_config_check(const struct ccid_config *cfg);	/* 0 or -EINVAL */
/* The class descriptor, bLength and bDescriptorType included */
void ccid_build_class_desc(const struct ccid_config *cfg,
			   struct ccid_descriptor *desc);

/*
 * Bytes of buffer memory an engine with this configuration needs: one
 * buffer per slot in which the pieces of a chained command are joined.
 */
size_t ccid_engine_buf_size(const struct ccid_config *cfg);
/* cfg must pass ccid_config_check(); buf has ccid_engine_buf_size() bytes */
void ccid_engine_init(struct ccid_engine *e, const struct ccid_config *cfg,
		      u8 *buf);

/*
 * Total length (header included) the message whose first CCID_HDR_LEN
 * bytes are hdr announces; saturates at U32_MAX. For the glue's framing.
 */
u32 ccid_msg_total_len(const u8 *hdr);

/*
 * Handle one PC_to_RDR message, the whole bulk-out transfer of len bytes.
 * A reply the engine builds itself goes into out, which has out_size >=
 * CCID_SMALL_REPLY_MAX bytes. Fills res; res->reply_len is 0 when nothing
 * is to be sent now (an APDU went to userspace, a copy job was handed out,
 * or the message was too short to answer and was dropped).
 *
 * Nothing is copied here but headers and ATRs: a whole command APDU stays
 * where it lies in msg (CCID_EV_APDU_IN_MSG); the piece of a chained
 * command is copied by the caller (CCID_EV_CMD_COPY), outside its lock if
 * it likes, and so is the next chunk of a chained response
 * (CCID_EV_RSP_NEXT). While a slot has a copy job out, its commands are
 * answered "slot busy".
 */
void ccid_handle_msg(struct ccid_engine *e, const u8 *msg, u32 len,
		     u8 *out, u32 out_size, struct ccid_result *res);

/*
 * The caller did the CCID_EV_CMD_COPY job of slot with generation gen.
 * Fills res like ccid_handle_msg(): the empty DataBlock that asks for the
 * next piece, or the joined APDU (CCID_EV_APDU), or a failure. -ESTALE if
 * the chain was dropped meanwhile (nothing to send), -EINVAL if the slot
 * had no copy job.
 */
int ccid_cmd_copied(struct ccid_engine *e, u32 slot, u32 gen, u8 *out,
		    u32 out_size, struct ccid_result *res);

/*
 * The caller put the CCID_EV_RSP_NEXT chunk of slot (generation gen) at
 * out + CCID_HDR_LEN: the DataBlock header goes in front of it, *out_len
 * is the message's length. -ESTALE if the response was dropped meanwhile
 * (nothing to send), -EINVAL if the slot had no such job or out is short.
 */
int ccid_rsp_chunk(struct ccid_engine *e, u32 slot, u32 gen, u8 *out,
		   u32 out_size, u32 *out_len);

/*
 * The caller gives up on the copy job of slot (it could not get a buffer
 * to copy into): the chained command or response it belonged to is
 * dropped, and the slot answers commands again.
 */
void ccid_copy_cancel(struct ccid_engine *e, u32 slot);

/*
 * The pending command APDU of a slot, valid while that id is pending and
 * the APDU not consumed: returns its length and sets *apdu, or -ESTALE.
 */
int ccid_pending_apdu(struct ccid_engine *e, u32 slot, u32 id,
		      const u8 **apdu);

/* The APDU of id was handed to userspace: the engine forgets where it is */
void ccid_apdu_consumed(struct ccid_engine *e, u32 slot, u32 id);

/* Whether id is the command pending on slot */
bool ccid_id_pending(const struct ccid_engine *e, u32 slot, u32 id);

/* Bytes of response data that fit in one DataBlock */
static inline u32 ccid_rsp_room(const struct ccid_engine *e)
{
	return e->cfg.max_msg_len - CCID_HDR_LEN;
}

/*
 * Whether userspace may answer APDU id on slot with a response of len
 * bytes (SW1 SW2 included), without changing anything: 0, -EINVAL for a
 * bad slot or length (< 2 or > CCID_MAX_RSP_APDU), -ESTALE if id is not
 * pending on slot.
 */
int ccid_apdu_check(const struct ccid_engine *e, u32 slot, u32 id, u32 len);

/*
 * Userspace answered APDU id on slot with a response of len bytes. The
 * caller has put its first min(len, ccid_rsp_room()) bytes at
 * out + CCID_HDR_LEN; the engine writes the RDR_to_PC_DataBlock header in
 * front of them and sets *out_len. A longer response is chained: the
 * caller keeps it and hands the rest over chunk by chunk as the host asks
 * for it (CCID_EV_RSP_NEXT). Errors as ccid_apdu_check(), and -EINVAL if
 * out_size cannot hold the message.
 */
int ccid_apdu_reply(struct ccid_engine *e, u32 slot, u32 id, u32 len,
		    u8 *out, u32 out_size, u32 *out_len);

/* Answer pending APDU id with bmCommandStatus failed and bError error */
int ccid_apdu_fail(struct ccid_engine *e, u32 slot, u32 id, u8 error,
		   u8 *out, u32 out_size, u32 *out_len);

/*
 * A time extension (bmCommandStatus 2, bError mult) for the command
 * pending on slot; -ENOENT if none is pending.
 */
int ccid_time_extension(struct ccid_engine *e, u32 slot, u8 mult,
			u8 *out, u32 out_size, u32 *out_len);

/* Card insertion: -EINVAL bad slot or ATR, -EEXIST slot occupied */
int ccid_card_insert(struct ccid_engine *e, u32 slot, const u8 *atr,
		     u32 atr_len);

/*
 * Card removal: -EINVAL bad slot, -ENOENT slot empty. A command pending
 * on the slot is answered with ICC mute into out (*out_len > 0) and its id
 * stored in *aborted_id (0 if none).
 */
int ccid_card_remove(struct ccid_engine *e, u32 slot, u8 *out, u32 out_size,
		     u32 *out_len, u32 *aborted_id);

/*
 * RDR_to_PC_NotifySlotChange for every slot whose presence changed since
 * the last call (the changed flags are cleared). Returns its length, or 0
 * if no slot changed. out_size >= CCID_NOTIFY_MAX_LEN.
 */
u32 ccid_build_notify(struct ccid_engine *e, u8 *out, u32 out_size);
/* The same, for every slot, whether it changed or not (after connect) */
u32 ccid_build_notify_all(struct ccid_engine *e, u8 *out, u32 out_size);
/*
 * ccid_notify_again() - a NotifySlotChange built but never delivered: mark
 * its slots changed again, so the next message reports them.
 */
void ccid_notify_again(struct ccid_engine *e, const u8 *msg, u32 len);

/*
 * Class request ABORT, wValue = bSeq << 8 | bSlot. A command pending on
 * the slot is cancelled (res->events CCID_EV_ABORT, and a reply with
 * CMD_ABORTED in out). Returns -EINVAL for a slot out of range.
 */
int ccid_class_abort(struct ccid_engine *e, u16 wvalue, u8 *out,
		     u32 out_size, struct ccid_result *res);
/* GET_CLOCK_FREQUENCIES / GET_DATA_RATES: little-endian u32 arrays */
u32 ccid_clock_frequencies(u8 *buf, u32 size);
u32 ccid_data_rates(u8 *buf, u32 size);

/*
 * The host went away (deconfigured, disconnected, reset): every pending
 * command and chaining state is dropped without reply and every slot is
 * powered off; cards stay present. Pending ids become stale.
 */
void ccid_host_reset(struct ccid_engine *e);

/* The slot and status snapshot for CCIDG_IOC_GET_STATUS */
void ccid_get_status(const struct ccid_engine *e, struct ccidg_status *st);

#endif /* CCID_ENGINE_H */
