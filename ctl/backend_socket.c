// SPDX-License-Identifier: GPL-2.0
/*
 * backend_socket.c -- passthrough cards: a card provider at the other end
 * of a libvirt chardev (tcp or unix, connect or bind), speaking QEMU's
 * VSCard protocol (ccid-card-passthru) or vsmartcard's vpcd protocol.
 *
 * The card is in the slot while a provider is connected and has given an
 * ATR; it leaves when the provider goes, says so, or breaks the protocol.
 * In mode bind ccidctl listens and takes the next provider that connects;
 * in mode connect it connects, and with <reconnect enabled='yes'
 * timeout='N'/> tries again every N seconds after a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "card.h"
#include "vpcd.h"
#include "vscard.h"

#define OUT_CAP		(2 * (65544 + 16))
#define IN_CHUNK	16384
/* The reader id QEMU gives the one reader a VSCard peer may add */
#define VSC_OUR_READER	0

struct sock_card {
	struct card *card;
	bool vpcd;		/* else VSCard */
	int lfd;		/* listening socket (bind) */
	int fd;			/* the provider's connection */
	bool connecting;	/* non-blocking connect in progress */
	long long retry_at;	/* ms clock of the next connect, 0: none */

	uint8_t *out;		/* bytes waiting to be sent */
	size_t out_len;
	uint8_t *in;

