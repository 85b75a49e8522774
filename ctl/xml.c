// SPDX-License-Identifier: GPL-2.0
/*
 * xml.c -- reading libvirt <smartcard> XML into a struct cfg
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/relaxng.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "xml.h"

/* Where `make install` and the package put the schema */
#ifndef CCIDCTL_SCHEMA_DIR
#define CCIDCTL_SCHEMA_DIR "/usr/share/ccid-gadget"
#endif
/* The source tree a program was built in ("": none) and its schema */
#ifndef CCIDCTL_TREE_DIR
#define CCIDCTL_TREE_DIR ""
#endif
#ifndef CCIDCTL_SCHEMA_SRC
#define CCIDCTL_SCHEMA_SRC "docs/schemas"
#endif
#define SCHEMA_FILE	"ccidctl.rng"


/*
 * State of one load, reached from libxml2's callbacks. libxml2's error
 * and SAX hooks are per thread, and so is this.
 */
struct load_state {
	struct diag *d;
	bool refused;		/* we stopped the parser ourselves */
	bool in_validation;
	unsigned int rng_errors;
};

static _Thread_local struct load_state *cur;

/* The parsed schema, kept for the life of the process. */
static xmlRelaxNGPtr schema;
static char *schema_key;
static char schema_origin[PATH_MAX + 16] = "none";

/* ------------------------------------------------------------------ */
/* libxml2 messages */

static unsigned long error_line(const xmlError *err)
{
	if (err->line > 0)
		return (unsigned long)err->line;
	if (err->node) {
		long l = xmlGetLineNo((const xmlNode *)err->node);

		if (l > 0)
			return (unsigned long)l;
	}
	return 0;
}

/*
 * libxml2's RELAX NG validator follows a specific error with messages about
 * every enclosing element ("Element devices has extra content: ...", often
 * pointing at an unrelated first child). Keep the first, specific one and
 * drop those.
 */
static bool rng_cascade(const char *msg)
{
	return strstr(msg, "failed to validate content") ||
	       strstr(msg, "has extra content") ||
	       strstr(msg, "Extra element") ||
	       strstr(msg, "failed to validate attributes") ||
	       strstr(msg, "Expecting an element") ||
	       strstr(msg, "Invalid sequence in interleave") ||
	       strstr(msg, "Element ") == msg;
}

static void on_xml_error(void *user, xmlErrorPtr err)
{
	struct load_state *st = user;
	const char *msg;

	if (!st || !err || st->refused)
		return;
	if (err->level == XML_ERR_WARNING)
		return;
	msg = err->message ? err->message : "unknown XML error";
	if (st->in_validation) {
		if (st->rng_errors++ && rng_cascade(msg))
			return;
		diag_add(st->d, error_line(err),
			 "does not match the ccidctl schema: %s", msg);
		return;
	}
	diag_add(st->d, error_line(err), "%s", msg);
}

static void on_schema_error(void *user, xmlErrorPtr err)
{
	struct load_state *st = user;

	if (!st || !err || err->level == XML_ERR_WARNING)
		return;
	if (err->file)
		diag_add(st->d, 0, "schema %s:%d: %s", err->file, err->line,
			 err->message ? err->message : "error");
	else
		diag_add(st->d, 0, "schema: %s",
			 err->message ? err->message : "error");
}

/* ------------------------------------------------------------------ */
/* SAX hooks: refuse declarations before libxml2 acts on them */

static void refuse(xmlParserCtxtPtr ctxt, const char *what)
{
	unsigned long line = ctxt->input ? (unsigned long)ctxt->input->line : 0;

	if (cur && !cur->refused) {
		diag_add(cur->d, line, "%s", what);
		cur->refused = true;
	}
	xmlStopParser(ctxt);
}

static void on_internal_subset(void *ctx, const xmlChar *name,
			       const xmlChar *external_id,
			       const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;

	/* libxml2 has skipped blanks: '[' opens the internal subset */
	if (ctxt->input && ctxt->input->cur && *ctxt->input->cur == '[') {
		refuse(ctxt, "a DOCTYPE with an internal subset is not accepted (it could declare entities); libvirt XML has no DOCTYPE");
		return;
	}
	xmlSAX2InternalSubset(ctx, name, external_id, system_id);
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type,
			   const xmlChar *public_id, const xmlChar *system_id,
			   xmlChar *content)
{
	(void)name;
	(void)type;
	(void)public_id;
	(void)system_id;
	(void)content;
	refuse(ctx, "entity declarations are not accepted");
}

