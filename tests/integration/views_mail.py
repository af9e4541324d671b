#!/usr/bin/env python3
"""views_mail.py - tricky messages for the views (SPEC §9), and what an
independent decoder (Python's email package) makes of them.

    views_mail.py gen OUTDIR
        write the messages as OUTDIR/NN.eml (CRLF), NN from 01: appended in
        that order to a fresh folder, message NN gets UID NN
    views_mail.py expect WORD FILE...
        print the FILEs whose text holds WORD, one per line
    views_mail.py corpus MOUNT
        every MOUNT/F/NAME.eml has MOUNT/.mailfs/text/F/NAME.txt holding every
        word (3+ ASCII letters) of the text/plain parts the text shows; says
        what is missing, exit status 1 if anything is
    views_mail.py parts FILE OUTDIR
        write each leaf part's decoded bytes to OUTDIR/<IMAP part number>
        (RFC 3501 §6.4.5), and a forwarded message's parts below its number

"Text" is what SPEC §9 puts in a .txt: the From/To/Cc/Date/Subject lines
decoded, each text/plain part that is not an attachment (one alternative
of a multipart/alternative: the text/plain one), text/html rendered to
visible text (no script or style), forwarded messages with their headers,
and one "[attachment: NAME, ...]" line per other part. Python 3 standard
library only.
"""

import email
import email.policy
import html.parser
import os
import random
import re
import sys

CRLF = "\r\n"


def msg(headers, body):
    lines = ["%s: %s" % (k, v) for k, v in headers]
    return CRLF.join(lines) + CRLF + CRLF + body.replace("\r\n", "\n").replace("\n", CRLF)


def b64(data, width=76):
    import base64
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + width] for i in range(0, len(s), width))


def base_headers(n, subject, ctype):
    return [("From", "Views Test <views@example.org>"), ("To", "alice@example.org"),
            ("Date", "Mon, 1 Jan 2024 10:%02d:00 +0000" % n), ("Subject", subject),
            ("Message-ID", "<views-%d@example.org>" % n), ("MIME-Version", "1.0"),
            ("Content-Type", ctype)]


