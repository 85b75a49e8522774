// SPDX-License-Identifier: GPL-2.0
/*
 * pcsc-bench -- APDUs per second through PC/SC (pcscd + its driver), for
 * tests/vm/guest/bench-ctl.sh. C rather than pyscard, so that the client
 * costs as little as it can and the figure is the reader path's.
 *
 *   pcsc-bench SECONDS APDUHEX READER...
 *
 * Each READER is a substring of one reader's name. Waits up to 20 s for a
 * card in each, connects, warms each up with 20 APDUs, then sends APDUHEX
 * to the readers in turn, in bursts of BURST_MS, for SECONDS in all: the
 * readers share whatever the host does meanwhile, so a busy host slows
 * them alike. Every answer must end in 90 00. Prints one line per reader:
 *   pcsc-bench reader=I apdus=N secs=S rate=R errors=E
 * Exit status 0 if every answer was 90 00.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>

#define MAX_READERS	8
#define BURST_MS	200

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct rd {
	const char *name;
	SCARDHANDLE card;
	DWORD proto;
	long n, errors;
	double secs;
};

static unsigned char apdu[300];
static size_t alen;

static void transmit(struct rd *r)
{
	unsigned char rsp[300];
	DWORD rlen = sizeof(rsp);
	LONG rv;

	rv = SCardTransmit(r->card, r->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1,
			   apdu, alen, NULL, rsp, &rlen);
	if (rv != SCARD_S_SUCCESS || rlen < 2 || rsp[rlen - 2] != 0x90 || rsp[rlen - 1])
		r->errors++;
}

int main(int argc, char **argv)
{
	struct rd rds[MAX_READERS];
	SCARDCONTEXT ctx;
	DWORD len = 0;
	char *readers;
	double secs, t0, end;
	int nr = argc - 3, bad = 0;
	LONG rv;

	if (argc < 4 || nr > MAX_READERS) {
		fprintf(stderr, "usage: pcsc-bench SECONDS APDUHEX READER...\n");
		return 2;
	}
	secs = atof(argv[1]);
	for (const char *p = argv[2]; p[0] && p[1] && alen < sizeof(apdu); p += 2) {
		int hi = hexval(p[0]), lo = hexval(p[1]);

		if (hi < 0 || lo < 0)
			return 2;
		apdu[alen++] = (unsigned char)(hi << 4 | lo);
	}
	rv = SCardEstablishContext(SCARD_SCOPE_USER, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "pcsc-bench: SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
		return 1;
	}
	rv = SCardListReaders(ctx, NULL, NULL, &len);
	readers = malloc(len ? len : 1);
	if (rv != SCARD_S_SUCCESS || !readers ||
	    SCardListReaders(ctx, NULL, readers, &len) != SCARD_S_SUCCESS) {
		fprintf(stderr, "pcsc-bench: no readers\n");
		return 1;
	}
	memset(rds, 0, sizeof(rds));
	for (int i = 0; i < nr; i++) {
		SCARD_READERSTATE st;

		for (char *r = readers; *r; r += strlen(r) + 1)
			if (strstr(r, argv[3 + i]) && !rds[i].name)
				rds[i].name = r;
		if (!rds[i].name) {
			fprintf(stderr, "pcsc-bench: no reader matches '%s'\n", argv[3 + i]);
			return 1;
		}
		memset(&st, 0, sizeof(st));
		st.szReader = rds[i].name;
		st.dwCurrentState = SCARD_STATE_UNAWARE;
		t0 = now();
		for (;;) {
			rv = SCardGetStatusChange(ctx, 1000, &st, 1);
			if (rv == SCARD_S_SUCCESS && (st.dwEventState & SCARD_STATE_PRESENT))
				break;
			st.dwCurrentState = st.dwEventState;
			if (now() - t0 > 20) {
				fprintf(stderr, "pcsc-bench: no card in %s\n", rds[i].name);
				return 1;
			}
		}
		rv = SCardConnect(ctx, rds[i].name, SCARD_SHARE_SHARED,
				  SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &rds[i].card,
				  &rds[i].proto);
		if (rv != SCARD_S_SUCCESS) {
			fprintf(stderr, "pcsc-bench: SCardConnect(%s): %s\n", rds[i].name,
				pcsc_stringify_error(rv));
			return 1;
		}
		for (int k = 0; k < 20; k++)
			transmit(&rds[i]);
		rds[i].errors = 0;
	}
	end = now() + secs;
	while (now() < end) {
		for (int i = 0; i < nr; i++) {
			double b0 = now(), b1;

			do {
				transmit(&rds[i]);
				rds[i].n++;
				b1 = now();
			} while (b1 - b0 < BURST_MS / 1000.0);
			rds[i].secs += b1 - b0;
		}
	}
	for (int i = 0; i < nr; i++) {
		printf("pcsc-bench reader=%d apdus=%ld secs=%.2f rate=%.1f errors=%ld\n", i,
		       rds[i].n, rds[i].secs, rds[i].secs > 0 ? (double)rds[i].n / rds[i].secs : 0,
		       rds[i].errors);
		bad |= rds[i].errors != 0;
		SCardDisconnect(rds[i].card, SCARD_LEAVE_CARD);
	}
	SCardReleaseContext(ctx);
	free(readers);
	return bad;
}
