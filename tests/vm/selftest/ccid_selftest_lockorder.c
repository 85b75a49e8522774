// SPDX-License-Identifier: GPL-2.0
/*
 * A module that takes two mutexes in one order and then in the other.
 * It never deadlocks (one thread), but on the sanitizer kernel lockdep
 * must report the inversion and run-vm must fail the run.
 */
#include <linux/module.h>
#include <linux/mutex.h>

static DEFINE_MUTEX(ccid_selftest_a);
static DEFINE_MUTEX(ccid_selftest_b);

static int __init ccid_selftest_lockorder_init(void)
{
	mutex_lock(&ccid_selftest_a);
	mutex_lock(&ccid_selftest_b);
	mutex_unlock(&ccid_selftest_b);
	mutex_unlock(&ccid_selftest_a);

	mutex_lock(&ccid_selftest_b);
	mutex_lock(&ccid_selftest_a);
	mutex_unlock(&ccid_selftest_a);
	mutex_unlock(&ccid_selftest_b);
	pr_info("ccid_selftest_lockorder: took a, b and then b, a\n");
	return 0;
}

static void __exit ccid_selftest_lockorder_exit(void)
{
}

module_init(ccid_selftest_lockorder_init);
module_exit(ccid_selftest_lockorder_exit);
MODULE_DESCRIPTION("ccid-gadget VM runner self-test: a deliberate lock inversion");
MODULE_LICENSE("GPL");
