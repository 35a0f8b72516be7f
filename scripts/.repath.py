import os, re, sys
moves={'parse':'input','archive':'input','resolve':'link','layout':'link','plan':'link','placement':'link','relocate':'link',
'runtime':'load','tls':'load','thread_exit':'load','shim':'load','debug':'load','annotate':'load','unit':'load','opened':'load',
'namespace':'scope','host':'scope','implicit':'scope'}
def repath(s):
    s=re.sub(r'crate::memory::(FileMap|open_input)\b', r'crate::input::file::\1', s)
    s=re.sub(r'crate::memory\b', 'crate::load::memory', s)
    s=re.sub(r'crate::runtime::(lifecycle|refuse_what_is_not_code)\b', r'crate::link::lifecycle::\1', s)
    s=re.sub(r'crate::(%s)\b' % '|'.join(moves), lambda m: f'crate::{moves[m.group(1)]}::{m.group(1)}', s)
    return s
for root in sys.argv[1:]:
    for d,_,fs in os.walk(root):
        for f in fs:
            if f.endswith('.rs'):
                p=os.path.join(d,f); s=open(p).read(); t=repath(s)
                if t!=s: open(p,'w').write(t)
