// SPDX-License-Identifier: GPL-2.0
/*
 * config.c -- checking a configuration and resolving its defaults
 *
 * Address assignment follows libvirt (virDomainDefMaybeAddSmartcardController
 * in src/conf/domain_conf.c): a smartcard without an address goes to
 * controller 0, into the slot after the highest one any smartcard on
 * controller 0 occupies, explicit addresses and earlier assignments alike,
 * in document order. Where that slot would lie beyond the reader's 16
 * slots, ccidctl takes the lowest free one instead (a case libvirt leaves
 * to QEMU to refuse). Every controller a smartcard refers to exists, and is
 * implied if it was not declared.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

struct cfg *cfg_new(void)
{
	return calloc(1, sizeof(struct cfg));
}

void cfg_card_release(struct cfg_card *c)
{
	int i;

	free(c->alias);
	free(c->addr_type);
	for (i = 0; i < CFG_NCERTS; i++)
		free(c->cert[i]);
	free(c->database);
	free(c->chr.type_name);
	free(c->chr.host);
	free(c->chr.service);
	free(c->chr.path);
	free(c->chr.proto_name);
	free(c->chr.odd_child);
	memset(c, 0, sizeof(*c));
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

int cfg_card_copy(struct cfg_card *dst, const struct cfg_card *src)
{
	int err = 0, i;

	*dst = *src;
	err |= dup_str(&dst->alias, src->alias);
	err |= dup_str(&dst->addr_type, src->addr_type);
	for (i = 0; i < CFG_NCERTS; i++)
		err |= dup_str(&dst->cert[i], src->cert[i]);
	err |= dup_str(&dst->database, src->database);
	err |= dup_str(&dst->chr.type_name, src->chr.type_name);
	err |= dup_str(&dst->chr.host, src->chr.host);
	err |= dup_str(&dst->chr.service, src->chr.service);
	err |= dup_str(&dst->chr.path, src->chr.path);
	err |= dup_str(&dst->chr.proto_name, src->chr.proto_name);
	err |= dup_str(&dst->chr.odd_child, src->chr.odd_child);
	if (err) {
		cfg_card_release(dst);
		return -ENOMEM;
	}
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool cfg_card_equal(const struct cfg_card *a, const struct cfg_card *b)
{
	const struct cfg_chardev *x = &a->chr, *y = &b->chr;
	int i;

	if (a->controller != b->controller || a->slot != b->slot ||
	    a->mode != b->mode)
		return false;
	if (a->mode == CFG_MODE_HOST_CERTIFICATES) {
		for (i = 0; i < CFG_NCERTS; i++)
			if (!str_eq(a->cert[i], b->cert[i]))
				return false;
		if (!str_eq(a->database, b->database))
			return false;
	}
	if (a->mode != CFG_MODE_PASSTHROUGH)
		return true;
	return a->wire == b->wire && x->type == y->type &&
	       x->mode == y->mode && str_eq(x->host, y->host) &&
	       str_eq(x->service, y->service) && str_eq(x->path, y->path) &&
	       x->tls == y->tls && x->reconnect == y->reconnect &&
	       (!x->reconnect || x->reconnect_timeout == y->reconnect_timeout);
}

void cfg_free(struct cfg *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->ncards; i++)
		cfg_card_release(&cfg->cards[i]);
	free(cfg->cards);
	free(cfg->ctrls);
	free(cfg);
}

static void *grow(void *array, size_t n, size_t size)
{
	void *p;

	if (n + 1 > SIZE_MAX / size)
		return NULL;
	p = realloc(array, (n + 1) * size);
	if (p)
		memset((char *)p + n * size, 0, size);
	return p;
}

struct cfg_card *cfg_add_card(struct cfg *cfg)
{
	struct cfg_card *p = grow(cfg->cards, cfg->ncards, sizeof(*p));

	if (!p)
		return NULL;
	cfg->cards = p;
	return &cfg->cards[cfg->ncards++];
}

struct cfg_controller *cfg_add_controller(struct cfg *cfg)
{
	struct cfg_controller *p = grow(cfg->ctrls, cfg->nctrls, sizeof(*p));

	if (!p)
		return NULL;
	cfg->ctrls = p;
	return &cfg->ctrls[cfg->nctrls++];
}

const char *cfg_mode_name(enum cfg_mode mode)
{
	switch (mode) {
	case CFG_MODE_HOST:
		return "host";
	case CFG_MODE_HOST_CERTIFICATES:
		return "host-certificates";
	case CFG_MODE_PASSTHROUGH:
		return "passthrough";
	}
	return "?";
}

const char *cfg_wire_name(enum cfg_wire wire)
{
	return wire == CFG_WIRE_VPCD ? "vpcd" : "vscard";
}

const char *cfg_chr_mode_name(enum cfg_chr_mode mode)
{
	return mode == CFG_CHR_BIND ? "bind" : "connect";
}

const struct cfg_controller *cfg_find_controller(const struct cfg *cfg,
						 unsigned int index)
{
	size_t i;

	for (i = 0; i < cfg->nctrls; i++)
		if (cfg->ctrls[i].index == index)
			return &cfg->ctrls[i];
	return NULL;
}

static bool has_ctl_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* libcacard's option string separates nicknames with ',' inside "(...)". */
static void check_certificates(const struct cfg_card *c, struct diag *d)
{
	unsigned int i;

	if (c->ncerts != CFG_NCERTS) {
		diag_add(d, c->line,
			 "smartcard mode='host-certificates' needs exactly three <certificate>, found %u",
			 c->ncerts);
		return;
	}
	for (i = 0; i < CFG_NCERTS; i++) {
		const char *n = c->cert[i] ? c->cert[i] : "";

		if (!*n)
			diag_add(d, c->cert_line[i],
				 "<certificate> is empty: it must name an NSS certificate (its nickname)");
		else if (strpbrk(n, ",()") || has_ctl_chars(n))
			diag_add(d, c->cert_line[i],
				 "certificate nickname '%s' cannot be used: it contains ',', '(', ')' or a control character",
				 n);
	}
}

