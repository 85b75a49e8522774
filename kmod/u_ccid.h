/* SPDX-License-Identifier: GPL-2.0 */
/*
 * u_ccid.h -- the configfs instance of the USB CCID gadget function
 */
#ifndef U_CCID_H
#define U_CCID_H

#include <linux/mutex.h>
#include <linux/usb/composite.h>

#include "ccid_engine.h"

/**
 * struct f_ccid_opts - one functions/ccid.NAME directory
 * @func_inst: the instance the gadget framework knows
 * @minor: the minor of /dev/ccidg<minor>, fixed for the instance's life
 * @lock: protects everything below
 * @refcnt: functions made from this instance and linked into a
 *	configuration; the attributes are read-only while it is not 0
 * @cfg: the values of the attributes
 * @busy_slots_set: busy_slots was written; else it follows nslots
 */
struct f_ccid_opts {
	struct usb_function_instance func_inst;
	int minor;
	struct mutex lock;	/* the fields below */
	int refcnt;
	struct ccid_config cfg;
	bool busy_slots_set;
};

#endif /* U_CCID_H */
