// SPDX-License-Identifier: GPL-2.0
/*
 * A module that loses the only pointer to a buffer it allocated: on the
 * sanitizer kernel, kmemleak must report it and run-vm must fail the run.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

static int __init ccid_selftest_leak_init(void)
{
	char *p = kmalloc(256, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	/* no pointer in it, so nothing else keeps the object referenced */
	strscpy(p, "ccid_selftest_leak: deliberately lost", 256);
	pr_info("ccid_selftest_leak: 256 bytes allocated and forgotten\n");
	return 0;
}

static void __exit ccid_selftest_leak_exit(void)
{
}

module_init(ccid_selftest_leak_init);
module_exit(ccid_selftest_leak_exit);
MODULE_DESCRIPTION("ccid-gadget VM runner self-test: a deliberate leak");
MODULE_LICENSE("GPL");