static void check_database(struct cfg_card *c, struct diag *d)
{
	if (!c->database_given)
		return;
	if (!c->database || c->database[0] != '/')
		diag_add(d, c->database_line,
			 "<database> must be an absolute directory path, not '%s'",
			 c->database ? c->database : "");
	else if (strchr(c->database, '"') || has_ctl_chars(c->database))
		diag_add(d, c->database_line,
			 "<database> path '%s' contains '\"' or a control character",
			 c->database);
}

static bool service_ok(const char *s)
{
	unsigned long port = 0;
	const char *p;
	bool digits = true;

	if (!*s || strlen(s) > 32)
		return false;
	for (p = s; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535)
				return false;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   *p == '-' || *p == '_') {
			digits = false;
		} else {
			return false;
		}
	}
	return !digits || port > 0;
}

static void check_chardev(struct cfg_card *c, struct diag *d)
{
	struct cfg_chardev *chr = &c->chr;
	unsigned long sl = chr->src_line ? chr->src_line : c->line;

	switch (chr->type) {
	case CFG_CHR_NONE:
		diag_add(d, c->line,
			 "smartcard mode='passthrough' needs a type attribute: type='tcp' or type='unix'");
		return;
	case CFG_CHR_OTHER:
		diag_add(d, c->line,
			 "smartcard mode='passthrough' type='%s' is not supported: ccidctl can carry a card only over type='tcp' or type='unix'",
			 chr->type_name ? chr->type_name : "?");
		return;
	case CFG_CHR_TCP:
	case CFG_CHR_UNIX:
		break;
	}

	if (chr->nsources == 0) {
		diag_add(d, c->line,
			 "smartcard type='%s' needs a <source> element",
			 chr->type_name);
		return;
	}
	if (chr->nsources > 1) {
		diag_add(d, c->line,
			 "smartcard type='%s' takes one <source> element, found %u",
			 chr->type_name, chr->nsources);
		return;
	}

	if (chr->type == CFG_CHR_TCP) {
		if (!chr->host || !*chr->host)
			diag_add(d, sl, "<source> of type='tcp' needs a host attribute");
		else if (has_ctl_chars(chr->host))
			diag_add(d, sl, "<source> host contains a control character");
		if (!chr->service || !*chr->service)
			diag_add(d, sl, "<source> of type='tcp' needs a service attribute (the port)");
		else if (!service_ok(chr->service))
			diag_add(d, sl,
				 "<source> service='%s' is not a port number (1-65535) or service name",
				 chr->service);
		if (chr->path)
			diag_add(d, sl, "<source> of type='tcp' takes no path attribute");
	} else {
		if (!chr->path || !*chr->path)
			diag_add(d, sl, "<source> of type='unix' needs a path attribute");
		else if (chr->path[0] != '/')
			diag_add(d, sl,
				 "<source> path='%s' must be an absolute path",
				 chr->path);
		else if (strlen(chr->path) > CFG_MAX_UNIX_PATH)
			diag_add(d, sl,
				 "<source> path is %zu bytes long, a unix socket path has at most %d",
				 strlen(chr->path), CFG_MAX_UNIX_PATH);
		if (chr->host || chr->service)
			diag_add(d, sl, "<source> of type='unix' takes no host or service attribute");
		if (chr->tls)
			diag_add(d, sl,
				 "<source tls='yes'> applies to type='tcp' only; a unix socket is protected by its file mode");
	}
	if (chr->odd_child)
		diag_add(d, chr->odd_line,
			 "<source> of type='%s' has no <%s> child (it belongs to another chardev type)",
			 chr->type_name, chr->odd_child);

	if (chr->proto == CFG_PROTO_OTHER)
		diag_add(d, c->line,
			 "<protocol type='%s'> is not supported: ccidctl speaks type='raw' only (for TLS, use <source tls='yes'>)",
			 chr->proto_name ? chr->proto_name : "?");

	if (chr->reconnect_given) {
		if (chr->mode == CFG_CHR_BIND)
			diag_add(d, sl,
				 "<reconnect> is possible only with <source mode='connect'>");
		else if (chr->reconnect && !chr->timeout_given)
			diag_add(d, sl,
				 "<reconnect enabled='yes'> needs a timeout attribute (seconds)");
		else if (chr->reconnect && chr->reconnect_timeout == 0)
			diag_add(d, sl, "<reconnect> timeout must be at least 1 second");
	}
}

