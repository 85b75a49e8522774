// SPDX-License-Identifier: GPL-2.0
/*
 * ccid-testcard -- a deterministic test card behind /dev/ccidg<N>
 *
 * Uses only the uapi header (no ccidctl). It inserts cards into the
 * slots of a usb_f_ccid function and answers every command APDU with a
 * result that a test on the USB host side can predict exactly. The
 * instruction byte (INS) selects the behaviour; CLA is ignored:
 *
 *   INS 10 ECHO     the command data field + 90 00
 *   INS 12 PATTERN  N bytes of pattern + 90 00, N = P1P2 (0 means 65536);
 *                   byte i of the pattern is (i ^ (i >> 8)) & 0xff
 *   INS 14 HASH     length of the data field (4 bytes, big-endian),
 *                   FNV-1a 32-bit hash of it (4 bytes, big-endian) + 90 00
 *   INS 16 DELAY    wait P1 seconds plus P2 tenths of a second (other slots
 *                   keep being served meanwhile), then answer
 *                   slot number (1 byte) + the data field + 90 00
 *   INS 18 SLOT     slot number (1 byte) + 90 00
 *   INS 1A HANG     never answer (until the host aborts or the card goes)
 *   INS 1C CRASH    exit at once with status 42, leaving the APDU pending
 *   INS 1E FAIL     answer with CCIDG_REPLY_ERROR: the host sees bError P1,
 *                   or ICC mute (FE) when P1 is 0
 *   INS 20 SW       answer just the status word P1 P2
 *   INS 22 LATE     like DELAY, but answer even if the host aborted the
 *                   APDU meanwhile (the kernel must refuse it: ESTALE)
 *   anything else   6D 00; a malformed APDU gets 67 00
 *
 * The default ATR of slot s is 3B 81 80 01 s s (T=1, one historical byte
 * that is the slot number, TCK). -a replaces it for every slot.
 *
 * Control: with -c FIFO, lines written to the FIFO are commands:
 *   insert S [ATRHEX]   put a card into slot S
 *   remove S            take the card out of slot S
 *   stats               log the function's counters
 *   quit                exit cleanly
 * SIGTERM and SIGINT exit cleanly too: cards are removed, the device is
 * closed, status 0.
 *
 * Everything is logged to stderr, one line per event.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/usb/g_ccid.h>

#define INS_ECHO	0x10
#define INS_PATTERN	0x12
#define INS_HASH	0x14
#define INS_DELAY	0x16
#define INS_SLOT	0x18
#define INS_HANG	0x1a
#define INS_CRASH	0x1c
#define INS_FAIL	0x1e
#define INS_SW		0x20
#define INS_LATE	0x22

#define MAX_PENDING	64

struct pending {
	bool used;
	uint32_t slot;
	uint32_t id;
	bool hang;			/* no deadline: wait for abort/removal */
	bool late;			/* answer even after an abort */
	struct timespec deadline;
	uint32_t len;			/* response APDU length */
	uint8_t *rsp;
};

static const char *prog = "ccid-testcard";
static int verbose;
static int dev_fd = -1;
static volatile sig_atomic_t stop_sig;
static struct pending pend[MAX_PENDING];
static bool inserted[CCIDG_MAX_SLOTS];
static void *efault_buf;		/* -E: PROT_NONE, read() must fault */
static unsigned long efaults;
static struct ccidg_config cfg;

/* + 2: room for ECHO's status word after a command without Le */
static uint8_t evbuf[CCIDG_EVENT_MAX + 2];
static uint8_t rpbuf[CCIDG_REPLY_MAX];

static void logmsg(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;
	char line[512];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s[%ld.%03ld]: %s\n", prog, (long)ts.tv_sec,
		ts.tv_nsec / 1000000, line);
}

static void on_signal(int sig)
{
	stop_sig = sig;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse hex digits (spaces and colons ignored) into out; -1 on error */
static int parse_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*s) {
		int hi, lo;

		if (isspace((unsigned char)*s) || *s == ':') {
			s++;
			continue;
		}
		hi = hexval((unsigned char)s[0]);
		lo = s[1] ? hexval((unsigned char)s[1]) : -1;
		if (hi < 0 || lo < 0 || n >= max)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return (int)n;
}

static uint8_t user_atr[CCIDG_MAX_ATR];
static int user_atr_len;

static int card_insert(uint32_t slot, const uint8_t *atr, int atr_len)
{
	struct ccidg_card c;
	char hex[3 * CCIDG_MAX_ATR + 1];
	int i;

	memset(&c, 0, sizeof(c));
	c.slot = slot;
	if (atr_len > 0) {
		memcpy(c.atr, atr, atr_len);
		c.atr_len = atr_len;
	} else if (user_atr_len > 0) {
		memcpy(c.atr, user_atr, user_atr_len);
		c.atr_len = user_atr_len;
	} else {
		const uint8_t def[] = { 0x3b, 0x81, 0x80, 0x01, 0, 0 };

		memcpy(c.atr, def, sizeof(def));
		c.atr[4] = (uint8_t)slot;
		c.atr[5] = (uint8_t)slot;	/* TCK: 81^80^01^s == s */
		c.atr_len = sizeof(def);
	}
	hex[0] = 0;
	for (i = 0; i < (int)c.atr_len; i++)
		sprintf(hex + 3 * i, "%02X ", c.atr[i]);
	if (ioctl(dev_fd, CCIDG_IOC_INSERT, &c) < 0) {
		logmsg("insert slot %u failed: %s", slot, strerror(errno));
		return -1;
	}
	if (slot < CCIDG_MAX_SLOTS)
		inserted[slot] = true;
	logmsg("inserted card in slot %u, ATR %s", slot, hex);
	return 0;
}

