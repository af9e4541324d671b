#!/usr/bin/env python3
"""Generate a Dovecot Maildir tree (maildir:DIR:LAYOUT=fs) for mailfs tests.

    gen_mailbox.py --maildir DIR [--profile demo|test|small20k] [--seed N]
                   [--count N] [--manifest FILE]

The tree is written straight to disk, without a running server, and is the
same byte for byte for the same profile, seed and count:

  * INBOX is DIR itself (DIR/cur, DIR/new, DIR/tmp); a folder "Archive/2024"
    is DIR/Archive/2024/{cur,new,tmp}. Parent folders that hold no messages of
    their own ("Work", "Work/Projects") have no cur/new/tmp, so Dovecot lists
    them as \\Noselect.
  * Folder names on disk are IMAP modified UTF-7 (RFC 3501 section 5.1.3):
    "Donnees" with an acute e is "Donn&AOk-es", "a&b" is "a&-b".
  * Messages go to cur/ with LF line endings under the usual Maildir name
        <time>.M<n>P<pid>.mailfs,S=<size>,W=<vsize>:2,<flags>
    S= is the file size, W= the size with every LF turned into CRLF (what
    Dovecot reports as RFC822.SIZE without reading the file), <flags> the
    Maildir letters D (Draft), F (Flagged), R (Replied), S (Seen).
  * Each file's mtime is the message's INTERNALDATE (Dovecot's received date
    for Maildir). <time> in the name is the delivery time; it increases with
    n inside a folder, so a fresh Dovecot gives UIDs in the order of n. A few
    "imported" messages have an mtime (and Date:) years older than their
    delivery time, so UID order and date order differ for them.
  * No dovecot-uidlist is written: Dovecot assigns UIDs on first access.

Every message body holds, in a plain (not base64) text part, the unique token
MAILFS-TOKEN-<folder-slug>-<n> (n counts from 1 in each folder; slugs are
[a-z0-9]+, see DEMO_FOLDERS), and about one message in seven has the word
"zanzibar" in its body. Neither ever appears in a header. As MAILFS-TOKEN-inbox-1
is a prefix of MAILFS-TOKEN-inbox-17, look for a token with `grep -w`.
--manifest writes one JSON line per message (folder, n, file, token, zanzibar,
flags, internaldate, delivered, size, vsize, message_id, subject_case, subject
as intended after RFC 2047 decoding or null where undefined, kind) for tests
that need to know what was generated.

Profiles:
  demo      (default) the 11 folders of DEMO_FOLDERS, 302 messages: every
            subject edge case of subject_cases() and MIME kind of BODY_KINDS,
            attachments of 10-200 KB and three large (1-3 MB) ones.
  test      the same folders and edge cases with less filler (122 messages)
            and a single 1 MB attachment: quicker to sync.
  small20k  one folder "Bulk" with --count (default 20000) messages of 1-4 KB.
--count scales demo/test to about that many messages in total (never fewer
than the edge cases need).

Python 3 standard library only. Prints one summary line on stdout.
"""

import argparse
import base64
import binascii
import calendar
import json
import os
import random
import struct
import sys
import time
import zlib

# ---------------------------------------------------------------------------
# IMAP modified UTF-7 (RFC 3501 section 5.1.3)
# ---------------------------------------------------------------------------


