// SPDX-License-Identifier: GPL-2.0
/*
 * ccid_engine.c -- the CCID protocol engine of usb_f_ccid
 *
 * Parses PC_to_RDR messages, keeps the state of every slot and builds the
 * RDR_to_PC replies (USB CCID Rev 1.1). Everything the host sends is
 * untrusted: every length is checked before it is used, and every message,
 * however malformed, gets the reply the specification assigns to it or is
 * dropped when it is too short to carry a header.
 *
 * The engine itself counts in e->stats every message it receives and every
 * message it builds; the caller is expected to send what it is given.
 *
 * No allocation, locking or sleeping here, and no kernel-only helpers: the
 * same file is compiled into the module and into userspace test programs.
 */
#ifdef __KERNEL__
#include <linux/limits.h>
#endif
#include "ccid_engine.h"

/* Offsets in the 10-byte header shared by every bulk message */
#define OFS_TYPE	0
#define OFS_LEN		1
#define OFS_SLOT	5
#define OFS_SEQ		6
#define OFS_P7		7	/* message-specific bytes 7, 8 and 9 */
#define OFS_P8		8
#define OFS_P9		9

/* wLevelParameter of PC_to_RDR_XfrBlock, bChainParameter of the reply */
#define LEVEL_WHOLE	0x00	/* the APDU begins and ends here */
#define LEVEL_BEGIN	0x01	/* begins, more follows */
#define LEVEL_END	0x02	/* continues and ends */
#define LEVEL_MIDDLE	0x03	/* continues, more follows */
#define LEVEL_NEXT	0x10	/* empty: send (or expect) the next chunk */

/* bClockStatus of RDR_to_PC_SlotStatus */
#define CLOCK_RUNNING	0
#define CLOCK_STOP_L	1
#define CLOCK_STOP_H	2

/* abProtocolDataStructure lengths */
#define PARAMS_T0_LEN	5
#define PARAMS_T1_LEN	7

/*
 * dwFeatures bits that may be offered (CCID Rev 1.1, table 5.1-1). Not USB
 * remote wakeup (CCID_FEAT_USB_WAKEUP): the function cannot wake the host.
 */
#define FEAT_KNOWN	(0x000007fe | CCID_FEAT_LEVEL_MASK)

/* Fixed values of the class descriptor */
#define BCD_CCID		0x0110
#define VOLTAGE_ALL		0x07	/* 5 V, 3 V and 1.8 V */
#define MAX_IFSD		254
#define CLASS_ANY		0xff	/* bClassGetResponse, bClassEnvelope */

/*
 * Configuration
 */

void ccid_config_default(struct ccid_config *cfg)
{
	cfg->nslots = 1;
	cfg->busy_slots = 1;
	cfg->protocols = CCID_PROTO_T0 | CCID_PROTO_T1;
	cfg->features = CCID_FEAT_DEFAULT;
	/*
	 * The largest message the specification allows: an extended APDU
	 * with 65,535 command bytes (65,544 bytes in all) travels in one
	 * XfrBlock, and a 65,538-byte response in one DataBlock.
	 *
	 * libccid copes with it: it cuts commands at
	 * min(dwMaxCCIDMessageLength - 10, CMD_BUF_SIZE) where CMD_BUF_SIZE
	 * is 4 + 3 + 64 KiB + 3 = 65,546 bytes, and reads replies into
	 * buffers of 10 + 65,546 bytes (10 + 65,548 for multi-slot
	 * readers), so a reply of at most 65,554 bytes always fits. libccid
	 * accepts any dwMaxCCIDMessageLength and caps nothing else, so no
	 * larger value would buy anything; a smaller one only costs chaining.
	 */
	cfg->max_msg_len = CCID_MAX_MSG_LEN;
}

int ccid_config_check(const struct ccid_config *cfg)
{
	u32 level = cfg->features & CCID_FEAT_LEVEL_MASK;

	if (cfg->nslots < 1 || cfg->nslots > CCID_MAX_SLOTS)
		return -EINVAL;
	if (cfg->busy_slots < 1 || cfg->busy_slots > cfg->nslots)
		return -EINVAL;
	if (!cfg->protocols ||
	    (cfg->protocols & ~(u32)(CCID_PROTO_T0 | CCID_PROTO_T1)))
		return -EINVAL;
	if (cfg->features & ~(u32)FEAT_KNOWN)
		return -EINVAL;
	/* Exactly one exchange level, and an APDU one */
	if (level != CCID_FEAT_LEVEL_SHORT_APDU &&
	    level != CCID_FEAT_LEVEL_EXT_APDU)
		return -EINVAL;
	if (cfg->max_msg_len < CCID_MIN_MSG_LEN ||
	    cfg->max_msg_len > CCID_MAX_MSG_LEN)
		return -EINVAL;
	return 0;
}

void ccid_build_class_desc(const struct ccid_config *cfg,
			   struct ccid_descriptor *d)
{
	memset(d, 0, sizeof(*d));
	d->bLength = sizeof(*d);
	d->bDescriptorType = CCID_DESC_TYPE;
	d->bcdCCID = cpu_to_le16(BCD_CCID);
	d->bMaxSlotIndex = cfg->nslots - 1;
	d->bVoltageSupport = VOLTAGE_ALL;
	d->dwProtocols = cpu_to_le32(cfg->protocols);
	d->dwDefaultClock = cpu_to_le32(CCID_CLOCK_KHZ);
	d->dwMaximumClock = cpu_to_le32(CCID_CLOCK_KHZ);
	d->bNumClockSupported = 1;
	d->dwDataRate = cpu_to_le32(CCID_DATA_RATE_BPS);
	d->dwMaxDataRate = cpu_to_le32(CCID_MAX_DATA_RATE_BPS);
	d->bNumDataRatesSupported = 1;
	d->dwMaxIFSD = cpu_to_le32(MAX_IFSD);
	/* no synchronous protocols, no mechanics */
	d->dwFeatures = cpu_to_le32(cfg->features);
	d->dwMaxCCIDMessageLength = cpu_to_le32(cfg->max_msg_len);
	d->bClassGetResponse = CLASS_ANY;
	d->bClassEnvelope = CLASS_ANY;
	/* no display (wLcdLayout 0), no PIN pad (bPINSupport 0) */
	d->bMaxCCIDBusySlots = cfg->busy_slots;
}

