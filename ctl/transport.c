// SPDX-License-Identifier: GPL-2.0
/*
 * transport.c -- the byte stream between a passthrough card and its
 * provider (see transport.h)
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "tls.h"
#include "loop.h"
#include "transport.h"

#define IN_CHUNK	16384
#define OUT_CAP		(2 * (65544 + 16))
#define TLS_RECORD	16384
/* How long an accept() that ran out of descriptors waits to try again */
#define ACCEPT_PAUSE_MS	1000
/* How often a bind that failed for a reason that may pass is retried */
#define BIND_RETRY_MS	1000

enum conn_state {
	CONN_NONE,
	CONN_CONNECTING,	/* non-blocking connect() in progress */
	CONN_HANDSHAKE,		/* TLS handshake */
	CONN_UP,		/* up() was called */
};

struct resolve_req;

struct transport {
	char *name;
	char *proto_name;
	struct cfg_chardev chr;	/* the copied fields only */
	char *tls_dir;
	bool tls_verify;
	int open_timeout_ms;
	bool verbose;
	int (*resolve)(const char *, const char *, const struct addrinfo *,
		       struct addrinfo **);
	const struct transport_ops *ops;
	void *ctx;

	struct tls_creds *creds;
	bool bind_failing;	/* the last bind attempt failed */
	unsigned int bind_tries;

	/* listening (mode bind) */
	int lfd;
	guint lwatch;
	bool unix_made;		/* we created the socket at chr.path */
	dev_t unix_dev;
	ino_t unix_ino;

	/* resolution and connect attempts (mode connect) */
	struct resolve_req *req;
	struct addrinfo *ai, *ai_next;
	bool unix_try;		/* the unix path is still to be tried */
	int last_err;

	/* the connection */
	enum conn_state cs;
	int fd;
	guint watch;
	GIOCondition wcond;
	struct tls_session *tls;
	bool opened;
	unsigned int gen;	/* bumped whenever the connection goes */
	uint8_t *out;
	size_t out_len;
	size_t tls_inflight;	/* bytes given to a tls_send() that said EAGAIN */
	uint8_t *in;
	char why[256];

	guint timer;		/* retry (connect, bind) or accept pause */
	guint open_timer;	/* the connection's open deadline */
	guint idle;		/* deferred started() or down() */
	int started_state;	/* 0 not yet, 1 queued, 2 reported */
	int started_err;
	char started_why[640];
	bool down_due;
};