static void check_card(struct cfg_card *c, struct diag *d)
{
	const char *mode = cfg_mode_name(c->mode);

	if (c->mode == CFG_MODE_HOST_CERTIFICATES) {
		check_certificates(c, d);
		check_database(c, d);
	} else {
		if (c->ncerts)
			diag_add(d, c->cert_line[0],
				 "smartcard mode='%s' takes no <certificate> (found %u); certificates belong to mode='host-certificates'",
				 mode, c->ncerts);
		if (c->database_given)
			diag_add(d, c->database_line,
				 "smartcard mode='%s' takes no <database>; it belongs to mode='host-certificates'",
				 mode);
	}

	if (c->mode == CFG_MODE_PASSTHROUGH) {
		check_chardev(c, d);
	} else {
		if (c->chr.type != CFG_CHR_NONE)
			diag_add(d, c->line,
				 "smartcard mode='%s' takes no type attribute; it belongs to mode='passthrough'",
				 mode);
		if (c->chr.nsources)
			diag_add(d, c->chr.src_line,
				 "smartcard mode='%s' takes no <source>; it belongs to mode='passthrough'",
				 mode);
		if (c->chr.proto != CFG_PROTO_DEFAULT)
			diag_add(d, c->line,
				 "smartcard mode='%s' takes no <protocol>; it belongs to mode='passthrough'",
				 mode);
		if (c->wire_given)
			diag_add(d, c->line,
				 "<ccid:wire> applies to mode='passthrough' only, not mode='%s'",
				 mode);
	}

	if (c->has_address) {
		if (c->addr_type)
			diag_add(d, c->addr_line,
				 "smartcard <address type='%s'> is not supported: a smartcard's address has type='ccid'",
				 c->addr_type);
		if (c->controller > CFG_MAX_CONTROLLER)
			diag_add(d, c->addr_line,
				 "controller='%u' is out of range: at most %d",
				 c->controller, CFG_MAX_CONTROLLER);
		if (c->slot >= CFG_MAX_SLOTS)
			diag_add(d, c->addr_line,
				 "slot='%u' is out of range: a reader has slots 0-%d",
				 c->slot, CFG_MAX_SLOTS - 1);
	}
}

