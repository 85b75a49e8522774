#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""pair_pcsc.py -- PC/SC (pyscard, through pcscd) helper of the client
VM of the two-VM tests (tests/vm/run-pair). Times are CLOCK_BOOTTIME in
milliseconds, the clock of /proc/uptime (pair.sh's now_ms).

usage: pair_pcsc.py listed READYFILE VIDPID TIMEOUT
    Connect to pcscd, create READYFILE, then wait until a USB device
    VIDPID (e.g. 08e6:4433) is in sysfs and pcscd lists a reader. Prints
    "bus=MS listed=MS": when the device was first seen on this machine's
    USB bus and when pcscd listed the reader. Exit 1 on timeout.

       pair_pcsc.py traffic STARTFILE SECONDS
    Back-to-back 10-byte ECHO APDUs to the test card in pcscd's first
    reader, until one fails or SECONDS pass; STARTFILE is created after
    the first answer. Prints "apdus=N end=MS error=..." (error=none when
    every APDU was answered); exit 0 either way, 1 if no APDU ever was.

       pair_pcsc.py gone READYFILE TIMEOUT
    Connect to pcscd, create READYFILE, then wait until pcscd lists no
    reader (or only readers without a card). Prints "gone=MS"; exit 1 on
    timeout.
"""

import glob
import os
import sys
import time

# waits stretch on the sanitizer kernel (tests/vm/lib.sh)
TSCALE = float(os.environ.get("CCID_TSCALE", "1"))

try:
    import pyscard_direct
    S = pyscard_direct.scard()
    import pcsc_readers
except ImportError as e:
    print("pair_pcsc.py: pyscard (python3-pyscard) not importable: %s" % e)
    sys.exit(1)


def now_ms():
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * 1000)


def context():
    rv, ctx = S.SCardEstablishContext(S.SCARD_SCOPE_USER)
    if rv != S.SCARD_S_SUCCESS:
        raise RuntimeError("SCardEstablishContext: %s" % S.SCardGetErrorMessage(rv))
    return ctx


def readers(ctx):
    rv, rdrs = pcsc_readers.list_readers(S, ctx)
    if rv != S.SCARD_S_SUCCESS:
        return []
    return list(rdrs)


def on_bus(vidpid):
    vid, pid = vidpid.lower().split(":")
    for d in glob.glob("/sys/bus/usb/devices/*/idVendor"):
        try:
            with open(d) as f:
                v = f.read().strip()
            with open(os.path.join(os.path.dirname(d), "idProduct")) as f:
                p = f.read().strip()
        except OSError:
            continue
        if v == vid and p == pid:
            return True
    return False


def cmd_listed(ready, vidpid, timeout):
    ctx = context()
    open(ready, "w").close()
    end = time.monotonic() + timeout * TSCALE
    bus = None
    while time.monotonic() < end:
        if bus is None and on_bus(vidpid):
            bus = now_ms()
        if readers(ctx):
            t = now_ms()
            print("bus=%s listed=%d" % (bus if bus is not None else t, t))
            return 0
        time.sleep(0.02)
    print("bus=%s listed=timeout" % bus)
    return 1


def cmd_traffic(start, secs):
    ctx = context()
    rdrs = readers(ctx)
    if not rdrs:
        print("apdus=0 end=%d error=no-reader" % now_ms())
        return 1
    rv, card, proto = S.SCardConnect(ctx, rdrs[0], S.SCARD_SHARE_SHARED,
                                     S.SCARD_PROTOCOL_T0 | S.SCARD_PROTOCOL_T1)
    if rv != S.SCARD_S_SUCCESS:
        print("apdus=0 end=%d error=connect:%s" % (now_ms(), S.SCardGetErrorMessage(rv)))
        return 1
    data = list(range(10))
    apdu = [0x00, 0x10, 0, 0, len(data)] + data + [0]
    n = 0
    err = "none"
    end = time.monotonic() + secs
    while time.monotonic() < end:
        rv, rsp = S.SCardTransmit(card, proto, apdu)
        if rv != S.SCARD_S_SUCCESS:
            err = S.SCardGetErrorMessage(rv).replace(" ", "_")
            break
        if rsp != data + [0x90, 0x00]:
            err = "wrong-answer"
            break
        n += 1
        if n == 1:
            open(start, "w").close()
    print("apdus=%d end=%d error=%s" % (n, now_ms(), err))
    return 0 if n else 1


def cmd_gone(ready, timeout):
    ctx = context()
    open(ready, "w").close()
    end = time.monotonic() + timeout * TSCALE
    while time.monotonic() < end:
        rdrs = readers(ctx)
        if not rdrs:
            print("gone=%d" % now_ms())
            return 0
        rv, st = S.SCardGetStatusChange(ctx, 0, [(r, S.SCARD_STATE_UNAWARE, [])
                                                 for r in rdrs])
        if rv == S.SCARD_S_SUCCESS and all(not (s[1] & S.SCARD_STATE_PRESENT)
                                           for s in st):
            print("gone=%d" % now_ms())
            return 0
        time.sleep(0.02)
    print("gone=timeout")
    return 1


def main(argv):
    try:
        if len(argv) == 5 and argv[1] == "listed":
            return cmd_listed(argv[2], argv[3], float(argv[4]))
        if len(argv) == 4 and argv[1] == "traffic":
            return cmd_traffic(argv[2], float(argv[3]))
        if len(argv) == 4 and argv[1] == "gone":
            return cmd_gone(argv[2], float(argv[3]))
    except RuntimeError as e:
        print("pair_pcsc.py: %s" % e)
        return 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
