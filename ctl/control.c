// SPDX-License-Identifier: GPL-2.0
/*
 * control.c -- the daemon's control socket, and its client
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

static int fill_addr(struct sockaddr_un *un, const char *path)
{
	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(un->sun_path))
		return -ENAMETOOLONG;
	memcpy(un->sun_path, path, strlen(path) + 1);
	return 0;
}

int control_listen(struct control_sock *cs, const char *path, char *err,
		   size_t errlen)
{
	struct sockaddr_un un;
	struct stat st;
	mode_t old;
	int fd, r, e;

	cs->fd = -1;
	cs->path = NULL;
	if (fill_addr(&un, path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket: it is left alone",
				 path);
			return -EEXIST;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto sys;
		r = connect(fd, (struct sockaddr *)&un, sizeof(un));
		e = errno;
		close(fd);
		if (r == 0) {
			snprintf(err, errlen, "another ccidctl answers on %s", path);
			return -EADDRINUSE;
		}
		if (e != ECONNREFUSED) {
			snprintf(err, errlen, "%s: %s", path, strerror(e));
			return -e;
		}
		unlink(path);	/* stale: its daemon is gone */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto sys;
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&un, sizeof(un));
	e = errno;
	umask(old);
	if (r < 0 || listen(fd, 4) < 0) {
		if (r == 0)
			e = errno;
		close(fd);
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (lstat(path, &st) == 0) {
		cs->dev = st.st_dev;
		cs->ino = st.st_ino;
	}
	cs->fd = fd;
	cs->path = strdup(path);
	return 0;
sys:
	e = errno;
	snprintf(err, errlen, "%s: %s", path, strerror(e));
	return -e;
}

void control_close(struct control_sock *cs)
{
	struct stat st;

	if (cs->fd >= 0)
		close(cs->fd);
	cs->fd = -1;
	if (cs->path && lstat(cs->path, &st) == 0 && st.st_dev == cs->dev &&
	    st.st_ino == cs->ino)
		unlink(cs->path);
	free(cs->path);
	cs->path = NULL;
}

bool control_peer_allowed(int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return false;
	return uc.uid == 0 || uc.uid == geteuid();
}

int control_request(const char *path, const char *cmd, FILE *out)
{
	struct sockaddr_un un;
	char buf[4096], last[256] = "", cur[256];
	size_t llen = 0;
	ssize_t n;
	int fd;

	if (fill_addr(&un, path)) {
		fprintf(stderr, "ccidctl: %s: path too long\n", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
		fprintf(stderr, "ccidctl: no ccidctl daemon answers on %s: %s\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s\n", cmd);
	if (write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) {
		fprintf(stderr, "ccidctl: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	shutdown(fd, SHUT_WR);
	/* copy everything; remember the last line */
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, out);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				cur[llen < sizeof(cur) ? llen : sizeof(cur) - 1] = '\0';
				memcpy(last, cur, sizeof(last));
				llen = 0;
				continue;
			}
			if (llen < sizeof(cur) - 1)
				cur[llen] = buf[i];
			llen++;
		}
	}
	close(fd);
	fflush(out);
	return strcmp(last, "ok") == 0 ? 0 : 1;
}