size_t ccid_engine_buf_size(const struct ccid_config *cfg)
{
	return (size_t)cfg->nslots * CCID_MAX_CMD_APDU;
}

void ccid_engine_init(struct ccid_engine *e, const struct ccid_config *cfg,
		      u8 *buf)
{
	u32 i;

	memset(e, 0, sizeof(*e));
	e->cfg = *cfg;
	for (i = 0; i < cfg->nslots; i++) {
		e->slot[i].cmd_buf = buf;
		buf += CCID_MAX_CMD_APDU;
	}
	e->next_id = 1;
}

u32 ccid_msg_total_len(const u8 *hdr)
{
	u32 len = get_unaligned_le32(hdr + OFS_LEN);

	if (len > U32_MAX - CCID_HDR_LEN)
		return U32_MAX;
	return len + CCID_HDR_LEN;
}

/*
 * Slot helpers
 */

static u8 ccid_icc_status(const struct ccid_slot *s)
{
	switch (s->state) {
	case CCIDG_SLOT_POWERED:
		return CCID_ICC_ACTIVE;
	case CCIDG_SLOT_PRESENT:
		return CCID_ICC_INACTIVE;
	default:
		return CCID_ICC_ABSENT;
	}
}

/* The protocol the card starts with: the first one its ATR offers */
static u8 ccid_atr_protocol(const struct ccid_slot *s, u32 protocols)
{
	u8 t0, y1, proto = 0;
	u32 i;

	t0 = s->atr[1];
	y1 = t0 >> 4;
	i = 2;
	/* skip TA1, TB1 and TC1 when present, to reach TD1 */
	i += !!(y1 & 1) + !!(y1 & 2) + !!(y1 & 4);
	if ((y1 & 8) && i < s->atr_len && (s->atr[i] & 0x0f) == 1)
		proto = 1;
	/* the reader's own protocols win */
	if (!(protocols & (1u << proto)))
		proto = !proto;
	return proto;
}

/* Default abProtocolDataStructure for the slot's current protocol */
static void ccid_default_params(struct ccid_slot *s)
{
	/* bit 1 of bmTCCKST0/1: inverse convention (TS 3F) */
	u8 conv = s->atr[0] == 0x3f ? 0x02 : 0x00;

	memset(s->params, 0, sizeof(s->params));
	s->params[0] = 0x11;			/* Fi 372, Di 1 */
	if (s->protocol == 0) {
		s->params[1] = conv;		/* bmTCCKST0 */
		s->params[2] = 0x00;		/* bGuardTimeT0 */
		s->params[3] = 0x0a;		/* bWaitingIntegerT0 */
		s->params[4] = 0x00;		/* bClockStop: not allowed */
	} else {
		s->params[1] = 0x10 | conv;	/* bmTCCKST1: LRC */
		s->params[2] = 0x00;		/* bGuardTimeT1 */
		s->params[3] = 0x4d;		/* BWI 4, CWI 13 */
		s->params[4] = 0x00;		/* bClockStop */
		s->params[5] = 0x20;		/* bIFSC 32 */
		s->params[6] = 0x00;		/* bNadValue */
	}
}

/* The card's parameters as they are after an ATR */
static void ccid_slot_reset_card(struct ccid_engine *e, struct ccid_slot *s)
{
	if (s->state != CCIDG_SLOT_EMPTY)
		s->protocol = ccid_atr_protocol(s, e->cfg.protocols);
	else
		s->protocol = 0;
	ccid_default_params(s);
	s->clock_stopped = CLOCK_RUNNING;
}

/*
 * Drop both chaining states. A copy job the caller holds stays out
 * (copying) until it reports back, and is then found stale by its gen.
 */
static void ccid_slot_reset_chains(struct ccid_slot *s)
{
	s->cmd_chaining = 0;
	s->cmd_len = 0;
	s->rsp_chaining = 0;
	s->rsp_len = 0;
	s->rsp_off = 0;
	s->gen++;
}

/* Forget the pending command, if any; returns its id or 0 */
static u32 ccid_slot_drop_pending(struct ccid_engine *e, struct ccid_slot *s)
{
	u32 id = s->busy_id;

	if (!s->busy)
		return 0;
	s->busy = 0;
	s->busy_id = 0;
	s->apdu = NULL;
	s->apdu_len = 0;
	s->cmd_len = 0;
	if (e->nbusy)
		e->nbusy--;
	return id;
}

/* A new APDU id: never 0, never one that is pending */
static u32 ccid_new_id(struct ccid_engine *e)
{
	u32 id, i;
	bool used;

	do {
		id = e->next_id++;
		used = !id;
		for (i = 0; i < e->cfg.nslots && !used; i++)
			used = e->slot[i].busy && e->slot[i].busy_id == id;
	} while (used);
	return id;
}

/*
 * Reply builders. The data, if any, is in out + CCID_HDR_LEN already.
 */

