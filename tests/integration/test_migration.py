"""Migration into objmail (issue 6): a Dovecot 2.3 Maildir made by a running
Dovecot imported into obox so that mbsync, synced against Dovecot before,
finds nothing to do after; `import imap` from a running Dovecot, resumed
with only the new messages copied; export maildir -> import round trip with
identical FETCH output; mbox import/export."""

import json
import os
import re
import subprocess

import pytest

import messages
import omtest
from omtest import fetch_map

USERS = {"mig": "mig-pw", "src": "src-pw"}


def objmail(srv, *args, ok=True):
    r = subprocess.run([omtest.OBJMAIL, "-c", srv.conf_path] + list(args), capture_output=True,
                       env=omtest.sanitizer_env(), timeout=600)
    err = r.stderr.decode("utf-8", "replace")
    assert not omtest.sanitizer_reports(err), err
    if ok:
        assert r.returncode == 0, "objmail %s -> %d:\n%s" % (args, r.returncode, err[-5000:])
    return r


def ojs(srv, *args):
    return json.loads(objmail(srv, *(list(args) + ["--json"])).stdout.decode())


@pytest.fixture
def dovecot(make_server):
    omtest.need("mbsync")
    srv = omtest.DovecotServer(users=USERS, pool=0)
    try:
        srv.start()
    except Exception:
        srv.cleanup()
        raise
    yield srv
    srv.stop()
    srv.cleanup()


def mbsyncrc(path, port, user, pw, local):
    with open(path, "w") as f:
        f.write(f"""IMAPAccount srv
Host 127.0.0.1
Port {port}
User {user}
Pass {pw}
SSLType None
AuthMechs LOGIN PLAIN

IMAPStore remote
Account srv

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Sync All
SyncState *
""")