def mutf7_encode(name):
    """Encode one mailbox name (str) to modified UTF-7 (str, ASCII only).

    Printable US-ASCII other than '&' stands for itself, '&' becomes '&-', and
    every run of other characters becomes '&' + modified BASE64 (',' instead
    of '/', no '=' padding) of its UTF-16BE form + '-'."""
    out = []
    run = []

    def flush():
        if run:
            b64 = base64.b64encode("".join(run).encode("utf-16-be"))
            out.append("&" + b64.decode("ascii").rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


# ---------------------------------------------------------------------------
# Profiles: folders (UTF-8 path with '/', token slug, messages in demo)
# ---------------------------------------------------------------------------

DEMO_FOLDERS = [
    ("INBOX", "inbox", 120),
    ("Sent", "sent", 40),
    ("Drafts", "drafts", 8),
    ("Archive", "archive", 20),
    ("Archive/2023", "archive2023", 30),
    ("Archive/2024", "archive2024", 30),
    ("Work/Projects/Alpha", "alpha", 15),
    ("Junk", "junk", 20),
    ("Donn\u00e9es", "donnees", 8),
    ("\u65e5\u672c\u8a9e", "nihongo", 6),
    ("a&b", "aandb", 5),
]
# Slugs are [a-z0-9]+ and none is a prefix of another, so a token's folder
# part is unambiguous. Its number is not: MAILFS-TOKEN-inbox-1 is a prefix of
# MAILFS-TOKEN-inbox-17, so search with `grep -w` (or a regex with \b).

# Range of delivery dates per folder (years, inclusive).
FOLDER_YEARS = {
    "inbox": (2022, 2025), "sent": (2021, 2025), "drafts": (2025, 2025),
    "archive": (2019, 2022), "archive2023": (2023, 2023),
    "archive2024": (2024, 2024), "alpha": (2023, 2025),
    "junk": (2024, 2025), "donnees": (2020, 2025), "nihongo": (2020, 2025),
    "aandb": (2020, 2025), "bulk": (2015, 2025),
}

# Latest date used anywhere: 2025-10-31 00:00:00 UTC (fixed, not "now", so
# that the output does not depend on the day it is generated).
LAST_EPOCH = 1761868800


def year_start(y):
    """Epoch seconds of y-01-01 00:00:00 UTC."""
    return calendar.timegm((y, 1, 1, 0, 0, 0))


# ---------------------------------------------------------------------------
# Text material
# ---------------------------------------------------------------------------

WORDS = """the of and to in is that for it as was with be by on not he this are or
his from at which but have an they you were her she there been one all we their
can has more if will would so no what up out about who into them then other time
could only these some two may first any new like now its over such our way even
because most after back also where through just well those how too here must
project meeting budget schedule report review draft proposal invoice contract
server backup release deadline quarter customer vendor design feature request
ticket deploy update patch config network storage archive folder message mail
inbox attachment summary agenda minutes notes office travel lunch coffee team
manager plan issue question answer thanks regards please attached below above
monday tuesday wednesday thursday friday weekend morning afternoon evening
january february march april june july august september october november
december green blue orange yellow purple silver golden river mountain forest
harbour island bridge garden window kitchen library museum station airport
bicycle engine rocket planet comet galaxy lantern compass anchor voyage harvest
meadow orchard pepper ginger walnut almond cedar maple willow falcon heron otter
badger lynx kestrel sparrow""".split()

# Non-ASCII paragraphs for 8-bit and quoted-printable bodies.
UTF8_TEXTS = [
    "Bonjour \u00e0 tous, voici le compte rendu de la r\u00e9union de lundi. "
    "Les d\u00e9cisions prises concernent le budget, l'\u00e9t\u00e9 et les "
    "cong\u00e9s de No\u00ebl.",
    "Sehr geehrte Damen und Herren, die Gr\u00f6\u00dfe der Dateien ist "
    "\u00fcberpr\u00fcft worden. Mit freundlichen Gr\u00fc\u00dfen aus K\u00f6ln.",
    "\u041f\u0440\u0438\u0432\u0435\u0442! \u042d\u0442\u043e "
    "\u0442\u0435\u0441\u0442\u043e\u0432\u043e\u0435 \u043f\u0438\u0441\u044c"
    "\u043c\u043e \u043d\u0430 \u0440\u0443\u0441\u0441\u043a\u043e\u043c "
    "\u044f\u0437\u044b\u043a\u0435.",
    "\u3053\u3093\u306b\u3061\u306f\u3002\u3053\u308c\u306f\u65e5\u672c\u8a9e"
    "\u306e\u30c6\u30b9\u30c8\u30e1\u30fc\u30eb\u3067\u3059\u3002\u3088\u308d"
    "\u3057\u304f\u304a\u9858\u3044\u3057\u307e\u3059\u3002",
    "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u03ba\u03cc\u03c3\u03bc\u03b5! "
    "\u0391\u03c5\u03c4\u03cc \u03b5\u03af\u03bd\u03b1\u03b9 \u03ad\u03bd\u03b1 "
    "\u03b4\u03bf\u03ba\u03b9\u03bc\u03b1\u03c3\u03c4\u03b9\u03ba\u03cc.",
    "Emoji time \U0001F389 \U0001F680 \u2713 \u2014 caf\u00e9, na\u00efve, "
    "se\u00f1or, \u00c5ngstr\u00f6m, \u0141\u00f3d\u017a.",
]

PEOPLE = [
    # (display name, address); non-ASCII names are RFC 2047 encoded.
    ("Bob Builder", "bob@example.com"),
    ("Carol Jones", "carol@example.net"),
    ("Dave O'Neil", "dave@example.org"),
    ("Ren\u00e9e Dupont", "renee@example.fr"),
    ("J\u00fcrgen M\u00fcller", "juergen@example.de"),
    ("\u0418\u0432\u0430\u043d \u041f\u0435\u0442\u0440\u043e\u0432", "ivan@example.ru"),
    ("\u5c71\u7530 \u592a\u90ce", "yamada@example.jp"),
    ("", "noreply@notifications.example.com"),
    ("Eve \"the auditor\" Smith", "eve@example.com"),
    ("Frank", "frank@example.com"),
]
OWNER = ("Alice Example", "alice@example.org")

FILLER_SUBJECTS = [
    "Meeting notes", "Re: Meeting notes", "Quarterly report", "Lunch on Friday?",
    "Invoice 2024-0042", "Re: Invoice 2024-0042", "Backup failed on server7",
    "Weekly status", "Fwd: Weekly status", "Holiday schedule", "Your ticket #4711",
    "Re: Re: Re: design review", "Build broken", "Welcome aboard",
    "Project Alpha kickoff", "Travel plans", "Contract draft v3", "Coffee?",
    "Release 1.2.0 is out", "Password expiry notice",
]

JUNK_SUBJECTS = [
    "You have WON a prize!!!", "Cheap meds online", "Re: your account is suspended",
    "URGENT business proposal", "Hot singles near you",
]

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
          "Nov", "Dec"]