static u8 ccid_reply_type(u8 type)
{
	switch (type) {
	case CCID_PC_ICC_POWER_ON:
	case CCID_PC_XFR_BLOCK:
	case CCID_PC_SECURE:
		return CCID_RDR_DATA_BLOCK;
	case CCID_PC_GET_PARAMETERS:
	case CCID_PC_RESET_PARAMETERS:
	case CCID_PC_SET_PARAMETERS:
		return CCID_RDR_PARAMETERS;
	case CCID_PC_ESCAPE:
		return CCID_RDR_ESCAPE;
	case CCID_PC_SET_DATA_RATE_CLOCK:
		return CCID_RDR_DATA_RATE_CLOCK;
	default:
		/* every other command, and unknown ones */
		return CCID_RDR_SLOT_STATUS;
	}
}

static bool ccid_known_type(u8 type)
{
	switch (type) {
	case CCID_PC_SET_PARAMETERS:
	case CCID_PC_ICC_POWER_ON:
	case CCID_PC_ICC_POWER_OFF:
	case CCID_PC_GET_SLOT_STATUS:
	case CCID_PC_SECURE:
	case CCID_PC_T0APDU:
	case CCID_PC_ESCAPE:
	case CCID_PC_GET_PARAMETERS:
	case CCID_PC_RESET_PARAMETERS:
	case CCID_PC_ICC_CLOCK:
	case CCID_PC_XFR_BLOCK:
	case CCID_PC_MECHANICAL:
	case CCID_PC_ABORT:
	case CCID_PC_SET_DATA_RATE_CLOCK:
		return true;
	default:
		return false;
	}
}

static u32 ccid_put_hdr(struct ccid_engine *e, u8 *out, u8 type, u32 dlen,
			u8 slot, u8 seq, u8 status, u8 error, u8 b9)
{
	out[OFS_TYPE] = type;
	put_unaligned_le32(dlen, out + OFS_LEN);
	out[OFS_SLOT] = slot;
	out[OFS_SEQ] = seq;
	out[OFS_P7] = status;	/* bStatus */
	out[OFS_P8] = error;	/* bError */
	out[OFS_P9] = b9;	/* bChainParameter, bClockStatus, ... */

	e->stats.msgs_out++;
	e->stats.bytes_out += CCID_HDR_LEN + dlen;
	if ((status & 0xc0) == CCID_CMD_FAILED)
		e->stats.errors++;
	return CCID_HDR_LEN + dlen;
}

/* A message as received, header decoded */
struct ccid_msg {
	const u8 *data;		/* abData */
	u32 dlen;		/* its length, == dwLength once checked */
	u8 type;
	u8 slot;
	u8 seq;
	u8 p7;			/* bytes 7..9 */
	u16 level;		/* bytes 8..9, little-endian */
};

/* Failed reply of the type that answers m */
static u32 ccid_fail(struct ccid_engine *e, const struct ccid_msg *m,
		     u8 icc, u8 error, u8 *out)
{
	return ccid_put_hdr(e, out, ccid_reply_type(m->type), 0, m->slot,
			    m->seq, CCID_CMD_FAILED | icc, error, 0);
}

/* The same for a malformed message */
static u32 ccid_bad(struct ccid_engine *e, const struct ccid_msg *m,
		    u8 icc, u8 error, u8 *out)
{
	e->stats.bad_msgs++;
	return ccid_fail(e, m, icc, error, out);
}

static u32 ccid_slot_status(struct ccid_engine *e, const struct ccid_msg *m,
			    const struct ccid_slot *s, u8 *out)
{
	u8 clock = s->state == CCIDG_SLOT_POWERED ? s->clock_stopped : 0;

	return ccid_put_hdr(e, out, CCID_RDR_SLOT_STATUS, 0, m->slot, m->seq,
			    CCID_CMD_OK | ccid_icc_status(s), 0, clock);
}

static u32 ccid_params_reply(struct ccid_engine *e, const struct ccid_msg *m,
			     const struct ccid_slot *s, u8 *out)
{
	u32 n = s->protocol ? PARAMS_T1_LEN : PARAMS_T0_LEN;

	memcpy(out + CCID_HDR_LEN, s->params, n);
	return ccid_put_hdr(e, out, CCID_RDR_PARAMETERS, n, m->slot, m->seq,
			    CCID_CMD_OK | ccid_icc_status(s), 0, s->protocol);
}

/* An empty DataBlock: "send the next part of the command" */
static u32 ccid_chain_ack(struct ccid_engine *e, const struct ccid_msg *m,
			  u8 *out)
{
	return ccid_put_hdr(e, out, CCID_RDR_DATA_BLOCK, 0, m->slot, m->seq,
			    CCID_CMD_OK | CCID_ICC_ACTIVE, 0, LEVEL_NEXT);
}

/* Failed reply to the command pending on s (its type, its bSeq) */
static u32 ccid_fail_pending(struct ccid_engine *e, struct ccid_slot *s,
			     u8 slot, u8 error, u8 *out)
{
	return ccid_put_hdr(e, out, ccid_reply_type(s->busy_type), 0, slot,
			    s->busy_seq, CCID_CMD_FAILED | ccid_icc_status(s),
			    error, 0);
}

/*
 * PC_to_RDR message handlers. Each returns the length of the reply built
 * in out, or 0 when the message went to userspace.
 */

static u32 ccid_power_on(struct ccid_engine *e, struct ccid_slot *s,
			 const struct ccid_msg *m, u8 *out,
			 struct ccid_result *res)
{
	if (m->dlen)
		return ccid_bad(e, m, ccid_icc_status(s),
				CCID_ERR_OFS_DWLENGTH, out);
	/* bPowerSelect: 0 automatic, 1 5 V, 2 3 V, 3 1.8 V */
	if (m->p7 > 3)
		return ccid_bad(e, m, ccid_icc_status(s), CCID_ERR_OFS_PARAM7,
				out);
	if (s->state == CCIDG_SLOT_EMPTY)
		return ccid_fail(e, m, CCID_ICC_ABSENT, CCID_ERR_ICC_MUTE, out);

