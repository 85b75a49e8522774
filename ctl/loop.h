/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loop.h -- watching a descriptor on GLib's default main context, cheaply
 *
 * GLib blocks a source while it dispatches it (so that it cannot recurse)
 * by taking its descriptor out of the poll set and putting it back, and
 * each change wakes the context up: two eventfd writes, one more poll()
 * and one read per dispatch. On the APDU path, under QEMU's TCG, that
 * doubled the system calls per APDU. ccidctl never runs a nested loop, so
 * its watches may "recurse" and are never blocked.
 */
#ifndef CCIDCTL_LOOP_H
#define CCIDCTL_LOOP_H

#include <glib.h>
#include <glib-unix.h>

static inline guint loop_watch_fd(int fd, GIOCondition cond,
				  GUnixFDSourceFunc fn, gpointer data)
{
	GSource *src = g_unix_fd_source_new(fd, cond);
	guint id;

	g_source_set_callback(src, (GSourceFunc)(void (*)(void))fn, data, NULL);
	g_source_set_can_recurse(src, TRUE);
	id = g_source_attach(src, NULL);
	g_source_unref(src);
	return id;
}

#endif /* CCIDCTL_LOOP_H */
