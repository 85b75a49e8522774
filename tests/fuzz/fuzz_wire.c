// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_wire.c -- libFuzzer target: a provider that sends anything. The
 * input is cut into chunks; the first byte of each chunk says whether it
 * goes to the sessions as provider bytes, as a command, or as a power
 * event, and whether the session starts over (a new connection).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static size_t sent;
static int inside;	/* the card is in */

static void h_send(void *h, const void *buf, size_t len)
{
	(void)h;
	if (!buf || len < 3 || len > 65544 + 12)
		abort();
	sent += len;
}

static void h_insert(void *h, const uint8_t *atr, size_t len)
{
	(void)h;
	if (!atr || len < 2 || len > 33)
		abort();
	inside = 1;
}

static void h_eject(void *h)
{
	(void)h;
	inside = 0;
}

static void h_answer(void *h, const uint8_t *rsp, size_t len)
{
	(void)h;
	if (len && !rsp)
		abort();
}

static void h_error(void *h, uint32_t code)
{
	(void)h;
	(void)code;
}

static void h_opened(void *h)
{
	(void)h;
}

static void h_log(void *h, bool debug, const char *msg)
{
	(void)h;
	(void)debug;
	if (!msg)
		abort();
}

static const struct wire_host host = {
	.send = h_send, .insert = h_insert, .eject = h_eject,
	.answer = h_answer, .error = h_error, .opened = h_opened,
	.log = h_log,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire w[2];

	if (wire_init(&w[0], CFG_WIRE_VSCARD, &host, NULL) ||
	    wire_init(&w[1], CFG_WIRE_VPCD, &host, NULL))
		abort();
	wire_connected(&w[0]);
	wire_connected(&w[1]);
	while (size >= 2) {
		uint8_t op = data[0];
		size_t n = (size_t)data[1] * 4 + 1;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		for (int k = 0; k < 2; k++) {
			switch (op & 3) {
			case 0:
			case 1:
				if (wire_input(&w[k], data, n) < 0) {
					if (!w[k].why[0])
						abort();
					wire_connected(&w[k]);
				}
				break;
			case 2:
				wire_command(&w[k], data, n);
				break;
			case 3:
				if (op & 4)
					wire_connected(&w[k]);
				else
					wire_power(&w[k], op & 8);
				break;
			}
		}
		data += n;
		size -= n;
	}
	wire_free(&w[0]);
	wire_free(&w[1]);
	return 0;
}