	/* cold or warm reset, the virtual card does not care */
	ccid_slot_reset_chains(s);
	s->state = CCIDG_SLOT_POWERED;
	ccid_slot_reset_card(e, s);
	res->events |= CCID_EV_POWER_ON;

	memcpy(out + CCID_HDR_LEN, s->atr, s->atr_len);
	return ccid_put_hdr(e, out, CCID_RDR_DATA_BLOCK, s->atr_len, m->slot,
			    m->seq, CCID_CMD_OK | CCID_ICC_ACTIVE, 0,
			    LEVEL_WHOLE);
}

static u32 ccid_power_off(struct ccid_engine *e, struct ccid_slot *s,
			  const struct ccid_msg *m, u8 *out,
			  struct ccid_result *res)
{
	u32 id;

	if (m->dlen)
		return ccid_bad(e, m, ccid_icc_status(s),
				CCID_ERR_OFS_DWLENGTH, out);

	id = ccid_slot_drop_pending(e, s);
	if (id) {
		res->events |= CCID_EV_ABORT;
		res->abort_id = id;
		e->stats.aborts++;
	}
	ccid_slot_reset_chains(s);
	if (s->state == CCIDG_SLOT_POWERED) {
		s->state = CCIDG_SLOT_PRESENT;
		res->events |= CCID_EV_POWER_OFF;
	}
	ccid_slot_reset_card(e, s);
	return ccid_slot_status(e, m, s, out);
}

/* The command APDU of len bytes at apdu becomes pending on s */
static u32 ccid_deliver(struct ccid_engine *e, struct ccid_slot *s, u8 seq,
			const u8 *apdu, u32 len, struct ccid_result *res)
{
	s->busy = 1;
	s->busy_seq = seq;
	s->busy_type = CCID_PC_XFR_BLOCK;
	s->busy_id = ccid_new_id(e);
	s->apdu = apdu;
	s->apdu_len = len;
	e->nbusy++;
	e->stats.apdus++;
	res->events |= CCID_EV_APDU;
	res->id = s->busy_id;
	return 0;
}

/* A piece of a chained command: the caller copies it into cmd_buf */
static u32 ccid_copy_piece(struct ccid_slot *s, const struct ccid_msg *m,
			   struct ccid_result *res)
{
	s->copying = 1;
	s->copy_seq = m->seq;
	s->copy_level = (u8)m->level;
	s->copy_len = m->dlen;
	res->events |= CCID_EV_CMD_COPY;
	res->gen = s->gen;
	res->copy_src = m->data;
	res->copy_dst = s->cmd_buf + s->cmd_len;
	res->copy_off = s->cmd_len;
	res->copy_len = m->dlen;
	return 0;
}

/* Chaining out of order: fail, naming wLevelParameter, and start afresh */
static u32 ccid_chain_error(struct ccid_engine *e, struct ccid_slot *s,
			    const struct ccid_msg *m, u8 *out)
{
	ccid_slot_reset_chains(s);
	return ccid_bad(e, m, ccid_icc_status(s), CCID_ERR_OFS_PARAM8, out);
}

static u32 ccid_xfr_block(struct ccid_engine *e, struct ccid_slot *s,
			  const struct ccid_msg *m, u8 *out,
			  struct ccid_result *res)
{
	if (s->state != CCIDG_SLOT_POWERED)
		return ccid_fail(e, m, ccid_icc_status(s), CCID_ERR_ICC_MUTE,
				 out);
	/* talking to the card restarts its clock */
	s->clock_stopped = CLOCK_RUNNING;

	switch (m->level) {
	case LEVEL_WHOLE:
	case LEVEL_BEGIN:
		if (s->cmd_chaining || s->rsp_chaining)
			return ccid_chain_error(e, s, m, out);
		if (!m->dlen)
			return ccid_bad(e, m, CCID_ICC_ACTIVE,
					CCID_ERR_OFS_DWLENGTH, out);
		if (e->nbusy >= e->cfg.busy_slots)
			return ccid_fail(e, m, CCID_ICC_ACTIVE,
					 CCID_ERR_CMD_SLOT_BUSY, out);
		if (m->level == LEVEL_WHOLE) {
			/* it stays in the message */
			res->events |= CCID_EV_APDU_IN_MSG;
			return ccid_deliver(e, s, m->seq, m->data, m->dlen,
					    res);
		}
		/* dlen <= max_msg_len - 10 <= CCID_MAX_CMD_APDU */
		s->cmd_len = 0;
		s->cmd_chaining = 1;
		return ccid_copy_piece(s, m, res);

	case LEVEL_MIDDLE:
	case LEVEL_END:
		if (!s->cmd_chaining)
			return ccid_chain_error(e, s, m, out);
		if (m->dlen > CCID_MAX_CMD_APDU - s->cmd_len) {
			ccid_slot_reset_chains(s);
			return ccid_bad(e, m, CCID_ICC_ACTIVE,
					CCID_ERR_XFR_OVERRUN, out);
		}
		return ccid_copy_piece(s, m, res);

	case LEVEL_NEXT:
		if (!s->rsp_chaining || s->cmd_chaining)
			return ccid_chain_error(e, s, m, out);
		if (m->dlen) {
			ccid_slot_reset_chains(s);
			return ccid_bad(e, m, CCID_ICC_ACTIVE,
					CCID_ERR_OFS_DWLENGTH, out);
		}
		/* the caller copies the chunk in, ccid_rsp_chunk() heads it */
		s->copying = 1;
		s->rsp_seq = m->seq;
		res->events |= CCID_EV_RSP_NEXT;
		res->gen = s->gen;
		res->copy_off = s->rsp_off;
		res->copy_len = min_t(u32, s->rsp_len - s->rsp_off,
				      ccid_rsp_room(e));
		return 0;

	default:
		return ccid_chain_error(e, s, m, out);
	}
}