/* ------------------------------------------------------------------ */
/* Schema */

/*
 * A program that runs from the tree it was built in (ctl/ccidctl, the unit
 * tests) reads the tree's schema, the one it was built with; an installed
 * copy of the same binary reads the installed schema, even where the tree
 * is still around.
 */
static bool running_from_tree(void)
{
	size_t n = strlen(CCIDCTL_TREE_DIR);
	char exe[PATH_MAX];
	ssize_t len;

	if (!n)
		return false;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return false;
	exe[len] = '\0';
	return strncmp(exe, CCIDCTL_TREE_DIR, n) == 0 && exe[n] == '/';
}

const char *xmlcfg_default_schema(char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", running_from_tree() ?
		 CCIDCTL_SCHEMA_SRC : CCIDCTL_SCHEMA_DIR, SCHEMA_FILE);
	return access(buf, R_OK) == 0 ? buf : NULL;
}

static int schema_load(const struct xmlcfg_opts *opts, struct load_state *st)
{
	const char *path = opts ? opts->schema : NULL;
	xmlRelaxNGParserCtxtPtr pctxt;
	char buf[PATH_MAX];
	const char *key;
	bool builtin = opts && opts->builtin_schema;

	if (builtin)
		path = NULL;
	else if (!path)
		path = getenv("CCIDCTL_SCHEMA");
	if (path && !*path)
		path = NULL;
	if (!path && !builtin)
		path = xmlcfg_default_schema(buf, sizeof(buf));
	key = path ? path : "built-in";
	if (schema && schema_key && strcmp(schema_key, key) == 0)
		return 0;
	xmlcfg_cleanup();

	if (path)
		pctxt = xmlRelaxNGNewParserCtxt(path);
	else
		pctxt = xmlRelaxNGNewMemParserCtxt(ccidctl_rng_text,
						   (int)strlen(ccidctl_rng_text));
	if (!pctxt) {
		diag_add(st->d, 0, "cannot set up the schema parser");
		return -1;
	}
	xmlRelaxNGSetParserStructuredErrors(pctxt, on_schema_error, st);
	schema = xmlRelaxNGParse(pctxt);
	xmlRelaxNGFreeParserCtxt(pctxt);
	if (!schema) {
		diag_add(st->d, 0, "cannot load the schema %s",
			 path ? path : "(built-in)");
		return -1;
	}
	schema_key = strdup(key);
	snprintf(schema_origin, sizeof(schema_origin), "%s", key);
	return 0;
}

const char *xmlcfg_schema_origin(void)
{
	return schema_origin;
}

void xmlcfg_cleanup(void)
{
	if (schema)
		xmlRelaxNGFree(schema);
	schema = NULL;
	free(schema_key);
	schema_key = NULL;
}

/* ------------------------------------------------------------------ */
/* Extraction */

static bool is_el(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !n->ns &&
	       xmlStrEqual(n->name, BAD_CAST name);
}

static bool is_ccid_el(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns &&
	       xmlStrEqual(n->ns->href, BAD_CAST CCIDCTL_XMLNS) &&
	       xmlStrEqual(n->name, BAD_CAST name);
}

static unsigned long line_of(const xmlNode *n)
{
	long l = xmlGetLineNo(n);

	return l > 0 ? (unsigned long)l : 0;
}

