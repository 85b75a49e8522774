// SPDX-License-Identifier: GPL-2.0
/*
 * A module that does nothing but trigger a WARN when loaded: run-vm must
 * fail a run in which it is loaded.
 */
#include <linux/bug.h>
#include <linux/module.h>

static int __init ccid_selftest_warn_init(void)
{
	WARN(1, "ccid_selftest_warn: deliberate warning\n");
	return 0;
}

static void __exit ccid_selftest_warn_exit(void)
{
}

module_init(ccid_selftest_warn_init);
module_exit(ccid_selftest_warn_exit);
MODULE_DESCRIPTION("ccid-gadget VM runner self-test: a deliberate WARN");
MODULE_LICENSE("GPL");
