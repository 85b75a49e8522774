/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gadget.h -- configfs set-up of a gadget with ccid functions
 *
 * Controller index N of the XML is the function instance named ccid.N. A
 * gadget bound to the UDC asked for is used as it is; otherwise one is
 * created (named ccidctl-<udc>) with a ccid.N function per controller and
 * bound, and gadget_down() removes exactly what gadget_up() created.
 */
#ifndef CCIDCTL_GADGET_H
#define CCIDCTL_GADGET_H

#include <stdbool.h>
#include <stddef.h>

#define GADGET_MAX_FUNCS	16
#define GADGET_DEFAULT_VID	0x08e6
#define GADGET_DEFAULT_PID	0x4433
#define GADGET_DEFAULT_CONFIGFS	"/sys/kernel/config/usb_gadget"

/* The gadgets' configfs directory: $CCIDCTL_CONFIGFS, or the default */
const char *gadget_configfs(void);
#define GADGET_CONFIGFS		gadget_configfs()

struct gadget_func {
	unsigned int index;	/* controller index, instance ccid.<index> */
	unsigned int nslots;	/* wanted (0: leave as found) */
	char dir[512];		/* configfs directory of the instance */
	char dev[64];		/* /dev/ccidgN */
};

struct gadget {
	char udc[64];
	char dir[256];		/* configfs directory of the gadget */
	bool created;		/* gadget_up() made it and bound it */
	unsigned int vid, pid;
	size_t nfuncs;
	struct gadget_func funcs[GADGET_MAX_FUNCS];
};

/*
 * Find or create the gadget on udc with the functions in g->funcs (index
 * and nslots filled by the caller), fill in their dir and dev. Errors are
 * printed to stderr; returns 0 or -1.
 */
int gadget_up(struct gadget *g);
/* Undo what gadget_up() created; leave what it found. 0 or -1. */
int gadget_down(struct gadget *g);
/*
 * Without a UDC: find the function instance ccid.<index> in any gadget
 * and its /dev node. 0 or -1 with a message on stderr.
 */
int gadget_find_func(struct gadget_func *f);
/* /dev path of the char device of a function directory; 0 or -errno */
int gadget_func_dev(const char *fdir, char *dev, size_t n);

/*
 * The gadget ccidctl-<udc> that `gadget up` left: fill g (dir, funcs) and
 * mark it as ccidctl's, so that gadget_down() removes it. 0 or -1.
 */
int gadget_load(struct gadget *g, const char *udc);

/*
 * The UDC that --udc @name means: @name itself, or for "auto" the only
 * one in /sys/class/udc ($CCIDCTL_UDC_CLASS). 0, or -1 with a message.
 */
int gadget_resolve_udc(const char *name, char *out, size_t n);

/* Read a configfs attribute into buf (trailing newline removed). 0/-errno */
int gadget_read_attr(const char *dir, const char *attr, char *buf, size_t n);

#endif /* CCIDCTL_GADGET_H */