/* An attribute without namespace, as a malloc'ed string, or NULL. */
static char *prop(const xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
	char *s;

	if (!v)
		return NULL;
	s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Element text with leading and trailing white space removed. */
static char *text_of(const xmlNode *n)
{
	xmlChar *v = xmlNodeGetContent(n);
	const char *s, *e;
	char *r;

	if (!v)
		return strdup("");
	s = (const char *)v;
	while (is_blank(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_blank(e[-1]))
		e--;
	r = strndup(s, (size_t)(e - s));
	xmlFree(v);
	return r;
}

/* xs:unsignedInt's lexical form, surrounding white space allowed. */
static int parse_uint(const char *s, unsigned int *out)
{
	unsigned long long v = 0;
	bool any = false;

	while (is_blank(*s))
		s++;
	if (*s == '+')
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned long long)(*s - '0');
		if (v > UINT_MAX)
			return -1;
		any = true;
	}
	while (is_blank(*s))
		s++;
	if (!any || *s)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

/* Read a numeric attribute; returns 1 if present and valid, 0 if absent. */
static int uint_prop(const xmlNode *n, const char *name, unsigned int *out,
		     struct diag *d)
{
	char *v = prop(n, name);
	int ret = 1;

	if (!v)
		return 0;
	if (parse_uint(v, out) < 0) {
		diag_add(d, line_of(n), "%s='%s' is not a number", name, v);
		ret = -1;
	}
	free(v);
	return ret;
}

static int oom(struct diag *d)
{
	diag_add(d, 0, "out of memory");
	return -1;
}

static int parse_controller(const xmlNode *n, struct cfg *cfg, struct diag *d)
{
	struct cfg_controller *ctl;
	const xmlAttr *a;
	const xmlNode *k;
	xmlChar *slots;
	int r;

	if (cfg->nctrls >= XMLCFG_MAX_CONTROLLERS) {
		diag_add(d, line_of(n),
			 "too many <controller type='ccid'>: at most %d",
			 XMLCFG_MAX_CONTROLLERS);
		return -2;
	}
	ctl = cfg_add_controller(cfg);
	if (!ctl)
		return oom(d);
	ctl->line = line_of(n);

	r = uint_prop(n, "index", &ctl->index, d);
	if (r < 0)
		return -1;
	ctl->index_given = r > 0;

	slots = xmlGetNsProp(n, BAD_CAST "slots", BAD_CAST CCIDCTL_XMLNS);
	if (slots) {
		unsigned int v;

		if (parse_uint((const char *)slots, &v) < 0 || v == 0 ||
		    v > CFG_MAX_SLOTS)
			diag_add(d, ctl->line,
				 "ccid:slots='%s' is out of range: a reader has 1-%d slots",
				 (const char *)slots, CFG_MAX_SLOTS);
		else
			ctl->slots_declared = v;
		xmlFree(slots);
	}

	for (a = n->properties; a; a = a->next) {
		if (a->ns && !xmlStrEqual(a->ns->href, BAD_CAST CCIDCTL_XMLNS))
			continue;
		if (!a->ns && (xmlStrEqual(a->name, BAD_CAST "type") ||
			       xmlStrEqual(a->name, BAD_CAST "index")))
			continue;
		if (a->ns && xmlStrEqual(a->name, BAD_CAST "slots"))
			continue;
		diag_add(d, ctl->line,
			 "<controller type='ccid'> has no attribute %s%s",
			 a->ns ? "ccid:" : "", (const char *)a->name);
	}
	for (k = n->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (k->ns && !xmlStrEqual(k->ns->href, BAD_CAST CCIDCTL_XMLNS))
			continue;
		if (is_el(k, "alias") || is_el(k, "address") ||
		    is_el(k, "acpi") || is_el(k, "driver"))
			continue;
		diag_add(d, line_of(k),
			 "unexpected <%s%s> in <controller type='ccid'>",
			 k->ns ? "ccid:" : "", (const char *)k->name);
	}
	return 0;
}

static int parse_source(const xmlNode *n, struct cfg_card *c, struct diag *d)
{
	struct cfg_chardev *chr = &c->chr;
	const xmlNode *k;
	char *v;

	if (chr->nsources++)
		return 0;	/* counted; cfg_resolve() refuses a second one */
	chr->src_line = line_of(n);

	v = prop(n, "mode");
	if (v) {
		chr->mode_given = true;
		chr->mode = strcmp(v, "bind") == 0 ? CFG_CHR_BIND :
						      CFG_CHR_CONNECT;
		free(v);
	}
	chr->host = prop(n, "host");
	chr->service = prop(n, "service");
	chr->path = prop(n, "path");
	v = prop(n, "tls");
	chr->tls_given = v != NULL;
	chr->tls = v && strcmp(v, "yes") == 0;
	free(v);

	for (k = n->children; k; k = k->next) {
		unsigned int t;
		int r;

		if (k->type != XML_ELEMENT_NODE || is_el(k, "seclabel"))
			continue;
		if (!is_el(k, "reconnect")) {
			/* <clipboard/>, <mouse/> of type='qemu-vdagent', ... */
			if (!chr->odd_child) {
				chr->odd_child = strdup((const char *)k->name);
				chr->odd_line = line_of(k);
				if (!chr->odd_child)
					return oom(d);
			}
			continue;
		}
		chr->reconnect_given = true;
		v = prop(k, "enabled");
		chr->reconnect = v && strcmp(v, "yes") == 0;
		free(v);
		r = uint_prop(k, "timeout", &t, d);
		if (r < 0)
			return -1;
		if (r > 0) {
			chr->timeout_given = true;
			chr->reconnect_timeout = t;
		}
	}
	return 0;
}

static int parse_address(const xmlNode *n, struct cfg_card *c, struct diag *d)
{
	char *type = prop(n, "type");
	int r;

	c->has_address = true;
	c->addr_line = line_of(n);
	if (!type || strcmp(type, "ccid") != 0) {
		c->addr_type = type ? type : strdup("(none)");
		return 0;
	}
	free(type);
	/* libvirt reads a missing controller or slot as 0 */
	r = uint_prop(n, "controller", &c->controller, d);
	if (r < 0)
		return -1;
	r = uint_prop(n, "slot", &c->slot, d);
	return r < 0 ? -1 : 0;
}

static int parse_smartcard(const xmlNode *n, struct cfg *cfg, struct diag *d)
{
	struct cfg_card *c;
	const xmlNode *k;
	char *v;

	if (cfg->ncards >= XMLCFG_MAX_CARDS) {
		diag_add(d, line_of(n), "too many <smartcard>: at most %d",
			 XMLCFG_MAX_CARDS);
		return -2;
	}
	c = cfg_add_card(cfg);
	if (!c)
		return oom(d);
	c->line = line_of(n);

	v = prop(n, "mode");
	if (!v) {
		diag_add(d, c->line, "<smartcard> needs a mode attribute");
		return -1;
	}
	if (strcmp(v, "host") == 0) {
		c->mode = CFG_MODE_HOST;
	} else if (strcmp(v, "host-certificates") == 0) {
		c->mode = CFG_MODE_HOST_CERTIFICATES;
	} else if (strcmp(v, "passthrough") == 0) {
		c->mode = CFG_MODE_PASSTHROUGH;
	} else {
		diag_add(d, c->line, "unknown smartcard mode='%s'", v);
		free(v);
		return -1;
	}
	free(v);

	c->chr.type_name = prop(n, "type");
	if (c->chr.type_name) {
		if (strcmp(c->chr.type_name, "tcp") == 0)
			c->chr.type = CFG_CHR_TCP;
		else if (strcmp(c->chr.type_name, "unix") == 0)
			c->chr.type = CFG_CHR_UNIX;
		else
			c->chr.type = CFG_CHR_OTHER;
	}

	for (k = n->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		if (is_el(k, "certificate")) {
			if (c->ncerts < CFG_NCERTS) {
				c->cert_line[c->ncerts] = line_of(k);
				c->cert[c->ncerts] = text_of(k);
				if (!c->cert[c->ncerts])
					return oom(d);
			}
			c->ncerts++;
		} else if (is_el(k, "database")) {
			c->database_given = true;
			c->database_line = line_of(k);
			free(c->database);
			c->database = text_of(k);
			if (!c->database)
				return oom(d);
		} else if (is_el(k, "source")) {
			if (parse_source(k, c, d) < 0)
				return -1;
		} else if (is_el(k, "protocol")) {
			v = prop(k, "type");
			/* libvirt reads <protocol/> without a type as raw */
			if (!v || strcmp(v, "raw") == 0) {
				c->chr.proto = CFG_PROTO_RAW;
				free(v);
			} else {
				c->chr.proto = CFG_PROTO_OTHER;
				c->chr.proto_name = v;
			}
		} else if (is_el(k, "alias")) {
			free(c->alias);
			c->alias = prop(k, "name");
		} else if (is_el(k, "address")) {
			if (parse_address(k, c, d) < 0)
				return -1;
		} else if (is_ccid_el(k, "wire")) {
			v = prop(k, "protocol");
			c->wire_given = true;
			if (v && strcmp(v, "vpcd") == 0) {
				c->wire = CFG_WIRE_VPCD;
			} else if (v && strcmp(v, "vscard") == 0) {
				c->wire = CFG_WIRE_VSCARD;
			} else {
				diag_add(d, line_of(k),
					 "unknown <ccid:wire protocol='%s'>: use 'vscard' or 'vpcd'",
					 v ? v : "");
			}
			free(v);
		}
		/* <target>, <log>, <acpi> and foreign elements are ignored */
	}
	return 0;
}

static int parse_devices(const xmlNode *devs, struct cfg *cfg, struct diag *d)
{
	const xmlNode *k;
	int ret = 0;

	for (k = devs->children; k; k = k->next) {
		int r = 0;

		if (is_el(k, "smartcard")) {
			r = parse_smartcard(k, cfg, d);
		} else if (is_el(k, "controller")) {
			char *type = prop(k, "type");

			if (type && strcmp(type, "ccid") == 0)
				r = parse_controller(k, cfg, d);
			free(type);
		}
		if (r == -2)	/* too many: say it once */
			return -1;
		if (r < 0)
			ret = -1;
		if (ret < 0 && diag_count(d) >= DIAG_MAX_MSGS)
			break;
	}
	return ret;
}

static int extract(xmlDocPtr doc, struct cfg *cfg, struct diag *d)
{
	const xmlNode *root = xmlDocGetRootElement(doc);
	const xmlNode *k, *devs = NULL, *meta = NULL;

	if (!root) {
		diag_add(d, 0, "the document has no root element");
		return -1;
	}
	if (is_el(root, "smartcard"))
		return parse_smartcard(root, cfg, d) < 0 ? -1 : 0;
	if (is_el(root, "devices"))
		return parse_devices(root, cfg, d);
	if (!is_el(root, "domain")) {
		diag_add(d, line_of(root),
			 "expected <domain>, <devices> or <smartcard>, not <%s>",
			 (const char *)root->name);
		return -1;
	}
	/* cards in <metadata><ccid:devices> are ccidctl's, <devices> QEMU's */
	for (k = root->children; k; k = k->next) {
		const xmlNode *m;

		if (!is_el(k, "metadata"))
			continue;
		for (m = k->children; m; m = m->next) {
			if (!is_ccid_el(m, "devices"))
				continue;
			if (meta) {
				diag_add(d, line_of(m),
					 "<metadata> has one <ccid:devices>; another one starts at line %lu",
					 line_of(meta));
				return -1;
			}
			meta = m;
		}
	}
	if (meta)
		return parse_devices(meta, cfg, d);
	for (k = root->children; k; k = k->next) {
		if (!is_el(k, "devices"))
			continue;
		if (devs) {
			diag_add(d, line_of(k),
				 "a domain has one <devices> element; another one starts at line %lu",
				 line_of(devs));
			return -1;
		}
		devs = k;
	}
	return devs ? parse_devices(devs, cfg, d) : 0;
}

/* ------------------------------------------------------------------ */
/* Loading */

static xmlDocPtr parse_doc(const char *buf, size_t len, const char *name,
			   struct load_state *st)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	/*
	 * No XML_PARSE_NOENT (no entity substitution), no DTDLOAD/DTDATTR/
	 * DTDVALID (no external DTD), no HUGE (libxml2's size and depth
	 * limits stay), no XINCLUDE; NONET in case anything tries anyway.
	 */
	const int options = XML_PARSE_NONET | XML_PARSE_BIG_LINES;

	if (len > INT_MAX) {
		diag_add(st->d, 0, "the document is too large");
		return NULL;
	}
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		oom(st->d);
		return NULL;
	}
	ctxt->sax->internalSubset = on_internal_subset;
	ctxt->sax->entityDecl = on_entity_decl;

	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, name, NULL, options);
	/* any error counts, e.g. a reference to an undeclared entity */
	if (doc && (st->refused || !ctxt->wellFormed ||
		    diag_count(st->d) != 0)) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	if (!doc && diag_count(st->d) == 0)
		diag_add(st->d, 0, "not well-formed XML");
	xmlFreeParserCtxt(ctxt);
	return doc;
}

