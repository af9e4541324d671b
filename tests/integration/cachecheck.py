#!/usr/bin/env python3
"""cachecheck.py - look into a mailfs cache directory from outside, with
Python's sqlite3, to prove what a crash left behind.

Every command needs CACHE_DIR/mailfs.db: callers run it on the cache of a
mount that came up, so a missing database is a failure (exit 1), never an
empty cache. (A caller that kills mailfs so early that it may not have made
its database checks for the file itself, as t_pop3_kill.sh does.)

    cachecheck.py CACHE_DIR integrity
        PRAGMA integrity_check of mailfs.db is "ok" (exit 1 otherwise).

    cachecheck.py CACHE_DIR bodies
        every body file in bodies/<folder>/<uid> belongs to a message row
        and has exactly the row's size; prints "N bodies whole" (exit 1 on
        a partial or orphan body).

    cachecheck.py CACHE_DIR imap-compare DUMP_DIR
        DUMP_DIR/<folder path>/<uid>.eml holds what the server has (from
        `imapcheck.py dump`, folder paths decoded like the mount shows them).
        Every cached body must be byte-identical to its server message, and
        every message row must be a message the server has. Exit 1 otherwise.

    cachecheck.py CACHE_DIR cached FOLDER
        the UIDs of FOLDER (its path as the mount shows it) whose bodies are
        in the cache, one a line, ascending.

    cachecheck.py CACHE_DIR rows FOLDER
        the number of message rows of FOLDER (as the mount shows it); exit 1
        when the cache has no such folder.

    cachecheck.py CACHE_DIR pop3-union ORIG_DIR SERVER_DIR
        ORIG_DIR holds the messages as they were (*.eml), SERVER_DIR what the
        server holds now (*.eml). Every original must be on the server, in
        the cache (a stored POP3 message with its body), or both, byte for
        byte; every stored cache message must be one of the originals.
        Prints a summary; exit 1 on any loss or corruption.
"""

import os
import sqlite3
import sys


class NoDatabase(Exception):
    pass


def db(cache):
    # Read-write, as a restarted mailfs opens it (the daemon is gone when
    # this runs): a kill in the middle of the first transaction leaves a hot
    # journal that only a writer may roll back. Never created here.
    path = os.path.join(cache, "mailfs.db")
    if not os.path.exists(path):
        raise NoDatabase(path)
    return sqlite3.connect("file:%s?mode=rw" % path, uri=True)


def integrity(cache):
    r = db(cache).execute("PRAGMA integrity_check").fetchone()[0]
    print("integrity_check: %s" % r)
    return 0 if r == "ok" else 1


def rows(cache):
    c = db(cache)
    if not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'message'").fetchone():
        return {}   # killed before the schema was created: nothing stored
    return {(f, u): (size, uidl) for f, u, size, uidl in
            c.execute("SELECT folder, uid, size, uidl FROM message")}


def body_files(cache):
    base = os.path.join(cache, "bodies")
    out = {}
    if not os.path.isdir(base):
        return out
    for folder in os.listdir(base):
        for uid in os.listdir(os.path.join(base, folder)):
            out[(int(folder), int(uid))] = os.path.join(base, folder, uid)
    return out


def reserved_uids(cache):
    """POP3 UIDs reserved by a download that had not committed yet: a body
    may already be linked for them (it is whole: fsync'd before the link),
    and it is dropped at the next start. Not listed, never served."""
    c = db(cache)
    try:
        return {u for (u,) in c.execute("SELECT uid FROM pop3_uidl WHERE state = 0")}
    except sqlite3.OperationalError:
        return set()


def bodies(cache):
    r = rows(cache)
    reserved = reserved_uids(cache)
    bad = 0
    files = body_files(cache)
    for key, path in files.items():
        if key not in r and key[1] in reserved:
            print("body of an uncommitted download (dropped at the next start): %s" % path)
        elif key not in r:
            print("orphan body (no row): %s" % path)
            bad += 1
        elif os.path.getsize(path) != r[key][0]:
            print("partial body: %s has %d bytes, row says %d"
                  % (path, os.path.getsize(path), r[key][0]))
            bad += 1
    print("%d bodies whole, %d bad" % (len(files) - bad, bad))
    return 1 if bad else 0