def messages():
    rnd = random.Random(4711)
    out = []

    # 1: quoted-printable, a soft line break inside a word.
    out.append(msg(base_headers(1, "QP soft break", "text/plain; charset=utf-8") +
                   [("Content-Transfer-Encoding", "quoted-printable")],
                   "Un caf=C3=A9 cr=\n=C3=A8me, s'il vous pla=C3=AEt.\n"))
    # 2: base64 text.
    out.append(msg(base_headers(2, "Base64 text", "text/plain; charset=utf-8") +
                   [("Content-Transfer-Encoding", "base64")],
                   b64("Rechnung invoice4711 aus Zürich\n".encode()) + "\n"))
    # 3: HTML only, with script, style, entities.
    out.append(msg(base_headers(3, "HTML only", "text/html; charset=utf-8"),
                   "<html><head><title>titleword</title><style>.hiddenstyle{color:red}</style>"
                   "<script>var secretscript = 1;</script></head><body>"
                   "<p>Visible&nbsp;paragraph &amp; r&eacute;sum&eacute;</p>"
                   "<ul><li>firstitem</li><li>seconditem</li></ul>"
                   "<table><tr><td>cellone</td><td>celltwo</td></tr></table>"
                   "<!-- commentword --></body></html>\n"))
    # 4: multipart/alternative: the plain part is the text.
    out.append(msg(base_headers(4, "Alternative", 'multipart/alternative; boundary="alt4"'),
                   "--alt4\nContent-Type: text/plain; charset=us-ascii\n\nplainword here\n"
                   "--alt4\nContent-Type: text/html; charset=us-ascii\n\n"
                   "<p>htmlonlyword here</p>\n--alt4--\n"))
    # 5: ISO-8859-1, 8bit.
    out.append(msg(base_headers(5, "Latin-1", "text/plain; charset=iso-8859-1") +
                   [("Content-Transfer-Encoding", "quoted-printable")],
                   "Gr=FC=DFe aus K=F6ln\n"))
    # 6: windows-1252: euro sign and curly quotes.
    out.append(msg(base_headers(6, "Windows-1252", "text/plain; charset=windows-1252") +
                   [("Content-Transfer-Encoding", "quoted-printable")],
                   "Preis =80100 =93zitiert=94 euroword\n"))
    # 7: KOI8-R.
    out.append(msg(base_headers(7, "KOI8-R", "text/plain; charset=koi8-r") +
                   [("Content-Transfer-Encoding", "base64")],
                   b64("Привет мир, kwordru\n".encode("koi8-r")) + "\n"))
    # 8: Shift_JIS.
    out.append(msg(base_headers(8, "Shift_JIS", "text/plain; charset=shift_jis") +
                   [("Content-Transfer-Encoding", "base64")],
                   b64("日本語のテキスト sjisword\n".encode("shift_jis")) + "\n"))
    # 9: RFC 2047 subject and from.
    h = base_headers(9, "=?ISO-8859-1?Q?Caf=E9_au_lait?=", "text/plain; charset=us-ascii")
    h[0] = ("From", "=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <j@example.de>")
    out.append(msg(h, "body nine\n"))
    # 10: RFC 2231 file names (charset, continuations).
    out.append(msg(base_headers(10, "RFC 2231", 'multipart/mixed; boundary="m10"'),
                   "--m10\nContent-Type: text/plain\n\nsee attachments tenword\n"
                   "--m10\nContent-Type: application/pdf\n"
                   "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\n"
                   "Content-Transfer-Encoding: base64\n\n" + b64(b"%PDF-1.4 fake\n") + "\n"
                   "--m10\nContent-Type: application/octet-stream\n"
                   "Content-Disposition: attachment; filename*0*=utf-8''long%20na;\n"
                   " filename*1=me.bin\n"
                   "Content-Transfer-Encoding: base64\n\n" + b64(bytes(range(256))) + "\n"
                   "--m10--\n"))
    # 11: a forward of a forward.
    inner2 = ("From: deep@example.org\nSubject: Innermost\nContent-Type: text/plain\n\n"
              "innermostword\n")
    inner1 = ("From: mid@example.org\nSubject: Middle\nMIME-Version: 1.0\n"
              'Content-Type: multipart/mixed; boundary="in1"\n\n'
              "--in1\nContent-Type: text/plain\n\nmiddleword\n"
              "--in1\nContent-Type: message/rfc822\n\n" + inner2 + "--in1--\n")
    out.append(msg(base_headers(11, "Forwarded twice", 'multipart/mixed; boundary="out11"'),
                   "--out11\nContent-Type: text/plain\n\nouterword\n"
                   "--out11\nContent-Type: message/rfc822\n\n" + inner1 + "--out11--\n"))
    # 12: no closing boundary.
    out.append(msg(base_headers(12, "Unterminated", 'multipart/mixed; boundary="m12"'),
                   "--m12\nContent-Type: text/plain\n\nunterminatedword\n"))
    # 13: a 3 MB attachment beside a short text.
    big = bytes(rnd.getrandbits(8) for _ in range(3 * 1024 * 1024))
    out.append(msg(base_headers(13, "Big attachment", 'multipart/mixed; boundary="m13"'),
                   "--m13\nContent-Type: text/plain\n\nsmalltextword\n"
                   "--m13\nContent-Type: application/octet-stream\n"
                   'Content-Disposition: attachment; filename="big.bin"\n'
                   "Content-Transfer-Encoding: base64\n\n" + b64(big) + "\n--m13--\n"))
    # 14: bad base64 in a text part.
    out.append(msg(base_headers(14, "Bad base64", "text/plain; charset=utf-8") +
                   [("Content-Transfer-Encoding", "base64")],
                   b64(b"badbase64word and then ")[:-4] + "!!!*\n"))
    # 15: a charset nobody knows.
    out.append(msg(base_headers(15, "Unknown charset", "text/plain; charset=x-mystery"),
                   "mysterycharsetword\n"))
    # 16: hostile file names.
    out.append(msg(base_headers(16, "Hostile names", 'multipart/mixed; boundary="m16"'),
                   "--m16\nContent-Type: text/plain\n\nhostileword\n"
                   "--m16\nContent-Type: text/plain\n"
                   'Content-Disposition: attachment; filename="../../x"\n\nclimb\n'
                   "--m16\nContent-Type: text/plain\n"
                   'Content-Disposition: attachment; filename="\x1b[31mred\u202eevil.txt"\n\n'
                   "ansi\n--m16\nContent-Type: application/octet-stream\n"
                   'Content-Disposition: attachment; filename=".."\n\ndots\n--m16--\n'))
    return out


# ---- the independent reading -------------------------------------------------------

