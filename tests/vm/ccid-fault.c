// SPDX-License-Identifier: GPL-2.0
/*
 * ccid-fault -- one system call under the kernel's fail-nth fault injection
 *
 *   ccid-fault -n N OP ARGS...
 *
 * Makes the N-th fault-injection point (slab or page allocation, as
 * enabled in debugfs) that this thread reaches during OP fail, then tells
 * whether it was reached. OP is one system call:
 *
 *   write PATH STRING     open PATH for writing (outside the injection),
 *                         then write STRING to it (a configfs attribute,
 *                         a gadget's UDC)
 *   mkdir PATH            mkdir(2) (a configfs function or gadget)
 *   rmdir PATH            rmdir(2)
 *   symlink TARGET LINK   symlink(2) (a function into a configuration)
 *   open DEV              open(2) DEV read-write, then close it outside
 *                         the injection
 *   insert DEV SLOT       open DEV (outside), CCIDG_IOC_INSERT a card into
 *                         SLOT under injection, then remove it and close
 *   status DEV            open DEV read-only (outside), CCIDG_IOC_GET_STATUS
 *
 * Prints one line: "injected rc=R errno=NAME" when the N-th point was
 * reached (and so failed), "not-injected rc=R errno=NAME" when OP finished
 * with fewer points than N. Exit status: 0 if OP succeeded, 1 if it
 * failed, 2 if ccid-fault itself could not do its work.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/usb/g_ccid.h>

/* fail-nth, opened before arming: one to write, one to read once (it
 * cannot be rewound, and opening it again would itself allocate)
 */
static int nth_fd = -1, nth_rd = -1;

static void die(const char *what)
{
	fprintf(stderr, "ccid-fault: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* Arm fail-nth for this thread: the N-th point from now fails */
static void arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (write(nth_fd, buf, len) != len)
		die("write fail-nth");
}

/* Disarm; returns 1 if the armed point was reached */
static int disarm(void)
{
	char buf[16] = "";
	ssize_t r;

	/* read first: a positive value means not reached yet */
	r = read(nth_rd, buf, sizeof(buf) - 1);
	if (r < 0)
		die("read fail-nth");
	buf[r] = 0;
	if (write(nth_fd, "0", 1) != 1)
		die("clear fail-nth");
	return atoi(buf) == 0;
}

static const char *ename(int e)
{
	static char buf[16];

	switch (e) {
	case 0: return "0";
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	case ENODEV: return "ENODEV";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EFAULT: return "EFAULT";
	case EAGAIN: return "EAGAIN";
	case EPERM: return "EPERM";
	case ENOSPC: return "ENOSPC";
	}
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

int main(int argc, char **argv)
{
	unsigned int n = 0;
	int injected, rc = -1, err = 0, fd = -1;
	const char *op;

	if (argc >= 3 && !strcmp(argv[1], "-n")) {
		n = strtoul(argv[2], NULL, 0);
		argv += 2;
		argc -= 2;
	}
	if (!n || argc < 3) {
		fprintf(stderr, "usage: ccid-fault -n N OP ARGS... (see the source)\n");
		return 2;
	}
	op = argv[1];
	nth_fd = open("/proc/thread-self/fail-nth", O_WRONLY | O_CLOEXEC);
	nth_rd = open("/proc/thread-self/fail-nth", O_RDONLY | O_CLOEXEC);
	if (nth_fd < 0 || nth_rd < 0)
		die("/proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION?)");

	if (!strcmp(op, "write") && argc == 4) {
		size_t len = strlen(argv[3]);

		fd = open(argv[2], O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			die(argv[2]);
		arm(n);
		rc = write(fd, argv[3], len);
		err = rc < 0 ? errno : 0;
		injected = disarm();
		close(fd);
	} else if (!strcmp(op, "mkdir") && argc == 3) {
		arm(n);
		rc = mkdir(argv[2], 0755);
		err = rc < 0 ? errno : 0;
		injected = disarm();
	} else if (!strcmp(op, "rmdir") && argc == 3) {
		arm(n);
		rc = rmdir(argv[2]);
		err = rc < 0 ? errno : 0;
		injected = disarm();
	} else if (!strcmp(op, "symlink") && argc == 4) {
		arm(n);
		rc = symlink(argv[2], argv[3]);
		err = rc < 0 ? errno : 0;
		injected = disarm();
	} else if (!strcmp(op, "open") && argc == 3) {
		arm(n);
		fd = open(argv[2], O_RDWR | O_CLOEXEC);
		err = fd < 0 ? errno : 0;
		injected = disarm();
		rc = fd < 0 ? -1 : 0;
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(op, "insert") && argc == 4) {
		struct ccidg_card card;
		__u32 slot = strtoul(argv[3], NULL, 0);

		fd = open(argv[2], O_RDWR | O_CLOEXEC);
		if (fd < 0)
			die(argv[2]);
		memset(&card, 0, sizeof(card));
		card.slot = slot;
		card.atr_len = 4;
		memcpy(card.atr, "\x3b\x02\x14\x50", 4);
		arm(n);
		rc = ioctl(fd, CCIDG_IOC_INSERT, &card);
		err = rc < 0 ? errno : 0;
		injected = disarm();
		if (!rc && ioctl(fd, CCIDG_IOC_REMOVE, &slot) < 0)
			die("CCIDG_IOC_REMOVE after a successful insert");
		close(fd);
	} else if (!strcmp(op, "status") && argc == 3) {
		struct ccidg_status st;

		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(argv[2]);
		arm(n);
		rc = ioctl(fd, CCIDG_IOC_GET_STATUS, &st);
		err = rc < 0 ? errno : 0;
		injected = disarm();
		close(fd);
	} else {
		fprintf(stderr, "ccid-fault: unknown operation or wrong arguments: %s\n", op);
		return 2;
	}
	printf("%s rc=%d errno=%s\n", injected ? "injected" : "not-injected",
	       rc < 0 ? -1 : rc, ename(err));
	return rc < 0 ? 1 : 0;
}