/* Check abProtocolDataStructure of SetParameters; 0 or the bError */
static u8 ccid_check_params(u8 proto, const u8 *p)
{
	if (proto == 0) {
		/* bmTCCKST0: only the convention bit may be set */
		if (p[1] & ~0x02)
			return CCID_HDR_LEN + 1;
	} else {
		/* bmTCCKST1: 0x10, LRC or CRC, either convention */
		if ((p[1] & ~0x03) != 0x10)
			return CCID_HDR_LEN + 1;
		/* bIFSC */
		if (p[5] == 0 || p[5] == 0xff)
			return CCID_HDR_LEN + 5;
	}
	/* bClockStop */
	if (p[4] > 3)
		return CCID_HDR_LEN + 4;
	return 0;
}

static u32 ccid_parameters(struct ccid_engine *e, struct ccid_slot *s,
			   const struct ccid_msg *m, u8 *out)
{
	u8 icc = ccid_icc_status(s);
	u8 proto, err;
	u32 n;

	if (m->type != CCID_PC_SET_PARAMETERS && m->dlen)
		return ccid_bad(e, m, icc, CCID_ERR_OFS_DWLENGTH, out);
	if (s->state == CCIDG_SLOT_EMPTY)
		return ccid_fail(e, m, icc, CCID_ERR_ICC_MUTE, out);

	switch (m->type) {
	case CCID_PC_RESET_PARAMETERS:
		ccid_slot_reset_card(e, s);
		break;
	case CCID_PC_SET_PARAMETERS:
		/* bProtocolNum */
		proto = m->p7;
		if (proto > 1 || !(e->cfg.protocols & (1u << proto)))
			return ccid_bad(e, m, icc, CCID_ERR_OFS_PARAM7, out);
		n = proto ? PARAMS_T1_LEN : PARAMS_T0_LEN;
		if (m->dlen != n)
			return ccid_bad(e, m, icc, CCID_ERR_OFS_DWLENGTH, out);
		err = ccid_check_params(proto, m->data);
		if (err)
			return ccid_bad(e, m, icc, err, out);
		s->protocol = proto;
		memset(s->params, 0, sizeof(s->params));
		memcpy(s->params, m->data, n);
		break;
	default:
		break;
	}
	return ccid_params_reply(e, m, s, out);
}

static u32 ccid_icc_clock(struct ccid_engine *e, struct ccid_slot *s,
			  const struct ccid_msg *m, u8 *out)
{
	u8 icc = ccid_icc_status(s);

	if (m->dlen)
		return ccid_bad(e, m, icc, CCID_ERR_OFS_DWLENGTH, out);
	/* bClockCommand: 0 restart, 1 stop */
	if (m->p7 > 1)
		return ccid_bad(e, m, icc, CCID_ERR_OFS_PARAM7, out);
	if (s->state != CCIDG_SLOT_POWERED)
		return ccid_fail(e, m, icc, CCID_ERR_ICC_MUTE, out);

	if (!m->p7)
		s->clock_stopped = CLOCK_RUNNING;
	else if (s->params[4] == 2)	/* bClockStop: high state only */
		s->clock_stopped = CLOCK_STOP_H;
	else
		s->clock_stopped = CLOCK_STOP_L;
	return ccid_slot_status(e, m, s, out);
}

static u32 ccid_data_rate_clock(struct ccid_engine *e, struct ccid_slot *s,
				const struct ccid_msg *m, u8 *out)
{
	u8 icc = ccid_icc_status(s);

	/* dwClockFrequency and dwDataRate requested; the answer is fixed */
	if (m->dlen != 8)
		return ccid_bad(e, m, icc, CCID_ERR_OFS_DWLENGTH, out);
	put_unaligned_le32(CCID_CLOCK_KHZ, out + CCID_HDR_LEN);
	put_unaligned_le32(CCID_DATA_RATE_BPS, out + CCID_HDR_LEN + 4);
	return ccid_put_hdr(e, out, CCID_RDR_DATA_RATE_CLOCK, 8, m->slot,
			    m->seq, CCID_CMD_OK | icc, 0, 0);
}

static u32 ccid_pc_abort(struct ccid_engine *e, struct ccid_slot *s,
			 const struct ccid_msg *m, u8 *out,
			 struct ccid_result *res)
{
	u32 id;

	if (m->dlen)
		return ccid_bad(e, m, ccid_icc_status(s),
				CCID_ERR_OFS_DWLENGTH, out);

	if (s->aborting) {
		/* only the Abort the class request announced ends it */
		if (m->seq != s->abort_seq)
			return ccid_fail(e, m, ccid_icc_status(s),
					 CCID_ERR_CMD_ABORTED, out);
		s->aborting = 0;
		return ccid_slot_status(e, m, s, out);
	}

	/* no class request (yet): cancel now, remember for the request */
	id = ccid_slot_drop_pending(e, s);
	if (id) {
		res->events |= CCID_EV_ABORT;
		res->abort_id = id;
		e->stats.aborts++;
	}
	ccid_slot_reset_chains(s);
	s->abort_early = 1;
	s->abort_early_seq = m->seq;
	return ccid_slot_status(e, m, s, out);
}

