// SPDX-License-Identifier: GPL-2.0
/*
 * gadget.c -- configfs set-up of a gadget with ccid functions
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gadget.h"

const char *gadget_configfs(void)
{
	const char *p = getenv("CCIDCTL_CONFIGFS");

	return p && *p ? p : GADGET_DEFAULT_CONFIGFS;
}

int gadget_resolve_udc(const char *name, char *out, size_t n)
{
	const char *dir = getenv("CCIDCTL_UDC_CLASS");
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (strcmp(name, "auto")) {
		snprintf(out, n, "%s", name);
		return 0;
	}
	if (!dir || !*dir)
		dir = "/sys/class/udc";
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "ccidctl: --udc auto: %s: %s (no USB device controller driver loaded?)\n",
			dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (found++)
			break;
		snprintf(out, n, "%s", de->d_name);
	}
	closedir(d);
	if (found == 1)
		return 0;
	fprintf(stderr, "ccidctl: --udc auto: %s in %s; name one with --udc\n",
		found ? "more than one USB device controller" :
			"no USB device controller", dir);
	return -1;
}

static int write_attr(const char *dir, const char *attr, const char *val)
{
	char path[512];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

static int read_attr(const char *dir, const char *attr, char *buf, size_t n)
{
	char path[512];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -errno;
	buf[r] = '\0';
	while (r > 0 && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
		buf[--r] = '\0';
	return 0;
}

int gadget_func_dev(const char *fdir, char *dev, size_t n)
{
	char mm[32], path[128], line[256];
	FILE *f;
	int err;

	err = read_attr(fdir, "dev", mm, sizeof(mm));
	if (err)
		return err;
	snprintf(path, sizeof(path), "/sys/dev/char/%s/uevent", mm);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	err = -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "DEVNAME=", 8) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(dev, n, "/dev/%s", line + 8);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

int gadget_find_func(struct gadget_func *f)
{
	char name[64], fdir[512];
	struct dirent *de;
	struct stat st;
	int found = 0;
	DIR *d;

	snprintf(name, sizeof(name), "ccid.%u", f->index);
	d = opendir(GADGET_CONFIGFS);
	if (!d) {
		fprintf(stderr, "ccidctl: %s: %s (is configfs mounted and libcomposite loaded?)\n",
			GADGET_CONFIGFS, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(fdir, sizeof(fdir), "%s/%s/functions/%s",
			 GADGET_CONFIGFS, de->d_name, name);
		if (stat(fdir, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (found++) {
				fprintf(stderr, "ccidctl: several gadgets have a function %s; use --udc\n",
					name);
				closedir(d);
				return -1;
			}
			snprintf(f->dir, sizeof(f->dir), "%s", fdir);
		}
	}
	closedir(d);
	if (!found) {
		fprintf(stderr, "ccidctl: no gadget has a function %s for controller %u (create it, or use --udc)\n",
			name, f->index);
		return -1;
	}
	if (gadget_func_dev(f->dir, f->dev, sizeof(f->dev))) {
		fprintf(stderr, "ccidctl: %s has no char device (is the gadget bound to a UDC?)\n",
			f->dir);
		return -1;
	}
	return 0;
}

/* The gadget directory bound to udc, if any */
static int find_bound(const char *udc, char *dir, size_t n)
{
	char gdir[512], cur[128];
	struct dirent *de;
	DIR *d;
	int found = -ENOENT;

	d = opendir(GADGET_CONFIGFS);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(gdir, sizeof(gdir), "%s/%s", GADGET_CONFIGFS, de->d_name);
		if (read_attr(gdir, "UDC", cur, sizeof(cur)) == 0 &&
		    strcmp(cur, udc) == 0) {
			if (strlen(gdir) >= n) {
				found = -ENAMETOOLONG;
				break;
			}
			memcpy(dir, gdir, strlen(gdir) + 1);
			found = 0;
			break;
		}
	}
	closedir(d);
	return found;
}

