#!/usr/bin/env python3
"""rawfetch.py - a minimal raw IMAP client: the reference for `make bench`.

    rawfetch.py --host H --port P --user U --password-file F --cafile CA
                [--enable CAPS] [--uids FILE]
                [--items ITEMS | --search KEYS | --status] MAILBOX...

Connects over TLS (IMAPS), logs in (AUTHENTICATE PLAIN), sends ENABLE CAPS
if asked (mailfs enables QRESYNC, after which every FETCH response carries
a MODSEQ), and for each MAILBOX sends SELECT, then one `UID FETCH 1:* ITEMS`
(or `UID SEARCH KEYS`) and reads the answer to its tagged reply. Only that
command is timed.
Prints one line per mailbox: "<mailbox> <seconds> <bytes> <FETCH responses>"
(with --search: the number of UIDs found). With --status it sends no SELECT:
one `STATUS MAILBOX (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)` for every
MAILBOX, all written at once (pipelined), timed up to the last tagged reply,
and prints one line: "status <seconds> <bytes> <STATUS responses>". --uids FILE writes the UIDs of the
FETCH responses (of the last MAILBOX), one a line, in the server's order,
after the timing. Python 3 stdlib only.
"""

import argparse
import base64
import re
import socket
import ssl
import sys
import time

CHUNK = 1 << 20


class Conn:
    def __init__(self, host, port, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        raw = socket.create_connection((host, port), timeout=120)
        self.s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.n = 0
        self.read_tagged(b"*")  # the greeting is one untagged line

    def read_tagged(self, tag):
        """Read up to and including the line that starts with tag + space.
        Returns (bytes, tagged line). Literals are not parsed: the tag is
        looked for at the start of every line, which is enough for a
        benchmark (a literal would have to contain CRLF + tag + space)."""
        needle = b"\r\n" + tag + b" "
        chunks = []
        carry = b"\r\n"  # so that the first line can match too
        total = 0
        while True:
            data = self.s.recv(CHUNK)
            if not data:
                raise SystemExit("rawfetch: connection closed by the server")
            chunks.append(data)
            total += len(data)
            window = carry + data
            i = window.find(needle)
            if i >= 0:
                rest = window[i + 2:]
                while b"\r\n" not in rest:
                    more = self.s.recv(CHUNK)
                    if not more:
                        raise SystemExit("rawfetch: connection closed by the server")
                    chunks.append(more)
                    total += len(more)
                    rest += more
                line = rest[:rest.index(b"\r\n")]
                return b"".join(chunks), line
            carry = window[-(len(needle) - 1):]

    def command(self, text):
        self.n += 1
        tag = b"a%d" % self.n
        self.s.sendall(tag + b" " + text + b"\r\n")
        data, line = self.read_tagged(tag)
        status = line.split(b" ", 2)[1] if b" " in line else b""
        if status != b"OK":
            raise SystemExit("rawfetch: %s -> %s" % (text[:40], line.decode("latin-1")))
        return data


# "* <seq> FETCH (... UID <uid>": the items before the first literal are on
# the response's first line; Dovecot sends UID first.
FETCH_UID = re.compile(rb"^\* \d+ FETCH \([^\r\n{]*?\bUID (\d+)", re.M)


def quote(s):
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--items", default="(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)")
    ap.add_argument("--search", help="send UID SEARCH KEYS instead (ASCII keys)")
    ap.add_argument("--enable", help="send ENABLE CAPS after logging in (e.g. QRESYNC)")
    ap.add_argument("--uids", help="write the UIDs the FETCH returned to this file")
    ap.add_argument("--status", action="store_true",
                    help="pipelined STATUS of every MAILBOX instead (one round trip)")
    ap.add_argument("mailboxes", nargs="+")
    a = ap.parse_args()
    with open(a.password_file, "rb") as f:
        password = f.readline().rstrip(b"\r\n")

    c = Conn(a.host, a.port, a.cafile)
    auth = base64.b64encode(b"\0" + a.user.encode() + b"\0" + password)
    c.command(b"AUTHENTICATE PLAIN " + auth)
    if a.enable:
        c.command(b"ENABLE " + a.enable.encode())
    if a.status:
        lines = []
        for mb in a.mailboxes:
            c.n += 1
            lines.append(b"a%d STATUS %s (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)\r\n"
                         % (c.n, quote(mb.encode("utf-8"))))
        t0 = time.perf_counter()
        c.s.sendall(b"".join(lines))
        data, line = c.read_tagged(b"a%d" % c.n)   # Dovecot answers in order
        t1 = time.perf_counter()
        n = data.count(b"* STATUS ")
        if n != len(a.mailboxes) or data.count(b" OK ") < len(a.mailboxes):
            raise SystemExit("rawfetch: %d STATUS answers for %d mailboxes" % (n, len(a.mailboxes)))
        print("status %.6f %d %d" % (t1 - t0, len(data), n))
        c.command(b"LOGOUT")
        return
    for mb in a.mailboxes:
        c.command(b"SELECT " + quote(mb.encode("utf-8")))
        if a.search:
            cmd = b"UID SEARCH " + a.search.encode()
        else:
            cmd = b"UID FETCH 1:* " + a.items.encode()
        t0 = time.perf_counter()
        data = c.command(cmd)
        t1 = time.perf_counter()
        if a.search:
            n = sum(len(line.split()) - 2 for line in data.split(b"\r\n")
                    if line.startswith(b"* SEARCH"))
        else:
            n = data.count(b" FETCH (")
        print("%s %.6f %d %d" % (mb, t1 - t0, len(data), n))
        sys.stdout.flush()
        if a.uids and not a.search:
            with open(a.uids, "w") as f:
                f.writelines("%d\n" % int(u) for u in FETCH_UID.findall(data))
        del data
    c.command(b"LOGOUT")


if __name__ == "__main__":
    main()
