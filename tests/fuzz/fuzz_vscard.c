// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_vscard.c -- libFuzzer target: the VSCard and vpcd decoders on an
 * arbitrary stream, cut into chunks whose sizes come from the input too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vpcd.h"
#include "vscard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsc_decoder vd;
	struct vpcd_decoder pd, cd;
	size_t pos, chunk;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	if (vsc_decoder_init(&vd, 4096) || vpcd_decoder_init(&pd, VPCD_ROLE_READER, 4096) ||
	    vpcd_decoder_init(&cd, VPCD_ROLE_CARD, 0))
		abort();
	for (pos = 0; pos < size; pos += chunk) {
		size_t n = size - pos < chunk ? size - pos : chunk;
		size_t off, used;
		struct vsc_msg m;
		struct vpcd_msg p;
		struct vsc_init init;
		uint32_t code;
		int r;

		for (off = 0; off < n; off += used) {
			r = vsc_decode(&vd, data + pos + off, n - off, &used, &m);
			if (r < 0)
				break;
			if (r == 1) {
				if (m.length > 4096)
					abort();
				vsc_parse_init(&m, &init);
				vsc_parse_error(&m, &code);
			}
			if (r == 0 && off + used != n)
				abort();
			if (r == 0)
				break;
		}
		for (off = 0; off < n; off += used) {
			r = vpcd_decode(&pd, data + pos + off, n - off, &used, &p);
			if (r <= 0)
				break;
			if (p.length < 2 || p.length > 4096)
				abort();
		}
		for (off = 0; off < n; off += used) {
			r = vpcd_decode(&cd, data + pos + off, n - off, &used, &p);
			if (r <= 0)
				break;
		}
	}
	vsc_decoder_free(&vd);
	vpcd_decoder_free(&pd);
	vpcd_decoder_free(&cd);
	return 0;
}
