// SPDX-License-Identifier: GPL-2.0
/*
 * test_json.c -- the JSON of `ccidctl status --json`: strings escaped as
 * RFC 8259 wants (and always valid UTF-8), numbers as numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "json.h"

static char *str(const char *s, int number)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (number)
		json_number_or_string(f, s);
	else
		json_string(f, s);
	fclose(f);
	return buf;
}

static void is_json(const char *in, int number, const char *want, const char *what)
{
	char *got = str(in, number);

	if (!ok(got && !strcmp(got, want), "%s", what))
		diag("got %s, want %s", got, want);
	free(got);
}

int main(void)
{
	is_json("g1", 0, "\"g1\"", "a plain name");
	is_json("a\"b\\c", 0, "\"a\\\"b\\\\c\"", "quote and backslash are escaped");
	is_json("t\tn\nr\r", 0, "\"t\\tn\\nr\\r\"", "tab, newline, return");
	is_json("\x01\x1f\x7f", 0, "\"\\u0001\\u001f\\u007f\"", "other control characters as \\u00XX");
	is_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", 0, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\"",
		"valid UTF-8 is kept as it is");
	is_json("a\xff" "b\xc3", 0, "\"a\\ufffdb\\ufffd\"", "bytes that are not UTF-8 become U+FFFD");
	is_json("\xc0\xaf", 0, "\"\\ufffd\\ufffd\"", "an overlong form is not UTF-8");
	is_json("\xed\xa0\x80", 0, "\"\\ufffd\\ufffd\\ufffd\"", "a surrogate is not UTF-8");
	is_json(NULL, 0, "null", "NULL is null");
	is_json("16", 1, "16", "a decimal attribute is a number");
	is_json("0x000400fe", 1, "262398", "a hexadecimal attribute (features) is a number");
	is_json("0", 1, "0", "zero");
	is_json("12abc", 1, "\"12abc\"", "not a number: a string");
	is_json("-1", 1, "\"-1\"", "a sign: a string");
	is_json(" 5", 1, "\" 5\"", "white space: a string");
	is_json("0x", 1, "\"0x\"", "0x alone: a string");
	is_json("99999999999999999999999", 1, "\"99999999999999999999999\"", "too big: a string");
	return tap_done();
}
