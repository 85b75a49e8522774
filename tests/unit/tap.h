/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tap.h -- a minimal Test Anything Protocol producer for the unit tests
 *
 *	ok(cond, "description %d", n);
 *	is_u(got, expected, "description");
 *	diag("note");
 *	return tap_done();	// prints the plan, 0 if every test passed
 *
 * The plan ("1..N") is printed at the end, which TAP allows; prove(1) reads
 * it either way. Header-only so that every test program can include it.
 */
#ifndef CCID_TAP_H
#define CCID_TAP_H

#include <stdarg.h>
#include <stdio.h>

/* userspace has no __printf() */
#define TAP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

static int tap_count;
static int tap_failures;

static inline void tap_vdiag(const char *fmt, va_list ap)
{
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
}

static inline void diag(const char *fmt, ...)
	TAP_PRINTF(1, 2);
static inline void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
}

static inline int tap_vok(int pass, const char *file, int line,
			  const char *fmt, va_list ap)
{
	tap_count++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_count);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	if (!pass) {
		tap_failures++;
		printf("#   Failed test at %s line %d\n", file, line);
	}
	fflush(stdout);
	return pass;
}

static inline int tap_ok(int pass, const char *file, int line,
			 const char *fmt, ...)
	TAP_PRINTF(4, 5);
static inline int tap_ok(int pass, const char *file, int line,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pass = tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* Unsigned comparison that reports both values when it fails */
static inline int tap_is_u(unsigned long long got, unsigned long long exp,
			   const char *file, int line, const char *fmt, ...)
	TAP_PRINTF(5, 6);
static inline int tap_is_u(unsigned long long got, unsigned long long exp,
			   const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int pass;

	va_start(ap, fmt);
	pass = tap_vok(got == exp, file, line, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#          got: %llu (0x%llx)\n"
		       "#     expected: %llu (0x%llx)\n", got, got, exp, exp);
	return pass;
}

/* Signed comparison, for return codes */
static inline int tap_is_i(long long got, long long exp,
			   const char *file, int line, const char *fmt, ...)
	TAP_PRINTF(5, 6);
static inline int tap_is_i(long long got, long long exp,
			   const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int pass;

	va_start(ap, fmt);
	pass = tap_vok(got == exp, file, line, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#          got: %lld\n#     expected: %lld\n",
		       got, exp);
	return pass;
}

#define is_u(got, exp, ...) \
	tap_is_u((unsigned long long)(got), (unsigned long long)(exp), \
		 __FILE__, __LINE__, __VA_ARGS__)
#define is_i(got, exp, ...) \
	tap_is_i((long long)(got), (long long)(exp), \
		 __FILE__, __LINE__, __VA_ARGS__)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failures)
		printf("# %d of %d tests failed\n", tap_failures, tap_count);
	return tap_failures ? 1 : 0;
}

#endif /* CCID_TAP_H */