static void tlog(const struct transport *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void tlog(const struct transport *t, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ccidctl: %s: %s\n", t->name, msg);
}

#define tdbg(t, ...) do { if ((t)->verbose) tlog((t), __VA_ARGS__); } while (0)

static bool is_tcp(const struct transport *t)
{
	return t->chr.type == CFG_CHR_TCP;
}

static bool is_bind(const struct transport *t)
{
	return t->chr.mode == CFG_CHR_BIND;
}

static const char *where(const struct transport *t, char *buf, size_t n)
{
	if (is_tcp(t))
		snprintf(buf, n, "%s:%s", t->chr.host, t->chr.service);
	else
		snprintf(buf, n, "%s", t->chr.path);
	return buf;
}

/* ------------------------------------------------------------------ */
/* deferred callbacks */

static void queue_idle(struct transport *t);

static gboolean on_idle(gpointer data)
{
	struct transport *t = data;
	char why[256];

	t->idle = 0;
	if (t->started_state == 1) {
		/* the start's outcome first; anything else in a new round,
		 * so that the owner may free us from started() */
		t->started_state = 2;
		if (t->down_due)
			queue_idle(t);
		t->ops->started(t->ctx, t->started_err, t->started_why);
		return G_SOURCE_REMOVE;
	}
	if (t->down_due) {
		t->down_due = false;
		snprintf(why, sizeof(why), "%s", t->why);
		t->ops->down(t->ctx, why);
	}
	return G_SOURCE_REMOVE;
}

/*
 * Deferred callbacks run at high priority: before any descriptor of the
 * next round is dispatched, so that a new connection's up() never comes
 * before the old one's down().
 */
static void queue_idle(struct transport *t)
{
	if (!t->idle)
		t->idle = g_idle_add_full(G_PRIORITY_HIGH, on_idle, t, NULL);
}

static void report_started(struct transport *t, int err, const char *why)
{
	if (t->started_state)
		return;
	t->started_state = 1;
	t->started_err = err;
	snprintf(t->started_why, sizeof(t->started_why), "%s", why ? why : "");
	queue_idle(t);
}

/* ------------------------------------------------------------------ */
/* timers */

static void stop_timer(guint *id)
{
	if (*id)
		g_source_remove(*id);
	*id = 0;
}

static void set_timer(struct transport *t, unsigned int ms, GSourceFunc fn)
{
	stop_timer(&t->timer);
	t->timer = g_timeout_add(ms, fn, t);
}

/* ------------------------------------------------------------------ */
/* name resolution, in a thread */

struct resolve_req {
	int ref;		/* main thread only */
	bool cancelled;		/* main thread only */
	struct transport *t;
	char *host, *service;
	struct addrinfo hints;
	int (*fn)(const char *, const char *, const struct addrinfo *,
		  struct addrinfo **);
	struct addrinfo *res;	/* written by the thread, read after */
	int err;
};

static void resolved(struct transport *t, struct addrinfo *res, int err);

static void req_unref(struct resolve_req *r)
{
	if (--r->ref)
		return;
	if (r->res)
		freeaddrinfo(r->res);
	g_free(r->host);
	g_free(r->service);
	g_free(r);
}

static gboolean resolve_done(gpointer data)
{
	struct resolve_req *r = data;

	if (!r->cancelled) {
		struct addrinfo *res = r->res;

		r->res = NULL;
		r->t->req = NULL;
		req_unref(r);		/* the transport's reference */
		resolved(r->t, res, r->err);
	}
	req_unref(r);			/* the thread's */
	return G_SOURCE_REMOVE;
}

static gpointer resolve_thread(gpointer data)
{
	struct resolve_req *r = data;
	GSource *src;

	r->err = r->fn(r->host, r->service, &r->hints, &r->res);
	/* always through the main loop, never run here */
	src = g_idle_source_new();
	g_source_set_callback(src, resolve_done, r, NULL);
	g_source_attach(src, g_main_context_default());
	g_source_unref(src);
	return NULL;
}

static void resolve_cancel(struct transport *t)
{
	if (!t->req)
		return;
	t->req->cancelled = true;
	req_unref(t->req);
	t->req = NULL;
}

static int resolve_async(struct transport *t)
{
	struct resolve_req *r = g_new0(struct resolve_req, 1);
	GThread *th;
	GError *err = NULL;

	r->ref = 2;
	r->t = t;
	r->host = g_strdup(t->chr.host && *t->chr.host ? t->chr.host : NULL);
	r->service = g_strdup(t->chr.service);
	r->hints.ai_socktype = SOCK_STREAM;
	/*
	 * No AI_ADDRCONFIG: on a host whose only IPv4 address is loopback
	 * it hides 127.0.0.1, the usual provider's address. Every address
	 * is tried; one of a family the host lacks fails at once.
	 */
	r->hints.ai_flags = is_bind(t) ? AI_PASSIVE : 0;
	r->fn = t->resolve ? t->resolve : getaddrinfo;
	th = g_thread_try_new("ccidctl-resolve", resolve_thread, r, &err);
	if (!th) {
		tlog(t, "cannot start a thread to resolve %s: %s", t->chr.host,
		     err ? err->message : "?");
		g_clear_error(&err);
		r->ref = 1;
		req_unref(r);
		return -1;
	}
	g_thread_unref(th);
	t->req = r;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the connection */

static gboolean on_conn(gint fd, GIOCondition cond, gpointer data);

static void set_watch(struct transport *t, GIOCondition cond)
{
	if (t->watch && t->wcond == cond)
		return;
	stop_timer(&t->watch);
	t->wcond = cond;
	if (t->fd >= 0 && cond)
		t->watch = loop_watch_fd(t->fd, cond, on_conn, t);
}

static void update_watch(struct transport *t)
{
	switch (t->cs) {
	case CONN_CONNECTING:
		set_watch(t, G_IO_OUT);
		break;
	case CONN_HANDSHAKE:
		set_watch(t, tls_want_write(t->tls) ? G_IO_OUT : G_IO_IN);
		break;
	case CONN_UP:
		set_watch(t, G_IO_IN | (t->out_len ? G_IO_OUT : 0));
		break;
	default:
		set_watch(t, 0);
		break;
	}
}

static void conn_close(struct transport *t)
{
	stop_timer(&t->watch);
	stop_timer(&t->open_timer);
	tls_session_free(t->tls);
	t->tls = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->cs = CONN_NONE;
	t->out_len = 0;
	t->tls_inflight = 0;
	t->opened = false;
	t->gen++;
}

static void listen_resume(struct transport *t);
static void connect_retry_or_give_up(struct transport *t, const char *why);
static void try_next_address(struct transport *t);

/* After a connection is over: listen again, or reconnect, or stay down. */
static void resume(struct transport *t)
{
	if (is_bind(t)) {
		listen_resume(t);
	} else if (t->chr.reconnect) {
		char w[300];

		tlog(t, "connecting to %s again in %u s", where(t, w, sizeof(w)),
		     t->chr.reconnect_timeout);
		connect_retry_or_give_up(t, NULL);
	} else {
		tlog(t, "no <reconnect> configured: the card stays out until ccidctl is reloaded");
	}
}

/* The connection broke: close it, tell the owner if it was up, go on. */
static void conn_lost(struct transport *t, const char *why, bool defer)
{
	bool was_up = t->cs == CONN_UP;

	conn_close(t);
	snprintf(t->why, sizeof(t->why), "%s", why);
	if (!was_up) {
		/* a connection that never came up: a failed attempt */
		if (is_bind(t)) {
			tlog(t, "provider connection refused: %s", why);
			listen_resume(t);
		} else {
			try_next_address(t);
		}
		return;
	}
	tlog(t, "provider connection closed: %s", why);
	if (defer) {
		/* from within a call: down() comes from the loop */
		t->down_due = true;
		queue_idle(t);
	} else {
		t->ops->down(t->ctx, t->why);
	}
	resume(t);
}

static gboolean on_open_timeout(gpointer data)
{
	struct transport *t = data;
	char why[128];

	t->open_timer = 0;
	if (t->cs == CONN_CONNECTING)
		snprintf(why, sizeof(why), "no answer to connect within %d s",
			 t->open_timeout_ms / 1000);
	else if (t->cs == CONN_HANDSHAKE)
		snprintf(why, sizeof(why), "TLS handshake not done within %d s",
			 t->open_timeout_ms / 1000);
	else
		snprintf(why, sizeof(why),
			 "the provider did not identify itself within %d s",
			 t->open_timeout_ms / 1000);
	conn_lost(t, why, false);
	return G_SOURCE_REMOVE;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void go_up(struct transport *t)
{
	t->cs = CONN_UP;
	if (t->tls)
		tlog(t, "TLS session established%s%s", tls_peer(t->tls)[0] ?
		     " with " : "", tls_peer(t->tls));
	if (!is_bind(t)) {
		freeaddrinfo(t->ai);
		t->ai = t->ai_next = NULL;
		report_started(t, 0, NULL);
	}
	update_watch(t);
	t->ops->up(t->ctx);
}

static void handshake_step(struct transport *t)
{
	int r = tls_handshake(t->tls);

	if (r == -EAGAIN) {
		update_watch(t);
		return;
	}
	if (r < 0) {
		char why[300];

		snprintf(why, sizeof(why), "%s", tls_error(t->tls));
		conn_lost(t, why, false);
		return;
	}
	go_up(t);
}

/* A TCP or unix connection exists (accepted, or connected): open it. */
static void conn_begin(struct transport *t, int fd)
{
	char err[300];

	t->fd = fd;
	t->opened = false;
	if (is_tcp(t))
		set_nodelay(fd);
	if (!t->open_timer && t->open_timeout_ms > 0)
		t->open_timer = g_timeout_add(t->open_timeout_ms,
					      on_open_timeout, t);
	if (!t->creds) {
		go_up(t);
		return;
	}
	t->tls = tls_session_new(t->creds, fd, is_bind(t) ? NULL : t->chr.host,
				 err, sizeof(err));
	if (!t->tls) {
		conn_lost(t, err, false);
		return;
	}
	t->cs = CONN_HANDSHAKE;
	handshake_step(t);
}

static bool flush_out(struct transport *t)
{
	while (t->out_len) {
		ssize_t n;

		if (t->tls) {
			size_t len = t->tls_inflight ? t->tls_inflight :
				     (t->out_len < TLS_RECORD ? t->out_len : TLS_RECORD);

			n = tls_send(t->tls, t->out, len);
			if (n == -EAGAIN) {
				t->tls_inflight = len;
				return true;
			}
			t->tls_inflight = 0;
			if (n < 0) {
				snprintf(t->why, sizeof(t->why), "%s", tls_error(t->tls));
				return false;
			}
		} else {
			n = send(t->fd, t->out, t->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return true;
				snprintf(t->why, sizeof(t->why), "%s", strerror(errno));
				return false;
			}
		}
		memmove(t->out, t->out + n, t->out_len - (size_t)n);
		t->out_len -= (size_t)n;
	}
	return true;
}

static void read_some(struct transport *t)
{
	unsigned int gen = t->gen;

	for (int round = 0; round < 8; round++) {
		ssize_t n;

		if (t->tls) {
			n = tls_recv(t->tls, t->in, IN_CHUNK);
			if (n == -EAGAIN)
				return;
			if (n < 0) {
				char why[300];

				snprintf(why, sizeof(why), "%s", tls_error(t->tls));
				conn_lost(t, why, false);
				return;
			}
		} else {
			n = recv(t->fd, t->in, IN_CHUNK, MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return;
				conn_lost(t, strerror(errno), false);
				return;
			}
		}
		if (n == 0) {
			conn_lost(t, "closed by the provider", false);
			return;
		}
		t->ops->data(t->ctx, t->in, (size_t)n);
		if (t->gen != gen)
			return;		/* dropped from within data() */
		/* a plain socket: poll tells if there is more; TLS may hold
		 * decrypted bytes that no poll will announce */
		if (!t->tls || !tls_pending(t->tls))
			return;
	}
}

static gboolean on_conn(gint fd, GIOCondition cond, gpointer data)
{
	struct transport *t = data;
	unsigned int gen = t->gen;

	(void)fd;
	switch (t->cs) {
	case CONN_CONNECTING: {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			t->last_err = err;
			tdbg(t, "connect: %s", strerror(err));
			t->watch = 0;	/* returning REMOVE below */
			conn_close(t);
			try_next_address(t);
			return G_SOURCE_REMOVE;
		}
		t->watch = 0;
		t->wcond = 0;
		t->cs = CONN_NONE;
		stop_timer(&t->open_timer);
		conn_begin(t, t->fd);
		return G_SOURCE_REMOVE;
	}
	case CONN_HANDSHAKE:
		handshake_step(t);
		return t->gen == gen && t->watch ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
	case CONN_UP:
		if ((cond & G_IO_OUT) && !flush_out(t)) {
			char why[300];

			snprintf(why, sizeof(why), "%s", t->why);
			conn_lost(t, why, false);
			return G_SOURCE_REMOVE;
		}
		if (t->gen == gen && (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
			read_some(t);
		if (t->gen != gen)
			return G_SOURCE_REMOVE;
		update_watch(t);
		return G_SOURCE_CONTINUE;
	default:
		t->watch = 0;
		return G_SOURCE_REMOVE;
	}
}

/* ------------------------------------------------------------------ */
/* mode connect */

static void connect_start(struct transport *t);

static gboolean on_retry(gpointer data)
{
	struct transport *t = data;

	t->timer = 0;
	connect_start(t);
	return G_SOURCE_REMOVE;
}

/* Every address failed (or none was found) */
static void connect_failed(struct transport *t, const char *why)
{
	char w[300], msg[600];

	freeaddrinfo(t->ai);
	t->ai = t->ai_next = NULL;
	snprintf(msg, sizeof(msg), "cannot connect to %s: %s",
		 where(t, w, sizeof(w)), why);
	if (t->chr.reconnect) {
		tlog(t, "%s; trying again in %u s", msg, t->chr.reconnect_timeout);
		connect_retry_or_give_up(t, NULL);
		return;
	}
	tlog(t, "%s", msg);
	report_started(t, -(t->last_err ? t->last_err : ECONNREFUSED), msg);
}

static void connect_retry_or_give_up(struct transport *t, const char *why)
{
	if (why)
		tlog(t, "%s", why);
	set_timer(t, 1000u * (t->chr.reconnect_timeout ? t->chr.reconnect_timeout : 1),
		  on_retry);
}

static void try_next_address(struct transport *t)
{
	for (;;) {
		struct sockaddr_un un;
		const struct sockaddr *sa;
		socklen_t salen;
		int family, fd;

		if (!is_tcp(t)) {
			if (!t->unix_try)
				break;
			t->unix_try = false;
			memset(&un, 0, sizeof(un));
			un.sun_family = AF_UNIX;
			snprintf(un.sun_path, sizeof(un.sun_path), "%s", t->chr.path);
			sa = (const struct sockaddr *)&un;
			salen = sizeof(un);
			family = AF_UNIX;
		} else {
			struct addrinfo *ai = t->ai_next;

			if (!ai)
				break;
			t->ai_next = ai->ai_next;
			sa = ai->ai_addr;
			salen = ai->ai_addrlen;
			family = ai->ai_family;
		}
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			t->last_err = errno;
			continue;
		}
		if (connect(fd, sa, salen) == 0) {
			conn_begin(t, fd);
			return;
		}
		if (errno == EINPROGRESS) {
			t->fd = fd;
			t->cs = CONN_CONNECTING;
			if (t->open_timeout_ms > 0)
				t->open_timer = g_timeout_add(t->open_timeout_ms,
							      on_open_timeout, t);
			update_watch(t);
			return;
		}
		t->last_err = errno;
		tdbg(t, "connect: %s", strerror(errno));
		close(fd);
	}
	connect_failed(t, t->why[0] ? t->why : strerror(t->last_err ? t->last_err : ECONNREFUSED));
}

static void connect_start(struct transport *t)
{
	t->last_err = 0;
	t->why[0] = '\0';
	if (!is_tcp(t)) {
		t->unix_try = true;
		try_next_address(t);
		return;
	}
	if (resolve_async(t) < 0)
		connect_failed(t, "cannot resolve");
}

/* ------------------------------------------------------------------ */
/* mode bind */

static void bind_start(struct transport *t);

static gboolean on_bind_retry(gpointer data)
{
	struct transport *t = data;

	t->timer = 0;
	bind_start(t);
	return G_SOURCE_REMOVE;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data);

static gboolean on_accept_pause(gpointer data)
{
	struct transport *t = data;

	t->timer = 0;
	listen_resume(t);
	return G_SOURCE_REMOVE;
}

static void listen_resume(struct transport *t)
{
	if (t->lfd < 0 || t->lwatch || t->cs != CONN_NONE || t->timer)
		return;
	t->lwatch = loop_watch_fd(t->lfd, G_IO_IN, on_accept, t);
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
	struct transport *t = data;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
	int c;

	(void)cond;
	c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0) {
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return G_SOURCE_CONTINUE;
		/*
		 * Out of descriptors (or memory): the connection stays in
		 * the backlog and the socket stays readable. Stop watching
		 * it for a while instead of spinning on it.
		 */
		tlog(t, "cannot accept a provider: %s; trying again in %d ms",
		     strerror(errno), ACCEPT_PAUSE_MS);
		t->lwatch = 0;
		set_timer(t, ACCEPT_PAUSE_MS, on_accept_pause);
		return G_SOURCE_REMOVE;
	}
	/* one provider at a time: the next ones wait in the backlog */
	t->lwatch = 0;
	if (is_tcp(t) && getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host),
				     serv, sizeof(serv),
				     NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		tlog(t, "provider connection from %s port %s", host, serv);
	else
		tdbg(t, "provider connection accepted");
	conn_begin(t, c);
	return G_SOURCE_REMOVE;
}

static bool bind_transient(int err)
{
	return err == EADDRINUSE || err == EADDRNOTAVAIL;
}

/* The outcome of one bind attempt: 0, or an errno */
static void bind_done(struct transport *t, int err, const char *why)
{
	char w[300];

	where(t, w, sizeof(w));
	if (!err) {
		if (t->bind_failing)
			tlog(t, "listening on %s at last", w);
		t->bind_failing = false;
		tlog(t, "waiting for a %s provider on %s%s", t->proto_name, w,
		     t->creds ? " (TLS)" : "");
		report_started(t, 0, NULL);
		listen_resume(t);
		return;
	}
	if (bind_transient(err)) {
		if (!t->bind_failing || t->verbose)
			tlog(t, "cannot listen on %s: %s; trying again every %d ms",
			     w, why, BIND_RETRY_MS);
		t->bind_failing = true;
		t->bind_tries++;
		report_started(t, 0, NULL);
		set_timer(t, BIND_RETRY_MS, on_bind_retry);
		return;
	}
	{
		char msg[600];

		snprintf(msg, sizeof(msg), "cannot listen on %s: %s", w, why);
		tlog(t, "%s", msg);
		report_started(t, -err, msg);
	}
}

/*
 * What is at the unix path before we bind: nothing (fine), a socket
 * nobody listens on (removed), a socket somebody listens on (in use), or
 * anything else (never touched).
 */
static int unix_clear(struct transport *t, char *why, size_t n)
{
	struct sockaddr_un un;
	struct stat st;
	int fd, r;

	if (lstat(t->chr.path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, n, "%s", strerror(errno));
		return errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, n, "%s exists and is not a socket: it is left alone",
			 t->chr.path);
		return EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, n, "%s", strerror(errno));
		return errno;
	}
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", t->chr.path);
	r = connect(fd, (struct sockaddr *)&un, sizeof(un));
	close(fd);
	if (r == 0) {
		snprintf(why, n, "another program listens on %s", t->chr.path);
		return EADDRINUSE;
	}
	if (errno != ECONNREFUSED) {
		snprintf(why, n, "%s: %s", t->chr.path, strerror(errno));
		return errno;
	}
	/* a stale socket, left by a process that is gone */
	if (unlink(t->chr.path) < 0 && errno != ENOENT) {
		snprintf(why, n, "cannot remove the stale socket %s: %s",
			 t->chr.path, strerror(errno));
		return errno;
	}
	return 0;
}

