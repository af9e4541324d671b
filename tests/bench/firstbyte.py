#!/usr/bin/env python3
"""firstbyte.py FILE - milliseconds from open(2) to the first byte read(2)
returns (open + read of 1 byte, unbuffered). Prints the number only."""

import os
import sys
import time


def main():
    path = sys.argv[1]
    t0 = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    b = os.read(fd, 1)
    t1 = time.perf_counter()
    os.close(fd)
    if len(b) != 1:
        sys.stderr.write("firstbyte: %s: read returned %d bytes\n" % (path, len(b)))
        sys.exit(1)
    print("%.3f" % ((t1 - t0) * 1000.0))


if __name__ == "__main__":
    main()
