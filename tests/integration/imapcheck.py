#!/usr/bin/env python3
"""imapcheck - an independent IMAP client (Python imaplib) that integration
tests use to look at the server side of a mailfs mount.

    imapcheck.py [CONNECTION] COMMAND [ARGS] [CONNECTION]

CONNECTION (before or after the command; defaults from the environment
variables IMAPCHECK_HOST, IMAPCHECK_PORT, IMAPCHECK_USER, IMAPCHECK_PASSWORD):
    --host H (127.0.0.1)  --port P (143, 993 with --ssl)  --user U  --password PW
    --ssl        TLS from the first byte (IMAP4_SSL)
    --starttls   plaintext port, then STARTTLS
    --cafile F   trust the CA certificate(s) in F (server certificate and host
                 name are verified; --insecure turns both checks off)
    --timeout S  per network operation (default 60)

COMMANDS (FOLDER is UTF-8 with '/' between hierarchy levels, like a path
under the mount; it is converted to modified UTF-7 and the server's delimiter.
A '/' inside one level, possible when the delimiter is not '/', is written as
U+2215 as in the mount):
    folders [--all]             selectable folders (--all: \\Noselect ones too),
                                one per line, decoded, sorted
    uids FOLDER                 UIDs, one per line, ascending
    count FOLDER                number of messages
    dump FOLDER OUTDIR          OUTDIR/<uid>.eml: exact BODY.PEEK[] bytes;
                                OUTDIR/<uid>.meta: JSON {uid, rfc822_size,
                                internaldate (epoch seconds), flags}
    grep WORD                   "<folder>\\t<uid>" for every message in every
                                selectable folder whose raw bytes contain WORD
                                (case-sensitive, searched locally)
    flags FOLDER UID            the message's flags, space-separated
    fetch FOLDER UID            BODY.PEEK[] on stdout, as bytes
    has-message-id FOLDER ID    exit 0 and print the UID(s) if a message with
                                that Message-ID (with or without <>) exists,
                                else exit 1
    append FOLDER FILE [--flags '\\Seen ...'] [--date EPOCH] [--raw]
                                APPEND; prints the new UID when the server
                                says APPENDUID. Line endings become CRLF
                                (imaplib) unless --raw sends the exact bytes
    store FOLDER UID [FLAG...] [--add|--remove]
                                UID STORE FLAGS (replace; none clears all),
                                or +FLAGS / -FLAGS
    mark-deleted FOLDER UID     UID STORE +FLAGS.SILENT (\\Deleted), no expunge
    expunge FOLDER UID          \\Deleted on that UID, then UID EXPUNGE of it only
    create FOLDER | delete FOLDER

Read-only commands use EXAMINE and BODY.PEEK, so they never change \\Seen or
\\Recent. \\Recent is left out of every flag list (it belongs to a session,
not to the message). Errors: one line on stderr, exit status 2.

Python 3 standard library only.
"""

import argparse
import base64
import calendar
import imaplib
import json
import os
import re
import ssl
import sys

# ---------------------------------------------------------------------------
# IMAP modified UTF-7 (RFC 3501 section 5.1.3)
# ---------------------------------------------------------------------------


