/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ccid_compat.h -- what differs between the kernels usb_f_ccid builds on
 *
 * The module is written against the current kernel interfaces and builds
 * on 6.1 and later. What older kernels spell differently is mapped here,
 * and only here. (class_create() changed its arguments in 6.4; the module
 * registers a static class instead, which every version takes alike.)
 */
#ifndef CCID_COMPAT_H
#define CCID_COMPAT_H

#include <linux/timer.h>

/* 6.16 renamed from_timer() to timer_container_of() */
#ifndef timer_container_of
#define timer_container_of(var, timer, field)	from_timer(var, timer, field)
#endif

#endif /* CCID_COMPAT_H */