	struct vsc_decoder vsc;
	struct vpcd_decoder vpc;
	bool vsc_inited;	/* peer's Init seen and answered */
	bool want_atr;		/* vpcd: asked for the ATR, not answered */
	uint32_t apdu_id;	/* APDU sent to the provider, 0: none */
	long long apdu_deadline; /* ms clock by which it must be answered */
	uint32_t dropped_id;	/* aborted APDU whose answer is still due */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * Some providers (vpcd 3.3) send a length and its payload in two writes;
 * acknowledging at once spares them a delayed-ACK wait per message.
 */
static void quickack(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static void disconnect(struct sock_card *sc, const char *why)
{
	const struct cfg_chardev *chr = &sc->card->conf->chr;

	if (sc->fd >= 0) {
		card_log(sc->card, "provider connection closed: %s", why);
		close(sc->fd);
	}
	sc->fd = -1;
	sc->connecting = false;
	sc->out_len = 0;
	sc->vsc_inited = false;
	sc->want_atr = false;
	if (sc->apdu_id)
		card_reply_error(sc->card, sc->apdu_id);
	sc->apdu_id = 0;
	sc->apdu_deadline = 0;
	sc->dropped_id = 0;
	vsc_decoder_reset(&sc->vsc);
	vpcd_decoder_reset(&sc->vpc);
	card_eject(sc->card);
	if (chr->mode == CFG_CHR_CONNECT && chr->reconnect)
		sc->retry_at = now_ms() + 1000LL *
			(chr->reconnect_timeout ? chr->reconnect_timeout : 1);
}

/* Queue one encoded message; returns false if it does not fit */
static bool queue_out(struct sock_card *sc, const void *msg, size_t len)
{
	if (sc->fd < 0 || len > OUT_CAP - sc->out_len)
		return false;
	memcpy(sc->out + sc->out_len, msg, len);
	sc->out_len += len;
	return true;
}

static void flush_out(struct sock_card *sc)
{
	ssize_t n;

	while (sc->fd >= 0 && !sc->connecting && sc->out_len) {
		n = send(sc->fd, sc->out, sc->out_len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			disconnect(sc, strerror(errno));
			return;
		}
		memmove(sc->out, sc->out + n, sc->out_len - n);
		sc->out_len -= n;
	}
}

static bool send_vsc(struct sock_card *sc, uint32_t type, const void *p,
		     size_t len)
{
	ssize_t n;

	if (sc->fd < 0 || VSC_HEADER_LEN + len > OUT_CAP - sc->out_len)
		return false;
	/* Encode in place, header and payload in one buffer */
	n = vsc_encode(sc->out + sc->out_len, OUT_CAP - sc->out_len, type,
		       VSC_OUR_READER, p, len);
	if (n < 0)
		return false;
	sc->out_len += n;
	flush_out(sc);
	return true;
}

static bool send_vpcd(struct sock_card *sc, const void *p, size_t len)
{
	ssize_t n;

	if (sc->fd < 0)
		return false;
	n = vpcd_encode(sc->out + sc->out_len, OUT_CAP - sc->out_len, p, len);
	if (n < 0)
		return false;
	sc->out_len += n;
	flush_out(sc);
	return true;
}

static bool send_vpcd_ctrl(struct sock_card *sc, uint8_t code)
{
	ssize_t n;

	if (sc->fd < 0)
		return false;
	n = vpcd_encode_ctrl(sc->out + sc->out_len, OUT_CAP - sc->out_len, code);
	if (n < 0)
		return false;
	sc->out_len += n;
	flush_out(sc);
	return true;
}

/* A provider is connected: start the protocol */
static void connected(struct sock_card *sc)
{
	card_log(sc->card, "provider connected (%s)", sc->vpcd ? "vpcd" : "VSCard");
	sc->connecting = false;
	sc->retry_at = 0;
	set_nodelay(sc->fd);
	if (sc->vpcd) {
		/* Power the card and ask for its ATR; it enters the slot then */
		send_vpcd_ctrl(sc, VPCD_CTRL_ON);
		sc->want_atr = send_vpcd_ctrl(sc, VPCD_CTRL_ATR);
	}
	/* VSCard: the provider speaks first (Init) */
}

static void answer(struct sock_card *sc, const uint8_t *rsp, size_t len)
{
	if (sc->dropped_id) {
		/* The answer to an APDU the host aborted: not wanted */
		sc->dropped_id = 0;
		return;
	}
	if (!sc->apdu_id) {
		card_log(sc->card, "provider sent a response nobody asked for (%zu bytes)", len);
		return;
	}
	if (len < 2)
		card_reply_error(sc->card, sc->apdu_id);
	else
		card_reply(sc->card, sc->apdu_id, rsp, len);
	sc->apdu_id = 0;
	sc->apdu_deadline = 0;
}

static void vsc_message(struct sock_card *sc, const struct vsc_msg *m)
{
	struct vsc_init init;
	uint32_t code;

	card_dbg(sc->card, "VSCard %s, %u bytes", vsc_type_name(m->type), m->length);
	if (m->type != VSC_INIT && !sc->vsc_inited) {
		disconnect(sc, "VSCard message before Init");
		return;
	}
	switch (m->type) {
	case VSC_INIT:
		if (vsc_parse_init(m, &init)) {
			disconnect(sc, "malformed VSCard Init");
			return;
		}
		sc->vsc_inited = true;
		{
			uint8_t buf[VSC_HEADER_LEN + 12];
			ssize_t n = vsc_encode_init(buf, sizeof(buf), VSC_OUR_READER,
						    VSC_VERSION, 0);

			if (n > 0 && queue_out(sc, buf, n))
				flush_out(sc);
		}
		break;
	case VSC_READER_ADD:
		{
			uint8_t buf[VSC_HEADER_LEN + 4];
			ssize_t n = vsc_encode_error(buf, sizeof(buf), VSC_OUR_READER,
						     VSC_SUCCESS);

			if (n > 0 && queue_out(sc, buf, n))
				flush_out(sc);
		}
		break;
	case VSC_ATR:
		if (m->length < 2 || m->length > VSC_MAX_ATR) {
			disconnect(sc, "VSCard ATR of a length no card has");
			return;
		}
		card_insert(sc->card, m->data, m->length);
		break;
	case VSC_APDU:
		answer(sc, m->data, m->length);
		break;
	case VSC_CARD_REMOVE:
	case VSC_READER_REMOVE:
		if (sc->apdu_id)
			card_reply_error(sc->card, sc->apdu_id);
		sc->apdu_id = 0;
		sc->dropped_id = 0;
		card_eject(sc->card);
		break;
	case VSC_ERROR:
		if (vsc_parse_error(m, &code) == 0 && code != VSC_SUCCESS)
			card_log(sc->card, "provider reports error %u", code);
		break;
	case VSC_FLUSH:
		send_vsc(sc, VSC_FLUSH_COMPLETE, NULL, 0);
		break;
	default:
		break;
	}
}

static void vpcd_message(struct sock_card *sc, const struct vpcd_msg *m)
{
	if (sc->want_atr) {
		sc->want_atr = false;
		if (m->length < 2 || m->length > 33) {
			disconnect(sc, "vpcd ATR of a length no card has");
			return;
		}
		card_insert(sc->card, m->data, m->length);
		return;
	}
	answer(sc, m->data, m->length);
}

static void read_input(struct sock_card *sc)
{
	ssize_t n;
	size_t off = 0, used;
	int r;

	n = recv(sc->fd, sc->in, IN_CHUNK, 0);
	if (n == 0) {
		disconnect(sc, "closed by the provider");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			disconnect(sc, strerror(errno));
		return;
	}
	if (sc->card->conf->chr.type == CFG_CHR_TCP)
		quickack(sc->fd);
	while (off < (size_t)n && sc->fd >= 0) {
		if (sc->vpcd) {
			struct vpcd_msg m;

			r = vpcd_decode(&sc->vpc, sc->in + off, n - off, &used, &m);
			off += used;
			if (r < 0) {
				card_log(sc->card, "vpcd protocol error: %s",
					 vpcd_decoder_error(&sc->vpc));
				disconnect(sc, "protocol error");
				return;
			}
			if (r == 1)
				vpcd_message(sc, &m);
		} else {
			struct vsc_msg m;

			r = vsc_decode(&sc->vsc, sc->in + off, n - off, &used, &m);
			off += used;
			if (r < 0) {
				card_log(sc->card, "VSCard protocol error: %s",
					 vsc_decoder_error(&sc->vsc));
				disconnect(sc, "protocol error");
				return;
			}
			if (r == 1)
				vsc_message(sc, &m);
		}
		if (r == 0)
			break;
	}
}

/* Fill a sockaddr for the chardev; returns its length or -1 */
static socklen_t chr_addr(struct sock_card *sc, struct sockaddr_storage *ss,
			  int *family)
{
	const struct cfg_chardev *chr = &sc->card->conf->chr;

	memset(ss, 0, sizeof(*ss));
	if (chr->type == CFG_CHR_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		if (!chr->path || strlen(chr->path) >= sizeof(un->sun_path))
			return 0;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, chr->path);
		*family = AF_UNIX;
		return sizeof(*un);
	} else {
		struct addrinfo hints = { 0 }, *ai;
		socklen_t len;
		int err;

		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = chr->mode == CFG_CHR_BIND ? AI_PASSIVE : 0;
		err = getaddrinfo(chr->host && *chr->host ? chr->host : NULL,
				  chr->service, &hints, &ai);
		if (err) {
			card_log(sc->card, "%s:%s: %s", chr->host ? chr->host : "",
				 chr->service ? chr->service : "", gai_strerror(err));
			return 0;
		}
		memcpy(ss, ai->ai_addr, ai->ai_addrlen);
		len = ai->ai_addrlen;
		*family = ai->ai_family;
		freeaddrinfo(ai);
		return len;
	}
}

static void try_connect(struct sock_card *sc)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int family, fd;

