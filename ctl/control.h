/* SPDX-License-Identifier: GPL-2.0 */
/*
 * control.h -- the daemon's control socket, and its client
 *
 * A unix stream socket, mode 0600 (its owner only, normally root). A
 * client connects, writes one command line ("reload"), and reads the
 * answer to the end of the stream: lines of text, the last of which is
 * "ok" or "failed".
 */
#ifndef CCIDCTL_CONTROL_H
#define CCIDCTL_CONTROL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct control_sock {
	int fd;
	char *path;
	dev_t dev;
	ino_t ino;
};

/*
 * Listen on @path. A stale socket there (nobody answers) is replaced;
 * anything else is left alone. 0, or -EADDRINUSE (another daemon answers),
 * or another negative errno; the reason in @err.
 */
int control_listen(struct control_sock *cs, const char *path, char *err,
		   size_t errlen);
/* Close, and remove the socket if it is still ours. */
void control_close(struct control_sock *cs);

/* Whether the peer of a connected control socket may give commands. */
bool control_peer_allowed(int fd);

/*
 * Client: send @cmd to the daemon at @path, copy its answer to @out.
 * 0 if the answer ended in "ok", 1 if in "failed" (or was cut short),
 * -1 if no daemon answers (reason on stderr).
 */
int control_request(const char *path, const char *cmd, FILE *out);

#endif /* CCIDCTL_CONTROL_H */
