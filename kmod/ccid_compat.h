/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccid_compat.h -- what differs between the kernels usb_f_ccid builds on
 *
 * The module is written against the current kernel interfaces and builds
 * on 6.1 and later. The few of them that older kernels spell differently
 * are mapped here, and only here.
 */
#ifndef CCID_COMPAT_H
#define CCID_COMPAT_H

#include <linux/device.h>
#include <linux/timer.h>
#include <linux/version.h>

/* 6.4 dropped the owner argument of class_create() */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
#define ccid_class_create(name)		class_create(THIS_MODULE, name)
#else
#define ccid_class_create(name)		class_create(name)
#endif

/* 6.16 renamed from_timer() to timer_container_of() */
#ifndef timer_container_of
#define timer_container_of(var, timer, field)	from_timer(var, timer, field)
#endif

#endif /* CCID_COMPAT_H */
