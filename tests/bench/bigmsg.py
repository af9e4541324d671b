#!/usr/bin/env python3
"""bigmsg.py - write one large message (a base64 attachment) straight into a
Dovecot Maildir folder, for `make bench`.

    bigmsg.py --folder DIR [--size BYTES] [--seed N]

DIR is the folder's directory (DIR/cur, DIR/new, DIR/tmp are created). The
message file is about --size bytes (default 25 MiB) with LF line endings; its
Maildir name carries ,S=<size>,W=<size with CRLF> like tests/corpus.py writes.
Python 3 standard library only.
"""

import argparse
import base64
import os
import random
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", required=True)
    ap.add_argument("--size", type=int, default=25 * 1024 * 1024)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(a.folder, sub), exist_ok=True)
    when = 1735689600  # 2025-01-01 00:00:00 UTC
    head = (b"From: Big Sender <big@example.org>\n"
            b"To: Alice Example <alice@example.org>\n"
            b"Subject: The 25 MB attachment\n"
            b"Date: Wed, 01 Jan 2025 00:00:00 +0000\n"
            b"Message-ID: <bench.big.1@mailfs.example>\n"
            b"MIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=\"=_bench_big\"\n\n"
            b"This is a multi-part message in MIME format.\n\n"
            b"--=_bench_big\n"
            b"Content-Type: text/plain; charset=us-ascii\n\n"
            b"The attachment is 25 MB of random bytes.\n\n"
            b"--=_bench_big\n"
            b"Content-Type: application/octet-stream; name=\"big.bin\"\n"
            b"Content-Disposition: attachment; filename=\"big.bin\"\n"
            b"Content-Transfer-Encoding: base64\n\n")
    tail = b"\n--=_bench_big--\n"
    # base64.encodebytes: 76 characters + LF per 57 input bytes.
    room = a.size - len(head) - len(tail)
    raw_len = (room // 77) * 57
    data = random.Random(a.seed).randbytes(raw_len)
    msg = head + base64.encodebytes(data) + tail
    size = len(msg)
    vsize = size + msg.count(b"\n")
    name = "%d.M1P%d.bench,S=%d,W=%d:2,S" % (when, os.getpid(), size, vsize)
    tmp = os.path.join(a.folder, "tmp", name.split(":")[0])
    with open(tmp, "wb") as f:
        f.write(msg)
    os.utime(tmp, (when, when))
    os.rename(tmp, os.path.join(a.folder, "cur", name))
    print("bigmsg: 1 message, %d bytes, in %s" % (size, a.folder))


if __name__ == "__main__":
    main()
