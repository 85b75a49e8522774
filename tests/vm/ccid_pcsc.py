#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ccid_pcsc.py -- PC/SC checks (pyscard) against ccid-testcard via pcscd.

Runs on the USB host side of the VM tests, through unmodified pcscd and
libccid. Prints TAP lines without numbers ("ok - ...", "not ok - ...",
"# ...") that tests/vm/lib.sh's tap_import renumbers; exits 0 if every
check passed.

The test card's command set (see ccid-testcard.c), by INS:
  10 echo, 12 pattern of P1P2 bytes, 14 length + FNV-1a of the data,
  16 delay P1 s + P2/10 s then slot + data, 18 slot, 1A hang, 1C crash,
  1E card error, 20 SW = P1 P2.

Readers are named by index in pcscd's list, which follows the slot order;
the slot a reader drives is the last field of its name.

usage: ccid_pcsc.py readers N
       ccid_pcsc.py present IDX [ATRHEX] [TIMEOUT]
       ccid_pcsc.py absent IDX [TIMEOUT]
       ccid_pcsc.py apdus IDX
       ccid_pcsc.py concurrent IDX IDX SECONDS
       ccid_pcsc.py slow IDX SECONDS
       ccid_pcsc.py kill IDX PID
       ccid_pcsc.py eject IDX FIFO     (ccid-testcard's control FIFO)
       ccid_pcsc.py crash IDX
"""

import os
import signal
import sys
import threading
import time

# waits stretch on the sanitizer kernel (tests/vm/lib.sh)
TSCALE = float(os.environ.get("CCID_TSCALE", "1"))

try:
    import pyscard_direct
    S = pyscard_direct.scard()
    import pcsc_readers
except ImportError as e:  # a missing tool is a failure, said clearly
    print("not ok - pyscard importable (python3-pyscard): %s" % e)
    sys.exit(1)

failed = 0


def ok(cond, desc):
    global failed
    if not cond:
        failed += 1
    print("%sok - %s" % ("" if cond else "not ", desc), flush=True)
    return cond


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


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
    if rv == S.SCARD_E_NO_READERS_AVAILABLE:
        return []
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardListReaders: " + err(rv))
    return list(rdrs)


def reader(ctx, idx, timeout=20):
    end = time.monotonic() + timeout * TSCALE
    while True:
        rdrs = list_readers(ctx)
        if len(rdrs) > idx:
            return rdrs[idx]
        if time.monotonic() > end:
            raise RuntimeError("no reader %d (readers: %s)" % (idx, rdrs))
        time.sleep(0.2)


def slot_of(name):
    return int(name.split()[-1], 16)


def state(ctx, rdr, timeout_ms=0, known=S.SCARD_STATE_UNAWARE):
    rv, st = S.SCardGetStatusChange(ctx, timeout_ms, [(rdr, known, [])])
    if rv == S.SCARD_E_TIMEOUT:
        return None
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardGetStatusChange: " + err(rv))
    return st[0]


def wait_state(ctx, rdr, want, timeout):
    """Wait until want(eventstate, atr) holds; return (elapsed, st)."""
    t0 = time.monotonic()
    st = state(ctx, rdr)
    while True:
        if want(st[1], st[2]):
            return time.monotonic() - t0, st
        left = timeout * TSCALE - (time.monotonic() - t0)
        if left <= 0:
            return None, st
        nst = state(ctx, rdr, int(left * 1000) + 1,
                    st[1] & ~S.SCARD_STATE_CHANGED)
        if nst is not None:
            st = nst


def connect(ctx, rdr):
    rv, card, proto = S.SCardConnect(ctx, rdr, S.SCARD_SHARE_SHARED,
                                     S.SCARD_PROTOCOL_T0 | S.SCARD_PROTOCOL_T1)
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardConnect(%s): %s" % (rdr, err(rv)))
    return card, proto


def transmit(card, proto, apdu):
    rv, rsp = S.SCardTransmit(card, proto, list(apdu))
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardTransmit: " + err(rv))
    return bytes(rsp)


def apdu(ins, p1=0, p2=0, data=b"", le=None):
    """Build a command APDU; extended form when data or Le need it."""
    ext = len(data) > 255 or (le is not None and le > 256)
    a = bytes([0x00, ins, p1, p2])
    if data:
        if ext:
            a += bytes([0, len(data) >> 8, len(data) & 0xFF])
        else:
            a += bytes([len(data)])
        a += data
    if le is not None:
        if ext:
            v = 0 if le == 65536 else le
            a += (bytes([0]) if not data else b"") + bytes([v >> 8, v & 0xFF])
        else:
            a += bytes([0 if le == 256 else le])
    return a


def pattern(n):
    return bytes(((i ^ (i >> 8)) & 0xFF) for i in range(n))


def fnv1a(b):
    h = 2166136261
    for x in b:
        h ^= x
        h = (h * 16777619) & 0xFFFFFFFF
    return h


# ------------------------------------------------------------------ checks

def cmd_readers(n):
    ctx = context()
    end = time.monotonic() + 20
    rdrs = list_readers(ctx)
    while len(rdrs) != n and time.monotonic() < end:
        time.sleep(0.2)
        rdrs = list_readers(ctx)
    for r in rdrs:
        diag("reader: " + r)
    ok(len(rdrs) == n, "pcscd lists %d readers (got %d)" % (n, len(rdrs)))
    slots = sorted(slot_of(r) for r in rdrs)
    ok(slots == list(range(n)), "one reader per slot 0..%d (%s)" % (n - 1, slots))


def cmd_present(idx, atr, timeout):
    ctx = context()
    rdr = reader(ctx, idx)
    el, st = wait_state(ctx, rdr,
                        lambda s, a: s & S.SCARD_STATE_PRESENT and len(a) > 0,
                        timeout)
    diag("%s: state 0x%X ATR %s" % (rdr, st[1], hexs(st[2])))
    if ok(el is not None, "reader %d sees a card (%s)" %
          (idx, "%.2f s" % el if el is not None else "timeout")) and atr:
        ok(bytes(st[2]) == atr, "reader %d reports ATR %s" % (idx, hexs(atr)))
    elif atr:
        ok(False, "reader %d reports ATR %s" % (idx, hexs(atr)))


def cmd_absent(idx, timeout):
    ctx = context()
    rdr = reader(ctx, idx)
    el, st = wait_state(ctx, rdr, lambda s, a: s & S.SCARD_STATE_EMPTY,
                        timeout)
    diag("%s: state 0x%X" % (rdr, st[1]))
    ok(el is not None, "reader %d sees no card within %g s (%s)" %
       (idx, timeout, "%.2f s" % el if el is not None else "timeout"))


def cmd_apdus(idx):
    ctx = context()
    rdr = reader(ctx, idx)
    slot = slot_of(rdr)
    card, proto = connect(ctx, rdr)
    diag("connected to %s, protocol %d" % (rdr, proto))

    def check(desc, cmd, want):
        try:
            t0 = time.monotonic()
            rsp = transmit(card, proto, cmd)
            dt = time.monotonic() - t0
        except RuntimeError as e:
            return ok(False, "%s: %s" % (desc, e))
        good = rsp == want
        if not good:
            diag("got %d bytes %s..., want %d bytes %s..." %
                 (len(rsp), hexs(rsp[:16]), len(want), hexs(want[:16])))
        return ok(good, "%s (%d-byte command, %d-byte response, %.2f s)" %
                  (desc, len(cmd), len(rsp), dt))

    sw = b"\x90\x00"
    check("slot number comes back", apdu(0x18, le=1), bytes([slot]) + sw)
    check("status word only", apdu(0x20, 0x6A, 0x82), b"\x6a\x82")
    check("unknown INS gives 6D 00", apdu(0x7E), b"\x6d\x00")
    d = bytes(range(1, 6))
    check("short echo, 5 bytes", apdu(0x10, data=d, le=5), d + sw)
    d = bytes((i * 7) & 0xFF for i in range(255))
    check("short echo, 255 bytes", apdu(0x10, data=d, le=256), d + sw)
    check("short response, 256 bytes", apdu(0x12, 0x01, 0x00, le=256),
          pattern(256) + sw)
    d = bytes((i * 31 + 5) & 0xFF for i in range(1000))
    check("extended echo, 1000 bytes", apdu(0x10, data=d, le=1000), d + sw)
    d = bytes((i * 131 + (i >> 9)) & 0xFF for i in range(65535))
    check("extended command, 65535-byte data field (length + hash back)",
          apdu(0x14, data=d, le=8),
          len(d).to_bytes(4, "big") + fnv1a(d).to_bytes(4, "big") + sw)
    check("extended response, 65536 bytes", apdu(0x12, 0, 0, le=65536),
          pattern(65536) + sw)
    check("extended echo, 65535 bytes both ways",
          apdu(0x10, data=d, le=65535), d + sw)
    check("short APDU after the big ones", apdu(0x18, le=1),
          bytes([slot]) + sw)
    S.SCardDisconnect(card, S.SCARD_LEAVE_CARD)
    S.SCardReleaseContext(ctx)


def concurrent_once(rdrs, secs):
    """One round: every thread connects, then all send DELAY at once.

    Returns {reader: (response, tag, t_sent, t_answered)}. The clock starts
    only when every thread holds its card: on the sanitizer kernel a Python
    thread's context and SCardConnect alone can take seconds.
    """
    results = {}
    gate = threading.Barrier(len(rdrs) + 1)

    def worker(rdr):
        card = None
        tag = rdr.encode()[-8:]
        try:
            ctx = context()
            card, proto = connect(ctx, rdr)
        except Exception as e:  # reported below
            results[rdr] = (None, str(e), 0, 0)
        try:
            gate.wait(60 * TSCALE)
        except threading.BrokenBarrierError:
            results.setdefault(rdr, (None, "the others never connected",
                                     0, 0))
            return
        if card is None:
            return
        try:
            t0 = time.monotonic()
            rsp = transmit(card, proto, apdu(0x16, secs, 0, data=tag, le=0))
            results[rdr] = (rsp, tag, t0, time.monotonic())
            S.SCardDisconnect(card, S.SCARD_LEAVE_CARD)
        except Exception as e:
            results[rdr] = (None, str(e), 0, 0)

    threads = [threading.Thread(target=worker, args=(r,)) for r in rdrs]
    for t in threads:
        t.start()
    try:
        gate.wait(60 * TSCALE)
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join(secs * len(rdrs) * 4 * TSCALE + 30)
    return results


def cmd_concurrent(idxs, secs):
    """DELAY on several slots at once: the answers come together.

    If the reader ran the commands one after another, each answer would
    come at least secs after the one before it, however the sends were
    spread. So the check is that the answers are spread by less than
    secs / 2 more than the sends were, with the sends within secs / 2 of
    each other. A machine that stalls a thread for seconds between two
    sends, or between two threads taking their answers, spoils a round:
    such a round is said in a diagnostic and run once more. A reader that
    serialises the commands fails both rounds.
    """
    ctx0 = context()
    rdrs = [reader(ctx0, i) for i in idxs]
    n = len(rdrs)
    for attempt in (1, 2):
        results = concurrent_once(rdrs, secs)
        answered = all(results.get(r, (None,))[0] is not None for r in rdrs)
        if not answered:
            break
        sent = [results[r][2] for r in rdrs]
        done = [results[r][3] for r in rdrs]
        sent_spread = max(sent) - min(sent)
        done_spread = max(done) - min(done)
        figures = ("sent within %.2f s, answered within %.2f s, all in "
                   "%.1f s" % (sent_spread, done_spread,
                               max(done) - min(sent)))
        together = (sent_spread < secs / 2 and
                    done_spread < sent_spread + secs / 2)
        if together or attempt == 2:
            break
        diag("round %d did not show it (%s): once more" % (attempt, figures))
    for rdr in rdrs:
        rsp, tag, t0, t1 = results.get(rdr, (None, "thread hung", 0, 0))
        if rsp is None:
            ok(False, "%s: delayed APDU answered: %s" % (rdr, tag))
            continue
        want = bytes([slot_of(rdr)]) + tag + b"\x90\x00"
        if rsp != want:
            diag("got %s want %s" % (hexs(rsp), hexs(want)))
        ok(rsp == want, "slot %d: delayed answer is its own (%.1f s)" %
           (slot_of(rdr), t1 - t0))
    if answered:
        ok(together, "%d slots busy at once: %s, not %d s one after "
           "another" % (n, figures, secs * n))


def cmd_slow(idx, secs):
    ctx = context()
    rdr = reader(ctx, idx)
    card, proto = connect(ctx, rdr)
    t0 = time.monotonic()
    try:
        rsp = transmit(card, proto, apdu(0x16, secs, 0, data=b"late", le=0))
    except RuntimeError as e:
        ok(False, "an answer after %d s arrives: %s (after %.1f s)" %
           (secs, e, time.monotonic() - t0))
        return
    dt = time.monotonic() - t0
    ok(rsp == bytes([slot_of(rdr)]) + b"late\x90\x00" and dt >= secs,
       "an answer after %d s arrives intact (%.1f s)" % (secs, dt))


def cmd_kill(idx, pid, fifo=None):
    """Interrupt a pending APDU: SIGKILL the card program (pid), or with
    fifo, tell it to remove the card of this reader's slot."""
    ctx = context()
    rdr = reader(ctx, idx)
    card, proto = connect(ctx, rdr)
    box = {}

    def worker():
        t0 = time.monotonic()
        try:
            box["rsp"] = transmit(card, proto, apdu(0x16, 30, 0, le=0))
        except RuntimeError as e:
            box["err"] = str(e)
        box["t"] = time.monotonic()
        box["dt"] = box["t"] - t0

    th = threading.Thread(target=worker)
    th.start()
    time.sleep(1.5)          # the APDU is pending in the card now
    tkill = time.monotonic()
    if fifo:
        with open(fifo, "w") as f:
            f.write("remove %d\n" % slot_of(rdr))
        what = "removing the card"
    else:
        os.kill(pid, signal.SIGKILL)
        what = "killing the card program"
    th.join(15)
    if th.is_alive():
        ok(False, "SCardTransmit returns after %s (still blocked after "
           "15 s)" % what)
    else:
        diag("transmit: %s after %.2f s" % (box.get("err", "answered"),
                                            box["t"] - tkill))
        ok("err" in box and box["t"] - tkill < 3,
           "%s mid-APDU: the host gets an error (%.2f s later)" %
           (what, box["t"] - tkill))
    el, st = wait_state(ctx, rdr, lambda s, a: s & S.SCARD_STATE_EMPTY,
                        max(0.1, 1.0 - (time.monotonic() - tkill)))
    ok(el is not None, "...and sees no card within a second (%.2f s, "
       "state 0x%X)" % (time.monotonic() - tkill, st[1]))
    S.SCardDisconnect(card, S.SCARD_LEAVE_CARD)


def cmd_crash(idx):
    ctx = context()
    rdr = reader(ctx, idx)
    card, proto = connect(ctx, rdr)
    t0 = time.monotonic()
    try:
        rsp = transmit(card, proto, apdu(0x1C))
        e = "answered %s" % hexs(rsp)
        got_err = False
    except RuntimeError as x:
        e = str(x)
        got_err = True
    dt = time.monotonic() - t0
    diag("transmit: %s after %.2f s" % (e, dt))
    ok(got_err and dt < 3, "the card program exits mid-APDU: the host gets "
       "an error (%.2f s)" % dt)
    el, st = wait_state(ctx, rdr, lambda s, a: s & S.SCARD_STATE_EMPTY,
                        max(0.1, 1.0 - (time.monotonic() - t0)))
    ok(el is not None, "...and sees no card within a second (%.2f s, "
       "state 0x%X)" % (time.monotonic() - t0, st[1]))
    S.SCardDisconnect(card, S.SCARD_LEAVE_CARD)


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, a = argv[1], argv[2:]
    try:
        if cmd == "readers":
            cmd_readers(int(a[0]))
        elif cmd == "present":
            atr = bytes.fromhex(a[1]) if len(a) > 1 and a[1] else b""
            cmd_present(int(a[0]), atr, float(a[2]) if len(a) > 2 else 10)
        elif cmd == "absent":
            cmd_absent(int(a[0]), float(a[1]) if len(a) > 1 else 10)
        elif cmd == "apdus":
            cmd_apdus(int(a[0]))
        elif cmd == "concurrent":
            cmd_concurrent([int(a[0]), int(a[1])], int(a[2]))
        elif cmd == "slow":
            cmd_slow(int(a[0]), int(a[1]))
        elif cmd == "kill":
            cmd_kill(int(a[0]), int(a[1]))
        elif cmd == "eject":
            cmd_kill(int(a[0]), 0, a[1])
        elif cmd == "crash":
            cmd_crash(int(a[0]))
        else:
            print(__doc__)
            return 2
    except Exception as e:  # any failure is a test failure, with a reason
        ok(False, "%s %s: %s: %s" % (cmd, " ".join(a), type(e).__name__, e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
