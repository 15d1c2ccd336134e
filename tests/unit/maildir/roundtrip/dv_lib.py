import imaplib, base64, re
def mutf7_decode(s):
    out=''; i=0
    while i < len(s):
        c=s[i]
        if c=='&':
            j=s.index('-',i)
            if j==i+1: out+='&'
            else:
                b=s[i+1:j].replace(',','/'); b+='='*(-len(b)%4)
                out+=base64.b64decode(b).decode('utf-16-be')
            i=j+1
        else: out+=c; i+=1
    return out
def mutf7_encode(s):
    out=''; buf=''
    def flush():
        nonlocal out, buf
        if buf:
            out+='&'+base64.b64encode(buf.encode('utf-16-be')).decode().rstrip('=').replace('/',',')+'-'; buf=''
    for c in s:
        if 0x20<=ord(c)<0x7f:
            flush(); out+= '&-' if c=='&' else c
        else: buf+=c
    flush(); return out
def dump(M, path):
    lines=[]
    typ, data = M.list('""','*')
    names=[]
    for d in data:
        m=re.match(rb'\((.*?)\) "(.)" (.*)', d)
        flags=m.group(1).decode(); name=m.group(3).decode()
        if name.startswith('"'): name=name[1:-1].replace('\\\\','\\')
        if '\\Noselect' in flags: continue
        names.append(name)
    for name in sorted(names):
        q='"'+name+'"'
        typ, st = M.status(q,'(UIDVALIDITY UIDNEXT MESSAGES)')
        s=st[0].decode()
        uv=re.search(r'UIDVALIDITY (\d+)',s).group(1); un=re.search(r'UIDNEXT (\d+)',s).group(1)
        lines.append('box %s\t%s\t%s' % (mutf7_decode(name), uv, un))
        M.select(q, readonly=True)
        typ, data = M.uid('FETCH','1:*','(UID FLAGS)')
        for d in data:
            if d is None: continue
            m=re.search(rb'UID (\d+) FLAGS \((.*?)\)', d)
            fl=[f for f in m.group(2).decode().split() if f!='\\Recent']
            lines.append('msg %s\t%s' % (m.group(1).decode(), ' '.join(sorted(fl))))
        M.close() if False else M.unselect() if hasattr(M,'unselect') else None
    open(path,'w').write('\n'.join(lines)+'\n')