static void drop_pending_slot(uint32_t slot)
{
	int i;

	for (i = 0; i < MAX_PENDING; i++) {
		if (pend[i].used && pend[i].slot == slot) {
			free(pend[i].rsp);
			pend[i].used = false;
		}
	}
}

static int card_remove(uint32_t slot)
{
	__u32 s = slot;

	if (ioctl(dev_fd, CCIDG_IOC_REMOVE, &s) < 0) {
		logmsg("remove slot %u failed: %s", slot, strerror(errno));
		return -1;
	}
	if (slot < CCIDG_MAX_SLOTS)
		inserted[slot] = false;
	drop_pending_slot(slot);
	logmsg("removed card from slot %u", slot);
	return 0;
}

static void log_stats(void)
{
	struct ccidg_stats st;

	if (ioctl(dev_fd, CCIDG_IOC_GET_STATS, &st) < 0) {
		logmsg("GET_STATS failed: %s", strerror(errno));
		return;
	}
	logmsg("stats: msgs_in %llu msgs_out %llu apdus %llu replies %llu errors %llu bad_msgs %llu time_ext %llu aborts %llu notify %llu bytes_in %llu bytes_out %llu",
	       (unsigned long long)st.msgs_in,
	       (unsigned long long)st.msgs_out,
	       (unsigned long long)st.apdus,
	       (unsigned long long)st.replies,
	       (unsigned long long)st.errors,
	       (unsigned long long)st.bad_msgs,
	       (unsigned long long)st.time_ext,
	       (unsigned long long)st.aborts,
	       (unsigned long long)st.notify,
	       (unsigned long long)st.bytes_in,
	       (unsigned long long)st.bytes_out);
}

/*
 * Write a reply already laid out at buf (header, then len bytes); returns
 * 0, or -1 with errno (ESTALE is not fatal)
 */
static int write_reply(const uint8_t *buf, uint32_t slot, uint32_t id,
		       uint32_t len)
{
	size_t want = sizeof(struct ccidg_reply) + len;
	ssize_t n = write(dev_fd, buf, want);

	if (n < 0) {
		int e = errno;

		logmsg("reply slot %u id %u (%u bytes) failed: %s", slot, id,
		       len, strerror(e));
		errno = e;
		return -1;
	}
	if ((size_t)n != want) {
		logmsg("reply slot %u id %u: short write %zd of %zu", slot,
		       id, n, want);
		errno = EIO;
		return -1;
	}
	if (verbose)
		logmsg("answered slot %u id %u with %u bytes", slot, id, len);
	return 0;
}

static void put_reply_hdr(uint8_t *p, uint32_t type, uint32_t slot,
			  uint32_t id, uint32_t len)
{
	struct ccidg_reply r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.slot = slot;
	r.id = id;
	r.len = len;
	memcpy(p, &r, sizeof(r));
}

/* Send a reply; returns 0, or -1 with errno (ESTALE is not fatal) */
static int send_reply(uint32_t type, uint32_t slot, uint32_t id,
		      const uint8_t *rsp, uint32_t len)
{
	put_reply_hdr(rpbuf, type, slot, id, len);
	if (len)
		memcpy(rpbuf + sizeof(struct ccidg_reply), rsp, len);
	return write_reply(rpbuf, slot, id, len);
}

/*
 * ECHO answers where the command lies: the reply header goes just before
 * the data field in evbuf (the event header and the APDU's own header are
 * spent by then) and the status word just after it. So an answer of any
 * size is not copied in this process, and `make bench` compares the
 * module's data path, not this program's memcpy(), with a loopback that
 * copies nothing in userspace either.
 */
_Static_assert(sizeof(struct ccidg_reply) <= sizeof(struct ccidg_event) + 5,
	       "the reply header fits before the shortest data field");

static void echo_in_place(uint32_t slot, uint32_t id, uint8_t *data,
			  uint32_t lc)
{
	uint8_t *p = data - sizeof(struct ccidg_reply);

	data[lc] = 0x90;
	data[lc + 1] = 0x00;
	put_reply_hdr(p, CCIDG_REPLY_APDU, slot, id, lc + 2);
	write_reply(p, slot, id, lc + 2);
}

