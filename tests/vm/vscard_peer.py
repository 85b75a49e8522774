#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""vscard_peer.py -- a VSCard card provider that misbehaves on purpose, for
the ccidctl fault tests (tests/vm/guest/ccidctl-faults.sh). It speaks the
protocol from libcacard's vscard_common.h itself, independent of ccidctl.

usage: vscard_peer.py MODE (--connect ADDR | --listen ADDR) [--seconds N]

ADDR is host:port or unix:PATH. MODE:
  normal    Init, ReaderAdd, ATR; answers every APDU with 90 00
  error     ... answers every APDU with a VSCard Error (code 1)
  oversize  ... answers every APDU with 65539 bytes (65537 data + 90 00)
  twoadds   Init, ReaderAdd, ReaderAdd; prints the two Error codes it gets
            back ("readeradd codes 0 2"); then ATR, answers 90 00
  noinit    no Init: ReaderAdd and ATR straight away; answers 90 00
  silent    connects and says nothing for --seconds (default 60)

Every line it prints is flushed; it exits when the card user closes the
connection ("closed by the card user") or after --seconds.
"""

import argparse
import socket
import struct
import sys
import time

INIT, ERROR, READER_ADD, READER_REMOVE, ATR, CARD_REMOVE, APDU = 1, 2, 3, 4, 5, 6, 7
CAC_ATR = bytes.fromhex("3B7A18000073667465206364313434")


def say(*a):
    print(*a, flush=True)


def open_stream(addr, listen):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = addr[5:]
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        target = (host, int(port))
    if not listen:
        end = time.monotonic() + 30
        while True:
            try:
                s.connect(target)
                return s
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(target)
    s.listen(1)
    say("listening")
    c, _ = s.accept()
    s.close()
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--connect")
    g.add_argument("--listen")
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    s = open_stream(a.connect or a.listen, a.listen is not None)
    end = time.monotonic() + a.seconds

    def send(t, p=b"", r=0):
        s.sendall(struct.pack(">III", t, r, len(p)) + p)

    if a.mode == "silent":
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            if not s.recv(1):
                say("closed by the card user after %.1f s" % (a.seconds - (end - time.monotonic())))
                return 0
        except socket.timeout:
            say("still connected after %.0f s" % a.seconds)
        return 0
    if a.mode != "noinit":
        send(INIT, b"VSCD" + struct.pack(">II", 2, 0), 0xFFFFFFFF)
    send(READER_ADD)
    if a.mode == "twoadds":
        send(READER_ADD)
    atr_sent = a.mode == "noinit"
    if atr_sent:
        send(ATR, CAC_ATR)
    codes = []
    buf = b""
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except OSError as e:
            say("closed by the card user (%s)" % e)
            return 0
        if not d:
            say("closed by the card user")
            return 0
        buf += d
        while len(buf) >= 12:
            t, r, n = struct.unpack(">III", buf[:12])
            if len(buf) < 12 + n:
                break
            p, buf = buf[12:12 + n], buf[12 + n:]
            if t == ERROR:
                code = struct.unpack(">I", p)[0]
                codes.append(code)
                if a.mode == "twoadds" and len(codes) == 2:
                    say("readeradd codes %d %d" % (codes[0], codes[1]))
                if not atr_sent and (a.mode != "twoadds" or len(codes) == 2):
                    atr_sent = True
                    send(ATR, CAC_ATR)
            elif t == APDU:
                if a.mode == "error":
                    send(ERROR, struct.pack(">I", 1))
                    say("answered an APDU with Error(1)")
                elif a.mode == "oversize":
                    send(APDU, b"\x5a" * 65537 + b"\x90\x00")
                    say("answered an APDU with 65539 bytes")
                else:
                    send(APDU, b"\x90\x00")
    say("done after %.0f s" % a.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