static int load(const char *buf, size_t len, const char *name,
		const struct xmlcfg_opts *opts, struct cfg **out,
		struct diag *d)
{
	struct load_state st = { .d = d };
	xmlRelaxNGValidCtxtPtr vctxt;
	struct cfg *cfg = NULL;
	xmlDocPtr doc = NULL;
	int ret = -1;
	int r;

	*out = NULL;
	xmlInitParser();
	cur = &st;
	/* the schema's own problems are not the input's */
	xmlSetStructuredErrorFunc(&st, on_schema_error);
	if (schema_load(opts, &st) < 0)
		goto out;
	xmlSetStructuredErrorFunc(&st, on_xml_error);

	doc = parse_doc(buf, len, name, &st);
	if (!doc)
		goto out;

	vctxt = xmlRelaxNGNewValidCtxt(schema);
	if (!vctxt) {
		oom(d);
		goto out_doc;
	}
	xmlRelaxNGSetValidStructuredErrors(vctxt, on_xml_error, &st);
	st.in_validation = true;
	r = xmlRelaxNGValidateDoc(vctxt, doc);
	st.in_validation = false;
	xmlRelaxNGFreeValidCtxt(vctxt);
	if (r != 0) {
		if (diag_count(d) == 0)
			diag_add(d, 0, "does not match the ccidctl schema");
		goto out_doc;
	}