static void bind_unix(struct transport *t)
{
	struct sockaddr_un un;
	struct stat st;
	char why[400];
	mode_t old;
	int fd, err, r;

	err = unix_clear(t, why, sizeof(why));
	if (err) {
		bind_done(t, err, why);
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		bind_done(t, errno, strerror(errno));
		return;
	}
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", t->chr.path);
	/* owner only, whatever the umask: the provider sees every APDU */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&un, sizeof(un));
	err = errno;
	umask(old);
	if (r < 0 || listen(fd, 1) < 0) {
		if (r == 0)
			err = errno;
		close(fd);
		bind_done(t, err, strerror(err));
		return;
	}
	if (lstat(t->chr.path, &st) == 0) {
		t->unix_made = true;
		t->unix_dev = st.st_dev;
		t->unix_ino = st.st_ino;
	}
	t->lfd = fd;
	bind_done(t, 0, NULL);
}

static void bind_tcp(struct transport *t, struct addrinfo *res, int gai)
{
	int err = 0, one = 1;

	if (gai) {
		bind_done(t, gai == EAI_AGAIN ? EADDRNOTAVAIL : ENOENT,
			  gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			err = err ? err : errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1) == 0) {
			t->lfd = fd;
			freeaddrinfo(res);
			bind_done(t, 0, NULL);
			return;
		}
		/* the first reason is the telling one */
		if (!err || bind_transient(err))
			err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	bind_done(t, err ? err : EADDRNOTAVAIL, strerror(err ? err : EADDRNOTAVAIL));
}