TZ_OFFSETS = [0, 60, 120, -300, -240, -420, 330, 540, 600, -180]


class TextPool:
    """Pre-built wrapped paragraphs, so that 20,000 bodies are cheap to make."""

    def __init__(self, rng, n=400):
        self.paras = []
        for _ in range(n):
            sentences = []
            for _ in range(rng.randint(2, 5)):
                ws = rng.choices(WORDS, k=rng.randint(5, 16))
                sentences.append(" ".join(ws).capitalize() + ".")
            self.paras.append(wrap(" ".join(sentences)))
        self.utf8_paras = [wrap(t) for t in UTF8_TEXTS]

    def body(self, rng, min_bytes):
        """ASCII filler of at least min_bytes, as a list of lines."""
        lines, size = [], 0
        while size < min_bytes or not lines:
            if lines:
                lines.append("")
            p = rng.choice(self.paras)
            lines.extend(p)
            size += sum(len(x) + 1 for x in p) + 1
        return lines


def wrap(text, width=72):
    """Greedy word wrap (textwrap is too slow for 20,000 messages)."""
    lines, cur = [], ""
    for w in text.split():
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = cur + " " + w if cur else w
    if cur:
        lines.append(cur)
    return lines


# ---------------------------------------------------------------------------
# RFC 2047 encoded words and header helpers
# ---------------------------------------------------------------------------

Q_SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def _ew(raw, charset, enc):
    if enc == "B":
        data = base64.b64encode(raw).decode("ascii")
    else:
        data = "".join(
            "_" if b == 0x20 else chr(b) if b in Q_SAFE else "=%02X" % b for b in raw)
    return "=?%s?%s?%s?=" % (charset, enc, data)


def encoded_words(text, charset, enc="B", codec=None):
    """Split text into RFC 2047 encoded words of at most 75 characters,
    never splitting a character across two words (section 5, rule 3)."""
    codec = codec or charset
    words, cur = [], ""
    for ch in text:
        if cur and len(_ew((cur + ch).encode(codec), charset, enc)) > 75:
            words.append(_ew(cur.encode(codec), charset, enc))
            cur = ch
        else:
            cur += ch
    if cur:
        words.append(_ew(cur.encode(codec), charset, enc))
    return words


def fold_words(words):
    """Join header tokens with folding (LF + space) so lines stay short."""
    out, line = "", 0
    for i, w in enumerate(words):
        if i and line + 1 + len(w) > 76:
            out += "\n " + w
            line = 1 + len(w)
        else:
            out += (" " if i else "") + w
            line += (1 if i else 0) + len(w)
    return out


def fold_ascii(text):
    """Fold a long ASCII header value at spaces (unfolding gives it back)."""
    parts = text.split(" ")
    out, line = parts[0], len(parts[0]) + 9
    for p in parts[1:]:
        if line + 1 + len(p) > 76:
            out += "\n " + p
            line = 1 + len(p)
        else:
            out += " " + p
            line += 1 + len(p)
    return out


def address(name, addr):
    if not name:
        return addr
    if all(ord(c) < 128 for c in name):
        if any(c in name for c in '"(),.:;<>@[\\]\''):
            return '"%s" <%s>' % (name.replace("\\", "\\\\").replace('"', '\\"'), addr)
        return "%s <%s>" % (name, addr)
    return "%s <%s>" % (" ".join(encoded_words(name, "UTF-8", "Q")), addr)


