"""Run one command and write its wall time, CPU time and peak memory to a file.

Usage (the harness runs every timed command through it):

    python bench/peak.py OUT.json COMMAND [ARG ...]

Why: `ru_maxrss` of a process counts, from before its `exec`, the memory of the process it
was forked from. Measured straight from the harness (a Python process of ~50 MB), every
command would seem to use at least the harness's memory (a bare `python -c pass` showed
47 MB, for 14 MB measured by itself). This small launcher forks the command from itself
(a bare interpreter, which imports only `os`, `sys`, `time` and `json`), so the peak is the
command's own (at least a bare interpreter's, which every measured command is anyway), and
its wall time starts at the fork, not at this launcher's own start-up.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    out, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    # ru_maxrss is in kilobytes on Linux, bytes on macOS
    peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime,
                   "peak_mb": peak}, fh)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