static uint32_t fnv1a(const uint8_t *p, uint32_t n)
{
	uint32_t h = 2166136261u;
	uint32_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Locate the data field of a command APDU (ISO 7816-4 cases 1-4, short
 * and extended). Returns 0 and sets the data pointer and Lc, or -1 if malformed.
 */
static int apdu_data(const uint8_t *a, uint32_t n, const uint8_t **data,
		     uint32_t *lc)
{
	*data = NULL;
	*lc = 0;
	if (n < 4)
		return -1;
	if (n == 4 || n == 5)
		return 0;			/* case 1, case 2 short */
	if (a[4] != 0) {			/* short Lc */
		uint32_t l = a[4];

		if (n != 5 + l && n != 6 + l)
			return -1;
		*data = a + 5;
		*lc = l;
		return 0;
	}
	if (n == 7)
		return 0;			/* case 2 extended */
	{
		uint32_t l = (uint32_t)a[5] << 8 | a[6];

		if (l == 0 || (n != 7 + l && n != 9 + l))
			return -1;
		*data = a + 7;
		*lc = l;
	}
	return 0;
}

static struct pending *pend_alloc(void)
{
	int i;

	for (i = 0; i < MAX_PENDING; i++)
		if (!pend[i].used)
			return &pend[i];
	return NULL;
}

static void handle_apdu(uint32_t slot, uint32_t id, uint8_t *a, uint32_t n)
{
	static uint8_t rsp[CCIDG_MAX_RSP_APDU];
	const uint8_t *data;
	uint32_t lc, len = 0, i;
	uint8_t ins;

	if (verbose) {
		char hex[3 * 8 + 1] = "";

		for (i = 0; i < n && i < 8; i++)
			sprintf(hex + 3 * i, "%02X ", a[i]);
		logmsg("APDU slot %u id %u, %u bytes: %s%s", slot, id, n, hex,
		       n > 8 ? "..." : "");
	}
	if (apdu_data(a, n, &data, &lc) < 0) {
		rsp[0] = 0x67;
		rsp[1] = 0x00;
		send_reply(CCIDG_REPLY_APDU, slot, id, rsp, 2);
		return;
	}
	ins = a[1];
	switch (ins) {
	case INS_ECHO:
		if (lc) {
			/* data lies in a: in place, writable */
			echo_in_place(slot, id, a + (data - a), lc);
			return;
		}
		break;
	case INS_PATTERN: {
		uint32_t cnt = (uint32_t)a[2] << 8 | a[3];

		if (cnt == 0)
			cnt = 65536;
		for (i = 0; i < cnt; i++)
			rsp[i] = (uint8_t)((i ^ (i >> 8)) & 0xff);
		len = cnt;
		break;
	}
	case INS_HASH:
		put_be32(rsp, lc);
		put_be32(rsp + 4, fnv1a(data, lc));
		len = 8;
		break;
	case INS_DELAY:
	case INS_LATE:
	case INS_HANG: {
		struct pending *p = pend_alloc();
		struct timespec now;
		long ms = a[2] * 1000L + a[3] * 100L;

		if (!p) {
			logmsg("too many pending APDUs, answering 6F 00");
			rsp[0] = 0x6f;
			rsp[1] = 0x00;
			send_reply(CCIDG_REPLY_APDU, slot, id, rsp, 2);
			return;
		}
		p->rsp = malloc(lc + 3);
		if (!p->rsp) {
			logmsg("out of memory");
			exit(1);
		}
		p->rsp[0] = (uint8_t)slot;
		memcpy(p->rsp + 1, data, lc);
		p->rsp[lc + 1] = 0x90;
		p->rsp[lc + 2] = 0x00;
		p->len = lc + 3;
		p->slot = slot;
		p->id = id;
		p->hang = ins == INS_HANG;
		p->late = ins == INS_LATE;
		clock_gettime(CLOCK_MONOTONIC, &now);
		now.tv_sec += ms / 1000;
		now.tv_nsec += (ms % 1000) * 1000000L;
		if (now.tv_nsec >= 1000000000L) {
			now.tv_sec++;
			now.tv_nsec -= 1000000000L;
		}
		p->deadline = now;
		p->used = true;
		logmsg("slot %u id %u: %s", slot, id,
		       p->hang ? "hanging until aborted" : "delaying answer");
		if (!p->hang)
			logmsg("slot %u id %u: answer due in %ld ms", slot, id,
			       ms);
		return;
	}
	case INS_SLOT:
		rsp[0] = (uint8_t)slot;
		len = 1;
		break;
	case INS_CRASH:
		logmsg("slot %u id %u: CRASH requested, exiting with 42", slot,
		       id);
		_exit(42);
	case INS_FAIL:
		/* P1 non-zero: that bError instead of the default ICC mute */
		logmsg("slot %u id %u: answering with a card error (bError %s)",
		       slot, id, a[2] ? "P1" : "default");
		send_reply(CCIDG_REPLY_ERROR, slot, id, a + 2, a[2] ? 1 : 0);
		return;
	case INS_SW:
		rsp[0] = a[2];
		rsp[1] = a[3];
		send_reply(CCIDG_REPLY_APDU, slot, id, rsp, 2);
		return;
	default:
		rsp[0] = 0x6d;
		rsp[1] = 0x00;
		send_reply(CCIDG_REPLY_APDU, slot, id, rsp, 2);
		return;
	}
	rsp[len++] = 0x90;
	rsp[len++] = 0x00;
	send_reply(CCIDG_REPLY_APDU, slot, id, rsp, len);
}

static const char *ev_name(uint32_t t)
{
	switch (t) {
	case CCIDG_EV_HOST_CONNECT: return "HOST_CONNECT";
	case CCIDG_EV_HOST_DISCONNECT: return "HOST_DISCONNECT";
	case CCIDG_EV_POWER_ON: return "POWER_ON";
	case CCIDG_EV_POWER_OFF: return "POWER_OFF";
	case CCIDG_EV_APDU: return "APDU";
	case CCIDG_EV_ABORT: return "ABORT";
	case CCIDG_EV_CARD_REMOVED: return "CARD_REMOVED";
	}
	return "UNKNOWN";
}

/* Read and handle one event; returns -1 on a fatal error */
static int handle_event(void)
{
	struct ccidg_event ev;
	ssize_t n;
	int i;

	if (efault_buf) {
		/* -E: first into memory the kernel cannot write to */
		n = read(dev_fd, efault_buf, sizeof(evbuf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n >= 0 || errno != EFAULT) {
			logmsg("read into an unwritable buffer: %zd (%s), want EFAULT",
			       n, n < 0 ? strerror(errno) : "no error");
			return -1;
		}
		efaults++;
	}
	n = read(dev_fd, evbuf, sizeof(evbuf));
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			if (efault_buf)
				logmsg("the event that faulted is gone: %s",
				       strerror(errno));
			return 0;
		}
		logmsg("read failed: %s", strerror(errno));
		return -1;
	}
	if (n == 0) {
		logmsg("read returned EOF");
		return -1;
	}
	if ((size_t)n < sizeof(ev)) {
		logmsg("short event: %zd bytes", n);
		return -1;
	}
	memcpy(&ev, evbuf, sizeof(ev));
	if ((size_t)n != sizeof(ev) + ev.len) {
		logmsg("event %s: read %zd bytes, header says %zu",
		       ev_name(ev.type), n, sizeof(ev) + ev.len);
		return -1;
	}
	switch (ev.type) {
	case CCIDG_EV_APDU:
		handle_apdu(ev.slot, ev.id, evbuf + sizeof(ev), ev.len);
		break;
	case CCIDG_EV_ABORT:
		logmsg("event ABORT slot %u id %u", ev.slot, ev.id);
		for (i = 0; i < MAX_PENDING; i++) {
			if (!pend[i].used || pend[i].slot != ev.slot ||
			    pend[i].id != ev.id)
				continue;
			if (pend[i].late) {
				logmsg("slot %u id %u: aborted, will answer anyway",
				       ev.slot, ev.id);
				continue;
			}
			free(pend[i].rsp);
			pend[i].used = false;
		}
		break;
	case CCIDG_EV_CARD_REMOVED:
		logmsg("event CARD_REMOVED slot %u", ev.slot);
		if (ev.slot < CCIDG_MAX_SLOTS)
			inserted[ev.slot] = false;
		drop_pending_slot(ev.slot);
		break;
	case CCIDG_EV_HOST_DISCONNECT:
		logmsg("event HOST_DISCONNECT");
		/* pending ids are stale now */
		for (i = 0; i < MAX_PENDING; i++) {
			if (pend[i].used) {
				free(pend[i].rsp);
				pend[i].used = false;
			}
		}
		break;
	default:
		logmsg("event %s slot %u id %u len %u", ev_name(ev.type),
		       ev.slot, ev.id, ev.len);
		break;
	}
	return 0;
}

