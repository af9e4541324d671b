#!/usr/bin/env python3
"""bigmsg.py - write large messages (a short text and a base64 attachment)
straight into a Dovecot Maildir folder, for `make bench`.

    bigmsg.py --folder DIR [--size BYTES] [--max-size BYTES] [--count N]
              [--word WORD] [--seed N]

DIR is the folder's directory (DIR/cur, DIR/new, DIR/tmp are created). Each
message file is about --size bytes (default 25 MiB), or between --size and
--max-size, with LF line endings; its Maildir name carries ,S=<size>,W=<size
with CRLF> like tests/corpus.py writes. With --word, every third message's
text holds WORD; the attachments never do (random base64 holds a given
five letters about once in 400 MB: such a line is drawn again). Python 3
standard library only.
"""

import argparse
import base64
import os
import random
import time


def attachment(raw_len, seed, word):
    """raw_len random bytes as base64 lines, none of which holds WORD."""
    rnd = random.Random(seed)
    data = bytearray(rnd.randbytes(raw_len))
    enc = base64.encodebytes(bytes(data))
    at = enc.find(word) if word else -1
    while at >= 0:
        line = at // 77              # 76 characters and LF per 57 bytes
        data[line * 57:line * 57 + 57] = rnd.randbytes(len(data[line * 57:line * 57 + 57]))
        enc = base64.encodebytes(bytes(data))
        at = enc.find(word)
    return enc


def message(n, size, text, seed, word):
    when = 1735689600 + n  # 2025-01-01 00:00:00 UTC
    head = (b"From: Big Sender <big@example.org>\n"
            b"To: Alice Example <alice@example.org>\n"
            b"Subject: The %d MB attachment%s\n"
            b"Date: Wed, 01 Jan 2025 00:00:00 +0000\n"
            b"Message-ID: <bench.big.%d@mailfs.example>\n"
            b"MIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=\"=_bench_big\"\n\n"
            b"This is a multi-part message in MIME format.\n\n"
            b"--=_bench_big\n"
            b"Content-Type: text/plain; charset=us-ascii\n\n"
            b"%s\n\n"
            b"--=_bench_big\n"
            b"Content-Type: application/octet-stream; name=\"big.bin\"\n"
            b"Content-Disposition: attachment; filename=\"big.bin\"\n"
            b"Content-Transfer-Encoding: base64\n\n") % (
                size >> 20, b" %d" % n if n else b"", n or 1, text)
    tail = b"\n--=_bench_big--\n"
    # base64.encodebytes: 76 characters + LF per 57 input bytes.
    room = size - len(head) - len(tail)
    raw_len = (room // 77) * 57
    return when, head + attachment(raw_len, seed, word) + tail


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", required=True)
    ap.add_argument("--size", type=int, default=25 * 1024 * 1024)
    ap.add_argument("--max-size", type=int, default=0)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--word", default="")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(a.folder, sub), exist_ok=True)
    rnd = random.Random(a.seed)
    total = 0
    for i in range(a.count):
        n = i + 1 if a.count > 1 else 0
        size = a.size if a.max_size <= a.size else rnd.randint(a.size, a.max_size)
        if a.count == 1:
            text = b"The attachment is 25 MB of random bytes."
        else:
            text = b"Report number %d, with its data attached.%s" % (
                n, (b" It mentions " + a.word.encode() + b".") if a.word and n % 3 == 0 else b"")
        when, msg = message(n, size, text, a.seed + i, a.word.encode())
        size = len(msg)
        total += size
        vsize = size + msg.count(b"\n")
        name = "%d.M%dP%d.bench,S=%d,W=%d:2,S" % (when, i + 1, os.getpid(), size, vsize)
        tmp = os.path.join(a.folder, "tmp", name.split(":")[0])
        with open(tmp, "wb") as f:
            f.write(msg)
        os.utime(tmp, (when, when))
        os.rename(tmp, os.path.join(a.folder, "cur", name))
    print("bigmsg: %d message(s), %d bytes, in %s" % (a.count, total, a.folder))


if __name__ == "__main__":
    main()
