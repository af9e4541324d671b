#!/usr/bin/env python3
"""fakeimap.py - a small scripted IMAP4rev1 server on 127.0.0.1 that answers
one chosen command with hostile or insecure data (t_hostile.sh, t_tls.sh).

    fakeimap.py --port P --log LOG [--case NAME] [--cert PEM --key KEY] [--tls]

The mailbox is held in memory: INBOX (2 messages), Good (2) and Bad (3), all
UIDVALIDITY 1, UIDs from 1. Any user and password are accepted. It offers
"IMAP4rev1 AUTH=PLAIN SASL-IR IDLE" and answers the commands mailfs sends
(CAPABILITY, AUTHENTICATE PLAIN, LOGIN, LIST, SELECT/EXAMINE, UID FETCH,
NOOP, IDLE/DONE, STATUS, LOGOUT, STARTTLS with --cert/--key); anything else
gets a tagged OK.

--case NAME (see CASES) replaces one answer: the greeting, the LIST reply,
the metadata or flags of folder Bad (any UID FETCH there but a body fetch),
the bodies of Bad (UID FETCH ... BODY.PEEK[]), the login (AUTHENTICATE) or
the SELECT/EXAMINE of Bad. --tls speaks TLS from the
first byte (with --cert/--key); a failed handshake is logged.

Every byte received (after TLS: decrypted) is appended to LOG; lines
starting with "--- " are the server's own notes (connections, TLS).
"""

import argparse
import base64
import re
import socketserver
import ssl
import threading

FOLDERS = {"INBOX": 2, "Good": 2, "Bad": 3}
LIST = [("INBOX", "/"), ("Good", "/"), ("Bad", "/")]
CAPS = "IMAP4rev1 AUTH=PLAIN SASL-IR IDLE"