/* The message passed the header checks; dispatch it */
static u32 ccid_dispatch(struct ccid_engine *e, struct ccid_slot *s,
			 const struct ccid_msg *m, u8 *out,
			 struct ccid_result *res)
{
	switch (m->type) {
	case CCID_PC_ICC_POWER_ON:
		return ccid_power_on(e, s, m, out, res);
	case CCID_PC_ICC_POWER_OFF:
		return ccid_power_off(e, s, m, out, res);
	case CCID_PC_GET_SLOT_STATUS:
		if (m->dlen)
			return ccid_bad(e, m, ccid_icc_status(s),
					CCID_ERR_OFS_DWLENGTH, out);
		return ccid_slot_status(e, m, s, out);
	case CCID_PC_XFR_BLOCK:
		return ccid_xfr_block(e, s, m, out, res);
	case CCID_PC_GET_PARAMETERS:
	case CCID_PC_RESET_PARAMETERS:
	case CCID_PC_SET_PARAMETERS:
		return ccid_parameters(e, s, m, out);
	case CCID_PC_ICC_CLOCK:
		return ccid_icc_clock(e, s, m, out);
	case CCID_PC_SET_DATA_RATE_CLOCK:
		return ccid_data_rate_clock(e, s, m, out);
	case CCID_PC_ABORT:
		return ccid_pc_abort(e, s, m, out, res);
	default:
		/*
		 * Escape, Secure (no PIN pad), Mechanical (no mechanics) and
		 * T0APDU (only for TPDU and character levels)
		 */
		return ccid_fail(e, m, ccid_icc_status(s),
				 CCID_ERR_CMD_NOT_SUPPORTED, out);
	}
}

void ccid_handle_msg(struct ccid_engine *e, const u8 *msg, u32 len,
		     u8 *out, u32 out_size, struct ccid_result *res)
{
	struct ccid_msg m;
	struct ccid_slot *s;

	memset(res, 0, sizeof(*res));
	e->stats.msgs_in++;
	e->stats.bytes_in += len;
	if (!msg || len < CCID_HDR_LEN) {
		/* not even a header to answer to */
		e->stats.bad_msgs++;
		return;
	}
	/* the caller's side of the contract: room for any reply */
	if (!out || out_size < CCID_SMALL_REPLY_MAX)
		return;

	m.type = msg[OFS_TYPE];
	m.slot = msg[OFS_SLOT];
	m.seq = msg[OFS_SEQ];
	m.p7 = msg[OFS_P7];
	m.level = get_unaligned_le16(msg + OFS_P8);
	m.data = msg + CCID_HDR_LEN;
	m.dlen = len - CCID_HDR_LEN;

	if (!ccid_known_type(m.type)) {
		u8 icc = m.slot < e->cfg.nslots ?
			ccid_icc_status(&e->slot[m.slot]) : CCID_ICC_ABSENT;

		res->reply_len = ccid_bad(e, &m, icc,
					  CCID_ERR_CMD_NOT_SUPPORTED, out);
		return;
	}
	if (m.slot >= e->cfg.nslots) {
		res->reply_len = ccid_bad(e, &m, CCID_ICC_ABSENT,
					  CCID_ERR_OFS_BSLOT, out);
		return;
	}
	s = &e->slot[m.slot];
	res->slot = m.slot;
	if (len > e->cfg.max_msg_len ||
	    get_unaligned_le32(msg + OFS_LEN) != m.dlen) {
		res->reply_len = ccid_bad(e, &m, ccid_icc_status(s),
					  CCID_ERR_OFS_DWLENGTH, out);
		return;
	}

	if (m.type != CCID_PC_ABORT) {
		/* an early Abort pairs only with a class request that
		 * arrives before the next bulk message
		 */
		s->abort_early = 0;
		if (s->aborting) {
			res->reply_len = ccid_fail(e, &m, ccid_icc_status(s),
						   CCID_ERR_CMD_ABORTED, out);
			return;
		}
		/*
		 * IccPowerOff is allowed to interrupt a pending command; a
		 * copy job out keeps the slot busy even for that
		 */
		if ((s->busy && m.type != CCID_PC_ICC_POWER_OFF) ||
		    s->copying) {
			res->reply_len = ccid_fail(e, &m, ccid_icc_status(s),
						   CCID_ERR_CMD_SLOT_BUSY, out);
			return;
		}
	}

	res->reply_len = ccid_dispatch(e, s, &m, out, res);
}

/*
 * Userspace side
 */

static struct ccid_slot *ccid_pending_slot(struct ccid_engine *e, u32 slot,
					   u32 id)
{
	struct ccid_slot *s;

	if (slot >= e->cfg.nslots)
		return NULL;
	s = &e->slot[slot];
	if (!s->busy || !id || s->busy_id != id)
		return NULL;
	return s;
}

int ccid_pending_apdu(struct ccid_engine *e, u32 slot, u32 id,
		      const u8 **apdu)
{
	struct ccid_slot *s = ccid_pending_slot(e, slot, id);

	if (!s || !s->apdu)
		return -ESTALE;
	*apdu = s->apdu;
	return s->apdu_len;
}

void ccid_apdu_consumed(struct ccid_engine *e, u32 slot, u32 id)
{
	struct ccid_slot *s = ccid_pending_slot(e, slot, id);

	if (s)
		s->apdu = NULL;
}

bool ccid_id_pending(const struct ccid_engine *e, u32 slot, u32 id)
{
	return slot < e->cfg.nslots && id && e->slot[slot].busy &&
	       e->slot[slot].busy_id == id;
}

int ccid_apdu_check(const struct ccid_engine *e, u32 slot, u32 id, u32 len)
{
	if (slot >= e->cfg.nslots || len < 2 || len > CCID_MAX_RSP_APDU)
		return -EINVAL;
	return ccid_id_pending(e, slot, id) ? 0 : -ESTALE;
}

