#!/usr/bin/env python3
"""structcheck.py - fs/engine/render.c beside a real Dovecot, for
t_render_structure.sh.

    structcheck.py --port P --user U --password PW --bin STRUCTCHECK
                   --work DIR MESSAGE.eml...

APPENDs each message to INBOX, then for each:
  - structure: Dovecot's BODYSTRUCTURE against render_structure() of the same
    bytes, field by field (types, subtypes, encodings and dispositions compared
    in lower case, as net/bodystructure.h keeps them);
  - sections: BODY.PEEK[S] of every leaf and message/rfc822 part, and
    BODY.PEEK[HEADER] / BODY.PEEK[S.HEADER] of every message, against the bytes
    render_message_source() serves for them;
  - text: render_text() of Dovecot's tree with the sections
    render_text_needs() lists fetched from Dovecot (and nothing else), against
    render_text() of render_structure() with render_message_source(): the two
    sources must give the same text, byte for byte;
  - names: render_part_name() of each part of both trees, equal.

Prints "ok: ..." per check, "FAIL: ..." per failure and "NOTE: ..." for
each field where the two structures differ in a way the test accepts (the
parameters that GMime hands over decoded; render.c's header explains). Exit
status 1 on any failure. Python 3 standard library only.
"""

import argparse
import imaplib
import os
import re
import subprocess
import sys


class Lit(bytes):
    """A literal's bytes (never NIL)."""


def tokens(data):
    """imaplib response data -> tokens: '(' ')', None for NIL, bytes for a
    string (quoted or literal) or Atom."""
    for item in data:
        if isinstance(item, tuple):
            text, lit = item
            text = re.sub(rb"\{\d+\+?\}$", b"", text)
            yield from tokens_text(text)
            yield Lit(lit)
        elif item is not None:
            yield from tokens_text(item)


class Atom(bytes):
    pass


def tokens_text(chunk):
    i, n = 0, len(chunk)
    while i < n:
        c = chunk[i:i + 1]
        if c in (b" ", b"\r", b"\n"):
            i += 1
        elif c in (b"(", b")"):
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
                elif depth <= 0 and d in (b" ", b"(", b")", b"\r", b"\n"):
                    break
                j += 1
            atom = chunk[i:j]
            yield None if atom.upper() == b"NIL" else Atom(atom)
            i = j


def parse(data):
    stack = [[]]
    for t in tokens(data):
        if t == "(":
            stack.append([])
        elif t == ")":
            inner = stack.pop()
            stack[-1].append(inner)
        else:
            stack[-1].append(t)
    return stack[0]


def fetch(m, uid, items):
    typ, data = m.uid("FETCH", str(uid), "(" + items + ")")
    if typ != "OK":
        raise SystemExit("FETCH %s %s: %s" % (uid, items, data))
    top = parse(data)
    out = {}
    for x in top:
        if isinstance(x, list):
            for k in range(0, len(x) - 1, 2):
                out[bytes(x[k]).decode().upper()] = x[k + 1]
    return out


# ---- BODYSTRUCTURE -> parts (dicts), as net/bodystructure.h keeps them ----

def s(v):
    return None if v is None else bytes(v)


def low(v):
    return None if v is None else bytes(v).lower()


def params(v):
    if not isinstance(v, list):
        return []
    return [(s(v[k]), s(v[k + 1])) for k in range(0, len(v) - 1, 2)]


def body(b):
    p = {"kids": []}
    if isinstance(b[0], list):
        i = 0
        while i < len(b) and isinstance(b[i], list):
            p["kids"].append(body(b[i]))
            i += 1
        p.update(type=b"multipart", subtype=low(b[i]), params=[], id=None, desc=None,
                 enc=b"7bit", size=0, lines=0, disp=None, dparams=[], subject=None)
        ext = b[i + 1:]
        p["params"] = params(ext[0]) if len(ext) > 0 else []
        d = ext[1] if len(ext) > 1 else None
    else:
        p.update(type=low(b[0]), subtype=low(b[1]), params=params(b[2]), id=s(b[3]),
                 desc=s(b[4]), enc=low(b[5]), size=int(b[6]), lines=0, subject=None)
        i = 7
        if p["type"] == b"message" and p["subtype"] == b"rfc822":
            env = b[7]
            p["subject"] = s(env[1]) if isinstance(env, list) and len(env) > 1 else None
            p["kids"].append(body(b[8]))
            p["lines"] = int(b[9])
            i = 10
        elif p["type"] == b"text":
            p["lines"] = int(b[7])
            i = 8
        ext = b[i:]
        d = ext[1] if len(ext) > 1 else None
    p["disp"] = low(d[0]) if isinstance(d, list) and d else None
    p["dparams"] = params(d[1]) if isinstance(d, list) and len(d) > 1 else []
    return p


