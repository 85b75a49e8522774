// SPDX-License-Identifier: GPL-2.0
/*
 * json.c -- the little JSON that `ccidctl status --json` writes
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at @p, or 0 if there is none */
static size_t utf8_len(const unsigned char *p)
{
	uint32_t cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*p) {
		size_t n;

		switch (*p) {
		case '"':
			fputs("\\\"", f);
			p++;
			continue;
		case '\\':
			fputs("\\\\", f);
			p++;
			continue;
		case '\n':
			fputs("\\n", f);
			p++;
			continue;
		case '\t':
			fputs("\\t", f);
			p++;
			continue;
		case '\r':
			fputs("\\r", f);
			p++;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p);
			p++;
			continue;
		}
		n = utf8_len(p);
		if (!n) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		fwrite(p, 1, n, f);
		p += n;
	}
	fputc('"', f);
}

void json_number_or_string(FILE *f, const char *s)
{
	const char *digits = s;
	unsigned long long v;
	int base = 10;
	char *end;

	if (s && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		digits = s + 2;
		base = 16;
	}
	/* strtoull() would take a sign or white space: refuse them */
	if (s && ((*digits >= '0' && *digits <= '9') ||
		  (base == 16 && ((*digits >= 'a' && *digits <= 'f') ||
				  (*digits >= 'A' && *digits <= 'F'))))) {
		errno = 0;
		v = strtoull(digits, &end, base);
		if (!errno && end != digits && !*end) {
			fprintf(f, "%llu", v);
			return;
		}
	}
	json_string(f, s);
}