def rfc5322_date(t, off_min):
    sign = "+" if off_min >= 0 else "-"
    tm = time.gmtime(t + off_min * 60)
    return "%s, %02d %s %04d %02d:%02d:%02d %s%02d%02d" % (
        DAYS[tm.tm_wday], tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year,
        tm.tm_hour, tm.tm_min, tm.tm_sec, sign, abs(off_min) // 60, abs(off_min) % 60)


# ---------------------------------------------------------------------------
# Subject edge cases. Each: (label, raw header value as bytes, or None for a
# missing Subject header; the intended decoded text, or None if undefined).
# ---------------------------------------------------------------------------

LONG_ASCII = ("This is a deliberately very long subject line that goes on and on "
              "about the quarterly planning meeting, the budget review, the "
              "server migration, the holiday schedule, the coffee machine on "
              "the third floor, and several other topics that nobody will ever "
              "read to the end because it is far longer than any file name may "
              "be on Linux, which is 255 bytes")
LONG_UTF8 = ("Tr\u00e8s long sujet \u00e9crit en fran\u00e7ais avec des "
             "accents \u00e0 chaque mot, puis du japonais \u65e5\u672c\u8a9e"
             "\u306e\u4ef6\u540d\u3001\u305d\u3057\u3066\u7d75\u6587\u5b57 "
             "\U0001F389\U0001F680\U0001F30D\U0001F4E7 r\u00e9p\u00e9t\u00e9s "
             + "\u00e9t\u00e9 \u00e0 No\u00ebl \u2014 \u00bfqu\u00e9 "
             "pas\u00f3? " * 6 + "\U0001F600" * 20 + " fin")
LONG_WORD = "Supercalifragilistic" * 16  # 320 characters, no space to fold at
EMOJI_EDGE = "x" * 250 + "\U0001F600\U0001F601"  # a 4-byte char crosses byte 255


def _subj_ew(text, charset, enc, codec=None):
    return fold_words(encoded_words(text, charset, enc, codec)).encode("ascii")


def subject_cases():
    """The edge cases, built once (they are the same for every seed)."""
    c = []

    def add(label, raw, text, folder="inbox"):
        c.append((folder, label, raw, text))

    add("ascii", b"Quarterly report for the board", "Quarterly report for the board")
    add("utf8-q", _subj_ew("R\u00e9union de lundi \u2014 ordre du jour", "UTF-8", "Q"),
        "R\u00e9union de lundi \u2014 ordre du jour")
    add("utf8-b", _subj_ew("\u00dcn\u00efc\u00f6d\u00e9 in base64 \U0001F389 emoji",
                           "UTF-8", "B"),
        "\u00dcn\u00efc\u00f6d\u00e9 in base64 \U0001F389 emoji")
    add("latin1-q", _subj_ew("Gr\u00fc\u00dfe aus K\u00f6ln", "ISO-8859-1", "Q"),
        "Gr\u00fc\u00dfe aus K\u00f6ln")
    ru = "\u041f\u0440\u0438\u0432\u0435\u0442 \u0438\u0437 \u041c\u043e\u0441\u043a\u0432\u044b"
    add("koi8r-b", _subj_ew(ru, "KOI8-R", "B"), ru)
    jp = "\u65e5\u672c\u8a9e\u306e\u4ef6\u540d\u30c6\u30b9\u30c8"
    add("iso2022jp-b", _subj_ew(jp, "ISO-2022-JP", "B", "iso2022_jp"), jp)
    add("win1252-q", _subj_ew("\u201cQuoted\u201d text \u2013 dash \u20ac",
                              "windows-1252", "Q", "cp1252"),
        "\u201cQuoted\u201d text \u2013 dash \u20ac")
    zh = "\u4e2d\u6587\u4e3b\u9898\u6d4b\u8bd5"
    add("gb2312-b", _subj_ew(zh, "GB2312", "B"), zh)
    add("lowercase-charset", b"=?utf-8?b?" + base64.b64encode("k\u00fcrzlich".encode()) +
        b"?=", "k\u00fcrzlich")
    add("mixed-ew", b"Re: =?UTF-8?Q?caf=C3=A9?= meeting =?ISO-8859-1?Q?=E0_14h?= ok",
        "Re: caf\u00e9 meeting \u00e0 14h ok")
    add("adjacent-ew", b"=?UTF-8?Q?one_?= =?UTF-8?Q?two?=\n =?UTF-8?Q?_three?=",
        "one two three")
    add("long-ascii", fold_ascii(LONG_ASCII).encode("ascii"), LONG_ASCII)
    add("long-utf8", _subj_ew(LONG_UTF8, "UTF-8", "B"), LONG_UTF8)
    add("long-word", LONG_WORD.encode("ascii"), LONG_WORD)
    add("emoji-at-255", _subj_ew(EMOJI_EDGE, "UTF-8", "B"), EMOJI_EDGE)
    add("slash", b"Re: Q3/Q4 budget and/or forecast", "Re: Q3/Q4 budget and/or forecast")
    add("dotdot-path", b"../../../etc/passwd", "../../../etc/passwd")
    add("only-slash", b"/", "/")
    add("slashes", b"////", "////")
    add("dot-hidden", b".hidden subject", ".hidden subject")
    add("dot", b".", ".")
    add("dotdot", b"..", "..")
    add("dots", b"...", "...")
    add("tabs", b"Tab\there\tand\tthere", "Tab\there\tand\tthere")
    add("raw-controls", b"Bell\x07 escape\x1b[1m bold\x7f del\x01 soh",
        "Bell\x07 escape\x1b[1m bold\x7f del\x01 soh")
    add("encoded-controls", b"=?UTF-8?Q?NUL=00_CR=0D_LF=0A_TAB=09_end?=",
        "NUL\x00 CR\r LF\n TAB\t end")
    add("empty", b"", "")
    add("empty-nospace", b"", "")  # rendered as "Subject:" with nothing after
    add("missing", None, None)
    add("raw-utf8", "Gr\u00fc\u00dfe 8-bit raw UTF-8 \u2713".encode("utf-8"),
        "Gr\u00fc\u00dfe 8-bit raw UTF-8 \u2713")
    add("raw-latin1", b"Caf\xe9 cr\xe8me (raw Latin-1, invalid UTF-8)", None)
    add("bad-base64", b"=?UTF-8?B?not-base64!?=", None)
    add("unknown-charset", b"=?x-unknown?Q?abc?=", None)
    add("invalid-utf8-in-ew", b"=?UTF-8?B?" + base64.b64encode(b"bad \xff\xfe bytes") +
        b"?=", None)
    add("eml-suffix", b"message.eml", "message.eml")
    add("trailing-space", b"trailing spaces   ", "trailing spaces   ")
    add("trailing-dot", b"ends with a dot.", "ends with a dot.")
    add("backslash", b"C:\\Users\\alice\\file %2F name", "C:\\Users\\alice\\file %2F name")
    add("nfd", _subj_ew("Cafe\u0301 (NFD) and \u0645\u0631\u062d\u0628\u0627", "UTF-8", "B"),
        "Cafe\u0301 (NFD) and \u0645\u0631\u062d\u0628\u0627")
    add("duplicate-1", b"Same subject twice", "Same subject twice")
    add("duplicate-2", b"Same subject twice", "Same subject twice")

    fr = "Donn\u00e9es export\u00e9es \u2014 r\u00e9sum\u00e9"
    add("utf8-q", _subj_ew(fr, "UTF-8", "Q"), fr, folder="donnees")
    jp2 = "\u4f1a\u8b70\u306e\u304a\u77e5\u3089\u305b"
    add("iso2022jp-b", _subj_ew(jp2, "ISO-2022-JP", "B", "iso2022_jp"), jp2, folder="nihongo")
    jp3 = "\u8acb\u6c42\u66f8\u3092\u9001\u308a\u307e\u3059 / \u78ba\u8a8d"
    add("utf8-b-slash", _subj_ew(jp3, "UTF-8", "B"), jp3, folder="nihongo")
    add("ampersand", b"Q&A & more &- &AOk- literal", "Q&A & more &- &AOk- literal",
        folder="aandb")
    ru2 = "\u0412\u044b \u0432\u044b\u0438\u0433\u0440\u0430\u043b\u0438!"
    add("koi8r-b", _subj_ew(ru2, "KOI8-R", "B"), ru2, folder="junk")
    add("cp1251-b", _subj_ew(ru2 + " 100%", "windows-1251", "B", "cp1251"), ru2 + " 100%",
        folder="junk")
    return c


# Body kinds. The token and "zanzibar" always go into a 7bit, 8bit or
# quoted-printable text part (never only in base64), on short lines of their
# own, so that a byte-level grep of the raw message finds them.
BODY_KINDS = ["plain", "plain", "plain", "utf8-8bit", "latin1-qp", "alternative",
              "mixed-png", "mixed-pdf", "mixed-alt-png", "forward"]


# ---------------------------------------------------------------------------
# Binary attachments
# ---------------------------------------------------------------------------


def png_bytes(rng, target):
    """A valid RGB PNG of roughly `target` bytes (noise, so it does not
    compress)."""
    width = 256
    height = max(1, target // (width * 3 + 1))
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def pdf_bytes(rng, target):
    """PDF-looking binary: a real header and trailer around random bytes."""
    head = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length " + str(target).encode() +
            b" >>\nstream\n")
    tail = b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    return head + rng.randbytes(target) + tail


# ---------------------------------------------------------------------------
# Message assembly
# ---------------------------------------------------------------------------


class Msg:
    """What the manifest records about one generated message."""
    __slots__ = ("folder", "slug", "n", "path", "token", "zanzibar", "flags",
                 "internaldate", "delivered", "size", "vsize", "message_id",
                 "subject_case", "subject", "kind", "attachment_bytes")


class Generator:
    def __init__(self, root, seed, out_manifest):
        self.root = root
        self.seed = seed
        self.pool = TextPool(random.Random("pool:%d" % seed))
        self.pid = 10000 + seed % 80000
        self.messages = 0
        self.total_bytes = 0
        self.counter = 0
        self.manifest = out_manifest

    # -- folders ----------------------------------------------------------

    def folder_dir(self, folder):
        if folder == "INBOX":
            return self.root
        return os.path.join(self.root, *[mutf7_encode(p) for p in folder.split("/")])

    def make_folder(self, folder):
        d = self.folder_dir(folder)
        # Every level 0700 like a Maildir (os.makedirs gives intermediate
        # levels the umask's mode instead).
        path = self.root
        for part in os.path.relpath(d, self.root).split(os.sep) + ["cur"]:
            path = os.path.normpath(os.path.join(path, part))
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
        for sub in ("new", "tmp"):
            if not os.path.isdir(os.path.join(d, sub)):
                os.mkdir(os.path.join(d, sub), 0o700)
        for sub in ("cur", "new"):
            if os.listdir(os.path.join(d, sub)):
                sys.stderr.write("gen_mailbox: %s already holds messages; use an "
                                 "empty --maildir\n" % os.path.join(d, sub))
                sys.exit(2)
        return d

    # -- one folder -------------------------------------------------------

    def gen_folder(self, folder, slug, count, specials, large_sizes, small=False):
        """Write `count` messages. specials: subject cases to place in this
        folder; large_sizes: attachment sizes of large messages to place."""
        d = self.make_folder(folder)
        rng = random.Random("folder:%d:%s" % (self.seed, slug))
        y0, y1 = FOLDER_YEARS[slug]
        lo = year_start(y0)
        hi = min(year_start(y1 + 1) - 1, LAST_EPOCH)
        times = sorted(rng.randint(lo, hi) for _ in range(count))
        for i in range(1, count):  # strictly increasing: file names sort as n
            if times[i] <= times[i - 1]:
                times[i] = times[i - 1] + 1

        # Spread the special cases over the folder, deterministically.
        slots = list(range(count))
        rng.shuffle(slots)
        special_at = {}
        for case in specials:
            special_at[slots.pop()] = ("subject", case)
        for size in large_sizes:
            special_at[slots.pop()] = ("large", size)
        # In demo/test, make sure each body kind occurs at least once in INBOX.
        forced_kind = {}
        if slug == "inbox" and not small:
            for k in BODY_KINDS:
                if slots:
                    forced_kind[slots.pop()] = k

        prev_ids = []
        for i in range(count):
            n = i + 1
            m = Msg()
            m.folder, m.slug, m.n = folder, slug, n
            m.token = "MAILFS-TOKEN-%s-%d" % (slug, n)
            m.zanzibar = rng.random() < 1 / 7
            m.delivered = times[i]
            m.internaldate = times[i]
            if rng.random() < 0.04:  # an old message imported later
                m.internaldate = rng.randint(year_start(2010), year_start(2018))
            m.message_id = "<%s.%d.s%d@mailfs.example>" % (slug, n, self.seed)
            m.attachment_bytes = 0
            m.flags = self.pick_flags(rng, slug)

            sp = special_at.get(i)
            m.subject_case, m.subject, subj_raw = None, None, None
            kind = forced_kind.get(i)
            if small:
                kind = "plain"
            elif kind is None:
                kind = rng.choice(BODY_KINDS)
            large = None
            if sp and sp[0] == "subject":
                _, label, subj_raw, m.subject = sp[1]
                m.subject_case = label
            else:
                m.subject_case = "filler"
                if slug == "junk":
                    m.subject = rng.choice(JUNK_SUBJECTS)
                else:
                    m.subject = rng.choice(FILLER_SUBJECTS)
                if sp and sp[0] == "large":
                    large = sp[1]
                    kind = "large"
                    m.subject = "Large attachment (%d bytes)" % large
                subj_raw = m.subject.encode("ascii")
            m.kind = kind

            data = self.render(rng, m, kind, subj_raw, large, prev_ids, small)
            if m.message_id:
                prev_ids.append(m.message_id)
                if len(prev_ids) > 5:
                    prev_ids.pop(0)
            self.write(d, m, data)

    def pick_flags(self, rng, slug):
        f = set()
        if slug == "sent":
            f.add("S")
        elif slug == "drafts":
            f.update("DS")
        elif slug == "junk":
            if rng.random() < 0.2:
                f.add("S")
        else:
            if rng.random() < 0.7:
                f.add("S")
            if rng.random() < 0.12:
                f.add("F")
            if rng.random() < 0.15:
                f.add("R")
        return "".join(sorted(f))  # Maildir wants the letters in ASCII order

    # -- rendering --------------------------------------------------------

    def render(self, rng, m, kind, subj_raw, large, prev_ids, small):
        sender = rng.choice(PEOPLE)
        if m.slug in ("sent", "drafts"):
            frm, to = OWNER, sender
        else:
            frm, to = sender, OWNER
        off = rng.choice(TZ_OFFSETS)
        date_t = m.internaldate - rng.randint(0, 1800)  # sent a bit earlier

        h = []
        h.append(b"Return-Path: <%s>" % frm[1].encode())
        h.append(b"From: " + address(*frm).encode("ascii"))
        if not (m.slug == "drafts" and m.n == 1):  # one draft has no To:
            h.append(b"To: " + address(*to).encode("ascii"))
        if rng.random() < 0.2:
            cc = rng.choice(PEOPLE)
            h.append(b"Cc: " + address(*cc).encode("ascii"))
        h.append(b"Date: " + rfc5322_date(date_t, off).encode("ascii"))
        if m.subject_case == "missing":
            pass
        elif m.subject_case == "empty-nospace":
            h.append(b"Subject:")
        else:
            h.append(b"Subject: " + subj_raw)
        if m.slug == "inbox" and m.n == 2 and not small:
            m.message_id = None  # one message without a Message-ID
        else:
            h.append(b"Message-ID: " + m.message_id.encode("ascii"))
        if prev_ids and rng.random() < 0.25:
            h.append(b"In-Reply-To: " + prev_ids[-1].encode("ascii"))
            h.append(b"References: " + " ".join(prev_ids[-3:]).encode("ascii"))
        h.append(b"MIME-Version: 1.0")
        if m.slug == "junk":
            h.append(b"X-Spam-Flag: YES")
            h.append(b"X-Spam-Score: %d.%d" % (rng.randint(5, 30), rng.randint(0, 9)))

        text = self.text_lines(rng, m, small)
        boundary = "=_mailfs_%s_%d_%d" % (m.slug, m.n, self.seed)
        ctype, body = self.render_body(rng, m, kind, text, boundary, large)
        h.extend(ctype)
        return b"\n".join(h) + b"\n\n" + body

    def text_lines(self, rng, m, small):
        """The main text: greeting, filler, optional zanzibar, token."""
        if small:
            size = rng.randint(600, 3400)
        else:
            size = rng.choice([150, 400, 800, 1500, 3000, 6000])
        lines = ["Hello,", ""]
        lines += self.pool.body(rng, size)
        lines.append("")
        if m.zanzibar:
            lines += ["Remember the trip to zanzibar next spring.", ""]
        lines += ["Reference: " + m.token, "", "-- ", "Regards"]
        return lines

    def render_body(self, rng, m, kind, text, boundary, large):
        """Returns (content header lines, body bytes)."""
        ascii_text = "\n".join(text).encode("ascii") + b"\n"
        plain_hdr = [b"Content-Type: text/plain; charset=us-ascii",
                     b"Content-Transfer-Encoding: 7bit"]

        if kind == "plain":
            return plain_hdr, ascii_text

        if kind == "utf8-8bit":
            extra = rng.sample(self.pool.utf8_paras, 2)
            lines = text[:2] + extra[0] + [""] + extra[1] + [""] + text[2:]
            return ([b"Content-Type: text/plain; charset=utf-8",
                     b"Content-Transfer-Encoding: 8bit"],
                    "\n".join(lines).encode("utf-8") + b"\n")

        if kind == "latin1-qp":
            lines = text[:2] + wrap(UTF8_TEXTS[0]) + [""] + text[2:]
            raw = "\n".join(lines).encode("iso-8859-1") + b"\n"
            return ([b"Content-Type: text/plain; charset=iso-8859-1",
                     b"Content-Transfer-Encoding: quoted-printable"],
                    binascii.b2a_qp(raw))

        if kind == "alternative":
            return self.alternative(text, boundary)

        parts = []
        if kind == "mixed-alt-png":
            ah, ab = self.alternative(text, boundary + "_alt")
            parts.append(b"\n".join(ah) + b"\n\n" + ab)
        else:
            parts.append(b"\n".join(plain_hdr) + b"\n\n" + ascii_text)

        if kind in ("mixed-png", "mixed-alt-png"):
            data = png_bytes(rng, rng.randint(10_000, 200_000))
            parts.append(self.attachment(data, "image/png", "photo-%d.png" % m.n))
        elif kind == "mixed-pdf":
            data = pdf_bytes(rng, rng.randint(10_000, 200_000))
            # RFC 2231 file name with non-ASCII characters.
            parts.append(self.attachment(
                data, "application/pdf", "Rapport annuel \u00e9t\u00e9 %d.pdf" % m.n))
        elif kind == "large":
            data = pdf_bytes(rng, large)
            parts.append(self.attachment(data, "application/pdf", "large-%d.pdf" % m.n))
        elif kind == "forward":
            inner = (b"From: Carol Jones <carol@example.net>\nTo: bob@example.com\n"
                     b"Subject: The original message\nDate: Mon, 02 Jan 2023 10:00:00 +0000\n"
                     b"Message-ID: <inner.%s.%d@mailfs.example>\n\n"
                     b"This is the forwarded text.\n" % (m.slug.encode(), m.n))
            parts.append(b"Content-Type: message/rfc822\n"
                         b"Content-Disposition: inline\n\n" + inner)
            data = b""
        m.attachment_bytes = len(data)
        return self.multipart("mixed", boundary, parts)

    def alternative(self, text, boundary):
        plain = (b"Content-Type: text/plain; charset=us-ascii\n"
                 b"Content-Transfer-Encoding: 7bit\n\n" +
                 "\n".join(text).encode("ascii") + b"\n")
        paras, cur = [], []
        for line in text:
            if line:
                cur.append(line.replace("&", "&amp;").replace("<", "&lt;"))
            elif cur:
                paras.append("<p>" + "\n".join(cur) + "</p>")
                cur = []
        if cur:
            paras.append("<p>" + "\n".join(cur) + "</p>")
        html = ("<!DOCTYPE html>\n<html><body>\n" + "\n".join(paras) +
                "\n</body></html>\n").encode("ascii")
        html_part = (b"Content-Type: text/html; charset=us-ascii\n"
                     b"Content-Transfer-Encoding: 7bit\n\n" + html)
        return self.multipart("alternative", boundary, [plain, html_part])

    @staticmethod
    def attachment(data, ctype, filename):
        if all(ord(c) < 128 for c in filename):
            disp = 'attachment; filename="%s"' % filename
            name = '; name="%s"' % filename
        else:
            # RFC 2231 for the disposition, RFC 2047 for name= (what most
            # mail programs send, although 2047 does not apply there).
            safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"
            pct = "".join(chr(b) if b in safe else "%%%02X" % b
                          for b in filename.encode("utf-8"))
            disp = "attachment;\n filename*=UTF-8''" + pct
            name = '; name="%s"' % "".join(encoded_words(filename, "UTF-8", "B"))
        return (("Content-Type: %s%s\nContent-Disposition: %s\n"
                 "Content-Transfer-Encoding: base64\n\n" % (ctype, name, disp))
                .encode("ascii") + base64.encodebytes(data))  # 76-char LF lines

    @staticmethod
    def multipart(sub, boundary, parts):
        b = boundary.encode("ascii")
        body = b"This is a multi-part message in MIME format.\n"
        for p in parts:
            body += b"\n--" + b + b"\n" + p
            if not p.endswith(b"\n"):
                body += b"\n"
        body += b"\n--" + b + b"--\n"
        return ([b"Content-Type: multipart/%s;\n boundary=\"%s\"" % (sub.encode(), b)], body)

    # -- writing ----------------------------------------------------------

    def write(self, d, m, data):
        if b"\r" in data or b"\x00" in data:
            raise AssertionError("CR or NUL in generated message %s" % m.token)
        # The subset is defined by what is really in the bytes; check that it
        # is the intended one (no accidental hit in random base64).
        if (b"zanzibar" in data) != m.zanzibar or data.count(m.token.encode()) < 1:
            raise AssertionError("token/zanzibar placement broken in %s" % m.token)
        size = len(data)
        vsize = size + data.count(b"\n")
        self.counter += 1
        name = "%d.M%dP%d.mailfs,S=%d,W=%d:2,%s" % (
            m.delivered, self.counter, self.pid, size, vsize, m.flags)
        tmp = os.path.join(d, "tmp", name.split(":")[0])
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.utime(tmp, (m.internaldate, m.internaldate))
        final = os.path.join(d, "cur", name)
        os.rename(tmp, final)  # Maildir: appear complete or not at all
        m.path = os.path.relpath(final, self.root)
        m.size, m.vsize = size, vsize
        self.total_bytes += size
        if self.manifest:
            self.manifest.write(json.dumps({
                "folder": m.folder, "n": m.n, "file": m.path, "token": m.token,
                "zanzibar": m.zanzibar, "flags": m.flags,
                "internaldate": m.internaldate, "delivered": m.delivered,
                "size": m.size, "vsize": m.vsize, "message_id": m.message_id,
                "subject_case": m.subject_case, "subject": m.subject,
                "kind": m.kind, "attachment_bytes": m.attachment_bytes,
            }, ensure_ascii=False) + "\n")
        self.messages += 1


def scaled(counts, total):
    base = sum(counts)
    return [max(1, round(c * total / base)) for c in counts]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--maildir", required=True, help="root of the Maildir (INBOX)")
    ap.add_argument("--profile", choices=["demo", "test", "small20k"], default="demo")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, help="small20k: messages (default 20000); "
                    "demo/test: about this many in total")
    ap.add_argument("--manifest", help="write one JSON line per message to FILE")
    args = ap.parse_args()
    if args.count is not None and args.count < 1:
        ap.error("--count must be positive")

    root = os.path.abspath(args.maildir)
    if not os.path.isdir(root):
        os.makedirs(os.path.dirname(root), exist_ok=True)
        os.mkdir(root, 0o700)
    mf = open(args.manifest, "w", encoding="utf-8") if args.manifest else None
    g = Generator(root, args.seed, mf)
    folders = 0
    try:
        if args.profile == "small20k":
            g.gen_folder("Bulk", "bulk", args.count or 20000, [], [], small=True)
            folders = 1
        else:
            cases = subject_cases()
            counts = [c for _, _, c in DEMO_FOLDERS]
            if args.profile == "test":
                counts = [max(3, c // 3) for c in counts]
                counts[0] = 60  # INBOX holds most edge cases
            if args.count:
                counts = scaled(counts, args.count)
            if args.profile == "demo":
                large = {"inbox": [1_200_000], "archive2024": [3_000_000],
                         "alpha": [2_000_000]}
            else:
                large = {"inbox": [1_000_000]}
            for (folder, slug, _), count in zip(DEMO_FOLDERS, counts):
                specials = [c for c in cases if c[0] == slug]
                big = large.get(slug, [])
                extra = len(BODY_KINDS) if slug == "inbox" else 0
                count = max(count, len(specials) + len(big) + extra)
                g.gen_folder(folder, slug, count, specials, big)
                folders += 1
    finally:
        if mf:
            mf.close()
    print("gen_mailbox: profile %s seed %d: %d folder(s), %d messages, %d bytes in %s"
          % (args.profile, args.seed, folders, g.messages, g.total_bytes, root))


if __name__ == "__main__":
    main()