def mbsync(rc):
    r = subprocess.run(["mbsync", "-c", rc, "-V", "-a"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, "mbsync failed (%d):\n%s\n%s" % (r.returncode, r.stdout[-5000:],
                                                               r.stderr[-5000:])
    return r.stdout + r.stderr


def mbsync_counts(rc):
    """Run mbsync on a pseudo-terminal, where it prints its progress counters
    ("F: +a/b *c/d #e/f  N: ..."); returns the last counters and the text."""
    r = subprocess.run(["script", "-q", "-e", "-c", "mbsync -c %s -a" % rc, "/dev/null"],
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, "mbsync failed (%d):\n%s" % (r.returncode, out[-5000:])
    found = re.findall(r"F: \+(\d+)/(\d+) \*(\d+)/(\d+) #(\d+)/(\d+)\s+"
                       r"N: \+(\d+)/(\d+) \*(\d+)/(\d+) #(\d+)/(\d+)", out)
    assert found, out[-3000:]
    return [int(x) for x in found[-1]], out


def tree(local):
    """{relative path: (size, mtime)} of every file under a Maildir tree."""
    out = {}
    for root, dirs, files in os.walk(local):
        for n in files:
            p = os.path.join(root, n)
            st = os.stat(p)
            out[os.path.relpath(p, local)] = (st.st_size, int(st.st_mtime))
    return out


def fill_dovecot(dv, user, inbox=12, folders=(("Work", 5), ("Lists/Debian", 3))):
    with dv.raw(login=user) as r:
        for i in range(inbox):
            r.append("INBOX", messages.simple("inbox message %d" % i, body="body %d\n" % i),
                     "\\Seen" if i % 3 == 0 else None,
                     '%02d-Mar-2025 10:%02d:00 +0000' % (i % 27 + 1, i % 60))
        for box, n in folders:
            r.ok('CREATE "%s"' % box)
            r.ok('SUBSCRIBE "%s"' % box)
            for i in range(n):
                r.append(box, messages.simple("%s %d" % (box, i)), "\\Answered" if i < 2 else None)
        r.ok("SELECT INBOX")
        r.ok("STORE 2:4 +FLAGS.SILENT (\\Flagged $Label1 Important)")
        r.ok("STORE 5 +FLAGS.SILENT (\\Deleted)")
        r.ok("EXPUNGE")  # a UID gap


def imap_state(port, user, pw, box):
    """{uid: (flags, internaldate, body)} through IMAP."""
    r = omtest.RawImap(port)
    try:
        r.login(user, pw)
        u, t = r.ok('EXAMINE "%s"' % box)
        uv = [re.search(rb"UIDVALIDITY (\d+)", x) for x in u]
        uv = [int(m.group(1)) for m in uv if m][0]
        n = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS")][0]
        if n == 0:
            return uv, {}
        fm = fetch_map(r.ok("FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])")[0])
        out = {}
        for v in fm.values():
            flags = frozenset(bytes(f).decode() for f in v[b"FLAGS"]) - {"\\Recent"}
            out[int(v[b"UID"])] = (flags, bytes(v[b"INTERNALDATE"]), bytes(v[b"BODY[]"]))
        return uv, out
    finally:
        r.close()


@pytest.mark.parametrize("mode", ["offline", "live"])
def test_dovecot_maildir_into_obox_mbsync_has_nothing_to_do(dovecot, make_server, mode):
    """offline: imported before objmaild starts; live: through the running
    daemon's admin socket (the import request runs inside objmaild)."""
    user, pw = "mig", USERS["mig"]
    fill_dovecot(dovecot, user)
    local = os.path.join(dovecot.base, "local")
    os.makedirs(local)
    rc = os.path.join(dovecot.base, "mbsyncrc")
    mbsyncrc(rc, dovecot.ports["imap"], user, pw, local)
    mbsync(rc)
    before = {b: imap_state(dovecot.ports["imap"], user, pw, b)
              for b in ("INBOX", "Work", "Lists/Debian")}
    assert len(before["INBOX"][1]) == 11
    local_before = tree(local)
    dovecot.stop()

    # the move: objmail on obox (a file: object store), the Maildir imported
    base = omtest.make_tempdir()
    om = make_server(start=False, storage="obox-file", users=USERS, pool=0, base=base,
                     conf={"listen_admin": "unix:" + os.path.join(base, "admin")})
    om.write_files()
    if mode == "live":
        om.start()
    p = objmail(om, "import", "maildir", dovecot.maildir(user), user, "--json")
    res = json.loads(p.stdout.decode())
    assert res["messages"] == 11 + 5 + 3
    assert res["uids_kept"] >= 3
    assert "import maildir: 19/19 done" in p.stderr.decode()
    if mode == "offline":
        om.start()
    else:
        assert "admin: import maildir %s: %d mailboxes, 19 messages" % (user, res["mailboxes"]) \
            in om.read_log()
    after = {b: imap_state(om.ports["imap"], user, pw, b) for b in before}
    for b in before:
        assert after[b][0] == before[b][0], "UIDVALIDITY of %s changed" % b
        assert after[b][1] == before[b][1], b  # UIDs, flags, keywords, dates, bytes
    subs = {m["name"] for m in ojs(om, "mailbox", "list", user)["mailboxes"] if m["subscribed"]}
    assert {"Work", "Lists/Debian"} <= subs

    # the same mbsync state now pointed at objmail
    mbsyncrc(rc, om.ports["imap"], user, pw, local)
    counts, out = mbsync_counts(rc)
    # far and near: nothing added, no flags changed, nothing trashed
    assert counts == [0] * 12, out[-3000:]
    assert "UIDVALIDITY" not in out, out[-3000:]
    after_tree = tree(local)
    # mbsync rewrites its own state files; the mail files stay as they were
    mail = lambda t: {k: v for k, v in t.items() if "/cur/" in "/" + k or "/new/" in "/" + k}
    assert mail(after_tree) == mail(local_before)


def test_import_imap_then_only_new(dovecot, make_server):
    user, pw = "src", USERS["src"]
    sizes = {"INBOX": 500, "Work": 300, "Archive/2025": 200}
    with dovecot.raw(login=user) as r:
        for box, n in sizes.items():
            if box != "INBOX":
                r.ok('CREATE "%s"' % box)
            for i in range(n):
                flags = "\\Seen" if i % 2 else ("\\Flagged $Todo" if i % 7 == 0 else None)
                r.append(box, messages.simple("%s %d" % (box, i), body="x" * (i % 50) + "\n"),
                         flags, '%02d-Feb-2025 08:%02d:%02d +0100' % (i % 28 + 1, i % 60, i % 60))
    om = make_server(start=False, users={"dst": "dst-pw"}, pool=0)
    om.write_files()
    url = "imap://%s:%s@127.0.0.1:%d" % (user, pw, dovecot.ports["imap"])
    r = objmail(om, "import", "imap", url, "dst", "--json")
    res = json.loads(r.stdout.decode())
    # not a terminal: plain progress lines, the last one at the end
    assert "import imap: 1000/1000 done" in r.stderr.decode(), r.stderr.decode()[-2000:]
    assert res["messages"] == 1000 and res["mailboxes"] == 7  # with Drafts, Sent, Trash, Junk
    st = {m["name"]: m for m in ojs(om, "mailbox", "status", "dst")["mailboxes"]}
    for box, n in sizes.items():
        assert st[box]["messages"] == n
        uv, src = imap_state(dovecot.ports["imap"], user, pw, box)
        assert st[box]["uidvalidity"] == uv
        got = ojs(om, "fetch", "dst", "uid flags internaldate text", "MAILBOX %s ALL" % box)
        got = {m["uid"]: (frozenset(m["flags"]), m["internaldate"].encode(),
                          m["text"].encode()) for m in got["messages"]}
        assert got == {u: (f, d.strip(b'"'), b) for u, (f, d, b) in src.items()}, box

    # ten new ones at the source; a second run copies those only
    with dovecot.raw(login=user) as r:
        for i in range(10):
            box = ("INBOX", "Work", "Archive/2025")[i % 3]
            r.append(box, messages.simple("late %d" % i), "\\Seen" if i == 0 else None)
    res = ojs(om, "import", "imap", url, "dst")
    assert res["messages"] == 10, res
    st = {m["name"]: m for m in ojs(om, "mailbox", "status", "dst")["mailboxes"]}
    assert st["INBOX"]["messages"] == 504 and st["Work"]["messages"] == 303
    assert st["Archive/2025"]["messages"] == 203
    late = ojs(om, "search", "dst", "SUBJECT late")["results"]
    assert len(late) == 10
    # and a third run has nothing to copy
    assert ojs(om, "import", "imap", url, "dst")["messages"] == 0


def test_import_imap_errors(make_server):
    om = make_server(start=False, users={"dst": "dst-pw"}, pool=0)
    om.write_files()
    port = omtest.free_port()
    r = objmail(om, "import", "imap", "imap://a:b@127.0.0.1:%d" % port, "dst", ok=False)
    assert r.returncode == 1 and "dst" in r.stderr.decode()
    r = objmail(om, "import", "imap", "http://x", "dst", ok=False)
    assert r.returncode == 1 and "imap://" in r.stderr.decode()


def test_import_imap_over_tls_from_objmail(make_server):
    src = make_server(tls=True, listeners=("imaps",), users={"s": "s-pw"}, pool=0)
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = src.imaps(ctx)
    m.login("s", "s-pw")
    m.create("Folder")
    for i in range(5):
        m.append("Folder", "(\\Seen)", None, messages.simple("tls %d" % i))
    m.logout()
    dst = make_server(start=False, users={"d": "d-pw"}, pool=0)
    dst.write_files()
    res = ojs(dst, "import", "imap", "imaps://s:s-pw@127.0.0.1:%d" % src.ports["imaps"], "d")
    assert res["messages"] == 5
    got = ojs(dst, "fetch", "d", "uid flags", "MAILBOX Folder ALL")["messages"]
    assert [g["uid"] for g in got] == [1, 2, 3, 4, 5]
    assert all(g["flags"] == ["\\Seen"] for g in got)


def test_export_import_round_trip(make_server):
    srv = make_server(users={"a": "a-pw", "b": "b-pw"}, pool=0)
    with srv.raw(login="a") as r:
        r.ok('CREATE "Work/Old"')
        for i in range(8):
            r.append("INBOX", messages.simple("rt %d" % i, body="line\nFrom here\n"),
                     "\\Seen $Work" if i % 2 else "\\Flagged",
                     '%02d-Jan-2026 09:00:%02d +0000' % (i + 1, i))
        for i in range(3):
            r.append("Work/Old", messages.simple("old %d" % i), "\\Answered")
        r.ok("SELECT INBOX")
        r.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        r.ok("EXPUNGE")
    srv.stop()
    out = os.path.join(srv.base, "export")
    res = ojs(srv, "export", "maildir", "a", out)
    assert res["messages"] == 10
    res = ojs(srv, "import", "maildir", out, "b")
    assert res["messages"] == 10
    for box in ("INBOX", "Work/Old"):
        q = "MAILBOX %s ALL" % box
        fa = ojs(srv, "fetch", "a", "uid flags internaldate text", q)
        fb = ojs(srv, "fetch", "b", "uid flags internaldate text", q)
        assert fa == fb and len(fa["messages"]) > 0, box
        sa = ojs(srv, "mailbox", "status", "a", box)["mailboxes"][0]
        sb = ojs(srv, "mailbox", "status", "b", box)["mailboxes"][0]
        assert (sa["uidvalidity"], sa["uidnext"], sa["messages"]) == \
            (sb["uidvalidity"], sb["uidnext"], sb["messages"])
    # the same through IMAP
    srv.start()
    for box in ("INBOX", "Work/Old"):
        assert imap_state(srv.ports["imap"], "a", "a-pw", box) == \
            imap_state(srv.ports["imap"], "b", "b-pw", box)


MBOX = b"""From alice@example.com Mon Jan  5 10:00:00 2026
From: alice@example.com
Subject: one
Status: RO
X-Status: AF

Hello
>From the start
>>From twice

From bob@example.com Tue Jan  6 11:30:00 2026
From: bob@example.com
Subject: two

Second
"""


def test_mbox_import_export(make_server):
    srv = make_server(start=False, users={"m": "m-pw"}, pool=0)
    srv.write_files()
    path = os.path.join(srv.base, "in.mbox")
    with open(path, "wb") as f:
        f.write(MBOX)
    res = ojs(srv, "import", "mbox", path, "m", "Old Mail")
    assert res["messages"] == 2
    got = ojs(srv, "fetch", "m", "uid flags date.received hdr.subject text",
              'MAILBOX "Old Mail" ALL')["messages"]
    assert [g["hdr.subject"] for g in got] == ["one", "two"]
    assert set(got[0]["flags"]) == {"\\Seen", "\\Answered", "\\Flagged"}
    assert got[1]["flags"] == []
    assert got[0]["date.received"] == 1767607200
    assert "Status:" not in got[0]["text"]
    assert "\r\nFrom the start\r\n>From twice\r\n" in got[0]["text"]
    out = os.path.join(srv.base, "out.mbox")
    res = ojs(srv, "export", "mbox", "m", "Old Mail", out)
    assert res["messages"] == 2
    data = open(out, "rb").read()
    assert data.count(b"\nFrom MAILER-DAEMON ") + data.startswith(b"From ") == 2
    assert b"\n>From the start\n>>From twice\n" in data
    assert b"Status: RO\nX-Status: AF" in data
    # and back in: the same messages
    objmail(srv, "mailbox", "create", "m", "Again")
    ojs(srv, "import", "mbox", out, "m", "Again")
    again = ojs(srv, "fetch", "m", "flags date.received text", "MAILBOX Again ALL")["messages"]
    assert [(set(g["flags"]), g["date.received"], g["text"]) for g in again] == \
        [(set(g["flags"]), g["date.received"], g["text"]) for g in got]