def folder_paths(cache):
    """folder id -> path as the mount shows it, from the folder table."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from imapcheck import mutf7_decode
    c = db(cache)
    if not c.execute("SELECT 1 FROM sqlite_master WHERE name = 'folder'").fetchone():
        return {}
    out = {}
    for fid, server, delim in c.execute("SELECT id, server, delim FROM folder"):
        if server is None:
            continue
        parts = server.split(delim) if delim else [server]
        out[fid] = "/".join(mutf7_decode(p).replace("/", "\u2215") for p in parts)
    return out


def imap_compare(cache, dump):
    paths = folder_paths(cache)
    files = body_files(cache)
    r = rows(cache)
    reserved = reserved_uids(cache)
    bad = same = 0
    for (fid, uid), path in files.items():
        if (fid, uid) not in r:
            print("body without a message row: %s" % path)
            bad += 1
            continue
        want = os.path.join(dump, paths.get(fid, "?"), "%d.eml" % uid)
        if not os.path.exists(want):
            print("cached body of a message the server does not have: %s (%s)" % (path, want))
            bad += 1
            continue
        with open(path, "rb") as a, open(want, "rb") as b:
            if a.read() != b.read():
                print("cached body differs from the server: %s" % path)
                bad += 1
            else:
                same += 1
    for (fid, uid) in r:
        if fid in paths and not os.path.exists(os.path.join(dump, paths[fid], "%d.eml" % uid)):
            print("message row the server does not have: folder %s uid %d" % (paths[fid], uid))
            bad += 1
    print("%d cached bodies identical to the server, %d rows, %d bad" % (same, len(r), bad))
    return 1 if bad else 0


def folder_id(cache, folder):
    ids = [fid for fid, path in folder_paths(cache).items() if path == folder]
    if not ids:
        print("no folder %s in the cache" % folder, file=sys.stderr)
    return ids[0] if ids else None


def cached(cache, folder):
    fid = folder_id(cache, folder)
    if fid is None:
        return 1
    for uid in sorted(u for (f, u) in body_files(cache) if f == fid):
        print(uid)
    return 0


def count_rows(cache, folder):
    fid = folder_id(cache, folder)
    if fid is None:
        return 1
    print(sum(1 for (f, u) in rows(cache) if f == fid))
    return 0


def load_dir(d):
    out = {}
    for name in os.listdir(d):
        if name.endswith(".eml"):
            with open(os.path.join(d, name), "rb") as f:
                out[name] = f.read()
    return out


def pop3_union(cache, orig_dir, server_dir):
    orig = load_dir(orig_dir)
    server = set(load_dir(server_dir).values())
    r = rows(cache)
    files = body_files(cache)
    cached = set()
    bad = 0
    for key, (size, uidl) in r.items():
        path = files.get(key)
        if path is None:
            print("row without body: %s" % (key,))
            bad += 1
            continue
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != size:
            print("partial body for %s" % (key,))
            bad += 1
        if data not in orig.values():
            print("cached message %s is not one of the originals (%d bytes)" % (key, len(data)))
            bad += 1
        cached.add(data)
    lost = [n for n, data in orig.items() if data not in server and data not in cached]
    for n in lost:
        print("LOST: %s is neither on the server nor in the cache" % n)
    both = sum(1 for d in orig.values() if d in server and d in cached)
    print("originals %d: on the server %d, in the cache %d, both %d, lost %d, bad %d"
          % (len(orig), sum(1 for d in orig.values() if d in server),
             sum(1 for d in orig.values() if d in cached), both, len(lost), bad))
    return 1 if lost or bad else 0


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cache, cmd = sys.argv[1], sys.argv[2]
    try:
        if cmd == "integrity":
            sys.exit(integrity(cache))
        if cmd == "bodies":
            sys.exit(bodies(cache))
        if cmd == "imap-compare" and len(sys.argv) == 4:
            sys.exit(imap_compare(cache, sys.argv[3]))
        if cmd == "cached" and len(sys.argv) == 4:
            sys.exit(cached(cache, sys.argv[3]))
        if cmd == "rows" and len(sys.argv) == 4:
            sys.exit(count_rows(cache, sys.argv[3]))
        if cmd == "pop3-union" and len(sys.argv) == 5:
            sys.exit(pop3_union(cache, sys.argv[3], sys.argv[4]))
    except NoDatabase as e:
        print("no cache database: %s does not exist" % e)
        sys.exit(1)
    sys.stderr.write(__doc__)
    sys.exit(2)


if __name__ == "__main__":
    main()
