/* SPDX-License-Identifier: GPL-2.0 */
/*
 * config.h -- ccidctl's configuration: readers (ccid controllers) and cards
 *
 * The model mirrors libvirt's: a <controller type='ccid' index='N'> is one
 * reader, i.e. one instance of the kernel's ccid function; a <smartcard>
 * sits in one slot of one reader, given by <address type='ccid'
 * controller='N' slot='M'/>.
 *
 * A reader (xml.c, or anything else) fills in a struct cfg with what the
 * input says, the raw facts, and cfg_resolve() then checks them and works
 * out what the input leaves implicit, the way libvirt does: the address of
 * a smartcard that has none, the controllers that smartcards refer to but
 * nobody declared, the number of slots of each reader, the NSS database.
 * After a successful cfg_resolve() every field marked "resolved" is set
 * and the cards are sorted by controller, then slot.
 */
#ifndef CCIDCTL_CONFIG_H
#define CCIDCTL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

/* The kernel function supports 1..16 slots per instance. */
#define CFG_MAX_SLOTS		16
/* Highest controller index accepted (an arbitrary but generous bound). */
#define CFG_MAX_CONTROLLER	255
#define CFG_NCERTS		3
#define CFG_DEFAULT_DATABASE	"/etc/pki/nssdb"
/* Longest unix socket path (sizeof(sockaddr_un.sun_path) - 1). */
#define CFG_MAX_UNIX_PATH	107

enum cfg_mode {
	CFG_MODE_HOST,			/* the host's card, through NSS */
	CFG_MODE_HOST_CERTIFICATES,	/* a CAC card made of 3 NSS certs */
	CFG_MODE_PASSTHROUGH,		/* a remote card over a chardev */
};

enum cfg_chr_type {
	CFG_CHR_NONE,		/* no type attribute */
	CFG_CHR_TCP,
	CFG_CHR_UNIX,
	CFG_CHR_OTHER,		/* a libvirt type ccidctl cannot serve */
};

enum cfg_chr_mode {
	CFG_CHR_CONNECT,	/* ccidctl connects to the card provider */
	CFG_CHR_BIND,		/* ccidctl listens, the provider connects */
};

enum cfg_wire {
	CFG_WIRE_VSCARD,	/* QEMU ccid-card-passthru / libcacard */
	CFG_WIRE_VPCD,		/* vsmartcard's vpcd/vicc */
};

/* libvirt's <protocol type='...'> of a tcp chardev */
enum cfg_chr_proto {
	CFG_PROTO_DEFAULT,	/* no <protocol>: raw */
	CFG_PROTO_RAW,
	CFG_PROTO_OTHER,	/* telnet, telnets, tls: refused */
};

struct cfg_chardev {
	enum cfg_chr_type type;
	char *type_name;	/* as written, for messages */
	unsigned int nsources;	/* <source> elements seen */
	unsigned long src_line;
	bool mode_given;
	enum cfg_chr_mode mode;	/* resolved: connect unless given */
	char *host;		/* tcp */
	char *service;		/* tcp: port number or service name */
	char *path;		/* unix */
	bool tls_given;		/* a tls attribute on <source> */
	bool tls;		/* tls='yes': TLS with x509 credentials */
	enum cfg_chr_proto proto;
	char *proto_name;
	bool reconnect_given;
	bool reconnect;		/* <reconnect enabled='yes'> */
	bool timeout_given;
	unsigned int reconnect_timeout;	/* seconds */
	char *odd_child;	/* first unexpected child element of <source> */
	unsigned long odd_line;
};

struct cfg_card {
	unsigned long line;	/* of <smartcard> */
	enum cfg_mode mode;
	char *alias;		/* <alias name=...>, may be NULL */

	/* <address>: as given, then resolved */
	bool has_address;
	unsigned long addr_line;
	char *addr_type;	/* non-NULL if not 'ccid' (refused) */
	unsigned int controller;	/* resolved */
	unsigned int slot;		/* resolved */
	bool addr_assigned;	/* resolved: ccidctl chose the address */

	/* host-certificates */
	unsigned int ncerts;	/* <certificate> elements seen */
	unsigned long cert_line[CFG_NCERTS];
	char *cert[CFG_NCERTS];	/* the first three */
	bool database_given;
	unsigned long database_line;
	char *database;		/* resolved: CFG_DEFAULT_DATABASE if absent */

	/* passthrough */
	struct cfg_chardev chr;
	bool wire_given;
	enum cfg_wire wire;	/* resolved: vscard unless given */
};

struct cfg_controller {
	unsigned long line;	/* 0 for an implied controller */
	bool index_given;
	unsigned int index;	/* resolved */
	bool implied;		/* resolved: a smartcard refers to it */
	unsigned int slots_declared;	/* ccid:slots, 0 if absent */
	unsigned int nslots;	/* resolved: 1..CFG_MAX_SLOTS */
	unsigned int ncards;	/* resolved */
};

struct cfg {
	struct cfg_controller *ctrls;
	size_t nctrls;
	struct cfg_card *cards;
	size_t ncards;
};

struct cfg *cfg_new(void);
void cfg_free(struct cfg *cfg);

/*
 * One card on its own: a deep copy (0 or -ENOMEM), its release, and
 * whether two resolved cards describe the same card (same address, mode,
 * certificates, database, chardev and wire protocol; aliases and line
 * numbers do not count). A reload keeps a card whose description is equal.
 */
int cfg_card_copy(struct cfg_card *dst, const struct cfg_card *src);
void cfg_card_release(struct cfg_card *c);
bool cfg_card_equal(const struct cfg_card *a, const struct cfg_card *b);

/* Append a zeroed entry; NULL when out of memory. */
struct cfg_card *cfg_add_card(struct cfg *cfg);
struct cfg_controller *cfg_add_controller(struct cfg *cfg);

/*
 * Check everything and fill in what was left implicit. Reports every
 * problem found to @d; returns 0 if there was none, -1 otherwise.
 */
int cfg_resolve(struct cfg *cfg, struct diag *d);

const struct cfg_controller *cfg_find_controller(const struct cfg *cfg,
						 unsigned int index);

const char *cfg_mode_name(enum cfg_mode mode);
const char *cfg_wire_name(enum cfg_wire wire);
const char *cfg_chr_mode_name(enum cfg_chr_mode mode);

/* Print the resolved configuration, as `ccidctl validate` shows it. */
void cfg_print(const struct cfg *cfg, FILE *f);

#endif /* CCIDCTL_CONFIG_H */
