#!/usr/bin/env python3
"""The longest functions in crates/objdl/src: lines from `fn` to its closing
brace (tests and assembly strings included as they are written).

Usage: scripts/fn-lengths.py [N]   (default: the 15 longest)
"""
import os, re, sys

ROOT = os.path.join(os.path.dirname(__file__), '..', 'crates', 'objdl', 'src')
FN = re.compile(r'^\s*(pub(\([a-z]+\))?\s+)?(const\s+)?(unsafe\s+)?(extern\s+"C"\s+)?fn\s+(\w+)')

def functions(path):
    lines = open(path).read().split('\n')
    i = 0
    while i < len(lines):
        m = FN.match(lines[i])
        if m:
            depth, started, j = 0, False, i
            while j < len(lines):
                code = re.sub(r'//.*', '', lines[j])
                code = re.sub(r'"([^"\\]|\\.)*"', '""', code)
                code = re.sub(r"'([^'\\]|\\.)'", "''", code)
                for c in code:
                    if c == '{':
                        depth += 1; started = True
                    elif c == '}':
                        depth -= 1
                if started and depth == 0:
                    break
                if not started and code.rstrip().endswith(';'):
                    break
                j += 1
            if started:
                yield m.group(6), i + 1, j - i + 1
        i += 1

if __name__ == '__main__':
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    out = []
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith('.rs'):
                p = os.path.join(dirpath, f)
                for name, line, length in functions(p):
                    out.append((length, os.path.relpath(p, ROOT), line, name))
    out.sort(reverse=True)
    for length, rel, line, name in out[:n]:
        print(f"{length:5}  {rel}:{line}  {name}")