	cfg = cfg_new();
	if (!cfg) {
		oom(d);
		goto out_doc;
	}
	/*
	 * Problems found while extracting (an out-of-range ccid:slots, an
	 * unknown attribute) leave a usable model: check it all the same,
	 * so that one run reports everything.
	 */
	if (extract(doc, cfg, d) < 0)
		goto out_doc;
	if (cfg_resolve(cfg, d) < 0 || diag_count(d))
		goto out_doc;
	*out = cfg;
	cfg = NULL;
	ret = 0;
out_doc:
	cfg_free(cfg);
	xmlFreeDoc(doc);
out:
	xmlSetStructuredErrorFunc(NULL, NULL);
	cur = NULL;
	return ret;
}

int xmlcfg_load_buffer(const char *buf, size_t len, const char *name,
		       const struct xmlcfg_opts *opts, struct cfg **out,
		       struct diag *d)
{
	size_t max = opts && opts->max_size ? opts->max_size : XMLCFG_MAX_SIZE;

	*out = NULL;
	if (len > max) {
		diag_add(d, 0, "%zu bytes is more than the %zu-byte limit",
			 len, max);
		return -1;
	}
	return load(buf, len, name, opts, out, d);
}

int xmlcfg_load_file(const char *path, const struct xmlcfg_opts *opts,
		     struct cfg **out, struct diag *d)
{
	size_t max = opts && opts->max_size ? opts->max_size : XMLCFG_MAX_SIZE;
	struct stat sb;
	size_t len = 0;
	char *buf;
	int fd, ret;

	*out = NULL;
	/* "-": standard input (virsh dumpxml NAME | ccidctl validate -) */
	if (strcmp(path, "-") == 0)
		fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		diag_add(d, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		diag_add(d, 0, "cannot stat: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(sb.st_mode)) {
		diag_add(d, 0, "is a directory, not an XML file");
		close(fd);
		return -1;
	}
	/* refuse before reading a byte when the size is known */
	if (S_ISREG(sb.st_mode) && (unsigned long long)sb.st_size > max) {
		diag_add(d, 0,
			 "file is %llu bytes, more than the %zu-byte limit",
			 (unsigned long long)sb.st_size, max);
		close(fd);
		return -1;
	}
	/* read at most max + 1 bytes: pipes and growing files are bounded */
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return oom(d);
	}
	while (len <= max) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			diag_add(d, 0, "cannot read: %s", strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max) {
		diag_add(d, 0, "more than the %zu-byte limit", max);
		free(buf);
		return -1;
	}
	ret = load(buf, len, path, opts, out, d);
	free(buf);
	return ret;
}