def mutf7_encode(name):
    """str -> modified UTF-7 str (ASCII)."""
    out, run = [], []

    def flush():
        if run:
            b64 = base64.b64encode("".join(run).encode("utf-16-be")).decode("ascii")
            out.append("&" + b64.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name):
    """modified UTF-7 str -> str. Raises ValueError on malformed input."""
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        j = name.find("-", i + 1)
        if j < 0:
            raise ValueError("unterminated '&' in mailbox name %r" % name)
        if j == i + 1:
            out.append("&")
        else:
            b64 = name[i + 1:j].replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            try:
                out.append(base64.b64decode(b64, validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError) as e:
                raise ValueError("bad modified UTF-7 in %r: %s" % (name, e))
        i = j + 1
    return "".join(out)


# ---------------------------------------------------------------------------
# A small IMAP response parser on top of imaplib's raw data
# ---------------------------------------------------------------------------


class Literal(bytes):
    """A {N} literal: its bytes, kept apart from the surrounding text."""


def flatten(data):
    """imaplib gives a list whose items are bytes (a line, or the rest of a
    line after a literal) or (text-ending-in-{N}, literal) tuples. Return one
    token stream: a list of bytes chunks and Literal objects."""
    out = []
    for item in data:
        if isinstance(item, tuple):
            text, lit = item
            text = re.sub(rb"~?\{\d+\+?\}$", b"", text)
            out.append(text)
            out.append(Literal(lit))
        elif item is not None:
            out.append(item + b"\n")  # a line break separates responses
    return out


def tokenize(chunks):
    """Yield tokens: '(' ')' '\\n' (end of a response), bytes (atom or
    quoted string) or Literal. An atom like BODY[HEADER.FIELDS (A B)] keeps
    its bracketed part, spaces included."""
    for chunk in chunks:
        if isinstance(chunk, Literal):
            yield chunk
            continue
        i, n = 0, len(chunk)
        while i < n:
            c = chunk[i:i + 1]
            if c == b" " or c == b"\r":
                i += 1
            elif c in (b"(", b")", b"\n"):
                yield c.decode()
                i += 1
            elif c == b'"':
                j, buf = i + 1, bytearray()
                while j < n and chunk[j:j + 1] != b'"':
                    if chunk[j:j + 1] == b"\\":
                        j += 1
                    buf += chunk[j:j + 1]
                    j += 1
                yield bytes(buf)
                i = j + 1
            else:
                j, depth = i, 0
                while j < n:
                    d = chunk[j:j + 1]
                    if d == b"[":
                        depth += 1
                    elif d == b"]":
                        depth -= 1
                    elif depth <= 0 and d in (b" ", b"(", b")", b"\n", b"\r"):
                        break
                    j += 1
                yield chunk[i:j]
                i = j


def parse_responses(data):
    """Parse imaplib's data into a list of responses, each a list of items
    where a parenthesized list is a Python list."""
    responses, stack = [], [[]]
    for tok in tokenize(flatten(data)):
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) > 1:
                inner = stack.pop()
                stack[-1].append(inner)
        elif tok == "\n":
            if len(stack) == 1:  # newline inside a list: literal continuation
                if stack[0]:
                    responses.append(stack[0])
                stack = [[]]
        else:
            stack[-1].append(tok)
    while len(stack) > 1:  # unbalanced: close what is open
        inner = stack.pop()
        stack[-1].append(inner)
    if stack[0]:
        responses.append(stack[0])
    return responses


def fetch_items(data):
    """UID FETCH results -> list of dicts {ITEM-NAME (upper str): value}."""
    out = []
    for resp in parse_responses(data):
        # "<seq> (ITEM value ITEM value ...)"
        lst = next((x for x in resp if isinstance(x, list)), None)
        if lst is None:
            continue
        d = {}
        for k in range(0, len(lst) - 1, 2):
            key = lst[k]
            if isinstance(key, bytes):
                d[key.decode("ascii", "replace").upper()] = lst[k + 1]
        out.append(d)
    return out