	sc->retry_at = 0;
	len = chr_addr(sc, &ss, &family);
	if (!len)
		goto failed;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto failed;
	sc->fd = fd;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		connected(sc);
		return;
	}
	if (errno == EINPROGRESS) {
		sc->connecting = true;
		return;
	}
	card_log(sc->card, "cannot connect to the provider: %s", strerror(errno));
	close(fd);
	sc->fd = -1;
failed:
	if (sc->card->conf->chr.reconnect)
		sc->retry_at = now_ms() + 1000LL *
			(sc->card->conf->chr.reconnect_timeout ?: 1);
}

static int start_listen(struct sock_card *sc)
{
	const struct cfg_chardev *chr = &sc->card->conf->chr;
	struct sockaddr_storage ss;
	socklen_t len;
	int family, one = 1;

	len = chr_addr(sc, &ss, &family);
	if (!len)
		return -1;
	sc->lfd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sc->lfd < 0)
		goto err;
	if (family == AF_UNIX)
		unlink(chr->path);
	else
		setsockopt(sc->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(sc->lfd, (struct sockaddr *)&ss, len) < 0 || listen(sc->lfd, 1) < 0)
		goto err;
	card_log(sc->card, "waiting for a %s provider on %s%s%s", sc->vpcd ? "vpcd" : "VSCard",
		 family == AF_UNIX ? chr->path : (chr->host ? chr->host : "*"),
		 family == AF_UNIX ? "" : ":", family == AF_UNIX ? "" : chr->service);
	return 0;
err:
	card_log(sc->card, "cannot listen: %s", strerror(errno));
	if (sc->lfd >= 0)
		close(sc->lfd);
	sc->lfd = -1;
	return -1;
}

static int sock_start(struct card *c)
{
	struct sock_card *sc = calloc(1, sizeof(*sc));

	if (!sc)
		return -1;
	c->priv = sc;
	sc->card = c;
	sc->fd = sc->lfd = -1;
	sc->vpcd = c->conf->wire == CFG_WIRE_VPCD;
	sc->out = malloc(OUT_CAP);
	sc->in = malloc(IN_CHUNK);
	if (!sc->out || !sc->in || vsc_decoder_init(&sc->vsc, 0) ||
	    vpcd_decoder_init(&sc->vpc, VPCD_ROLE_READER, 0))
		return -1;
	if (c->conf->chr.mode == CFG_CHR_BIND)
		return start_listen(sc);
	try_connect(sc);
	return 0;
}