static int ctrl_cmp(const void *a, const void *b)
{
	const struct cfg_controller *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

static int card_cmp(const void *a, const void *b)
{
	const struct cfg_card *x = a, *y = b;

	if (x->controller != y->controller)
		return (x->controller > y->controller) -
		       (x->controller < y->controller);
	if (x->slot != y->slot)
		return (x->slot > y->slot) - (x->slot < y->slot);
	return (x->line > y->line) - (x->line < y->line);
}

/* Give declared controllers without index the lowest unused ones. */
static int resolve_controller_indexes(struct cfg *cfg, struct diag *d)
{
	size_t i, j;
	int err = 0;

	for (i = 0; i < cfg->nctrls; i++) {
		struct cfg_controller *ci = &cfg->ctrls[i];

		if (!ci->index_given)
			continue;
		if (ci->index > CFG_MAX_CONTROLLER) {
			diag_add(d, ci->line,
				 "controller index='%u' is out of range: at most %d",
				 ci->index, CFG_MAX_CONTROLLER);
			err = -1;
			continue;
		}
		for (j = 0; j < i; j++) {
			if (cfg->ctrls[j].index_given &&
			    cfg->ctrls[j].index == ci->index) {
				diag_add(d, ci->line,
					 "<controller type='ccid' index='%u'> is declared twice (first at line %lu)",
					 ci->index, cfg->ctrls[j].line);
				err = -1;
				break;
			}
		}
	}
	for (i = 0; i < cfg->nctrls; i++) {
		struct cfg_controller *ci = &cfg->ctrls[i];
		unsigned int idx;

		if (ci->index_given)
			continue;
		for (idx = 0; idx <= CFG_MAX_CONTROLLER; idx++) {
			for (j = 0; j < cfg->nctrls; j++)
				if (j != i && cfg->ctrls[j].index_given &&
				    cfg->ctrls[j].index == idx)
					break;
			if (j == cfg->nctrls)
				break;
		}
		if (idx > CFG_MAX_CONTROLLER) {
			diag_add(d, ci->line, "no free controller index left");
			err = -1;
		}
		ci->index = idx;
		ci->index_given = true;
	}
	return err;
}

static int assign_addresses(struct cfg *cfg, struct diag *d)
{
	unsigned int used = 0;	/* bitmap of controller 0's slots */
	int max = -1;		/* highest slot in use on controller 0 */
	size_t i;
	int err = 0;

	for (i = 0; i < cfg->ncards; i++) {
		const struct cfg_card *o = &cfg->cards[i];

		if (!o->has_address || o->controller != 0 ||
		    o->slot >= CFG_MAX_SLOTS)
			continue;
		used |= 1u << o->slot;
		if ((int)o->slot > max)
			max = (int)o->slot;
	}
	for (i = 0; i < cfg->ncards; i++) {
		struct cfg_card *c = &cfg->cards[i];
		unsigned int slot;

		if (c->has_address || c->addr_assigned)
			continue;
		if (max + 1 < CFG_MAX_SLOTS) {
			slot = (unsigned int)(max + 1);
		} else {
			for (slot = 0; slot < CFG_MAX_SLOTS; slot++)
				if (!(used & (1u << slot)))
					break;
			if (slot == CFG_MAX_SLOTS) {
				diag_add(d, c->line,
					 "no free slot on controller 0 for this smartcard: all %d are taken",
					 CFG_MAX_SLOTS);
				err = -1;
				continue;
			}
		}
		c->controller = 0;
		c->slot = slot;
		c->addr_assigned = true;
		used |= 1u << slot;
		if ((int)slot > max)
			max = (int)slot;
	}
	return err;
}

static int check_duplicates(struct cfg *cfg, struct diag *d)
{
	size_t i, j;
	int err = 0;

	for (i = 0; i < cfg->ncards; i++) {
		const struct cfg_card *c = &cfg->cards[i];

		if (!c->has_address && !c->addr_assigned)
			continue;
		for (j = 0; j < i; j++) {
			const struct cfg_card *o = &cfg->cards[j];

			if ((o->has_address || o->addr_assigned) &&
			    o->controller == c->controller &&
			    o->slot == c->slot) {
				diag_add(d, c->line,
					 "two smartcards in controller %u slot %u: this one and the one at line %lu",
					 c->controller, c->slot, o->line);
				err = -1;
				break;
			}
		}
	}
	return err;
}

static int add_implied_controllers(struct cfg *cfg, struct diag *d)
{
	size_t i;

	for (i = 0; i < cfg->ncards; i++) {
		unsigned int idx = cfg->cards[i].controller;
		struct cfg_controller *ctl;

		if (cfg_find_controller(cfg, idx))
			continue;
		ctl = cfg_add_controller(cfg);
		if (!ctl) {
			diag_add(d, 0, "out of memory");
			return -1;
		}
		ctl->index = idx;
		ctl->index_given = true;
		ctl->implied = true;
	}
	return 0;
}

static int size_controllers(struct cfg *cfg, struct diag *d)
{
	size_t i, j;
	int err = 0;

	for (i = 0; i < cfg->nctrls; i++) {
		struct cfg_controller *ctl = &cfg->ctrls[i];
		const struct cfg_card *top = NULL;
		unsigned int need = 1;

		ctl->ncards = 0;
		for (j = 0; j < cfg->ncards; j++) {
			const struct cfg_card *c = &cfg->cards[j];

			if (c->controller != ctl->index)
				continue;
			ctl->ncards++;
			if (c->slot + 1 > need) {
				need = c->slot + 1;
				top = c;
			}
		}
		if (!ctl->slots_declared) {
			ctl->nslots = need;
			continue;
		}
		if (ctl->slots_declared > CFG_MAX_SLOTS) {
			diag_add(d, ctl->line,
				 "ccid:slots='%u' is out of range: a reader has 1-%d slots",
				 ctl->slots_declared, CFG_MAX_SLOTS);
			err = -1;
		} else if (top && ctl->slots_declared < need) {
			diag_add(d, top->line,
				 "smartcard in slot %u, but controller %u has ccid:slots='%u' (slots 0-%u)",
				 top->slot, ctl->index, ctl->slots_declared,
				 ctl->slots_declared - 1);
			err = -1;
		}
		ctl->nslots = ctl->slots_declared;
	}
	return err;
}

int cfg_resolve(struct cfg *cfg, struct diag *d)
{
	size_t before = diag_count(d);
	size_t i;
	int err = 0;

	for (i = 0; i < cfg->ncards; i++) {
		struct cfg_card *c = &cfg->cards[i];

		check_card(c, d);
		if (c->mode == CFG_MODE_HOST_CERTIFICATES && !c->database_given &&
		    !c->database) {
			c->database = strdup(CFG_DEFAULT_DATABASE);
			if (!c->database) {
				diag_add(d, 0, "out of memory");
				return -1;
			}
		}
		if (!c->wire_given)
			c->wire = CFG_WIRE_VSCARD;
		if (!c->chr.mode_given)
			c->chr.mode = CFG_CHR_CONNECT;
	}
	/* Bad addresses would only produce confusing follow-up errors. */
	if (diag_count(d) != before)
		return -1;

	if (resolve_controller_indexes(cfg, d) < 0)
		err = -1;
	if (assign_addresses(cfg, d) < 0)
		err = -1;
	if (check_duplicates(cfg, d) < 0)
		err = -1;
	if (err)
		return -1;
	if (add_implied_controllers(cfg, d) < 0)
		return -1;
	if (size_controllers(cfg, d) < 0)
		return -1;

	if (cfg->nctrls > 1)
		qsort(cfg->ctrls, cfg->nctrls, sizeof(*cfg->ctrls), ctrl_cmp);
	if (cfg->ncards > 1)
		qsort(cfg->cards, cfg->ncards, sizeof(*cfg->cards), card_cmp);
	return diag_count(d) == before ? 0 : -1;
}

static void print_chardev(const struct cfg_card *c, FILE *f)
{
	const struct cfg_chardev *chr = &c->chr;

	if (chr->type == CFG_CHR_TCP)
		fprintf(f, "    chardev: tcp %s host=%s service=%s protocol=raw",
			cfg_chr_mode_name(chr->mode), chr->host, chr->service);
	else
		fprintf(f, "    chardev: unix %s path=%s",
			cfg_chr_mode_name(chr->mode), chr->path);
	if (chr->reconnect)
		fprintf(f, " reconnect=%us", chr->reconnect_timeout);
	else
		fprintf(f, " reconnect=no");
	if (chr->type == CFG_CHR_TCP)
		fprintf(f, " tls=%s", chr->tls ? "yes" : "no");
	fputc('\n', f);
	fprintf(f, "    wire protocol: %s%s\n", cfg_wire_name(c->wire),
		c->wire_given ? "" : " (default)");
}

void cfg_print(const struct cfg *cfg, FILE *f)
{
	size_t i, j;

	for (i = 0; i < cfg->nctrls; i++) {
		const struct cfg_controller *ctl = &cfg->ctrls[i];

		fprintf(f, "controller %u: %u slot%s, %u smartcard%s%s\n",
			ctl->index, ctl->nslots, ctl->nslots == 1 ? "" : "s",
			ctl->ncards, ctl->ncards == 1 ? "" : "s",
			ctl->implied ? " (implied)" : "");
		for (j = 0; j < cfg->ncards; j++) {
			const struct cfg_card *c = &cfg->cards[j];

			if (c->controller != ctl->index)
				continue;
			fprintf(f, "  smartcard controller=%u slot=%u%s (line %lu)\n",
				c->controller, c->slot,
				c->addr_assigned ? " (assigned)" : "", c->line);
			fprintf(f, "    mode: %s\n", cfg_mode_name(c->mode));
			if (c->alias)
				fprintf(f, "    alias: %s\n", c->alias);
			if (c->mode == CFG_MODE_HOST_CERTIFICATES) {
				fprintf(f, "    certificates: '%s' '%s' '%s'\n",
					c->cert[0], c->cert[1], c->cert[2]);
				fprintf(f, "    database: %s%s\n", c->database,
					c->database_given ? "" : " (default)");
			}
			if (c->mode == CFG_MODE_PASSTHROUGH)
				print_chardev(c, f);
		}
	}
	if (!cfg->ncards)
		fprintf(f, "no smartcards\n");
}