MONTHS = {m: i + 1 for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


def internaldate_epoch(value):
    """'17-Jul-1996 02:44:25 -0700' -> epoch seconds."""
    m = re.match(rb"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([-+])(\d\d)(\d\d)",
                 value)
    if not m:
        raise ValueError("bad INTERNALDATE %r" % value)
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    t = calendar.timegm((int(year), MONTHS[mon.decode().capitalize()], int(day),
                         int(hh), int(mm), int(ss)))
    off = (int(oh) * 60 + int(om)) * 60
    return t - off if sign == b"+" else t + off


def flag_list(value):
    return [f.decode("utf-8", "replace") for f in value
            if isinstance(f, bytes) and f.lower() != b"\\recent"]


# ---------------------------------------------------------------------------
# Session helpers
# ---------------------------------------------------------------------------


class Fail(Exception):
    """An error to report on one line, exit status 2."""


def quote(s):
    """An IMAP quoted string (imaplib does not quote mailbox names)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check(typ, dat, what):
    if typ != "OK":
        text = b" ".join(x for x in dat if isinstance(x, bytes)).decode("utf-8", "replace")
        raise Fail("%s: %s %s" % (what, typ, text))
    return dat


class Client:
    def __init__(self, args):
        self.args = args
        self.delim = None
        if args.user is None or args.password is None:
            raise Fail("--user and --password (or IMAPCHECK_USER/IMAPCHECK_PASSWORD) needed")
        ctx = None
        if args.ssl or args.starttls:
            ctx = ssl.create_default_context(cafile=args.cafile)
            if args.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
        port = args.port or (993 if args.ssl else 143)
        if args.ssl:
            self.m = imaplib.IMAP4_SSL(args.host, port, ssl_context=ctx, timeout=args.timeout)
        else:
            self.m = imaplib.IMAP4(args.host, port, timeout=args.timeout)
            if args.starttls:
                self.m.starttls(ssl_context=ctx)
        # imaplib quotes the password but not the user name.
        self.m.login(quote(args.user), args.password)

    def close(self):
        try:
            self.m.logout()
        except (imaplib.IMAP4.error, OSError):
            pass

    # -- names ------------------------------------------------------------

    def delimiter(self):
        if self.delim is None:
            dat = check(*self.m.list('""', '""'), 'LIST "" ""')
            resp = parse_responses(dat)
            d = resp[0][1] if resp and len(resp[0]) > 1 else b"NIL"
            self.delim = "" if d.upper() == b"NIL" else d.decode("ascii")
        return self.delim

    def to_server(self, folder):
        """UTF-8 path with '/' -> quoted mUTF-7 mailbox name."""
        if folder.upper() == "INBOX":
            return '"INBOX"'
        d = self.delimiter()
        parts = folder.split("/")
        if not d:
            parts = ["/".join(parts)]
        parts = [p.replace("\u2215", "/") for p in parts]
        return quote((d or "/").join(mutf7_encode(p) for p in parts))

    def from_server(self, name, delim):
        """mUTF-7 mailbox name -> UTF-8 path with '/'."""
        parts = name.split(delim) if delim else [name]
        return "/".join(mutf7_decode(p).replace("/", "\u2215") for p in parts)

    def list_folders(self, include_noselect=False):
        dat = check(*self.m.list('""', '"*"'), "LIST")
        names = []
        for resp in parse_responses(dat):
            if len(resp) < 3 or not isinstance(resp[0], list):
                continue
            attrs = {a.lower() for a in resp[0] if isinstance(a, bytes)}
            delim = resp[1]
            delim = "" if delim.upper() == b"NIL" else delim.decode("ascii")
            if not include_noselect and (b"\\noselect" in attrs or b"\\nonexistent" in attrs):
                continue
            raw = resp[2].decode("utf-8", "surrogateescape")
            try:
                names.append(self.from_server(raw, delim))
            except ValueError:
                names.append(raw)  # show it undecoded rather than hide it
        return sorted(set(names))

    def select(self, folder, readonly=True):
        """EXAMINE (readonly) or SELECT; returns the message count."""
        typ, dat = self.m.select(self.to_server(folder), readonly=readonly)
        check(typ, dat, "%s %s" % ("EXAMINE" if readonly else "SELECT", folder))
        return int(dat[0])

    # -- messages ---------------------------------------------------------

    def uids(self):
        dat = check(*self.m.uid("SEARCH", None, "ALL"), "UID SEARCH")
        return sorted(int(u) for u in b" ".join(d for d in dat if d).split())

    def fetch(self, uidset, items):
        dat = check(*self.m.uid("FETCH", uidset, items), "UID FETCH")
        return [d for d in fetch_items(dat) if "UID" in d]

    def need_uid(self, uid):
        r = self.fetch(str(uid), "(UID)")
        if not any(int(d["UID"]) == uid for d in r):
            raise Fail("no message with UID %d" % uid)

    def bodies(self, uids, extra=""):
        """Yield fetch dicts with BODY[] for uids, in batches of a bounded
        total size, so a folder of 20,000 messages does not fill memory."""
        if not uids:
            return
        sizes = {}
        for d in self.fetch("%d:%d" % (uids[0], uids[-1]), "(UID RFC822.SIZE)"):
            sizes[int(d["UID"])] = int(d["RFC822.SIZE"])
        batch, total = [], 0
        for u in uids:
            batch.append(u)
            total += sizes.get(u, 0)
            if total > 16 << 20 or len(batch) >= 500:
                yield from self._fetch_bodies(batch, extra)
                batch, total = [], 0
        if batch:
            yield from self._fetch_bodies(batch, extra)

    def _fetch_bodies(self, batch, extra):
        items = "(UID %sBODY.PEEK[])" % extra
        for d in sorted(self.fetch(",".join(map(str, batch)), items),
                        key=lambda x: int(x["UID"])):
            body = d.get("BODY[]")
            if body is None or (isinstance(body, bytes) and body.upper() == b"NIL"):
                body = b""
            d["BODY[]"] = bytes(body)
            yield d


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def cmd_folders(c, a):
    for name in c.list_folders(a.all):
        print(name)


def cmd_uids(c, a):
    c.select(a.folder)
    for u in c.uids():
        print(u)


def cmd_count(c, a):
    print(c.select(a.folder))


def cmd_uidnext(c, a):
    # Every APPEND, COPY or MOVE into a folder takes a UID: counting them
    # counts what was stored there, also what was removed again since.
    dat = check(*c.m.status(c.to_server(a.folder), "(UIDNEXT)"), "STATUS")
    m = re.search(rb"UIDNEXT (\d+)", b" ".join(d for d in dat if isinstance(d, bytes)))
    if not m:
        raise Fail("no UIDNEXT in the STATUS answer")
    print(int(m.group(1)))


def cmd_dump(c, a):
    c.select(a.folder)
    os.makedirs(a.outdir, exist_ok=True)
    for d in c.bodies(c.uids(), "RFC822.SIZE INTERNALDATE FLAGS "):
        uid = int(d["UID"])
        with open(os.path.join(a.outdir, "%d.eml" % uid), "wb") as f:
            f.write(d["BODY[]"])
        meta = {"uid": uid, "rfc822_size": int(d["RFC822.SIZE"]),
                "internaldate": internaldate_epoch(d["INTERNALDATE"]),
                "flags": flag_list(d.get("FLAGS", []))}
        with open(os.path.join(a.outdir, "%d.meta" % uid), "w") as f:
            json.dump(meta, f)
            f.write("\n")


def cmd_grep(c, a):
    word = a.word.encode("utf-8")
    for folder in c.list_folders():
        c.select(folder)
        for d in c.bodies(c.uids()):
            if word in d["BODY[]"]:
                print("%s\t%d" % (folder, int(d["UID"])))
        sys.stdout.flush()


def cmd_search(c, a):
    # The server's own answer to UID SEARCH KEYS in FOLDER (KEYS sent as
    # given), one UID a line, ascending. --literal: CHARSET UTF-8, and the
    # text appended to KEYS as a literal (a non-ASCII string).
    c.select(a.folder)
    if a.literal is not None:
        c.m.literal = a.literal.encode("utf-8")
        dat = check(*c.m.uid("SEARCH", "CHARSET", "UTF-8", a.keys), "UID SEARCH")
    else:
        dat = check(*c.m.uid("SEARCH", a.keys), "UID SEARCH")
    for u in sorted(int(u) for u in b" ".join(d for d in dat if d).split()):
        print(u)


def cmd_flags(c, a):
    c.select(a.folder)
    r = [d for d in c.fetch(str(a.uid), "(UID FLAGS)") if int(d["UID"]) == a.uid]
    if not r:
        raise Fail("no message with UID %d in %s" % (a.uid, a.folder))
    print(" ".join(flag_list(r[0].get("FLAGS", []))))


def cmd_fetch(c, a):
    c.select(a.folder)
    r = [d for d in c.fetch(str(a.uid), "(UID BODY.PEEK[])") if int(d["UID"]) == a.uid]
    if not r:
        raise Fail("no message with UID %d in %s" % (a.uid, a.folder))
    sys.stdout.buffer.write(bytes(r[0].get("BODY[]", b"")))
    sys.stdout.buffer.flush()


def cmd_has_message_id(c, a):
    c.select(a.folder)
    want = a.msgid.strip().strip("<>")
    # The server's SEARCH is a case-insensitive substring match: use it to
    # narrow down, then compare the header exactly.
    dat = check(*c.m.uid("SEARCH", None, "HEADER", "Message-ID", quote(want)),
                "UID SEARCH")
    cand = sorted(int(u) for u in b" ".join(d for d in dat if d).split())
    found = []
    if cand:
        for d in c.fetch(",".join(map(str, cand)),
                         "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"):
            hdr = next((v for k, v in d.items() if k.startswith("BODY[")), b"")
            m = re.search(rb"(?im)^message-id:\s*<?\s*([^>\s]*)", bytes(hdr))
            if m and m.group(1).decode("utf-8", "replace") == want:
                found.append(int(d["UID"]))
    for u in sorted(found):
        print(u)
    return 0 if found else 1


def cmd_append(c, a):
    with open(a.file, "rb") as f:
        data = f.read()
    mbox = c.to_server(a.folder)
    flags = "(%s)" % a.flags if a.flags else None
    date = imaplib.Time2Internaldate(a.date) if a.date is not None else None
    if a.raw:
        # imaplib.append() turns every line ending into CRLF; send as is.
        c.m.literal = data
        args = [mbox] + ([flags] if flags else []) + ([date] if date else [])
        typ, dat = c.m._simple_command("APPEND", *args)
    else:
        typ, dat = c.m.append(mbox, flags, date, data)
    check(typ, dat, "APPEND to %s" % a.folder)
    # imaplib files the tagged OK's response code [APPENDUID <validity> <uid>]
    # (RFC 4315) under its name, not in the command's result.
    _, codes = c.m.response("APPENDUID")
    m = re.match(rb"\s*\d+ (\d+)", (codes or [b""])[-1] or b"")
    if m:
        print(int(m.group(1)))


def cmd_store(c, a):
    c.select(a.folder, readonly=False)
    c.need_uid(a.uid)
    op = "+FLAGS.SILENT" if a.add else "-FLAGS.SILENT" if a.remove else "FLAGS.SILENT"
    check(*c.m.uid("STORE", str(a.uid), op, "(%s)" % " ".join(a.flags)), "UID STORE")


def cmd_mark_deleted(c, a):
    c.select(a.folder, readonly=False)
    c.need_uid(a.uid)
    check(*c.m.uid("STORE", str(a.uid), "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")


def cmd_expunge(c, a):
    c.select(a.folder, readonly=False)
    c.need_uid(a.uid)
    check(*c.m.uid("STORE", str(a.uid), "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE")
    # UID EXPUNGE (RFC 4315) removes only this UID, never other \Deleted ones.
    check(*c.m.uid("EXPUNGE", str(a.uid)), "UID EXPUNGE")


def cmd_create(c, a):
    check(*c.m.create(c.to_server(a.folder)), "CREATE %s" % a.folder)


def cmd_delete(c, a):
    check(*c.m.delete(c.to_server(a.folder)), "DELETE %s" % a.folder)


def cmd_verify(c, a):
    """Compare a mounted tree with the server, message by message: the
    directories, the set of files, every byte, the size, the mtime
    (INTERNALDATE) and the xattrs. Prints one line per difference."""
    bad = []
    mnt = a.mount
    server_dirs = set()
    for folder in c.list_folders(True):
        parts = folder.split("/")
        for i in range(1, len(parts) + 1):
            server_dirs.add("/".join(parts[:i]))
    mount_dirs = set()
    for root, dirs, files in os.walk(mnt):
        for d in dirs:
            mount_dirs.add(os.path.relpath(os.path.join(root, d), mnt))
    for d in sorted(server_dirs - mount_dirs):
        bad.append("directory missing in the mount: %s" % d)
    for d in sorted(mount_dirs - server_dirs):
        bad.append("directory in the mount but not on the server: %s" % d)
    nmsg = 0
    folders = c.list_folders() if not a.folder else a.folder
    for folder in folders:
        c.select(folder)
        uids = c.uids()
        path = os.path.join(mnt, folder)
        files = {}
        for name in os.listdir(path):
            full = os.path.join(path, name)
            if not os.path.isfile(full):
                continue
            m = re.match(r"^(\d{10})[ .]", name)
            if not m or not name.endswith(".eml"):
                bad.append("%s: unexpected file %r" % (folder, name))
                continue
            files[int(m.group(1))] = full
        if sorted(files) != uids:
            bad.append("%s: UIDs differ: mount has %d files, server %d messages; "
                       "only in mount %s, only on server %s"
                       % (folder, len(files), len(uids), sorted(set(files) - set(uids))[:10],
                          sorted(set(uids) - set(files))[:10]))
        for d in c.bodies([u for u in uids if u in files],
                          "RFC822.SIZE INTERNALDATE FLAGS "):
            uid = int(d["UID"])
            full = files[uid]
            body = d["BODY[]"]
            st = os.stat(full)
            with open(full, "rb") as f:
                data = f.read()
            nmsg += 1
            if data != body:
                bad.append("%s/%d: bytes differ (mount %d, server %d)"
                           % (folder, uid, len(data), len(body)))
            if st.st_size != len(body):
                bad.append("%s/%d: st_size %d, body %d" % (folder, uid, st.st_size, len(body)))
            if int(st.st_mtime) != internaldate_epoch(d["INTERNALDATE"]):
                bad.append("%s/%d: mtime %d, INTERNALDATE %d"
                           % (folder, uid, st.st_mtime, internaldate_epoch(d["INTERNALDATE"])))
            try:
                xuid = os.getxattr(full, "user.mail.uid").decode()
                xflags = set(os.getxattr(full, "user.mail.flags").decode().split())
            except OSError as e:
                bad.append("%s/%d: xattr: %s" % (folder, uid, e))
                continue
            if xuid != str(uid):
                bad.append("%s/%d: user.mail.uid is %s" % (folder, uid, xuid))
            sflags = set(flag_list(d.get("FLAGS", [])))
            if xflags != sflags:
                bad.append("%s/%d: flags %s, server %s" % (folder, uid, sorted(xflags),
                                                          sorted(sflags)))
    for line in bad[:50]:
        print("verify: " + line)
    if bad:
        print("verify: %d difference(s)" % len(bad))
        return 1
    print("verify: %d directories, %d messages: identical" % (len(server_dirs), nmsg))
    return 0


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage too)
        sys.stderr.write("imapcheck: %s\n" % message)
        sys.exit(2)


def connection_options(p, defaults):
    env = os.environ.get
    # On the subcommands the defaults are SUPPRESS, so that an option given
    # after the command overrides one given before it, and nothing else does.
    dflt = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    p.add_argument("--host", default=dflt(env("IMAPCHECK_HOST", "127.0.0.1")))
    p.add_argument("--port", type=int, default=dflt(int(env("IMAPCHECK_PORT", "0")) or None))
    p.add_argument("--user", default=dflt(env("IMAPCHECK_USER")))
    p.add_argument("--password", default=dflt(env("IMAPCHECK_PASSWORD")))
    p.add_argument("--ssl", action="store_true", default=dflt(False))
    p.add_argument("--starttls", action="store_true", default=dflt(False))
    p.add_argument("--cafile", default=dflt(None))
    p.add_argument("--insecure", action="store_true", default=dflt(False))
    p.add_argument("--timeout", type=float, default=dflt(60.0))


def build_parser():
    ap = Parser(prog="imapcheck.py",
                description="Independent IMAP client for mailfs integration tests.")
    connection_options(ap, True)
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def cmd(name, func, *args):
        p = sub.add_parser(name)
        connection_options(p, False)
        for spec in args:
            if isinstance(spec, tuple):
                p.add_argument(*spec[0], **spec[1])
            else:
                p.add_argument(spec)
        p.set_defaults(func=func)
        return p

    uid = (["uid"], {"type": int})
    cmd("folders", cmd_folders, (["--all"], {"action": "store_true"}))
    cmd("uids", cmd_uids, "folder")
    cmd("count", cmd_count, "folder")
    cmd("uidnext", cmd_uidnext, "folder")
    cmd("dump", cmd_dump, "folder", "outdir")
    cmd("grep", cmd_grep, "word")
    cmd("search", cmd_search, "folder", "keys", (["--literal"], {"default": None}))
    cmd("flags", cmd_flags, "folder", uid)
    cmd("fetch", cmd_fetch, "folder", uid)
    cmd("has-message-id", cmd_has_message_id, "folder", "msgid")
    cmd("append", cmd_append, "folder", "file",
        (["--flags"], {"help": "e.g. '\\\\Seen \\\\Flagged'"}),
        (["--date"], {"type": int, "help": "INTERNALDATE, epoch seconds"}),
        (["--raw"], {"action": "store_true"}))
    p = cmd("store", cmd_store, "folder", uid, (["flags"], {"nargs": "*"}))
    g = p.add_mutually_exclusive_group()
    g.add_argument("--add", action="store_true")
    g.add_argument("--remove", action="store_true")
    cmd("mark-deleted", cmd_mark_deleted, "folder", uid)
    cmd("expunge", cmd_expunge, "folder", uid)
    cmd("verify", cmd_verify, "mount", (["--folder"], {"action": "append"}))
    cmd("create", cmd_create, "folder")
    cmd("delete", cmd_delete, "folder")
    return ap


def main():
    ap = build_parser()
    # parse_known_args: argparse cannot take `store F 5 --add \Seen` (flags
    # after an option) with an nargs='*' positional; the leftovers are flags.
    a, extra = ap.parse_known_args()
    if extra:
        if a.cmd != "store" or any(x.startswith("--") for x in extra):
            ap.error("unrecognized arguments: %s" % " ".join(extra))
        a.flags += extra
    c = None
    try:
        c = Client(a)
        rc = a.func(c, a)
    except BrokenPipeError:
        # e.g. `imapcheck.py fetch ... | head`: not an error of the server.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        rc = 0
    except (Fail, imaplib.IMAP4.error, OSError, ssl.SSLError, ValueError) as e:
        msg = str(e).replace("\n", " ") or e.__class__.__name__
        # imaplib puts the server's text in its errors as a bytes repr.
        msg = re.sub(r"""^b(['"])(.*)\1$""", r"\2", msg)
        sys.stderr.write("imapcheck: %s: %s\n" % (a.cmd, msg))
        rc = 2
    finally:
        if c is not None:
            c.close()
    sys.exit(rc or 0)


if __name__ == "__main__":
    main()