static long ms_until(const struct timespec *t)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (t->tv_sec - now.tv_sec) * 1000L +
	     (t->tv_nsec - now.tv_nsec) / 1000000L;
	return ms < 0 ? 0 : ms;
}

static void run_due(void)
{
	int i;

	for (i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &pend[i];

		if (!p->used || p->hang || ms_until(&p->deadline) > 0)
			continue;
		logmsg("slot %u id %u: delayed answer now", p->slot, p->id);
		if (send_reply(CCIDG_REPLY_APDU, p->slot, p->id, p->rsp,
			       p->len) < 0 && p->late)
			logmsg("slot %u id %u: late reply refused: %s", p->slot,
			       p->id, errno == ESTALE ? "ESTALE" :
			       strerror(errno));
		else if (p->late)
			logmsg("slot %u id %u: late reply accepted", p->slot,
			       p->id);
		free(p->rsp);
		p->used = false;
	}
}

static int next_timeout_ms(void)
{
	long best = -1;
	int i;

	for (i = 0; i < MAX_PENDING; i++) {
		long ms;

		if (!pend[i].used || pend[i].hang)
			continue;
		ms = ms_until(&pend[i].deadline);
		if (best < 0 || ms < best)
			best = ms;
	}
	return (int)best;
}

static char ctl_line[256];
static size_t ctl_fill;

