#!/usr/bin/env python3
"""Where a wasm module's code bytes go, by crate: function body sizes from the code
section, attributed by the name section's (mangled) names. Usage: wasm_size.py FILE.wasm
[TOP_CRATES [TOP_FUNCTIONS]]; run it on the pre-wasm-opt module
(target/wasm32-unknown-unknown/wasm-app/rangsi-viewer.wasm), which keeps its names."""
import sys, re, collections
data = open(sys.argv[1], 'rb').read()
def leb(b, i):
    r = s = 0
    while True:
        x = b[i]; i += 1; r |= (x & 0x7f) << s; s += 7
        if x < 0x80: return r, i
assert data[:4] == b'\0asm'
i = 8; sections = []
while i < len(data):
    sid = data[i]; i += 1
    size, i = leb(data, i)
    sections.append((sid, i, size)); i += size
nimports = 0; bodies = []; names = {}; secsizes = collections.Counter()
for sid, off, size in sections:
    secsizes[sid] += size
    if sid == 2:
        n, j = leb(data, off)
        for _ in range(n):
            l, j = leb(data, j); j += l
            l, j = leb(data, j); j += l
            kind = data[j]; j += 1
            if kind == 0: _, j = leb(data, j); nimports += 1
            elif kind in (1, 2):  # table (reference type, then limits) or memory (limits)
                j += kind == 1
                fl, j = leb(data, j); _, j = leb(data, j)
                if fl & 1: _, j = leb(data, j)
            elif kind == 3: j += 2
    if sid == 10:
        n, j = leb(data, off)
        for _ in range(n):
            l, j = leb(data, j); bodies.append(l); j += l
    if sid == 0:
        l, j = leb(data, off); name = data[j:j+l].decode(); j += l
        if name == 'name':
            end = off + size
            while j < end:
                sub = data[j]; j += 1; sl, j = leb(data, j); e = j + sl
                if sub == 1:
                    n, k = leb(data, j)
                    for _ in range(n):
                        idx, k = leb(data, k); l2, k = leb(data, k); names[idx] = data[k:k+l2].decode('utf-8', 'replace'); k += l2
                j = e
print('sections:', {k: v for k, v in secsizes.items()}, 'total', len(data))
def crate(n):
    orig = n
    m = re.match(r'_ZN(\d+)', n)
    if m:
        L = int(m.group(1)); return n[len(m.group(0)):len(m.group(0))+L]
    # demangled forms
    n = n.lstrip('<&* ').replace('dyn ', '')
    m = re.match(r'([A-Za-z_][A-Za-z0-9_]*)', n)
    return m.group(1) if m else orig[:20]
agg = collections.Counter(); cnt = collections.Counter(); big = []
for k, sz in enumerate(bodies):
    nm = names.get(nimports + k, '?')
    c = crate(nm); agg[c] += sz; cnt[c] += 1; big.append((sz, nm))
tot = sum(bodies)
print('code total', tot)
for c, s in agg.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 40):
    print(f'{s:9d} {100*s/tot:5.1f}% {cnt[c]:6d} {c}')
if len(sys.argv) > 3:
    for sz, nm in sorted(big, reverse=True)[:int(sys.argv[3])]:
        print(sz, nm[:160])
