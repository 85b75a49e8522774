# SPDX-License-Identifier: GPL-2.0
"""pcsc_readers.py -- SCardListReaders for the test helpers (ccid_pcsc,
ccidctl_pcsc, pair_pcsc, ccid_bench): the same call, asked again when
pyscard cannot decode the list.

While pcscd takes a reader away, a client that asks for the list at that
moment may get the reader's name half overwritten (seen after usbip
detach on 6.12: byte 0xfb in the name); pyscard then raises
UnicodeDecodeError (wrapped in SystemError) instead of returning. A
moment later the list is whole again. A name that stays undecodable is
an error of its own and is raised as it is.
"""

import time


def list_readers(S, ctx, tries=10, pause=0.05):
    """S.SCardListReaders(ctx, []): (rv, readers)"""
    for _ in range(tries - 1):
        try:
            return S.SCardListReaders(ctx, [])
        except (UnicodeDecodeError, SystemError) as e:
            if not isinstance(e, UnicodeDecodeError) and \
               not isinstance(e.__cause__, UnicodeDecodeError):
                raise
            time.sleep(pause)
    return S.SCardListReaders(ctx, [])
