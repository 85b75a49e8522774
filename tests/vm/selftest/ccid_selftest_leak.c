// SPDX-License-Identifier: GPL-2.0
/*
 * A module that leaks: it allocates buffers, keeps the pointers only in
 * its own data, and does not free them when it is unloaded. Once rmmod
 * has freed the module, nothing refers to them; on the sanitizer kernel
 * kmemleak must report them and run-vm must fail the run. (Several of
 * them: a stale copy of a pointer left on a cached kernel stack keeps
 * kmemleak from reporting that one.)
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#define CCID_SELFTEST_LEAKS	32

static char *ccid_selftest_bufs[CCID_SELFTEST_LEAKS];

static int __init ccid_selftest_leak_init(void)
{
	int i;

	for (i = 0; i < CCID_SELFTEST_LEAKS; i++) {
		ccid_selftest_bufs[i] = kmalloc(256, GFP_KERNEL);
		if (!ccid_selftest_bufs[i])
			return -ENOMEM;
		/* no pointer in them, so nothing else refers to them */
		strscpy(ccid_selftest_bufs[i],
			"ccid_selftest_leak: deliberately lost", 256);
	}
	pr_info("ccid_selftest_leak: %d buffers allocated, never freed\n",
		CCID_SELFTEST_LEAKS);
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