KEEP = set(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._*'@<>/+!#$&^`|~?:;[]{}-")


def esc(v):
    return "".join(chr(c) if c in KEEP else "%%%02X" % c for c in v)


def put_str(v):
    return "-" if v is None else "=" + esc(v)


def put_params(ps):
    if not ps:
        return "-"
    return "=" + ",".join(esc(x or b"") for kv in ps for x in kv)


def dump(p, depth=0):
    line = "%d %d %s %s %s %s %s %s %d %d %s %s %s" % (
        depth, len(p["kids"]), put_str(p["type"]), put_str(p["subtype"]), put_params(p["params"]),
        put_str(p["id"]), put_str(p["desc"]), put_str(p["enc"]), p["size"], p["lines"],
        put_str(p["disp"]), put_params(p["dparams"]), put_str(p["subject"]))
    return [line] + [l for k in p["kids"] for l in dump(k, depth + 1)]


def sections(p, sec=""):
    """(section, part) of each leaf and message/rfc822 part, RFC 3501 §6.4.5."""
    if p["type"] == b"multipart":
        for i, k in enumerate(p["kids"]):
            yield from sections(k, "%s%s%d" % (sec, "." if sec else "", i + 1))
        return
    if not sec:
        sec = "1"
    yield sec, p
    if p["type"] == b"message" and p["subtype"] == b"rfc822":
        k = p["kids"][0]
        yield from sections(k, sec if k["type"] == b"multipart" else sec + ".1")


# Messages that Dovecot and render.c (GMime) read differently, and why.
KNOWN = {
    # Past BS_MAX_DEPTH render.c shows a multipart as a leaf; Dovecot
    # stops nesting at its own limit (100 levels) differently.
    "deep-nesting": "nesting limits",
    # message/rfc822 may only be 7bit, 8bit or binary (RFC 2046 §5.2.1).
    # Dovecot reads the base64 text as the embedded message's header;
    # GMime shows the part as a leaf (an attachment line).
    "rfc822-base64": "an encoded message/rfc822",
}

FIELDS = ["depth", "nkids", "type", "subtype", "params", "id", "desc", "enc", "size", "lines",
          "disp", "dparams", "subject"]


def run(args, *cmd, ok=(0,)):
    r = subprocess.run([args.bin] + list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode not in ok:
        raise RuntimeError("structcheck %s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                            r.stderr.decode(errors="replace")))
    return r.returncode, r.stdout


def param_names_decoded(a, b):
    """Whether two parameter fields differ only where GMime hands over a
    decoded parameter (RFC 2231 ones written again as NAME*=utf-8'..'.., RFC
    2047 words decoded): the same names but for a trailing '*' and the
    continuation numbers, in an order that may differ."""
    def names(f):
        if f == "-":
            return []
        items = f[1:].split(",")
        return sorted(re.sub(r"\*(\d+\*?)?$", "", items[k]).lower() for k in range(0, len(items), 2))
    return names(a) == names(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("messages", nargs="+")
    args = ap.parse_args()
    fails = 0

    def fail(msg):
        nonlocal fails
        fails += 1
        print("FAIL: " + msg)

    m = imaplib.IMAP4("127.0.0.1", args.port, timeout=120)
    m.login(args.user, args.password)
    uids = []
    for path in args.messages:
        with open(path, "rb") as f:
            data = f.read()
        typ, dat = m.append("INBOX", None, None, data)
        if typ != "OK":
            raise SystemExit("APPEND %s: %s" % (path, dat))
        mt = re.search(rb"APPENDUID \d+ (\d+)", dat[0] or b"")
        uids.append(int(mt.group(1)))
    m.select("INBOX", readonly=True)

    for path, uid in zip(args.messages, uids):
        name = os.path.basename(path)
        work = os.path.join(args.work, name + ".d")
        os.makedirs(work, exist_ok=True)
        bs = fetch(m, uid, "BODYSTRUCTURE")["BODYSTRUCTURE"]
        tree = body(bs)
        theirs = dump(tree)
        treefile = os.path.join(work, "tree")
        with open(treefile, "w") as f:
            f.write("\n".join(theirs) + "\n")
        _, out = run(args, "tree", path)
        mine = out.decode().splitlines()

        # -- structure. Where Dovecot and GMime read a message differently
        # (KNOWN), the fixture only has to give a text from both (no crash,
        # no hang), and the differences are NOTEs.
        deep = any(k in name for k in KNOWN)
        if deep:
            print("NOTE: %s: render_structure gives %d parts, Dovecot %d" %
                  (name, len(mine), len(theirs)))
        elif len(mine) != len(theirs):
            fail("%s: render_structure gives %d parts, Dovecot %d" % (name, len(mine), len(theirs)))
        same = True
        for i, (a, b) in enumerate(zip(mine, theirs)):
            fa, fb = a.split(" "), b.split(" ")
            for k, (x, y) in enumerate(zip(fa, fb)):
                if x == y:
                    continue
                what = "%s: part %d %s: render %s, Dovecot %s" % (name, i, FIELDS[k], x, y)
                if deep:
                    same = False
                elif FIELDS[k] in ("params", "dparams") and param_names_decoded(x, y):
                    print("NOTE: " + what)
                else:
                    same = False
                    fail(what)
        if same and len(mine) == len(theirs):
            print("ok: %s: structure as Dovecot's" % name)

        # -- sections
        secs = list(sections(tree))
        want = [("h", "", "BODY[HEADER]", "BODY.PEEK[HEADER]")]
        for sec, p in secs:
            want.append(("b", sec, "BODY[%s]" % sec, "BODY.PEEK[%s]" % sec))
            if p["type"] == b"message" and p["subtype"] == b"rfc822":
                want.append(("h", sec, "BODY[%s.HEADER]" % sec, "BODY.PEEK[%s.HEADER]" % sec))
        mydir = os.path.join(work, "mine")
        os.makedirs(mydir, exist_ok=True)
        listfile = os.path.join(work, "list")
        with open(listfile, "w") as f:
            for kind, sec, _, _ in want:
                f.write("%d %s\n" % (kind == "h", sec))
        run(args, "sections", path, listfile, mydir)
        bad = []
        for k in range(0, len(want), 200):
            batch = want[k:k + 200]
            got = fetch(m, uid, " ".join(w[3] for w in batch))
            for kind, sec, key, _ in batch:
                theirs_b = bytes(got.get(key) or b"")
                try:
                    with open(os.path.join(mydir, "%s_%s" % (kind, sec or "top")), "rb") as f:
                        mine_b = f.read()
                except FileNotFoundError:
                    bad.append("render_message_source has no %s" % key)
                    continue
                if mine_b != theirs_b:
                    bad.append("%s: %d bytes from render_message_source, %d from Dovecot" %
                               (key, len(mine_b), len(theirs_b)))
        if deep:
            print("NOTE: %s: %d of %d sections differ (Dovecot nests %d levels, render %d)" %
                  (name, len(bad), len(want), max(int(l.split(" ")[0]) for l in theirs),
                   max(int(l.split(" ")[0]) for l in mine)))
        else:
            for b in bad:
                fail("%s: %s" % (name, b))
            if not bad:
                print("ok: %s: %d sections as Dovecot's" % (name, len(want)))

        # -- the text from both sources
        _, needs = run(args, "needs", treefile)
        secdir = os.path.join(work, "sections")
        os.makedirs(secdir, exist_ok=True)
        items = []
        for line in needs.decode().splitlines():
            h, _, sec = line.partition(" ")
            part = ("%s.HEADER" % sec if sec else "HEADER") if h == "1" else sec
            items.append(("h" if h == "1" else "b", sec, part))
        for k in range(0, len(items), 200):
            batch = items[k:k + 200]
            got = fetch(m, uid, " ".join("BODY.PEEK[%s]" % p for _, _, p in batch))
            for kind, sec, part in batch:
                with open(os.path.join(secdir, "%s_%s" % (kind, sec or "top")), "wb") as f:
                    f.write(bytes(got.get("BODY[%s]" % part) or b""))
        try:
            _, text_server = run(args, "text", treefile, secdir)
            _, text_cache = run(args, "text-msg", path)
        except RuntimeError as e:
            fail("%s: %s" % (name, e))
            continue
        with open(os.path.join(work, "text.server"), "wb") as f:
            f.write(text_server)
        with open(os.path.join(work, "text.cache"), "wb") as f:
            f.write(text_cache)
        if text_server != text_cache and deep:
            print("NOTE: %s: the texts from the two structures differ, as the structures do "
                  "(%d and %d bytes)" % (name, len(text_server), len(text_cache)))
        elif text_server != text_cache:
            fail("%s: the text from Dovecot's BODYSTRUCTURE and sections differs from the "
                 "text from the whole message (see %s)" % (name, work))
        else:
            print("ok: %s: one text from both sources (%d bytes, %d sections fetched)" %
                  (name, len(text_cache), len(items)))

        # -- names
        _, n1 = run(args, "names", treefile)
        _, n2 = run(args, "names-msg", path)
        if n1 != n2 and deep:
            print("NOTE: %s: part names differ, as the structures do" % name)
        elif n1 != n2:
            fail("%s: part names differ:\n%s\n---\n%s" % (name, n1.decode(errors="replace"),
                                                        n2.decode(errors="replace")))
        else:
            print("ok: %s: part names as from Dovecot's structure" % name)
        print("checked: %s" % name)
    m.logout()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
