#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ccidctl_pcsc.py -- PC/SC (pyscard, through pcscd) helper of the ccidctl
end-to-end tests (tests/vm/guest/ccidctl-*.sh).

A reader is named by a substring of its PC/SC name, or by '#N' (the N-th
reader of pcscd's list).

usage: ccidctl_pcsc.py readers                 print the reader names
       ccidctl_pcsc.py count N TIMEOUT         wait until there are N readers
       ccidctl_pcsc.py cards                   print the readers that hold a card
       ccidctl_pcsc.py wait READER present|absent TIMEOUT [ATRHEX]
       ccidctl_pcsc.py script READER FILE      run an APDU script, print
                                               the ATR and every response
       ccidctl_pcsc.py transmit READER HEX     one APDU: its response or
                                               error, and how long the
                                               transmit alone took

The script file has one command APDU in hex per line; '#' starts a comment.
A line starting with '~' is sent the same, but only the length of its
response and its status word are printed (for random answers such as GET
CHALLENGE). The output of `script` is what two card paths are compared by.
Exit status 0 on success, 1 on failure (the reason on stderr).
"""

import sys
import time

import os

# waits stretch on the sanitizer kernel (tests/vm/lib.sh)
TSCALE = float(os.environ.get("CCID_TSCALE", "1"))

try:
    import pyscard_direct
    S = pyscard_direct.scard()
    import pcsc_readers
except ImportError as e:
    print("ccidctl_pcsc.py: pyscard (python3-pyscard) not importable: %s" % e,
          file=sys.stderr)
    sys.exit(1)


def err(rv):
    return "0x%08X %s" % (rv & 0xFFFFFFFF, S.SCardGetErrorMessage(rv))


def hexs(b):
    return " ".join("%02X" % x for x in b)


def context():
    rv, ctx = S.SCardEstablishContext(S.SCARD_SCOPE_USER)
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardEstablishContext: " + err(rv))
    return ctx


def list_readers(ctx):
    rv, rdrs = pcsc_readers.list_readers(S, ctx)
    if rv in (S.SCARD_E_NO_READERS_AVAILABLE, S.SCARD_E_NO_SERVICE):
        return []
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardListReaders: " + err(rv))
    return list(rdrs)


def find(ctx, spec, timeout=10):
    end = time.monotonic() + timeout * TSCALE
    while True:
        rdrs = list_readers(ctx)
        if spec.startswith("#"):
            i = int(spec[1:])
            if i < len(rdrs):
                return rdrs[i]
        else:
            m = [r for r in rdrs if spec in r]
            if len(m) == 1:
                return m[0]
            if len(m) > 1:
                raise RuntimeError("'%s' names several readers: %s" % (spec, m))
        if time.monotonic() > end:
            raise RuntimeError("no reader '%s' (readers: %s)" % (spec, rdrs))
        time.sleep(0.2)


def state(ctx, rdr):
    rv, st = S.SCardGetStatusChange(ctx, 0, [(rdr, S.SCARD_STATE_UNAWARE, [])])
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardGetStatusChange: " + err(rv))
    return st[0][1], bytes(st[0][2])


def cmd_count(n, timeout):
    ctx = context()
    end = time.monotonic() + timeout * TSCALE
    while True:
        rdrs = list_readers(ctx)
        if len(rdrs) == n:
            return 0
        if time.monotonic() > end:
            print("%d readers, want %d: %s" % (len(rdrs), n, rdrs), file=sys.stderr)
            return 1
        time.sleep(0.2)


def cmd_wait(spec, what, timeout, atr=None):
    ctx = context()
    t0 = time.monotonic()
    rdr = find(ctx, spec, timeout)
    while True:
        ev, got = state(ctx, rdr)
        present = bool(ev & S.SCARD_STATE_PRESENT)
        if what == "present" and present and (atr is None or got == atr):
            print("%s: card present after %.1f s, ATR %s" %
                  (rdr, time.monotonic() - t0, hexs(got)))
            return 0
        if what == "absent" and (ev & S.SCARD_STATE_EMPTY):
            print("%s: no card after %.1f s" % (rdr, time.monotonic() - t0))
            return 0
        if time.monotonic() - t0 > timeout * TSCALE:
            print("%s: still %s after %d s (state 0x%x, ATR %s)" %
                  (rdr, "present" if present else "not present", timeout,
                   ev, hexs(got)), file=sys.stderr)
            return 1
        time.sleep(0.1)


def cmd_script(spec, path):
    ctx = context()
    rdr = find(ctx, spec, 10)
    rv, card, proto = S.SCardConnect(ctx, rdr, S.SCARD_SHARE_SHARED,
                                     S.SCARD_PROTOCOL_T0 | S.SCARD_PROTOCOL_T1)
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardConnect(%s): %s" % (rdr, err(rv)))
    rv, _, _, _, atr = S.SCardStatus(card)
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardStatus: " + err(rv))
    print("ATR %s" % hexs(atr))
    print("protocol T=%d" % (0 if proto == S.SCARD_PROTOCOL_T0 else 1))
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            fuzzy = line.startswith("~")
            apdu = bytes.fromhex(line.lstrip("~"))
            rv, rsp = S.SCardTransmit(card, proto, list(apdu))
            if rv != S.SCARD_S_SUCCESS:
                print("%s -> error %s" % (hexs(apdu), err(rv)))
                continue
            if fuzzy:
                print("%s -> %d bytes, SW %s" % (hexs(apdu), len(rsp), hexs(rsp[-2:])))
            else:
                print("%s -> %s" % (hexs(apdu), hexs(rsp)))
    S.SCardDisconnect(card, S.SCARD_RESET_CARD)
    return 0


def cmd_transmit(spec, hexapdu):
    ctx = context()
    rdr = find(ctx, spec, 10)
    rv, card, proto = S.SCardConnect(ctx, rdr, S.SCARD_SHARE_SHARED,
                                     S.SCARD_PROTOCOL_T0 | S.SCARD_PROTOCOL_T1)
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardConnect(%s): %s" % (rdr, err(rv)))
    apdu = bytes.fromhex(hexapdu)
    t0 = time.monotonic()
    rv, rsp = S.SCardTransmit(card, proto, list(apdu))
    dt = time.monotonic() - t0
    if rv != S.SCARD_S_SUCCESS:
        print("%s -> error %s" % (hexs(apdu), err(rv)))
    else:
        print("%s -> %s" % (hexs(apdu), hexs(rsp)))
    print("transmit took %.3f s" % dt)
    S.SCardDisconnect(card, S.SCARD_LEAVE_CARD)
    return 0


def main(argv):
    try:
        if argv[1] == "readers":
            for r in list_readers(context()):
                print(r)
            return 0
        if argv[1] == "cards":
            ctx = context()
            for r in list_readers(ctx):
                if state(ctx, r)[0] & S.SCARD_STATE_PRESENT:
                    print(r)
            return 0
        if argv[1] == "count":
            return cmd_count(int(argv[2]), float(argv[3]))
        if argv[1] == "wait":
            atr = bytes.fromhex(argv[5]) if len(argv) > 5 else None
            return cmd_wait(argv[2], argv[3], float(argv[4]), atr)
        if argv[1] == "script":
            return cmd_script(argv[2], argv[3])
        if argv[1] == "transmit":
            return cmd_transmit(argv[2], argv[3])
    except (RuntimeError, ValueError, IndexError) as e:
        print("ccidctl_pcsc.py: %s" % e, file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
