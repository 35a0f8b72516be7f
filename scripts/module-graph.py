#!/usr/bin/env python3
"""The import graph between the modules of crates/objdl/src, and its cycles.

Usage: scripts/module-graph.py [--check]

A module is a file (`plan.rs`) or a folder (`arch/`, counted as one node with
the files in it). An edge A -> B is any `crate::B` path in A, in `use` lines
or in code (`crate::{B, C::D}` included). Tests (`#[cfg(test)]` modules at the
end of a file) are left out: they may use anything. With --check, exits 1 if
there is a cycle and prints it.
"""
import os, re, sys

ROOT = os.path.join(os.path.dirname(__file__), '..', 'crates', 'objdl', 'src')

def node_of(rel):
    parts = rel[:-3].split('/')
    if parts[0] in ('lib', 'main'):
        return None
    return parts[0]

def strip_tests(text):
    """`text` without its `#[cfg(test)] mod NAME { ... }` blocks."""
    while True:
        m = re.search(r'#\[cfg\(test\)\]\s*mod \w+ \{', text)
        if not m:
            return text
        depth, i = 0, m.end() - 1
        while i < len(text):
            if text[i] == '{':
                depth += 1
            elif text[i] == '}':
                depth -= 1
                if depth == 0:
                    break
            i += 1
        text = text[:m.start()] + text[i + 1:]

def brace_names(text, start):
    """Top-level names in the `{...}` group starting at text[start] == '{'."""
    depth, name, names, i = 0, '', [], start
    while i < len(text):
        c = text[i]
        if c == '{':
            depth += 1
            if depth > 1:
                pass
        elif c == '}':
            depth -= 1
            if depth == 0:
                break
        elif depth == 1:
            if c.isalnum() or c == '_':
                name += c
            else:
                if name and c in ':,} \n':
                    names.append(name)
                name = '' if c != ':' else ''
                # skip the rest of a path segment list until ',' at depth 1
                if c == ':':
                    j = i
                    d = 0
                    while j < len(text):
                        if text[j] == '{': d += 1
                        elif text[j] == '}':
                            if d == 0: break
                            d -= 1
                        elif text[j] == ',' and d == 0: break
                        j += 1
                    i = j - 1
        i += 1
    return [n for n in names if n not in ('self', 'super', 'crate')]

def edges():
    graph = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith('.rs'):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, ROOT)
            a = node_of(rel)
            if a is None:
                continue
            text = strip_tests(open(path).read())
            deps = graph.setdefault(a, set())
            for m in re.finditer(r'crate::(\{|[a-z_0-9]+)', text):
                if m.group(1) == '{':
                    deps.update(brace_names(text, m.start(1)))
                else:
                    deps.add(m.group(1))
            deps.discard(a)
    return graph

def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1:
                out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out

if __name__ == '__main__':
    g = edges()
    for a in sorted(g):
        print(f"{a}: {' '.join(sorted(d for d in g[a] if d in g))}")
    cyc = cycles(g)
    for c in cyc:
        print('cycle:', ' '.join(c))
    if '--check' in sys.argv and cyc:
        sys.exit(1)