class Visible(html.parser.HTMLParser):
    HIDDEN = {"script", "style", "head", "title", "template", "noscript"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.out = []

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.depth += 1
        self.out.append(" ")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self.depth:
            self.depth -= 1
        self.out.append(" ")

    def handle_data(self, data):
        if not self.depth:
            self.out.append(data)


def html_text(s):
    p = Visible()
    p.feed(s)
    return "".join(p.out).replace("\xa0", " ")


def part_text(p):
    try:
        return p.get_content()
    except (LookupError, KeyError):
        payload = p.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


def header_text(m, name):
    """Header NAME of M as text. Raw 8-bit bytes outside encoded words,
    which Python shows as U+FFFD, are read as UTF-8 if they are, else as
    Windows-1252: the rule mailfs documents for subjects (README, "What you
    see")."""
    for k, raw in m.raw_items():
        if k.lower() != name.lower():
            continue
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            b = raw.encode("utf-8", "surrogateescape")
            try:
                text = b.decode("utf-8")
            except UnicodeDecodeError:
                text = b.decode("cp1252", "replace")
            return " ".join(text.split())
        break
    return str(m.get(name))


def header_lines(m):
    lines = []
    for k in ("From", "To", "Cc", "Date", "Subject"):
        if m.get(k) is not None:
            lines.append("%s: %s" % (k, header_text(m, k)))
    return "\n".join(lines)


def walk_text(p):
    ctype = p.get_content_type()
    if p.is_multipart() and ctype == "multipart/alternative":
        kids = p.get_payload()
        plain = [k for k in kids if k.get_content_type() == "text/plain"]
        return walk_text(plain[0] if plain else kids[-1])
    if ctype == "message/rfc822":
        inner = p.get_payload()[0]
        return header_lines(inner) + "\n\n" + walk_text(inner)
    if p.is_multipart():
        return "\n".join(walk_text(k) for k in p.get_payload())
    attachment = p.get_content_disposition() == "attachment"
    if ctype == "text/plain" and not attachment:
        return part_text(p)
    if ctype == "text/html" and not attachment:
        return html_text(part_text(p))
    return "[attachment: %s]" % (p.get_filename() or "")


def text_of(path):
    with open(path, "rb") as f:
        m = email.message_from_binary_file(f, policy=email.policy.default)
    return header_lines(m) + "\n\n" + walk_text(m)


def leaves(p, section, out):
    """(IMAP part number, part) of each leaf, and of each message/rfc822."""
    if p.get_content_type() == "message/rfc822":
        out.append((section, p))
        inner = p.get_payload()[0]
        if inner.is_multipart():
            leaves(inner, section, out)
        else:
            out.append((section + ".1", inner))
        return
    if p.is_multipart():
        for i, k in enumerate(p.get_payload(), 1):
            leaves(k, "%s.%d" % (section, i) if section else str(i), out)
        return
    out.append((section or "1", p))


def plain_words(p, out):
    """Words of the text/plain parts walk_text() shows."""
    ctype = p.get_content_type()
    if p.is_multipart() and ctype == "multipart/alternative":
        kids = p.get_payload()
        plain = [k for k in kids if k.get_content_type() == "text/plain"]
        plain_words(plain[0] if plain else kids[-1], out)
    elif ctype == "message/rfc822":
        plain_words(p.get_payload()[0], out)
    elif p.is_multipart():
        for k in p.get_payload():
            plain_words(k, out)
    elif ctype == "text/plain" and p.get_content_disposition() != "attachment":
        out.update(re.findall(r"[A-Za-z]{3,}", part_text(p)))


def corpus(mount):
    nmsg = nwords = 0
    bad = []
    for root, dirs, files in os.walk(mount):
        dirs[:] = [d for d in dirs if not (root == mount and d == ".mailfs")]
        for name in sorted(files):
            if not name.endswith(".eml"):
                continue
            rel = os.path.relpath(os.path.join(root, name), mount)
            txt = os.path.join(mount, ".mailfs", "text", rel[:-4] + ".txt")
            nmsg += 1
            try:
                with open(txt, "rb") as f:
                    have = set(re.findall(r"[A-Za-z]{3,}", f.read().decode("utf-8")))
            except (OSError, UnicodeDecodeError) as e:
                bad.append("%s: %s" % (rel, e))
                continue
            with open(os.path.join(root, name), "rb") as f:
                m = email.message_from_binary_file(f, policy=email.policy.default)
            want = set()
            try:
                plain_words(m, want)
            except Exception as e:   # Python itself cannot read it
                print("skipped (Python's email: %s): %s" % (e, rel))
                continue
            nwords += len(want)
            missing = want - have
            if missing:
                bad.append("%s: %d words missing, e.g. %s" % (rel, len(missing),
                                                             " ".join(sorted(missing)[:5])))
    for b in bad[:20]:
        print(b)
    print("%d messages, %d words of text/plain parts, %d messages with something missing"
          % (nmsg, nwords, len(bad)))
    return 1 if bad or not nmsg else 0


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        os.makedirs(sys.argv[2], exist_ok=True)
        for i, m in enumerate(messages(), 1):
            with open(os.path.join(sys.argv[2], "%02d.eml" % i), "wb") as f:
                f.write(m.encode("utf-8", "surrogateescape"))
    elif cmd == "expect":
        word = sys.argv[2]
        for path in sys.argv[3:]:
            if word in text_of(path):
                print(path)
    elif cmd == "corpus":
        sys.exit(corpus(sys.argv[2]))
    elif cmd == "parts":
        with open(sys.argv[2], "rb") as f:
            m = email.message_from_binary_file(f, policy=email.policy.default)
        out = []
        leaves(m, "", out)
        os.makedirs(sys.argv[3], exist_ok=True)
        for section, p in out:
            if p.get_content_type() == "message/rfc822":
                continue
            with open(os.path.join(sys.argv[3], section), "wb") as f:
                f.write(p.get_payload(decode=True) or b"")
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