# case: (where, payload, close after the payload). The payload comes before
# the normal answer, which is still sent unless the case closes.
CASES = {
    # The greeting and LIST: mailfs must refuse to mount.
    "greet-nul": ("greeting", b"* OK hello\x00world\r\n", False),
    "greet-long": ("greeting", b"* OK " + b"x" * (1 << 20) + b"\r\n", False),
    "list-parens": ("list", b"* LIST (" + b"(" * 100000 + b") \"/\" Bad\r\n", False),
    "list-literal-max": ("list", b"* LIST () \"/\" {18446744073709551615}\r\n", False),
    # Folder names: left out (or shown as documented), the rest mounted.
    "list-dotdot": ("names", [("..", "/")], False),
    "list-slash": ("names", [("Fun/Games", ".")], False),
    "list-mutf7": ("names", [("&Jjo", "/"), ("&AGE-", "/"), ("Caf&AOk", "/")], False),
    # The views: a BODYSTRUCTURE the parser refuses (a one-part body typed
    # multipart, a known server bug); the views are made from the whole message.
    "bad-structure": ("structure", b"", False),
    # Folder lists that cost a careless client O(n^2) or unbounded memory:
    # 300,000 folders, and one name of almost 512 KiB with 250,000 levels.
    "list-many": ("names", [("F%06d" % i, "/") for i in range(300000)], False),
    "list-deep": ("names", [("/".join(["a"] * 250000), "/")], False),
    # The metadata (or flags) of Bad: `ls Bad` fails, the rest works.
    "literal-max": ("fetch", b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)] "
                    b"{18446744073709551615}\r\n", True),
    "nul": ("fetch", b"* 1 FETCH (UID 1 FLAGS (\\Se\x00en))\r\n", False),
    "bare-lf": ("fetch", b"* 1 FETCH (UID 1 FLAGS (\\Seen))\n", False),
    "bare-cr": ("fetch", b"* 1 FETCH (UID 1 FLAGS (\\Seen))\r* 2 FETCH (UID 2 FLAGS ())\r\n",
                False),
    "long-line": ("fetch", b"* 1 FETCH (UID 1 FLAGS (" + b"\\Seen " * 180000 + b"))\r\n",
                  False),
    "parens": ("fetch", b"* 1 FETCH (UID 1 X-JUNK " + b"(" * 100000 + b")" * 100000
               + b")\r\n", False),
    "exists-down": ("fetch", b"* 1 EXISTS\r\n", False),
    "expunge-0": ("fetch", b"* 0 EXPUNGE\r\n", False),
    "expunge-beyond": ("fetch", b"* 99 EXPUNGE\r\n", False),
    "uid-0": ("fetch", b"* 1 FETCH (UID 0 FLAGS ())\r\n", False),
    "uid-dup": ("fetch", b"* 1 FETCH (UID 2 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())\r\n",
                False),
    "unknown-tag": ("fetch", b"zz99 OK FETCH completed\r\n", False),
    "reused-tag": ("fetch", b"PREV OK FETCH completed\r\n", False),   # the last tag
    "unexpected-plus": ("fetch", b"+ go ahead\r\n", False),
    # The bodies of Bad: the listing works, reading a message fails.
    "short-literal": ("body", b"* 1 FETCH (UID 1 BODY[] {1000}\r\n0123456789", True),
    "body-literal-max": ("body", b"* 1 FETCH (UID 1 BODY[] {18446744073709551615}\r\n", True),
    # Server text with terminal escapes (t_server_text.sh): an OSC that sets
    # the window title, BEL, "clear screen", a C1 CSI in UTF-8 and as a raw
    # byte, a bidi override. It must reach stderr, syslog and .mailfs-status
    # only as visible escapes. "TAG" stands for the command's tag.
    "esc-greeting": ("greeting", b"* BYE [ALERT] \x1b]0;pwned\x07\x1b[2J\xc2\x9b31m\x9b7m"
                     b" \xe2\x80\xaegone\r\n", False),
    "esc-login": ("auth", b"TAG NO [ALERT] \x1b]0;pwned\x07\x1b[2J\xc2\x9b31m\x9b7m"
                  b" \xe2\x80\xaeno\r\n", False),
    "esc-select": ("select", b"TAG NO [NOPERM] \x1b]0;pwned\x07\x1b[2J\xc2\x9b31m\x9b7m"
                   b" \xe2\x80\xaenot yours\r\n", False),
    "esc-bye": ("select", b"* BYE \x1b]0;pwned\x07\x1b[2J\xc2\x9b31m\x9b7m"
                b" \xe2\x80\xaebye\r\n", True),
    # TLS and login (t_tls.sh).
    # A server without UNSELECT (as this one) that refuses to RENAME or
    # DELETE a folder open on any connection, and notes a CLOSE of a
    # read-write selection (which would expunge) in the log.
    "busy-open": ("open", b"", False),
    "preauth": ("greeting", b"* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in\r\n", False),
    "logindisabled": ("caps", "IMAP4rev1 LOGINDISABLED IDLE", False),
    "starttls": ("caps", "IMAP4rev1 STARTTLS LOGINDISABLED", False),
    "starttls-refused": ("caps", "IMAP4rev1 STARTTLS LOGINDISABLED", False),
    "starttls-inject": ("caps", "IMAP4rev1 STARTTLS LOGINDISABLED", False),
    # Changes: UID EXPUNGE (offered with UIDPLUS) is refused.
    "expunge-no": ("expunge", b"NO [NOPERM] expunging is not allowed here\r\n", False),
}


def message(folder, uid):
    return ("From: sender@example.org\r\nTo: alice@example.org\r\n"
            "Subject: %s message %d\r\nMessage-ID: <%s.%d@example.org>\r\n"
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nBody of message %d.\r\n"
            % (folder, uid, folder, uid, uid)).encode()


