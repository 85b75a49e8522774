// SPDX-License-Identifier: GPL-2.0
/*
 * A module that loads and unloads quietly: run-vm must pass a run in which
 * it is loaded.
 */
#include <linux/module.h>
#include <linux/printk.h>

static int __init ccid_selftest_good_init(void)
{
	pr_info("ccid_selftest_good: loaded\n");
	return 0;
}

static void __exit ccid_selftest_good_exit(void)
{
	pr_info("ccid_selftest_good: unloaded\n");
}

module_init(ccid_selftest_good_init);
module_exit(ccid_selftest_good_exit);
MODULE_DESCRIPTION("ccid-gadget VM runner self-test: a module that behaves");
MODULE_LICENSE("GPL");
