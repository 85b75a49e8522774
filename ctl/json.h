/* SPDX-License-Identifier: GPL-2.0 */
/*
 * json.h -- the little JSON that `ccidctl status --json` writes
 *
 * Strings come from configfs directory names and attributes, which may
 * hold any byte but '/' and NUL: they are escaped as RFC 8259 says, and a
 * byte that is not part of valid UTF-8 becomes U+FFFD, so that the output
 * is always valid JSON (a parser rejects invalid UTF-8).
 */
#ifndef CCIDCTL_JSON_H
#define CCIDCTL_JSON_H

#include <stdbool.h>
#include <stdio.h>

/* @s as a JSON string, quotes included; NULL is written as null */
void json_string(FILE *f, const char *s);

/*
 * A configfs attribute's text as a JSON number when it is one (decimal,
 * or hexadecimal with 0x, as the kernel prints them), else as a string.
 */
void json_number_or_string(FILE *f, const char *s);

#endif /* CCIDCTL_JSON_H */
