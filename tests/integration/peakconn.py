#!/usr/bin/env python3
"""peakconn.py DOVECOT_LOG: the most IMAP sessions the server held at once,
read from its own log (independent of mailfs): a session starts at
"imap-login: ... Login: ... session=<S>" and ends at the
"imap(user)<pid><S>: ... Disconnected" line. Prints two numbers: the peak of
sessions over TLS (the mounts of the tests; the independent client,
imapcheck.py, logs in without TLS), and the peak of all sessions."""
import re
import sys

LOGIN = re.compile(r"imap-login: (?:Info: )?Login: .*session=<([^>]+)>")
END = re.compile(r"imap\([^)]*\)<\d+><([^>]+)>: (?:Info: )?(?:Disconnected|Connection closed)")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: peakconn.py DOVECOT_LOG")
    tls, other = set(), set()
    peak_tls = peak_all = 0
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LOGIN.search(line)
            if m:
                (tls if ", TLS" in line else other).add(m.group(1))
                peak_tls = max(peak_tls, len(tls))
                peak_all = max(peak_all, len(tls) + len(other))
                continue
            m = END.search(line)
            if m:
                tls.discard(m.group(1))
                other.discard(m.group(1))
    print(peak_tls, peak_all)


if __name__ == "__main__":
    main()
