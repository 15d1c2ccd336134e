import sys
def load(p):
    d={}; cur=None
    for l in open(p):
        l=l.rstrip('\n')
        if l.startswith('box '):
            name,uv,un=l[4:].split('\t'); cur=name; d[name]={'uv':uv,'un':un,'msgs':{}}
        elif l.startswith('msg '):
            uid,fl=l[4:].split('\t'); d[cur]['msgs'][uid]=sorted(fl.split())
    return d
a=load(sys.argv[1]); b=load(sys.argv[2])
ok = a==b
if not ok:
    for k in sorted(set(a)|set(b)):
        if a.get(k)!=b.get(k): print('DIFF', k, a.get(k), b.get(k))
print('IDENTICAL' if ok else 'DIFFERENT', len(a), 'mailboxes', sum(len(v['msgs']) for v in a.values()), 'messages')