int ccid_apdu_reply(struct ccid_engine *e, u32 slot, u32 id, u32 len,
		    u8 *out, u32 out_size, u32 *out_len)
{
	u32 room = ccid_rsp_room(e);
	u32 n = min_t(u32, len, room);
	struct ccid_slot *s;
	u8 chain, seq;
	int ret;

	ret = ccid_apdu_check(e, slot, id, len);
	if (ret)
		return ret;
	if (!out || out_size < CCID_HDR_LEN + n)
		return -EINVAL;
	s = &e->slot[slot];
	seq = s->busy_seq;
	ccid_slot_drop_pending(e, s);
	e->stats.replies++;

	/* the rest, if any, goes out as the host asks for it */
	if (len > room) {
		s->rsp_chaining = 1;
		s->rsp_len = len;
		s->rsp_off = n;
		chain = LEVEL_BEGIN;
	} else {
		chain = LEVEL_WHOLE;
	}
	*out_len = ccid_put_hdr(e, out, CCID_RDR_DATA_BLOCK, n, slot, seq,
				CCID_CMD_OK | ccid_icc_status(s), 0, chain);
	return 0;
}

int ccid_cmd_copied(struct ccid_engine *e, u32 slot, u32 gen, u8 *out,
		    u32 out_size, struct ccid_result *res)
{
	struct ccid_slot *s;
	struct ccid_msg m;

	memset(res, 0, sizeof(*res));
	if (slot >= e->cfg.nslots || !e->slot[slot].copying)
		return -EINVAL;
	s = &e->slot[slot];
	if (!out || out_size < CCID_SMALL_REPLY_MAX)
		return -EINVAL;
	s->copying = 0;
	if (gen != s->gen || !s->cmd_chaining)
		return -ESTALE;

	res->slot = slot;
	s->cmd_len += s->copy_len;
	/* what the replies need of the message the piece came in */
	memset(&m, 0, sizeof(m));
	m.type = CCID_PC_XFR_BLOCK;
	m.slot = slot;
	m.seq = s->copy_seq;
	if (s->copy_level != LEVEL_END) {
		res->reply_len = ccid_chain_ack(e, &m, out);
		return 0;
	}
	s->cmd_chaining = 0;
	if (e->nbusy >= e->cfg.busy_slots) {
		ccid_slot_reset_chains(s);
		res->reply_len = ccid_fail(e, &m, CCID_ICC_ACTIVE,
					   CCID_ERR_CMD_SLOT_BUSY, out);
		return 0;
	}
	ccid_deliver(e, s, m.seq, s->cmd_buf, s->cmd_len, res);
	return 0;
}

void ccid_copy_cancel(struct ccid_engine *e, u32 slot)
{
	struct ccid_slot *s;

	if (slot >= e->cfg.nslots || !e->slot[slot].copying)
		return;
	s = &e->slot[slot];
	s->copying = 0;
	ccid_slot_reset_chains(s);
}

int ccid_rsp_chunk(struct ccid_engine *e, u32 slot, u32 gen, u8 *out,
		   u32 out_size, u32 *out_len)
{
	struct ccid_slot *s;
	u32 n;
	u8 chain;

	if (slot >= e->cfg.nslots || !e->slot[slot].copying)
		return -EINVAL;
	s = &e->slot[slot];
	if (gen != s->gen || !s->rsp_chaining) {
		s->copying = 0;
		return -ESTALE;
	}
	n = min_t(u32, s->rsp_len - s->rsp_off, ccid_rsp_room(e));
	if (!out || out_size < CCID_HDR_LEN + n)
		return -EINVAL;
	s->copying = 0;
	s->rsp_off += n;
	if (s->rsp_off < s->rsp_len) {
		chain = LEVEL_MIDDLE;
	} else {
		chain = LEVEL_END;
		s->rsp_chaining = 0;
		s->rsp_len = 0;
		s->rsp_off = 0;
	}
	*out_len = ccid_put_hdr(e, out, CCID_RDR_DATA_BLOCK, n, slot,
				s->rsp_seq, CCID_CMD_OK | ccid_icc_status(s),
				0, chain);
	return 0;
}

int ccid_apdu_fail(struct ccid_engine *e, u32 slot, u32 id, u8 error,
		   u8 *out, u32 out_size, u32 *out_len)
{
	struct ccid_slot *s;

	if (slot >= e->cfg.nslots || !out || out_size < CCID_HDR_LEN)
		return -EINVAL;
	s = ccid_pending_slot(e, slot, id);
	if (!s)
		return -ESTALE;

	e->stats.replies++;
	*out_len = ccid_fail_pending(e, s, slot, error, out);
	ccid_slot_drop_pending(e, s);
	return 0;
}

int ccid_time_extension(struct ccid_engine *e, u32 slot, u8 mult,
			u8 *out, u32 out_size, u32 *out_len)
{
	struct ccid_slot *s;

	if (slot >= e->cfg.nslots || !out || out_size < CCID_HDR_LEN)
		return -EINVAL;
	s = &e->slot[slot];
	if (!s->busy)
		return -ENOENT;

	e->stats.time_ext++;
	*out_len = ccid_put_hdr(e, out, ccid_reply_type(s->busy_type), 0,
				slot, s->busy_seq,
				CCID_CMD_TIME_EXT | ccid_icc_status(s), mult,
				0);
	return 0;
}

int ccid_card_insert(struct ccid_engine *e, u32 slot, const u8 *atr,
		     u32 atr_len)
{
	struct ccid_slot *s;

	if (slot >= e->cfg.nslots || !atr || atr_len < 2 ||
	    atr_len > CCID_MAX_ATR)
		return -EINVAL;
	/* TS: direct or inverse convention */
	if (atr[0] != 0x3b && atr[0] != 0x3f)
		return -EINVAL;
	s = &e->slot[slot];
	if (s->state != CCIDG_SLOT_EMPTY)
		return -EEXIST;

	memset(s->atr, 0, sizeof(s->atr));
	memcpy(s->atr, atr, atr_len);
	s->atr_len = atr_len;
	s->state = CCIDG_SLOT_PRESENT;
	s->changed = 1;
	ccid_slot_reset_chains(s);
	ccid_slot_reset_card(e, s);
	return 0;
}

