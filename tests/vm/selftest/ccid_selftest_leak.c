// SPDX-License-Identifier: GPL-2.0
/*
 * A module that leaks, in the two ways a driver does:
 *
 * - buffers whose only pointer is dropped at once (size 256), as the
 *   kernel's own samples/kmemleak test module leaks;
 * - buffers whose pointers sit in the module's data and are not freed
 *   when it is unloaded (size 192).
 *
 * On the sanitizer kernel kmemleak must report them and run-vm must fail
 * the run. (Several of each: a stale copy of a pointer left on a cached
 * kernel stack keeps kmemleak from reporting that one.)
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#define CCID_SELFTEST_LEAKS	16

static char *ccid_selftest_bufs[CCID_SELFTEST_LEAKS];

static int __init ccid_selftest_leak_init(void)
{
	char *p;
	int i;

	for (i = 0; i < CCID_SELFTEST_LEAKS; i++) {
		p = kmalloc(256, GFP_KERNEL);
		if (!p)
			return -ENOMEM;
		/* no pointer in it, so nothing refers to it once p is reused */
		strscpy(p, "ccid_selftest_leak: lost at once", 256);
		ccid_selftest_bufs[i] = kmalloc(192, GFP_KERNEL);
		if (!ccid_selftest_bufs[i])
			return -ENOMEM;
		strscpy(ccid_selftest_bufs[i],
			"ccid_selftest_leak: lost at unload", 192);
	}
	pr_info("ccid_selftest_leak: %d + %d buffers allocated, never freed\n",
		CCID_SELFTEST_LEAKS, CCID_SELFTEST_LEAKS);
	return 0;
}

static void __exit ccid_selftest_leak_exit(void)
{
	/* deliberately nothing */
}

module_init(ccid_selftest_leak_init);
module_exit(ccid_selftest_leak_exit);
MODULE_DESCRIPTION("ccid-gadget VM runner self-test: a deliberate leak");
MODULE_LICENSE("GPL");
