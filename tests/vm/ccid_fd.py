#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ccid_fd.py -- query ioctls on an already open /dev/ccidg<N> descriptor.

usage: ccid_fd.py FD config|status|read

The descriptor is inherited from the calling shell (exec 7</dev/ccidg0),
so a test can keep a file open across unbinding and removing the function
and then see what the kernel answers on it. Prints one line:
  ok key=value ...          the call succeeded
  errno=N NAME              it failed
Exit status 0 on success, 1 on an errno, 2 on a usage error.
"""

import errno
import fcntl
import os
import struct
import sys


def ior(nr, size):
    # _IOR('g', nr, size) on Linux
    return (2 << 30) | (size << 16) | (ord("g") << 8) | nr


CONFIG_FMT = "<16I"                  # struct ccidg_config
STATUS_FMT = "<II16B16B4I"           # struct ccidg_status
GET_CONFIG = ior(0x62, struct.calcsize(CONFIG_FMT))
GET_STATUS = ior(0x63, struct.calcsize(STATUS_FMT))


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    fd, what = int(argv[1]), argv[2]
    try:
        if what == "config":
            b = fcntl.ioctl(fd, GET_CONFIG, bytes(struct.calcsize(CONFIG_FMT)))
            v = struct.unpack(CONFIG_FMT, b)
            print("ok nslots=%d busy_slots=%d protocols=%d features=0x%x "
                  "max_msg_len=%d online=%d" % v[:6])
        elif what == "status":
            b = fcntl.ioctl(fd, GET_STATUS, bytes(struct.calcsize(STATUS_FMT)))
            v = struct.unpack(STATUS_FMT, b)
            n = v[0]
            print("ok nslots=%d online=%d state=%s busy=%s" %
                  (n, v[1], ",".join(str(x) for x in v[2:2 + n]),
                   ",".join(str(x) for x in v[18:18 + n])))
        elif what == "read":
            os.set_blocking(fd, False)
            d = os.read(fd, 70000)
            print("ok read=%d" % len(d))
        else:
            print(__doc__)
            return 2
    except OSError as e:
        print("errno=%d %s" % (e.errno, errno.errorcode.get(e.errno, "?")))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
