#!/usr/bin/env python3
"""The import graph between the modules of crates/objdl/src, and its cycles.

Usage: scripts/module-graph.py [--check] [--folders]

Two graphs, both checked: between files (`link/plan`, `error`), and between
the crate's top-level modules (a folder such as `link/` counts as one node
with the files in it). An edge A -> B is any `crate::B` path in A, in `use`
lines, code or doc links. Test modules (`#[cfg(test)] mod ...`) are left
out: they may use anything. Prints the graph (files, or with --folders the
top-level modules) and every cycle; with --check, exits 1 if there is one.
"""
import os, re, sys

ROOT = os.path.join(os.path.dirname(__file__), '..', 'crates', 'objdl', 'src')

FOLDERS = '--folders' in sys.argv

def module_of(rel):
    """`link/plan.rs` -> `link/plan`; `link/mod.rs` -> `link`; `lib.rs` -> None."""
    parts = rel[:-3].split('/')
    if parts[-1] == 'mod':
        parts = parts[:-1]
    if parts in (['lib'], ['main']):
        return None
    return '/'.join(parts)

def node_of(module, folders):
    return module.split('/')[0] if folders else module

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

def edges(folders):
    graph = {}
    modules = set()
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith('.rs'):
                m = module_of(os.path.relpath(os.path.join(dirpath, f), ROOT))
                if m:
                    modules.add(m)
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith('.rs'):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, ROOT)
            mod = module_of(rel)
            if mod is None:
                continue
            a = node_of(mod, folders)
            text = strip_tests(open(path).read())
            deps = graph.setdefault(a, set())
            for m in re.finditer(r'crate::((?:[a-z_0-9]+::)*)(\{|[a-z_0-9]+)', text):
                prefix = m.group(1).replace('::', '/')
                names = brace_names(text, m.start(2)) if m.group(2) == '{' else [m.group(2)]
                for n in names:
                    # The longest module the path names: `crate::link::plan::X` -> link/plan.
                    path = (prefix + n).split('/')
                    while path and '/'.join(path) not in modules:
                        path.pop()
                    if path:
                        deps.add(node_of('/'.join(path), folders))
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
    shown = edges(FOLDERS)
    for a in sorted(shown):
        print(f"{a}: {' '.join(sorted(d for d in shown[a] if d in shown))}")
    found = cycles(edges(False)) + cycles(edges(True))
    for c in found:
        print('cycle:', ' '.join(c))
    if '--check' in sys.argv and found:
        sys.exit(1)