static void bind_start(struct transport *t)
{
	if (!is_tcp(t)) {
		bind_unix(t);
		return;
	}
	if (resolve_async(t) < 0)
		bind_done(t, EAGAIN, "cannot start a resolver thread");
}

static void resolved(struct transport *t, struct addrinfo *res, int err)
{
	if (is_bind(t)) {
		bind_tcp(t, res, err);
		return;
	}
	if (err) {
		char why[300];

		snprintf(why, sizeof(why), "%s",
			 err == EAI_SYSTEM ? strerror(errno) : gai_strerror(err));
		t->last_err = err == EAI_SYSTEM ? errno : EHOSTUNREACH;
		connect_failed(t, why);
		return;
	}
	t->ai = t->ai_next = res;
	try_next_address(t);
}

/* ------------------------------------------------------------------ */
/* the interface */

struct transport *transport_new(const struct transport_conf *conf,
				const struct transport_ops *ops, void *ctx)
{
	struct transport *t = g_new0(struct transport, 1);
	const struct cfg_chardev *c = conf->chr;

	t->name = g_strdup(conf->name);
	t->proto_name = g_strdup(conf->proto_name ? conf->proto_name : "card");
	t->chr.type = c->type;
	t->chr.mode = c->mode;
	t->chr.host = g_strdup(c->host);
	t->chr.service = g_strdup(c->service);
	t->chr.path = g_strdup(c->path);
	t->chr.tls = c->tls;
	t->chr.reconnect = c->reconnect;
	t->chr.reconnect_timeout = c->reconnect_timeout;
	t->tls_dir = g_strdup(conf->tls_dir);
	t->tls_verify = conf->tls_verify;
	t->open_timeout_ms = conf->open_timeout_ms;
	t->verbose = conf->verbose;
	t->resolve = conf->resolve;
	t->ops = ops;
	t->ctx = ctx;
	t->lfd = t->fd = -1;
	t->out = g_malloc(OUT_CAP);
	t->in = g_malloc(IN_CHUNK);
	return t;
}

