#!/usr/bin/env python3
"""layers.py - the include rules of the code (README, "Layout of the code"),
checked over the #include lines of every source file:

  - net/ and cache/ never include each other, fs/ or FUSE (but net/grow.h,
    a header with no code to call, which every layer uses);
  - the engine (fs/engine/, drivers included) never includes FUSE or the
    face (fs/face/);
  - a driver (fs/engine/drivers/) includes no engine header but driver.h
    and fetch.h, and nothing of cache/: it reports what it learns, it does
    not store it;
  - no include cycle between modules (a module is a .c file and its .h).

Prints what breaks a rule and exits 1; prints one line and exits 0 when all
hold. Python 3 standard library only.
"""

import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def sources():
    for d in ("net", "cache", "fs"):
        for root, _, files in os.walk(os.path.join(TOP, d)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(root, f), TOP)


def includes(path):
    with open(os.path.join(TOP, path), encoding="utf-8") as f:
        return [(kind, name) for kind, name in INCLUDE.findall(f.read())]


def module(path):
    return os.path.splitext(path)[0]


def rule_breaks(path, kind, name):
    fuse = kind == "<" and name.startswith("fuse")
    if path.startswith("net/"):
        if fuse or name.startswith(("cache/", "fs/")):
            return "net/ includes %s" % name
    elif path.startswith("cache/"):
        if fuse or (name.startswith(("net/", "fs/")) and name != "net/grow.h"):
            return "cache/ includes %s" % name
    if path.startswith("fs/engine/"):
        if fuse or name.startswith("fs/face/"):
            return "the engine includes %s (it is FUSE-free)" % name
    if path.startswith("fs/engine/drivers/"):
        if name.startswith("cache/"):
            return "a driver includes %s (the engine stores, drivers report)" % name
        if name.startswith("fs/engine/") and not name.startswith("fs/engine/drivers/") \
                and name != "fs/engine/fetch.h":
            return "a driver includes %s (only driver.h and fetch.h)" % name
    return None


def cycles(graph):
    """Every cycle's smallest rotation, found by depth-first search."""
    found, state, stack = set(), {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                c = stack[stack.index(m):]
                i = c.index(min(c))
                found.add(tuple(c[i:] + c[:i]))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return sorted(found)


def main():
    bad = []
    graph = {}
    files = list(sources())
    known = {module(p) for p in files}
    for path in files:
        for kind, name in includes(path):
            why = rule_breaks(path, kind, name)
            if why:
                bad.append("%s: %s" % (path, why))
            dep = module(name)
            if kind == '"' and dep in known and dep != module(path):
                graph.setdefault(module(path), set()).add(dep)
    for c in cycles(graph):
        bad.append("include cycle: " + " -> ".join(c + (c[0],)))
    if bad:
        for b in bad:
            print("layers: " + b)
        return 1
    print("layers: %d files, every include rule holds, no include cycle" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