int ccid_card_remove(struct ccid_engine *e, u32 slot, u8 *out, u32 out_size,
		     u32 *out_len, u32 *aborted_id)
{
	struct ccid_slot *s;

	if (slot >= e->cfg.nslots)
		return -EINVAL;
	s = &e->slot[slot];
	if (s->state == CCIDG_SLOT_EMPTY)
		return -ENOENT;
	if (s->busy && (!out || out_size < CCID_HDR_LEN))
		return -EINVAL;

	*out_len = 0;
	*aborted_id = 0;
	s->state = CCIDG_SLOT_EMPTY;
	s->changed = 1;
	if (s->busy) {
		/* the status says absent: libccid reports the card gone */
		*out_len = ccid_fail_pending(e, s, slot, CCID_ERR_ICC_MUTE,
					     out);
		*aborted_id = ccid_slot_drop_pending(e, s);
	}
	ccid_slot_reset_chains(s);
	memset(s->atr, 0, sizeof(s->atr));
	s->atr_len = 0;
	ccid_slot_reset_card(e, s);
	return 0;
}

/*
 * RDR_to_PC_NotifySlotChange: bmSlotICCState has two bits per slot, four
 * slots a byte, slot 0 in the low bits: bit 0 present, bit 1 changed.
 */
static u32 ccid_notify(struct ccid_engine *e, u8 *out, u32 out_size,
		       bool all)
{
	u32 n = 1 + (2 * e->cfg.nslots + 7) / 8;
	bool any = all;
	u32 i;

	if (!out || out_size < n)
		return 0;
	for (i = 0; i < e->cfg.nslots && !any; i++)
		any = e->slot[i].changed;
	if (!any)
		return 0;

	memset(out, 0, n);
	out[0] = CCID_RDR_NOTIFY_SLOT_CHANGE;
	for (i = 0; i < e->cfg.nslots; i++) {
		struct ccid_slot *s = &e->slot[i];
		bool present = s->state != CCIDG_SLOT_EMPTY;
		u8 bits = present ? 0x01 : 0x00;

		/* after a connect, every card present is news */
		if (s->changed || (all && present))
			bits |= 0x02;
		out[1 + i / 4] |= bits << (2 * (i % 4));
		s->changed = 0;
	}
	e->stats.notify++;
	return n;
}

u32 ccid_build_notify(struct ccid_engine *e, u8 *out, u32 out_size)
{
	return ccid_notify(e, out, out_size, false);
}

u32 ccid_build_notify_all(struct ccid_engine *e, u8 *out, u32 out_size)
{
	return ccid_notify(e, out, out_size, true);
}

void ccid_notify_again(struct ccid_engine *e, const u8 *msg, u32 len)
{
	u32 i;

	if (!msg || len < 2 || msg[0] != CCID_RDR_NOTIFY_SLOT_CHANGE)
		return;
	for (i = 0; i < e->cfg.nslots && 1 + i / 4 < len; i++)
		if (msg[1 + i / 4] & (0x02 << (2 * (i % 4))))
			e->slot[i].changed = 1;
}

int ccid_class_abort(struct ccid_engine *e, u16 wvalue, u8 *out,
		     u32 out_size, struct ccid_result *res)
{
	u8 slot = wvalue & 0xff;
	u8 seq = wvalue >> 8;
	struct ccid_slot *s;
	u32 id;

	memset(res, 0, sizeof(*res));
	if (slot >= e->cfg.nslots)
		return -EINVAL;
	s = &e->slot[slot];
	if (s->busy && (!out || out_size < CCID_HDR_LEN))
		return -EINVAL;
	res->slot = slot;

	if (s->abort_early && s->abort_early_seq == seq) {
		/* its PC_to_RDR_Abort came first and did the work */
		s->abort_early = 0;
		return 0;
	}
	s->abort_early = 0;

	if (s->busy) {
		/* do not leave the host waiting for the cancelled command */
		res->reply_len = ccid_fail_pending(e, s, slot,
						   CCID_ERR_CMD_ABORTED, out);
		id = ccid_slot_drop_pending(e, s);
		res->events |= CCID_EV_ABORT;
		res->abort_id = id;
		e->stats.aborts++;
	}
	ccid_slot_reset_chains(s);
	s->aborting = 1;
	s->abort_seq = seq;
	return 0;
}

static u32 ccid_put_u32_array(u8 *buf, u32 size, u32 value)
{
	u8 v[4];
	u32 n = size < sizeof(v) ? size : sizeof(v);

	put_unaligned_le32(value, v);
	if (buf)
		memcpy(buf, v, n);
	return buf ? n : 0;
}

u32 ccid_clock_frequencies(u8 *buf, u32 size)
{
	return ccid_put_u32_array(buf, size, CCID_CLOCK_KHZ);
}

u32 ccid_data_rates(u8 *buf, u32 size)
{
	return ccid_put_u32_array(buf, size, CCID_DATA_RATE_BPS);
}

void ccid_host_reset(struct ccid_engine *e)
{
	u32 i;

	for (i = 0; i < e->cfg.nslots; i++) {
		struct ccid_slot *s = &e->slot[i];

		ccid_slot_drop_pending(e, s);
		ccid_slot_reset_chains(s);
		s->aborting = 0;
		s->abort_early = 0;
		if (s->state == CCIDG_SLOT_POWERED)
			s->state = CCIDG_SLOT_PRESENT;
		ccid_slot_reset_card(e, s);
	}
	e->nbusy = 0;
}

void ccid_get_status(const struct ccid_engine *e, struct ccidg_status *st)
{
	u32 i;

	memset(st, 0, sizeof(*st));
	st->nslots = e->cfg.nslots;
	for (i = 0; i < e->cfg.nslots; i++) {
		st->state[i] = e->slot[i].state;
		st->busy[i] = e->slot[i].busy;
	}
}
