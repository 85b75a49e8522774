# SPDX-License-Identifier: GPL-2.0
"""pyscard_direct.py -- pyscard's PC/SC module for the test helpers,
without the rest of pyscard.

The helpers (ccid_pcsc, ccidctl_pcsc, pair_pcsc, ccid_bench) need only
smartcard.scard, the SWIG wrapper of the PC/SC calls. "from smartcard
import scard" first runs smartcard/__init__.py, which imports pyscard's
whole object layer (System, ReaderFactory, CardConnection, observers,
threads): about 2.5 s per process on the sanitizer kernel under TCG, and a
test file starts dozens of helpers. So the package is entered without
running its __init__: an empty module object with the package's path
stands in for it, and the import system then finds smartcard.scard below
it as usual.

The helpers are started with "python3 -S" (tests/vm/lib.sh: $PY), which
leaves out the site module and with it every .pth file of the machine;
Debian's dist-packages directory is then added here.
"""

import importlib.util
import sys
import types

DIST = "/usr/lib/python3/dist-packages"


def scard():
    """The module smartcard.scard (raises ImportError if pyscard is
    missing)."""
    if DIST not in sys.path:
        sys.path.append(DIST)
    if "smartcard" not in sys.modules:
        spec = importlib.util.find_spec("smartcard")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("no module named 'smartcard' (python3-pyscard)")
        pkg = types.ModuleType("smartcard")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__spec__ = spec
        sys.modules["smartcard"] = pkg
    from smartcard import scard as s
    return s