static void ctl_command(char *line)
{
	char *cmd = strtok(line, " \t\r");
	char *arg = cmd ? strtok(NULL, " \t\r") : NULL;
	char *rest = arg ? strtok(NULL, "\r") : NULL;

	if (!cmd)
		return;
	logmsg("control: %s %s %s", cmd, arg ? arg : "", rest ? rest : "");
	if (!strcmp(cmd, "insert") && arg) {
		uint8_t atr[CCIDG_MAX_ATR];
		int n = 0;

		if (rest) {
			n = parse_hex(rest, atr, sizeof(atr));
			if (n < 0) {
				logmsg("control: bad ATR '%s'", rest);
				return;
			}
		}
		card_insert((uint32_t)strtoul(arg, NULL, 0), atr, n);
	} else if (!strcmp(cmd, "remove") && arg) {
		card_remove((uint32_t)strtoul(arg, NULL, 0));
	} else if (!strcmp(cmd, "stats")) {
		log_stats();
	} else if (!strcmp(cmd, "quit")) {
		stop_sig = SIGTERM;
	} else {
		logmsg("control: unknown command '%s'", cmd);
	}
}

static void handle_ctl(int fd)
{
	ssize_t n;

	for (;;) {
		char *nl;

		n = read(fd, ctl_line + ctl_fill, sizeof(ctl_line) - 1 -
			 ctl_fill);
		if (n <= 0)
			return;
		ctl_fill += (size_t)n;
		ctl_line[ctl_fill] = 0;
		while ((nl = strchr(ctl_line, '\n'))) {
			*nl = 0;
			ctl_command(ctl_line);
			memmove(ctl_line, nl + 1, ctl_fill -
				(size_t)(nl + 1 - ctl_line) + 1);
			ctl_fill -= (size_t)(nl + 1 - ctl_line);
		}
		if (ctl_fill == sizeof(ctl_line) - 1)
			ctl_fill = 0;	/* overlong line: drop it */
	}
}

/* ------------------------------------------------------------ -T mode */

static int st_n, st_fail;