static int mkdir_p(const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * A gadget's driver is named after its configfs directory
 * (/sys/bus/gadget/drivers/configfs-gadget.NAME). Taking down a gadget
 * and making one of the same name again can find the old driver still
 * there: its release runs late on a kernel with DEBUG_KOBJECT_RELEASE,
 * and binding meanwhile fails with EEXIST after a sysfs warning. Wait
 * for it to go, at most GADGET_DRIVER_WAIT_MS; then bind anyway and let
 * the kernel's error say what is wrong.
 */
#define GADGET_DRIVER_WAIT_MS 10000

static void wait_old_driver(const char *gdir)
{
	const char *name = strrchr(gdir, '/');
	struct timespec step = { 0, 100 * 1000 * 1000 };
	char path[600];
	int waited;

	snprintf(path, sizeof(path), "/sys/bus/gadget/drivers/configfs-gadget.%s",
		 name ? name + 1 : gdir);
	for (waited = 0; access(path, F_OK) == 0; waited += 100) {
		if (waited >= GADGET_DRIVER_WAIT_MS) {
			fprintf(stderr, "ccidctl: %s is still there after %d s; binding anyway\n",
				path, GADGET_DRIVER_WAIT_MS / 1000);
			return;
		}
		nanosleep(&step, NULL);
	}
}

static int create(struct gadget *g)
{
	char path[512], val[32];
	size_t i;
	int err;

	snprintf(g->dir, sizeof(g->dir), "%s/ccidctl-%s", GADGET_CONFIGFS, g->udc);
	if (mkdir(g->dir, 0755) < 0) {
		err = -errno;
		fprintf(stderr, "ccidctl: cannot create %s: %s\n", g->dir, strerror(errno));
		return err;
	}
	g->created = true;
	snprintf(val, sizeof(val), "0x%04x", g->vid);
	err = write_attr(g->dir, "idVendor", val);
	snprintf(val, sizeof(val), "0x%04x", g->pid);
	err = err ?: write_attr(g->dir, "idProduct", val);
	err = err ?: write_attr(g->dir, "bcdUSB", "0x0200");
	err = err ?: write_attr(g->dir, "bcdDevice", "0x0100");
	snprintf(path, sizeof(path), "%s/strings/0x409", g->dir);
	err = err ?: mkdir_p(path);
	err = err ?: write_attr(path, "manufacturer", "ccid-gadget");
	err = err ?: write_attr(path, "product", "ccid-gadget virtual reader");
	err = err ?: write_attr(path, "serialnumber", g->udc);
	snprintf(path, sizeof(path), "%s/configs/c.1", g->dir);
	err = err ?: mkdir_p(path);
	err = err ?: write_attr(path, "MaxPower", "100");
	snprintf(path, sizeof(path), "%s/configs/c.1/strings/0x409", g->dir);
	err = err ?: mkdir_p(path);
	err = err ?: write_attr(path, "configuration", "CCID");
	if (err) {
		fprintf(stderr, "ccidctl: setting up %s: %s\n", g->dir, strerror(-err));
		return err;
	}
	for (i = 0; i < g->nfuncs; i++) {
		struct gadget_func *f = &g->funcs[i];
		char link[600];

		snprintf(f->dir, sizeof(f->dir), "%s/functions/ccid.%u", g->dir, f->index);
		if (mkdir(f->dir, 0755) < 0) {
			err = -errno;
			fprintf(stderr, "ccidctl: cannot create %s: %s%s\n", f->dir, strerror(errno),
				errno == ENOENT ? " (is usb_f_ccid installed?)" : "");
			return err;
		}
		snprintf(val, sizeof(val), "%u", f->nslots ? f->nslots : 1);
		err = write_attr(f->dir, "nslots", val);
		if (err) {
			fprintf(stderr, "ccidctl: %s/nslots = %s: %s\n", f->dir, val, strerror(-err));
			return err;
		}
		snprintf(link, sizeof(link), "%s/configs/c.1/ccid.%u", g->dir, f->index);
		if (symlink(f->dir, link) < 0) {
			err = -errno;
			fprintf(stderr, "ccidctl: cannot link %s: %s\n", link, strerror(errno));
			return err;
		}
	}
	wait_old_driver(g->dir);
	err = write_attr(g->dir, "UDC", g->udc);
	if (err) {
		fprintf(stderr, "ccidctl: cannot bind %s to UDC %s: %s\n", g->dir, g->udc,
			strerror(-err));
		return err;
	}
	return 0;
}

int gadget_up(struct gadget *g)
{
	size_t i;
	int err;

	if (!g->vid)
		g->vid = GADGET_DEFAULT_VID;
	if (!g->pid)
		g->pid = GADGET_DEFAULT_PID;
	g->created = false;
	if (access(GADGET_CONFIGFS, F_OK) < 0) {
		fprintf(stderr, "ccidctl: %s: %s (is configfs mounted and libcomposite loaded?)\n",
			GADGET_CONFIGFS, strerror(errno));
		return -1;
	}
	err = find_bound(g->udc, g->dir, sizeof(g->dir));
	if (err == -ENOENT) {
		err = create(g);
		if (err) {
			gadget_down(g);
			return -1;
		}
	} else if (err) {
		fprintf(stderr, "ccidctl: %s: %s (is configfs mounted and libcomposite loaded?)\n",
			GADGET_CONFIGFS, strerror(-err));
		return -1;
	}
	for (i = 0; i < g->nfuncs; i++) {
		struct gadget_func *f = &g->funcs[i];

		snprintf(f->dir, sizeof(f->dir), "%s/functions/ccid.%u", g->dir, f->index);
		if (gadget_func_dev(f->dir, f->dev, sizeof(f->dev))) {
			fprintf(stderr, "ccidctl: the gadget bound to %s has no function ccid.%u with a char device\n",
				g->udc, f->index);
			if (g->created)
				gadget_down(g);
			return -1;
		}
	}
	return 0;
}

int gadget_down(struct gadget *g)
{
	char path[600];
	size_t i;
	int bad = 0;

	if (!g->created)
		return 0;
	write_attr(g->dir, "UDC", "\n");
	for (i = 0; i < g->nfuncs; i++) {
		snprintf(path, sizeof(path), "%s/configs/c.1/ccid.%u", g->dir, g->funcs[i].index);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/configs/c.1/strings/0x409", g->dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/configs/c.1", g->dir);
	rmdir(path);
	for (i = 0; i < g->nfuncs; i++) {
		snprintf(path, sizeof(path), "%s/functions/ccid.%u", g->dir, g->funcs[i].index);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/strings/0x409", g->dir);
	rmdir(path);
	if (rmdir(g->dir) < 0 && errno != ENOENT) {
		fprintf(stderr, "ccidctl: cannot remove %s: %s\n", g->dir, strerror(errno));
		bad = -1;
	}
	g->created = false;
	return bad;
}

int gadget_read_attr(const char *dir, const char *attr, char *buf, size_t n)
{
	return read_attr(dir, attr, buf, n);
}

int gadget_load(struct gadget *g, const char *udc)
{
	char fdir[512];
	struct dirent *de;
	DIR *d;

	memset(g, 0, sizeof(*g));
	snprintf(g->udc, sizeof(g->udc), "%s", udc);
	snprintf(g->dir, sizeof(g->dir), "%s/ccidctl-%s", GADGET_CONFIGFS, udc);
	snprintf(fdir, sizeof(fdir), "%s/functions", g->dir);
	d = opendir(fdir);
	if (!d) {
		fprintf(stderr, "ccidctl: no gadget %s: %s\n", g->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) && g->nfuncs < GADGET_MAX_FUNCS) {
		unsigned int idx;
		char end;

		if (sscanf(de->d_name, "ccid.%u%c", &idx, &end) == 1)
			g->funcs[g->nfuncs++].index = idx;
	}
	closedir(d);
	g->created = true;
	return 0;
}
