#!/usr/bin/env python3
# Seed corpus for tests/fuzz/fuzz_engine.c: scripts in its input format.
import os, sys, struct

OUT = sys.argv[1]
ATR_T0 = bytes.fromhex('3b7a180000736674652063643134 34'.replace(' ', ''))
ATR_T1 = bytes.fromhex('3b919691813 1fe4100'.replace(' ', ''))

T = {'setp': 0, 'on': 1, 'off': 2, 'status': 3, 'secure': 4, 't0apdu': 5,
     'escape': 6, 'getp': 7, 'resetp': 8, 'clock': 9, 'xfr': 10,
     'mech': 11, 'abort': 12, 'rate': 13, 'unk0': 14, 'unk70': 15}
LEVEL = {0: 0, 1: 1, 2: 2, 3: 3, 0x10: 4}

def cfg(nslots=1, busy=1, protos=3, mlen='min'):
    m = {'min': 0, 'max': 1}.get(mlen, mlen)
    return bytes([nslots - 1, busy - 1, protos - 1, m])

def insert(slot, atr=ATR_T0):
    return bytes([7 | 0x80, slot, len(atr)]) + atr

def remove(slot):
    return bytes([8, slot])

def cmd(t, slot, seq, p7=0, p8=0, p9=0, data=b''):
    return bytes([1, T[t], slot, seq, p7, p8, p9, len(data)]) + data

def lenmode(n=None, top=None):
    if top is not None:
        return bytes([1 | (top << 2)])     # max - top
    if n < 64:
        return bytes([n << 2])
    return bytes([2 | (4 if n >= 65536 else 0)]) + struct.pack('<H', n & 0xffff)

def xfr(slot, seq, level, n=None, top=None, ins=0x00):
    b = bytes([2, slot, seq, LEVEL[level]]) + lenmode(n, top)
    if (n or 0) >= 5 or top is not None:
        b += bytes([ins])
    return b

def reply(slot, n):
    return bytes([4, slot, 1]) + lenmode(n)

def fail(slot, err=0xfe):
    return bytes([5, slot, 1, err])

def time_ext(slot, mult):
    return bytes([6, slot, mult])

def class_abort(slot, seq):
    return bytes([9, slot, seq])

def host_reset():
    return bytes([10])

def notify(all_=False):
    return bytes([11 | (0x80 if all_ else 0)])

def raw(data):
    return bytes([0]) + struct.pack('<H', len(data)) + data

seeds = {
    'basic': cfg() + insert(0) + cmd('on', 0, 1) + cmd('status', 0, 2)
             + xfr(0, 3, 0, 5) + reply(0, 2) + cmd('off', 0, 4),
    'default_len': cfg(mlen='max') + insert(0) + cmd('on', 0, 1)
             + xfr(0, 2, 0, top=0) + reply(0, 65538),
    'cmd_chain': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 1, top=0)
             + xfr(0, 3, 3, top=0) + xfr(0, 4, 2, 30) + reply(0, 2),
    'rsp_chain': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 0, 5)
             + reply(0, 700) + xfr(0, 3, 0x10, 0) + xfr(0, 4, 0x10, 0)
             + xfr(0, 5, 0x10, 0),
    'chain_err': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 2, 4)
             + xfr(0, 3, 3, 4) + xfr(0, 4, 0x10, 0) + xfr(0, 5, 1, 4)
             + xfr(0, 6, 0, 4),
    'overrun': cfg(mlen=2 | (200 << 2) & 0xff) + insert(0) + cmd('on', 0, 1)
             + xfr(0, 2, 1, top=0) + xfr(0, 3, 3, 65535) + xfr(0, 4, 2, 60000),
    'class_abort': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 0, 5)
             + class_abort(0, 9) + cmd('status', 0, 3) + cmd('abort', 0, 9)
             + cmd('status', 0, 4),
    'pc_abort': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 0, 5)
             + cmd('abort', 0, 7) + class_abort(0, 7) + xfr(0, 3, 0, 5),
    'time_ext': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 0, 5)
             + time_ext(0, 3) + time_ext(0, 1) + reply(0, 2),
    'fail': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 0, 5)
             + fail(0) + xfr(0, 3, 0, 5) + fail(0, 0xff),
    'remove_busy': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 0, 5)
             + remove(0) + notify() + reply(0, 2),
    'off_busy': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 0, 5)
             + cmd('off', 0, 3) + reply(0, 2),
    'slots16': cfg(16, 16) + b''.join(insert(s) for s in range(0, 16, 3))
             + notify() + notify(True) + b''.join(cmd('on', s, s)
             for s in range(0, 16, 3)) + b''.join(xfr(s, s, 0, 5)
             for s in range(0, 16, 3)) + reply(3, 2) + host_reset(),
    'busy_limit': cfg(4, 2) + insert(0) + insert(1) + insert(2)
             + cmd('on', 0, 1) + cmd('on', 1, 1) + cmd('on', 2, 1)
             + xfr(0, 2, 0, 5) + xfr(1, 2, 0, 5) + xfr(2, 2, 0, 5)
             + xfr(2, 3, 1, 4),
    'params': cfg() + insert(0, ATR_T1) + cmd('getp', 0, 1) + cmd('on', 0, 2)
             + cmd('setp', 0, 3, 1, data=bytes.fromhex('18110245 00fe00'.replace(' ', '')))
             + cmd('setp', 0, 4, 0, data=bytes.fromhex('1100000a00'))
             + cmd('resetp', 0, 5) + cmd('getp', 0, 6),
    'clock': cfg() + insert(0) + cmd('on', 0, 1) + cmd('clock', 0, 2, 1)
             + cmd('status', 0, 3) + cmd('clock', 0, 4, 0) + cmd('clock', 0, 5, 2),
    'misc': cfg() + cmd('escape', 0, 1, data=b'\x01') + cmd('secure', 0, 2)
             + cmd('mech', 0, 3) + cmd('t0apdu', 0, 4)
             + cmd('rate', 0, 5, data=bytes(8)) + cmd('unk0', 0, 6)
             + cmd('unk70', 1, 7),
    'raw': cfg() + raw(bytes.fromhex('6200000000000100000000'))
             + raw(bytes.fromhex('6f0500000000010000000102')) + raw(b'\x65\x00')
             + raw(bytes.fromhex('65ffffffff0001000000')),
    'bad_atr': cfg() + bytes([7, 0, 1, 0x3b]) + bytes([7, 0, 3, 0x3c, 0, 0])
             + insert(0, b'\x3b\xf0') + cmd('on', 0, 1) + cmd('getp', 0, 2),
    'warm_reset': cfg() + insert(0) + cmd('on', 0, 1) + xfr(0, 2, 1, 4)
             + cmd('on', 0, 3, 1) + xfr(0, 4, 2, 4),
    'power_select': cfg() + insert(0) + cmd('on', 0, 1, 4)
             + cmd('on', 0, 2, 0, data=b'\x00'),
    'busy_chain': cfg(2, 1) + insert(0) + insert(1) + cmd('on', 0, 1)
             + cmd('on', 1, 1) + xfr(1, 2, 1, 4) + xfr(0, 3, 0, 5)
             + xfr(1, 4, 2, 4) + reply(0, 2),
    'clock_high': cfg() + insert(0) + cmd('on', 0, 1)
             + cmd('setp', 0, 2, 0, data=bytes.fromhex('1100000a02'))
             + cmd('clock', 0, 3, 1) + xfr(0, 4, 0, 5),
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(data)
print(len(seeds), 'seeds,', sum(len(d) for d in seeds.values()), 'bytes')