static gboolean on_kickoff(gpointer data)
{
	struct transport *t = data;

	t->timer = 0;
	if (is_bind(t)) {
		bind_start(t);
	} else {
		if (t->chr.reconnect)
			report_started(t, 0, NULL);
		connect_start(t);
	}
	return G_SOURCE_REMOVE;
}

int transport_start(struct transport *t)
{
	if (t->chr.tls) {
		char err[600];

		t->creds = tls_creds_load(t->tls_dir ? t->tls_dir : "",
					  is_bind(t) ? TLS_SERVER : TLS_CLIENT,
					  t->tls_verify, err, sizeof(err));
		if (!t->creds) {
			tlog(t, "tls='yes': %s", err);
			return -1;
		}
	}
	/* everything else from the loop, so that no callback comes early */
	set_timer(t, 0, on_kickoff);
	return 0;
}

void transport_free(struct transport *t)
{
	struct stat st;

	if (!t)
		return;
	resolve_cancel(t);
	stop_timer(&t->timer);
	stop_timer(&t->idle);
	stop_timer(&t->lwatch);
	conn_close(t);
	if (t->lfd >= 0)
		close(t->lfd);
	/* remove the socket we made, and only that one */
	if (t->unix_made && lstat(t->chr.path, &st) == 0 &&
	    st.st_dev == t->unix_dev && st.st_ino == t->unix_ino)
		unlink(t->chr.path);
	freeaddrinfo(t->ai);
	tls_creds_free(t->creds);
	g_free(t->name);
	g_free(t->proto_name);
	g_free(t->chr.host);
	g_free(t->chr.service);
	g_free(t->chr.path);
	g_free(t->tls_dir);
	g_free(t->out);
	g_free(t->in);
	g_free(t);
}

void transport_send(struct transport *t, const void *buf, size_t len)
{
	if (t->cs != CONN_UP) {
		tdbg(t, "%zu bytes for a provider that is not connected: dropped", len);
		return;
	}
	if (len > OUT_CAP - t->out_len) {
		conn_lost(t, "the provider does not read what it is sent", true);
		return;
	}
	memcpy(t->out + t->out_len, buf, len);
	t->out_len += len;
	if (t->out_len != len)
		return;		/* already waiting to write */
	if (!flush_out(t)) {
		char why[300];

		snprintf(why, sizeof(why), "%s", t->why);
		conn_lost(t, why, true);
		return;
	}
	if (t->out_len)
		update_watch(t);
}

void transport_opened(struct transport *t)
{
	t->opened = true;
	stop_timer(&t->open_timer);
}

void transport_drop(struct transport *t, const char *why)
{
	if (t->cs == CONN_NONE)
		return;
	tlog(t, "provider connection closed: %s", why);
	conn_close(t);
	resume(t);
}

void transport_quickack(struct transport *t)
{
	int one = 1;

	if (is_tcp(t) && t->fd >= 0)
		setsockopt(t->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

bool transport_connected(const struct transport *t)
{
	return t->cs == CONN_UP;
}
