#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ccid_bench.py -- APDUs per second through pcscd + libccid (pyscard).

Runs on the USB host side of the VM, against ccid-testcard behind the
function (see ccid_pcsc.py for its commands). Prints one machine-readable
line and never judges the figure:

  ccid_bench.py apdus IDX SECS
      back-to-back ECHO APDUs with 10 bytes of data on reader IDX:
      "bench pcsc apdus=N seconds=S rate=R"
  ccid_bench.py slots N SECS TENTHS
      N threads, one per reader 0..N-1 (one per slot), each sending
      DELAY APDUs that the card answers after TENTHS tenths of a second,
      for SECS seconds: "bench slots n=N apdus=A seconds=S rate=R"
"""

import sys
import threading
import time

import pyscard_direct
S = pyscard_direct.scard()
import pcsc_readers


def connect(ctx, rdr):
    rv, card, proto = S.SCardConnect(ctx, rdr, S.SCARD_SHARE_SHARED,
                                     S.SCARD_PROTOCOL_T0 | S.SCARD_PROTOCOL_T1)
    if rv:
        raise RuntimeError("connect %s: %s" % (rdr, S.SCardGetErrorMessage(rv)))
    return card, proto


def readers(n):
    rv, ctx = S.SCardEstablishContext(S.SCARD_SCOPE_USER)
    if rv:
        raise RuntimeError("no PC/SC context")
    end = time.monotonic() + 20
    while True:
        rv, rs = pcsc_readers.list_readers(S, ctx)
        if not rv and len(rs) >= n:
            return ctx, rs[:n]
        if time.monotonic() > end:
            raise RuntimeError("only %d readers" % (0 if rv else len(rs)))
        time.sleep(0.2)


def loop(ctx, rdr, apdu, want_len, secs, out):
    card, proto = connect(ctx, rdr)
    n = 0
    t0 = time.monotonic()
    while True:
        rv, rsp = S.SCardTransmit(card, proto, apdu)
        if rv or len(rsp) != want_len or rsp[-2:] != [0x90, 0x00]:
            raise RuntimeError("%s: bad answer %s" % (rdr, rsp))
        n += 1
        t = time.monotonic() - t0
        if t >= secs:
            break
    S.SCardDisconnect(card, S.SCARD_LEAVE_CARD)
    out.append((n, t))


def main(argv):
    if len(argv) == 4 and argv[1] == "apdus":
        idx, secs = int(argv[2]), float(argv[3])
        ctx, rs = readers(idx + 1)
        out = []
        data = list(range(10))
        loop(ctx, rs[idx], [0x00, 0x10, 0, 0, len(data)] + data + [0],
             len(data) + 2, secs, out)
        n, t = out[0]
        print("bench pcsc apdus=%d seconds=%.2f rate=%.1f" % (n, t, n / t))
        return 0
    if len(argv) == 5 and argv[1] == "slots":
        nthr, secs, tenths = int(argv[2]), float(argv[3]), int(argv[4])
        ctx, rs = readers(nthr)
        out, errs = [], []

        def worker(rdr):
            try:
                rv, c = S.SCardEstablishContext(S.SCARD_SCOPE_USER)
                # DELAY P1=0 P2=tenths, 1 data byte: slot + byte + 90 00
                loop(c, rdr, [0x00, 0x16, 0, tenths, 1, 0x5a, 0], 4,
                     secs, out)
            except Exception as e:  # reported below
                errs.append(str(e))

        th = [threading.Thread(target=worker, args=(r,)) for r in rs]
        t0 = time.monotonic()
        for t in th:
            t.start()
        for t in th:
            t.join(secs + 60)
        total = time.monotonic() - t0
        if errs or len(out) != nthr:
            print("bench slots n=%d failed: %s" % (nthr, "; ".join(errs)))
            return 1
        n = sum(o[0] for o in out)
        print("bench slots n=%d apdus=%d seconds=%.2f rate=%.2f" %
              (nthr, n, total, n / total))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