def uid_set(spec, last):
    """UIDs of a sequence set; n:* with n > last gives last (RFC 3501 6.4.8)."""
    out = set()
    for part in spec.split(","):
        a, _, b = part.partition(":")
        lo = last if a == "*" else int(a)
        hi = lo if not b else last if b == "*" else int(b)
        lo, hi = min(lo, hi), max(lo, hi)
        out.update(u for u in range(lo, hi + 1) if 1 <= u <= last)
        if not out and "*" in part and last:
            out.add(last)
    return sorted(out)


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.a = self.server.args
        self.case = CASES.get(self.a.case, (None, None, False))
        self.sock = self.request
        self.buf = b""
        self.selected = None
        self.readonly = False
        self.prev_tag = b"m0"

    def note(self, text):
        self.log(("--- %s\n" % text).encode())

    def log(self, data):
        with self.server.log_lock, open(self.a.log, "ab") as f:
            f.write(data)

    def send(self, data):
        self.sock.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.log(data)
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def read_command(self):
        """One command line, with synchronizing literals ({n}) filled in."""
        line = self.readline()
        while line is not None and re.search(rb"\{(\d+)\+?\}\r\n$", line):
            n = int(re.search(rb"\{(\d+)\+?\}\r\n$", line).group(1))
            if not line.endswith(b"+}\r\n"):
                self.send(b"+ go on\r\n")
            while len(self.buf) < n:
                data = self.sock.recv(65536)
                if not data:
                    return None
                self.log(data)
                self.buf += data
            lit, self.buf = self.buf[:n], self.buf[n:]
            rest = self.readline()
            if rest is None:
                return None
            line = line + lit + rest
        return line

    def start_tls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.a.cert, self.a.key)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.note("TLS handshake failed: %s" % e)
            return False
        self.note("TLS established")
        return True

    def handle(self):
        self.note("connection")
        where, payload, close = self.case
        try:
            if self.a.tls and not self.start_tls():
                return
            if where == "greeting":
                self.send(payload)
            else:
                self.send(b"* OK fakeimap ready\r\n")
            while True:
                line = self.read_command()
                if line is None:
                    return
                if not self.command(line):
                    return
        except OSError:
            pass

    def caps(self):
        where, payload, _ = self.case
        if where == "caps" and not isinstance(self.sock, ssl.SSLSocket):
            return payload
        if self.a.oauth:
            return "IMAP4rev1 SASL-IR IDLE AUTH=" + self.a.oauth.split(":")[0]
        if where == "expunge":
            return CAPS + " UIDPLUS"
        return CAPS

    def oauth_ok(self, tag, mech, ir):
        """--oauth MECH:TOKEN: the exact initial response of that mechanism
        (RFC 7628 §3.1 for OAUTHBEARER, the providers' XOAUTH2), or an error
        challenge (RFC 7628 §3.2.2), whose answer is logged, then NO."""
        want_mech, token = self.a.oauth.split(":", 1)
        user = self.a.oauth_user
        if want_mech == "OAUTHBEARER":
            want = b"n,a=" + user.encode() + b",\x01auth=Bearer " + token.encode() + b"\x01\x01"
        else:
            want = b"user=" + user.encode() + b"\x01auth=Bearer " + token.encode() + b"\x01\x01"
        try:
            got = base64.b64decode(ir, validate=True)
        except ValueError:
            got = b""
        if mech == want_mech and got == want:
            self.note("oauth: accepted")
            return True
        self.note("oauth: refused %r" % got)
        err = base64.b64encode(b'{"status":"401","schemes":"bearer","scope":"mail"}')
        self.send(b"+ " + err + b"\r\n")
        answer = self.readline()
        if answer is None:
            return False
        self.note("oauth: error challenge answered with %r" % answer)
        self.send(tag + b" NO [AUTHENTICATIONFAILED] token refused\r\n")
        return False

    def command(self, line):
        """Answer one command; False ends the connection."""
        m = re.match(rb"(\S+) (\S+)(?: (.*?))?\r?\n$", line, re.S)
        if not m:
            self.send(b"* BAD what?\r\n")
            return True
        tag, cmd, args = m.group(1), m.group(2).upper(), (m.group(3) or b"").decode("latin-1")
        ok = tag + b" OK done\r\n"
        where, payload, close = self.case
        if cmd == b"UID":
            sub, _, args = args.partition(" ")
            cmd = b"UID " + sub.upper().encode()
        if cmd == b"CAPABILITY":
            self.send(b"* CAPABILITY " + self.caps().encode() + b"\r\n" + ok)
        elif cmd == b"STARTTLS":
            if self.a.case == "starttls-refused" or not self.a.cert:
                self.send(tag + b" NO not now\r\n")
            elif self.a.case == "starttls-inject":
                # The attack: bytes that a careless client reads as if they
                # had come over TLS, in the same packet as the OK.
                self.send(tag + b" OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] x\r\n")
                return self.start_tls()
            else:
                self.send(tag + b" OK Begin TLS\r\n")
                return self.start_tls()
        elif cmd == b"AUTHENTICATE":
            mech, _, ir = args.strip().partition(" ")
            if not ir:                        # no SASL-IR: ask for it
                self.send(b"+ \r\n")
                resp = self.readline()
                if resp is None:
                    return False
                ir = resp.decode("latin-1").strip()
            if self.a.oauth and not self.oauth_ok(tag, mech.upper(), ir):
                return True
            if where == "auth":
                self.send(payload.replace(b"TAG", tag))
                return not close
            self.send(tag + b" OK [CAPABILITY " + self.caps().encode() + b"] logged in\r\n")
        elif cmd == b"LOGIN":
            self.send(tag + b" OK [CAPABILITY " + CAPS.encode() + b"] logged in\r\n")
        elif cmd == b"LIST":
            self.do_list(tag)
        elif cmd in (b"SELECT", b"EXAMINE", b"STATUS"):
            name = self.mailbox(args)
            if where == "select" and name == "Bad" and cmd != b"STATUS":
                self.send(payload.replace(b"TAG", tag))
                if close:
                    return False
            elif name not in FOLDERS:
                self.send(tag + b" NO [NONEXISTENT] no such folder\r\n")
            elif cmd == b"STATUS":
                self.send(b'* STATUS "%s" (MESSAGES %d)\r\n' % (name.encode(), FOLDERS[name]) + ok)
            else:
                self.set_selected(name)
                self.readonly = cmd == b"EXAMINE"
                n = FOLDERS[name]
                self.send(b"* FLAGS (\\Seen \\Deleted)\r\n* %d EXISTS\r\n* 0 RECENT\r\n"
                          b"* OK [UIDVALIDITY 1] x\r\n* OK [UIDNEXT %d] x\r\n" % (n, n + 1)
                          + tag + b" OK [READ-WRITE] selected\r\n")
        elif cmd == b"UID FETCH":
            if not self.do_fetch(tag, args):
                return False
        elif cmd == b"UID EXPUNGE" and where == "expunge":
            self.send(tag + b" " + payload)
        elif cmd == b"IDLE":
            self.send(b"+ idling\r\n")
            if self.readline() is None:
                return False
            self.send(ok)
        elif cmd == b"LOGOUT":
            self.send(b"* BYE bye\r\n" + ok)
            return False
        elif cmd == b"CLOSE" and where == "open":
            if self.selected and not self.readonly:
                self.note("CLOSE of a read-write selection: it would expunge")
            self.set_selected(None)
            self.send(ok)
        elif cmd in (b"RENAME", b"DELETE") and where == "open":
            name = self.mailbox(args)
            with self.server.log_lock:
                busy = any(f == name or f.startswith(name + "/")
                           for f in self.server.open_by.values())
            if busy:
                self.note("refused: %s is open" % name)
                self.send(tag + b" NO Can't %s the currently-open folder\r\n" % cmd)
            else:
                if cmd == b"RENAME":
                    to = self.mailbox(args[len(re.match(r'"(?:[^"\\]|\\.)*"|\S+', args).group(0)):].strip())
                    FOLDERS[to] = FOLDERS.pop(name)
                    LIST[:] = [(to if n == name else n, d) for n, d in LIST]
                else:
                    FOLDERS.pop(name, None)
                    LIST[:] = [(n, d) for n, d in LIST if n != name]
                self.send(ok)
        else:
            self.send(ok)
        self.prev_tag = tag
        return True

    def set_selected(self, name):
        """This connection's selection, known to every connection."""
        self.selected = name
        with self.server.log_lock:
            if name:
                self.server.open_by[id(self)] = name
            else:
                self.server.open_by.pop(id(self), None)

    def finish(self):
        self.set_selected(None)

    @staticmethod
    def mailbox(args):
        m = re.match(r'"((?:[^"\\]|\\.)*)"|(\S+)', args)
        if not m:
            return None
        return re.sub(r"\\(.)", r"\1", m.group(1)) if m.group(1) is not None else m.group(2)

    def do_list(self, tag):
        where, payload, _ = self.case
        if where == "list":
            self.send(payload)
        entries = LIST + (payload if where == "names" else [])
        out = [b'* LIST (\\HasNoChildren) "%s" "%s"\r\n' % (delim.encode(), name.encode())
               for name, delim in entries]
        self.send(b"".join(out) + tag + b" OK LIST done\r\n")

    def do_fetch(self, tag, args):
        m = re.match(r"(\S+) \((.*)\)", args)
        n = FOLDERS.get(self.selected, 0)
        if not m or self.selected is None:
            self.send(tag + b" BAD no mailbox selected\r\n")
            return True
        items = m.group(2).upper()
        body = "BODY.PEEK[]" in items
        where, payload, close = self.case
        if self.selected == "Bad" and where == ("body" if body else "fetch"):
            self.send(payload.replace(b"PREV", self.prev_tag))
            if close:
                return False
            if self.a.case in ("unknown-tag", "reused-tag"):
                return True     # no right tagged reply: the client gave up
        out = b""
        for uid in uid_set(m.group(1), n):
            data = message(self.selected, uid)
            if "BODYSTRUCTURE" in items:
                att = (b'BODYSTRUCTURE ("MULTIPART" "MIXED" NIL NIL NIL "7BIT" %d 1)'
                       if where == "structure" else
                       b'BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" %d 1)'
                       ) % len(data)
            elif body:
                att = b"BODY[] {%d}\r\n%s" % (len(data), data)
            elif "RFC822.SIZE" in items:
                hdr = b"".join(h + b"\r\n" for h in data.split(b"\r\n")
                               if h.startswith((b"Subject:", b"Message-ID:"))) + b"\r\n"
                att = (b'FLAGS (\\Seen) RFC822.SIZE %d INTERNALDATE "01-Jan-2024 10:00:00 +0000" '
                       b"BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)] {%d}\r\n%s"
                       % (len(data), len(hdr), hdr))
            elif "FLAGS" in items:
                att = b"FLAGS (\\Seen)"
            else:
                att = b""
            out += b"* %d FETCH (UID %d%s%s)\r\n" % (uid, uid, b" " if att else b"", att)
        self.send(out + tag + b" OK FETCH done\r\n")
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--case", default="", choices=[""] + sorted(CASES))
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--tls", action="store_true", help="TLS from the first byte")
    ap.add_argument("--oauth", help="MECH:TOKEN: offer only AUTH=MECH (XOAUTH2 or "
                    "OAUTHBEARER) and accept only that token")
    ap.add_argument("--oauth-user", default="alice")
    a = ap.parse_args()
    if "list-slash" == a.case:
        FOLDERS["Fun/Games"] = 1
    if "busy-open" == a.case:
        FOLDERS["Empty"] = 0
        LIST.append(("Empty", "/"))
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", a.port), Handler) as srv:
        srv.args = a
        srv.log_lock = threading.Lock()
        srv.open_by = {}
        srv.serve_forever()


if __name__ == "__main__":
    main()