static void sock_stop(struct card *c)
{
	struct sock_card *sc = c->priv;

	if (!sc)
		return;
	if (sc->fd >= 0)
		close(sc->fd);
	if (sc->lfd >= 0) {
		close(sc->lfd);
		if (c->conf->chr.type == CFG_CHR_UNIX && c->conf->chr.path)
			unlink(c->conf->chr.path);
	}
	vsc_decoder_free(&sc->vsc);
	vpcd_decoder_free(&sc->vpc);
	free(sc->out);
	free(sc->in);
	free(sc);
	c->priv = NULL;
}

static int sock_pollfds(struct card *c, struct pollfd *p, int max)
{
	struct sock_card *sc = c->priv;
	int n = 0;

	if (!sc || max < 2)
		return 0;
	if (sc->lfd >= 0 && sc->fd < 0) {
		p[n].fd = sc->lfd;
		p[n].events = POLLIN;
		n++;
	}
	if (sc->fd >= 0) {
		p[n].fd = sc->fd;
		p[n].events = sc->connecting ? POLLOUT :
			POLLIN | (sc->out_len ? POLLOUT : 0);
		n++;
	}
	return n;
}

static void sock_ready(struct card *c, const struct pollfd *p, int n)
{
	struct sock_card *sc = c->priv;
	int i;

	if (!sc)
		return;
	if (sc->apdu_id && sc->apdu_deadline && now_ms() >= sc->apdu_deadline) {
		/* A provider that stops mid-answer must not hang the host */
		card_log(c, "provider did not answer an APDU within %d s",
			 ccidctl_apdu_timeout_ms / 1000);
		disconnect(sc, "no answer");
		return;
	}
	if (sc->retry_at && now_ms() >= sc->retry_at && sc->fd < 0)
		try_connect(sc);
	for (i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (p[i].fd == sc->lfd && sc->fd < 0) {
			int fd = accept4(sc->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (fd >= 0) {
				sc->fd = fd;
				connected(sc);
			}
		} else if (p[i].fd == sc->fd) {
			if (sc->connecting) {
				int err = 0;
				socklen_t len = sizeof(err);

				getsockopt(sc->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err) {
					card_log(c, "cannot connect to the provider: %s",
						 strerror(err));
					close(sc->fd);
					sc->fd = -1;
					sc->connecting = false;
					if (c->conf->chr.reconnect)
						sc->retry_at = now_ms() + 1000LL *
							(c->conf->chr.reconnect_timeout ?: 1);
				} else {
					connected(sc);
				}
				continue;
			}
			if (p[i].revents & POLLOUT)
				flush_out(sc);
			if (sc->fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				read_input(sc);
		}
	}
}

static int sock_timeout(struct card *c)
{
	struct sock_card *sc = c->priv;
	long long at, left;

	if (!sc)
		return -1;
	at = sc->retry_at;
	if (sc->apdu_id && sc->apdu_deadline && (!at || sc->apdu_deadline < at))
		at = sc->apdu_deadline;
	if (!at)
		return -1;
	left = at - now_ms();
	return left > 0 ? (int)left : 0;
}

static void sock_power(struct card *c, bool on)
{
	struct sock_card *sc = c->priv;

	/* VSCard has no power messages; vpcd does */
	if (sc && sc->vpcd && sc->fd >= 0 && !sc->connecting)
		send_vpcd_ctrl(sc, on ? VPCD_CTRL_RESET : VPCD_CTRL_OFF);
}

static void sock_apdu(struct card *c, uint32_t id, const uint8_t *apdu,
		      size_t len)
{
	struct sock_card *sc = c->priv;
	bool sent;

	if (!sc || sc->fd < 0 || sc->connecting || sc->apdu_id) {
		card_reply_error(c, id);
		return;
	}
	if (sc->vpcd)
		sent = len <= VPCD_MAX_PAYLOAD && send_vpcd(sc, apdu, len);
	else
		sent = sc->vsc_inited && send_vsc(sc, VSC_APDU, apdu, len);
	if (!sent) {
		card_log(c, "cannot send a %zu-byte APDU to the provider", len);
		card_reply_error(c, id);
		return;
	}
	sc->apdu_id = id;
	sc->apdu_deadline = ccidctl_apdu_timeout_ms > 0 ?
		now_ms() + ccidctl_apdu_timeout_ms : 0;
}

static void sock_abort(struct card *c, uint32_t id)
{
	struct sock_card *sc = c->priv;

	if (sc && sc->apdu_id == id) {
		/* The provider will still answer; that answer is dropped */
		sc->apdu_id = 0;
		sc->dropped_id = id;
	}
}

const struct card_ops passthrough_ops = {
	.name = "passthrough",
	.start = sock_start,
	.stop = sock_stop,
	.pollfds = sock_pollfds,
	.ready = sock_ready,
	.timeout = sock_timeout,
	.power = sock_power,
	.apdu = sock_apdu,
	.abort = sock_abort,
};
