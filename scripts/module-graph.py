#!/usr/bin/env python3
"""The import graph between the modules of crates/objdl/src, and its cycles.

Usage: scripts/module-graph.py [--check] [--folders]

Two graphs, both checked: between files (`link/plan`, `error`), and between
the crate's top-level modules (a folder such as `link/` counts as one node
with the files in it). An edge A -> B is any path in A that names B, in
`use` lines, code, comments or doc links: `crate::B`, a relative
`super::`/`self::` path (resolved from A's place in the tree, so that
`super::Parts` in `pipeline/inputs.rs` names `pipeline`), or the bare name
of a child module A declares (`mod inputs;` then `inputs::parse`). A `mod`
declaration alone is not an edge. Test modules (`#[cfg(test)] mod ...`) are
left out: they may use anything. Prints the graph (files, or with --folders
the top-level modules) and every cycle; with --check, exits 1 if there is
one.
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
    # `self` in a group names the group's own path: `plan::{self, X}`.
    return [n for n in names if n not in ('super', 'crate')]

# A path's start: `crate`, `self` or `super` (then more `::super`s), or
# the bare name of a child module; then its modules, then a name or a
# `{...}` group. Not after `::` or a letter: `link::plan::x` is one path.
PATH = re.compile(r'(?<![\w:])(crate|self|super|[a-z_0-9]+)((?:::super)*)::'
                  r'((?:[a-z_0-9]+::)*)(\{|[A-Za-z_0-9]+)')

def children(text):
    """The child modules a file declares in files of their own (`mod x;`)."""
    return set(re.findall(r'^\s*(?:pub(?:\([^)]*\))?\s+)?mod ([a-z_0-9]+);', text, re.M))

def paths_named(text, here, modules):
    """The modules that the paths in `text`, a file of module `here`
    (segments), name. `crate::a::b` starts at the root, `self::` at `here`,
    each `super` one level up, a declared child's name at `here` too."""
    kids = children(text)
    for m in PATH.finditer(text):
        start, supers = m.group(1), m.group(2).count('super')
        if start == 'crate':
            if supers:
                continue
            base = []
        elif start == 'self':
            base = list(here)
        elif start == 'super':
            base = here[:len(here) - 1 - supers] if len(here) > supers else None
        elif start in kids and not supers:
            base = here + [start]
        else:
            continue
        if base is None:
            continue
        prefix = m.group(3).split('::')[:-1]
        names = brace_names(text, m.start(4)) if m.group(4) == '{' else [m.group(4)]
        for n in names:
            # The longest module the path names: `crate::link::plan::X` -> link/plan.
            path = base + prefix + ([] if n == 'self' else [n])
            while path and '/'.join(path) not in modules:
                path.pop()
            if path:
                yield '/'.join(path)

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
            for target in paths_named(text, mod.split('/'), modules):
                deps.add(node_of(target, folders))
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
