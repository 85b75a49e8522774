#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The VM tests' own Python helpers, where their logic can be tested
without a VM: pcsc_readers.list_readers against a fake pyscard."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "vm"))
import pcsc_readers  # noqa: E402

n = 0
failed = 0


def ok(cond, what):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, what))


class FakeScard:
    """SCardListReaders as pyscard behaves: the first `bad` calls fail to
    decode a half-written reader name, the later ones return the list"""

    def __init__(self, bad, cause=True):
        self.bad = bad
        self.calls = 0
        self.cause = cause

    def SCardListReaders(self, ctx, groups):
        self.calls += 1
        if self.calls <= self.bad:
            try:
                b"Gem\xfbalto".decode("utf-8")
            except UnicodeDecodeError as e:
                if not self.cause:
                    raise SystemError("something else") from None
                raise SystemError("<built-in function SCardListReaders> "
                                  "returned a result with an exception set") from e
        return 0, ["reader 0"]


s = FakeScard(0)
ok(pcsc_readers.list_readers(s, 1) == (0, ["reader 0"]) and s.calls == 1,
   "a whole list is returned at once")
s = FakeScard(2)
ok(pcsc_readers.list_readers(s, 1, pause=0) == (0, ["reader 0"]) and s.calls == 3,
   "a list that pyscard cannot decode twice is asked again, and returned")
s = FakeScard(100)
try:
    pcsc_readers.list_readers(s, 1, tries=5, pause=0)
    ok(False, "a name that stays undecodable is an error (nothing raised)")
except SystemError:
    ok(s.calls == 5, "a name that stays undecodable is an error, after 5 tries (%d)" % s.calls)
s = FakeScard(1, cause=False)
try:
    pcsc_readers.list_readers(s, 1, pause=0)
    ok(False, "another SystemError is not retried (nothing raised)")
except SystemError:
    ok(s.calls == 1, "another SystemError is not retried (%d call)" % s.calls)
print("1..%d" % n)
sys.exit(1 if failed else 0)
