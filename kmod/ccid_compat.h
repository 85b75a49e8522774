/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccid_compat.h -- what differs between the kernels usb_f_ccid builds on
 *
 * The module is written against the current kernel interfaces and builds
 * on 6.1 and later. What older kernels spell differently is mapped here,
 * and only here, by testing for the interface itself rather than for a
 * version number.
 */
#ifndef CCID_COMPAT_H
#define CCID_COMPAT_H

#include <linux/device.h>
#include <linux/timer.h>

/* 6.12 moved the unaligned access helpers to linux/ (Kbuild looks) */
#ifdef CCID_HAVE_LINUX_UNALIGNED_H
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/*
 * class_create() lost its owner argument in 6.4, when it stopped being a
 * macro. (A static class registered with class_register() would avoid
 * the difference, but its release reads the struct class, which then
 * lives in the module: with a delayed kobject release that is after
 * rmmod.)
 */
#ifdef class_create
#define ccid_class_create(name)		class_create(THIS_MODULE, name)
#else
#define ccid_class_create(name)		class_create(name)
#endif

/* 7.0 added typed allocation helpers */
#ifndef kzalloc_obj
#define kzalloc_obj(obj, gfp)		kzalloc(sizeof(obj), gfp)
#endif

/* 6.16 renamed from_timer() to timer_container_of() */
#ifndef timer_container_of
#define timer_container_of(var, timer, field)	from_timer(var, timer, field)
#endif

#endif /* CCID_COMPAT_H */