static void st_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	st_n++;
	if (!cond)
		st_fail++;
	printf("%sok %d - ", cond ? "" : "not ", st_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static const char *ename(int e)
{
	switch (e) {
	case 0: return "success";
	case EINVAL: return "EINVAL";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case ESTALE: return "ESTALE";
	case EMSGSIZE: return "EMSGSIZE";
	case EAGAIN: return "EAGAIN";
	case EPERM: return "EPERM";
	case EBADF: return "EBADF";
	case ENOTTY: return "ENOTTY";
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
	}
	return strerror(e);
}

static ssize_t st_write(int fd, uint32_t type, uint32_t slot, uint32_t id,
			uint32_t len, size_t count)
{
	struct ccidg_reply r = { .type = type, .slot = slot, .id = id,
				 .len = len };

	memset(rpbuf, 0, sizeof(rpbuf));
	memcpy(rpbuf, &r, sizeof(r));
	if (count > 2 && count <= sizeof(rpbuf)) {
		rpbuf[sizeof(r)] = 0x90;
		rpbuf[sizeof(r) + 1] = 0x00;
	}
	return write(fd, rpbuf, count);
}

static int self_test(const char *dev)
{
	static uint8_t big[sizeof(struct ccidg_reply) + CCIDG_MAX_RSP_APDU + 1];
	struct ccidg_card c;
	struct ccidg_status st;
	struct ccidg_stats stats;
	struct ccidg_event ev;
	struct pollfd pfd;
	uint8_t small[8];
	int fd, ro, e, r;
	__u32 slot;
	ssize_t n;

	printf("TAP version 13\n");
	fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	st_ok(fd >= 0, "open %s read-write", dev);
	if (fd < 0) {
		printf("1..%d\n", st_n);
		return 1;
	}
	r = ioctl(fd, CCIDG_IOC_GET_CONFIG, &cfg);
	st_ok(r == 0 && cfg.nslots >= 2 && cfg.online,
	      "GET_CONFIG: %u slots, online %u", cfg.nslots, cfg.online);

	/* events: the host is connected, so an event is queued */
	pfd.fd = fd;
	pfd.events = POLLIN | POLLOUT;
	r = poll(&pfd, 1, 2000);
	st_ok(r == 1 && (pfd.revents & POLLIN) && (pfd.revents & POLLOUT),
	      "poll: an event is readable and writing is possible (0x%x)",
	      pfd.revents);
	n = read(fd, small, sizeof(small));
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == EMSGSIZE,
	      "read() into 8 bytes fails with EMSGSIZE (%s)", ename(e));
	n = read(fd, evbuf, sizeof(evbuf));
	memcpy(&ev, evbuf, sizeof(ev));
	st_ok(n == (ssize_t)sizeof(ev) && ev.type == CCIDG_EV_HOST_CONNECT,
	      "...and the event stays queued: HOST_CONNECT (%zd bytes, type %u)",
	      n, n >= (ssize_t)sizeof(ev) ? ev.type : 0);
	n = read(fd, evbuf, sizeof(evbuf));
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == EAGAIN,
	      "empty queue, O_NONBLOCK: EAGAIN (%s)", ename(e));

	/* replies the kernel must refuse */
	n = st_write(fd, CCIDG_REPLY_APDU, 0, 1, 0, 8);
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == EINVAL, "write() shorter than the header: EINVAL (%s)",
	      ename(e));
	n = st_write(fd, CCIDG_REPLY_APDU, 0, 1, 2, sizeof(struct ccidg_reply));
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == EINVAL, "write() shorter than header + len: EINVAL (%s)",
	      ename(e));
	n = st_write(fd, CCIDG_REPLY_APDU, 0, 1, 2,
		     sizeof(struct ccidg_reply) + 3);
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == EINVAL, "write() longer than header + len: EINVAL (%s)",
	      ename(e));
	n = st_write(fd, 9, 0, 1, 2, sizeof(struct ccidg_reply) + 2);
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == EINVAL, "unknown reply type: EINVAL (%s)", ename(e));
	n = st_write(fd, CCIDG_REPLY_APDU, 0, 1, 1, sizeof(struct ccidg_reply) + 1);
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == EINVAL, "APDU reply of 1 byte (no status word): EINVAL (%s)",
	      ename(e));
	n = st_write(fd, CCIDG_REPLY_ERROR, 0, 1, 2, sizeof(struct ccidg_reply) + 2);
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == EINVAL, "ERROR reply with 2 bytes of data: EINVAL (%s)",
	      ename(e));
	n = st_write(fd, CCIDG_REPLY_ERROR, 0, 0x7fffffff, 1,
		     sizeof(struct ccidg_reply) + 1);
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == ESTALE,
	      "ERROR reply with a 1-byte bError is well-formed: ESTALE for an unknown id (%s)",
	      ename(e));
	{
		struct ccidg_reply rf = { .type = CCIDG_REPLY_APDU, .slot = 0,
					  .id = 0x7fffffff, .len = 2,
					  .flags = 1 };

		memset(rpbuf, 0, sizeof(rf) + 2);
		memcpy(rpbuf, &rf, sizeof(rf));
		n = write(fd, rpbuf, sizeof(rf) + 2);
		e = n < 0 ? errno : 0;
		st_ok(n < 0 && e == EINVAL, "reply with flags set: EINVAL (%s)",
		      ename(e));
	}
	{
		struct ccidg_reply rr = { .type = CCIDG_REPLY_APDU, .slot = 0,
					  .id = 1,
					  .len = CCIDG_MAX_RSP_APDU + 1 };

		memcpy(big, &rr, sizeof(rr));
		n = write(fd, big, sizeof(big));
		e = n < 0 ? errno : 0;
		st_ok(n < 0 && e == EINVAL,
		      "reply of CCIDG_MAX_RSP_APDU + 1 bytes: EINVAL (%s)",
		      ename(e));
	}
	n = st_write(fd, CCIDG_REPLY_APDU, 0, 0x7fffffff, 2,
		     sizeof(struct ccidg_reply) + 2);
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == ESTALE, "reply for an id never given out: ESTALE (%s)",
	      ename(e));
	n = st_write(fd, CCIDG_REPLY_ERROR, 0, 0x7fffffff, 0,
		     sizeof(struct ccidg_reply));
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == ESTALE, "ERROR reply for an id never given out: ESTALE (%s)",
	      ename(e));
	n = st_write(fd, CCIDG_REPLY_APDU, cfg.nslots, 1, 2,
		     sizeof(struct ccidg_reply) + 2);
	e = n < 0 ? errno : 0;
	st_ok(n < 0 && e == EINVAL, "reply for slot %u (out of range): EINVAL (%s)",
	      cfg.nslots, ename(e));

	/* cards */
	memset(&c, 0, sizeof(c));
	c.slot = cfg.nslots;
	c.atr_len = 2;
	c.atr[0] = 0x3b;
	r = ioctl(fd, CCIDG_IOC_INSERT, &c);
	e = r < 0 ? errno : 0;
	st_ok(r < 0 && e == EINVAL, "INSERT into slot %u (out of range): EINVAL (%s)",
	      cfg.nslots, ename(e));
	c.slot = 0;
	c.atr_len = 1;
	r = ioctl(fd, CCIDG_IOC_INSERT, &c);
	e = r < 0 ? errno : 0;
	st_ok(r < 0 && e == EINVAL, "INSERT with a 1-byte ATR: EINVAL (%s)", ename(e));
	c.atr_len = CCIDG_MAX_ATR + 1;
	r = ioctl(fd, CCIDG_IOC_INSERT, &c);
	e = r < 0 ? errno : 0;
	st_ok(r < 0 && e == EINVAL, "INSERT with a 34-byte ATR: EINVAL (%s)", ename(e));
	c.atr_len = 0xffffffff;
	r = ioctl(fd, CCIDG_IOC_INSERT, &c);
	e = r < 0 ? errno : 0;
	st_ok(r < 0 && e == EINVAL, "INSERT with atr_len 0xffffffff: EINVAL (%s)",
	      ename(e));
	c.atr_len = 2;
	c.reserved[3] = 1;
	r = ioctl(fd, CCIDG_IOC_INSERT, &c);
	e = r < 0 ? errno : 0;
	st_ok(r < 0 && e == EINVAL, "INSERT with reserved bytes set: EINVAL (%s)",
	      ename(e));
	c.reserved[3] = 0;
	r = ioctl(fd, CCIDG_IOC_INSERT, &c);
	st_ok(r == 0, "INSERT a card into slot 0 (%s)", ename(r ? errno : 0));
	r = ioctl(fd, CCIDG_IOC_INSERT, &c);
	e = r < 0 ? errno : 0;
	st_ok(r < 0 && e == EEXIST, "INSERT into the occupied slot 0: EEXIST (%s)",
	      ename(e));
	r = ioctl(fd, CCIDG_IOC_GET_STATUS, &st);
	st_ok(r == 0 && st.nslots == cfg.nslots &&
	      st.state[0] == CCIDG_SLOT_PRESENT &&
	      st.state[1] == CCIDG_SLOT_EMPTY,
	      "GET_STATUS: slot 0 present, slot 1 empty (%u, %u)",
	      r ? 99 : st.state[0], r ? 99 : st.state[1]);
	slot = 0;
	r = ioctl(fd, CCIDG_IOC_REMOVE, &slot);
	st_ok(r == 0, "REMOVE the card from slot 0 (%s)", ename(r ? errno : 0));
	r = ioctl(fd, CCIDG_IOC_REMOVE, &slot);
	e = r < 0 ? errno : 0;
	st_ok(r < 0 && e == ENOENT, "REMOVE from the empty slot 0: ENOENT (%s)",
	      ename(e));
	slot = 200;
	r = ioctl(fd, CCIDG_IOC_REMOVE, &slot);
	e = r < 0 ? errno : 0;
	st_ok(r < 0 && e == EINVAL, "REMOVE from slot 200: EINVAL (%s)", ename(e));
	r = ioctl(fd, _IO('g', 0x6f), 0);
	e = r < 0 ? errno : 0;
	st_ok(r < 0 && e == ENOTTY, "an unknown ioctl: ENOTTY (%s)", ename(e));
	r = ioctl(fd, CCIDG_IOC_GET_STATS, &stats);
	st_ok(r == 0, "GET_STATS works (%s)", ename(r ? errno : 0));

	/* a second read-write open, and a read-only one */
	ro = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	st_ok(ro < 0 && errno == EBUSY, "a second read-write open: EBUSY (%s)",
	      ename(ro < 0 ? errno : 0));
	if (ro >= 0)
		close(ro);
	ro = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	st_ok(ro >= 0, "a read-only open works alongside");
	if (ro >= 0) {
		r = ioctl(ro, CCIDG_IOC_GET_STATUS, &st);
		st_ok(r == 0, "read-only: GET_STATUS works (%s)",
		      ename(r ? errno : 0));
		c.slot = 1;
		r = ioctl(ro, CCIDG_IOC_INSERT, &c);
		st_ok(r < 0, "read-only: INSERT is refused (%s)",
		      ename(r ? errno : 0));
		slot = 1;
		r = ioctl(ro, CCIDG_IOC_REMOVE, &slot);
		st_ok(r < 0, "read-only: REMOVE is refused (%s)",
		      ename(r ? errno : 0));
		n = st_write(ro, CCIDG_REPLY_APDU, 0, 1, 2,
			     sizeof(struct ccidg_reply) + 2);
		st_ok(n < 0, "read-only: write() is refused (%s)",
		      ename(n < 0 ? errno : 0));
		close(ro);
	}

	/* close with a card in: the next owner finds the slot empty */
	c.slot = 1;
	r = ioctl(fd, CCIDG_IOC_INSERT, &c);
	close(fd);
	fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	st_ok(r == 0 && fd >= 0, "close with a card in slot 1, open again");
	if (fd >= 0) {
		r = ioctl(fd, CCIDG_IOC_GET_STATUS, &st);
		st_ok(r == 0 && st.state[1] == CCIDG_SLOT_EMPTY,
		      "closing removed the card (slot 1 state %u)",
		      r ? 99 : st.state[1]);
		close(fd);
	}
	printf("1..%d\n", st_n);
	return st_fail ? 1 : 0;
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [-d DEV] [-s SLOTS] [-a ATRHEX] [-c FIFO] [-r FILE] [-S] [-E] [-v]\n"
		"       %s -T [-d DEV]\n"
		"  -d DEV     char device (default /dev/ccidg0)\n"
		"  -s SLOTS   slots to insert a card into at start: all (default),\n"
		"             none, or a comma-separated list such as 0,2\n"
		"  -a ATRHEX  ATR for every card (default 3B 81 80 01 s s for slot s)\n"
		"  -c FIFO    control FIFO (created if missing): insert S [ATR],\n"
		"             remove S, stats, quit\n"
		"  -r FILE    create FILE once the cards are inserted\n"
		"  -S         log the function's counters at exit\n"
		"  -E         read every event first into an unwritable buffer: the\n"
		"             kernel must fail that read with EFAULT and keep the event\n"
		"  -v         log every APDU\n"
		"  -P         never sleep: poll the device without waiting (make\n"
		"             bench only: shows what waking the card costs)\n"
		"Answers by INS: 10 echo, 12 pattern(P1P2 bytes), 14 length+FNV-1a,\n"
		"16 delay(P1 s + P2/10 s, answer slot+data), 18 slot, 1A hang,\n"
		"1C crash (exit 42), 1E card error (bError P1, 0: ICC mute),\n"
		"20 SW=P1P2, 22 late (delay,\n"
		"answered even if aborted), else 6D00.\n"
		"  -T         instead: TAP self-test of the char device's checks\n",
		prog, prog);
	exit(status);
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/ccidg0", *slots = "all", *fifo = NULL;
	const char *ready = NULL;
	struct sigaction sa;
	sigset_t block, empty;
	int ctl_fd = -1, opt, status = 0, print_stats = 0, selftest = 0, spin = 0;
	uint32_t s;

	while ((opt = getopt(argc, argv, "d:s:a:c:r:STEPvh")) != -1) {
		switch (opt) {
		case 'd': dev = optarg; break;
		case 's': slots = optarg; break;
		case 'a':
			user_atr_len = parse_hex(optarg, user_atr,
						 sizeof(user_atr));
			if (user_atr_len < 2) {
				fprintf(stderr, "%s: bad ATR '%s'\n", prog,
					optarg);
				return 2;
			}
			break;
		case 'c': fifo = optarg; break;
		case 'r': ready = optarg; break;
		case 'S': print_stats = 1; break;
		case 'T': selftest = 1; break;
		case 'E':
			efault_buf = mmap(NULL, sizeof(evbuf), PROT_NONE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (efault_buf == MAP_FAILED) {
				perror("mmap");
				return 1;
			}
			break;
		case 'v': verbose++; break;
		case 'P': spin = 1; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (selftest)
		return self_test(dev);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	dev_fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (dev_fd < 0) {
		logmsg("open %s: %s", dev, strerror(errno));
		return 1;
	}
	if (ioctl(dev_fd, CCIDG_IOC_GET_CONFIG, &cfg) < 0) {
		logmsg("GET_CONFIG: %s", strerror(errno));
		return 1;
	}
	logmsg("%s: %u slots, busy_slots %u, protocols 0x%x, features 0x%08x, max_msg_len %u, online %u",
	       dev, cfg.nslots, cfg.busy_slots, cfg.protocols, cfg.features,
	       cfg.max_msg_len, cfg.online);

	if (fifo) {
		if (mkfifo(fifo, 0600) < 0 && errno != EEXIST) {
			logmsg("mkfifo %s: %s", fifo, strerror(errno));
			return 1;
		}
		/* read-write so that writers closing never gives EOF */
		ctl_fd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (ctl_fd < 0) {
			logmsg("open %s: %s", fifo, strerror(errno));
			return 1;
		}
	}

	if (!strcmp(slots, "all")) {
		for (s = 0; s < cfg.nslots && s < CCIDG_MAX_SLOTS; s++)
			if (card_insert(s, NULL, 0) < 0)
				return 1;
	} else if (strcmp(slots, "none")) {
		char *copy = strdup(slots), *tok, *save = NULL;

		for (tok = strtok_r(copy, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			if (card_insert((uint32_t)strtoul(tok, NULL, 0), NULL,
					0) < 0)
				return 1;
		free(copy);
	}
	if (ready) {
		int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0644);

		if (fd < 0) {
			logmsg("create %s: %s", ready, strerror(errno));
			return 1;
		}
		close(fd);
	}
	logmsg("ready");

	while (!stop_sig) {
		struct pollfd pfd[2];
		struct timespec ts, *tsp = NULL;
		int nfd = 1, to, r;

		pfd[0].fd = dev_fd;
		pfd[0].events = POLLIN;
		if (ctl_fd >= 0) {
			pfd[1].fd = ctl_fd;
			pfd[1].events = POLLIN;
			nfd = 2;
		}
		to = next_timeout_ms();
		if (to >= 0) {
			ts.tv_sec = to / 1000;
			ts.tv_nsec = (to % 1000) * 1000000L;
			tsp = &ts;
		}
		if (spin) {
			/* -P: a card that is never asleep when a command comes */
			static struct timespec zero;

			tsp = &zero;
		}
		r = ppoll(pfd, nfd, tsp, &empty);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			logmsg("poll: %s", strerror(errno));
			status = 1;
			break;
		}
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			logmsg("device poll error (revents 0x%x)",
			       pfd[0].revents);
			/* try a read to learn the error, then give up */
			if (handle_event() < 0 || (pfd[0].revents & POLLNVAL)) {
				status = 1;
				break;
			}
		} else if (pfd[0].revents & POLLIN) {
			int k;

			/* drain a batch of events */
			for (k = 0; k < 64; k++) {
				struct pollfd q = { .fd = dev_fd,
						    .events = POLLIN };

				if (handle_event() < 0) {
					status = 1;
					goto out;
				}
				if (poll(&q, 1, 0) <= 0 ||
				    !(q.revents & POLLIN))
					break;
			}
		}
		if (nfd == 2 && (pfd[1].revents & POLLIN))
			handle_ctl(ctl_fd);
		run_due();
	}
out:
	if (stop_sig)
		logmsg("got signal %d, exiting", (int)stop_sig);
	if (print_stats)
		log_stats();
	if (efault_buf)
		logmsg("%lu reads failed with EFAULT as they should", efaults);
	for (s = 0; s < CCIDG_MAX_SLOTS; s++)
		if (inserted[s])
			card_remove(s);
	close(dev_fd);
	if (ctl_fd >= 0)
		close(ctl_fd);
	logmsg("exit %d", status);
	return status;
}
