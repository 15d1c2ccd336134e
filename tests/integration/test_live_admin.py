"""`objmail import|export|quota` live through the daemon's admin socket
(issue 6): with objmaild running, the request runs inside it on the user as
its sessions have it open, so an IDLE session sees the imported mail at
once (and on obox the daemon's lease is no obstacle); progress is streamed;
the output is the offline one; paths are read and written as mail_uid."""

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import time

import pytest

import messages
import omtest
from test_migration import USERS, fill_dovecot, imap_state

pytestmark = pytest.mark.skipif(omtest.server_class() is not omtest.Objmaild,
                                reason="objmail-specific admin tool")


def objmail(srv, *args, ok=True, cwd=None):
    r = subprocess.run([omtest.OBJMAIL, "-c", srv.conf_path] + list(args), capture_output=True,
                       env=omtest.sanitizer_env(), timeout=600, cwd=cwd)
    err = r.stderr.decode("utf-8", "replace")
    assert not omtest.sanitizer_reports(err), err
    if ok:
        assert r.returncode == 0, "objmail %s -> %d:\n%s" % (args, r.returncode, err[-5000:])
    return r


def ojs(srv, *args, **kw):
    return json.loads(objmail(srv, *(list(args) + ["--json"]), **kw).stdout.decode())


def live_server(make_server, users, **kw):
    base = omtest.make_tempdir()
    conf = kw.pop("conf", {})
    conf["listen_admin"] = "unix:" + os.path.join(base, "admin")
    return make_server(users=users, pool=0, base=base, conf=conf, **kw)


@pytest.fixture
def dovecot():
    srv = omtest.DovecotServer(users=USERS, pool=0)
    try:
        srv.start()
    except Exception:
        srv.cleanup()
        raise
    yield srv
    srv.stop()
    srv.cleanup()


def start_idle(r, box="INBOX"):
    u, _ = r.ok('SELECT "%s"' % box)
    exists = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS")][0]
    tag = r.tag()
    r.send(tag + " IDLE\r\n")
    assert r.read_response().startswith(b"+")
    return tag, exists


def idle_until_exists(r, n, timeout=20):
    """Untagged responses until "* n EXISTS" (the IDLE session was told)."""
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        r.sock.settimeout(max(0.05, deadline - time.time()))
        try:
            got.append(r.read_response())
        except (socket.timeout, TimeoutError):
            break
        if b"* %d EXISTS" % n in got:
            break
    r.sock.settimeout(30)
    return got


def stop_idle(r, tag):
    r.send("DONE\r\n")
    r.collect(tag)


def test_import_maildir_live_idle_sees_it(dovecot, make_server):
    om = live_server(make_server, USERS)
    om.deliver("mig@example.com", messages.simple("already here"))
    # UIDVALIDITYs are creation times: Dovecot's INBOX must not get the
    # same one as ours by chance (the import would take it for its own)
    time.sleep(1.1)
    fill_dovecot(dovecot, "mig")
    src = {b: imap_state(dovecot.ports["imap"], "mig", USERS["mig"], b)
           for b in ("INBOX", "Work", "Lists/Debian")}
    with om.raw(login="mig") as r:
        tag, n0 = start_idle(r)
        assert n0 == 1
        p = objmail(om, "import", "maildir", dovecot.maildir("mig"), "mig", "--json")
        res = json.loads(p.stdout)
        assert res["messages"] == 11 + 5 + 3, res
        # INBOX held mail: appended with new UIDs; Work and Lists/Debian were new
        assert res["uids_kept"] == 2, res
        # not a terminal: the plain progress lines, drawn from the daemon's
        assert "import maildir: 19/19 done" in p.stderr.decode(), p.stderr
        got = idle_until_exists(r, 12)
        assert b"* 12 EXISTS" in got, got
        stop_idle(r, tag)
        u, _ = r.ok("FETCH 2:12 (FLAGS BODY.PEEK[])")
        fm = omtest.fetch_map(u)
        mine = sorted((frozenset(bytes(f).decode() for f in v[b"FLAGS"]) - {"\\Recent"},
                       bytes(v[b"BODY[]"])) for v in fm.values())
        theirs = sorted((f, b) for f, _d, b in src["INBOX"][1].values())
        assert mine == theirs
    # the new mailboxes keep UIDVALIDITY, UIDs, flags, keywords, dates
    for b in ("Work", "Lists/Debian"):
        assert imap_state(om.ports["imap"], "mig", USERS["mig"], b) == src[b], b
    subs = {m["name"] for m in ojs(om, "mailbox", "list", "mig")["mailboxes"] if m["subscribed"]}
    assert {"Work", "Lists/Debian"} <= subs


MBOX = b"""From alice@example.com Mon Jan  5 10:00:00 2026
From: alice@example.com
Subject: one
Status: RO

Hello

From bob@example.com Tue Jan  6 11:30:00 2026
From: bob@example.com
Subject: two

Second
"""


def test_import_mbox_live_relative_path(make_server):
    om = live_server(make_server, {"m": "m-pw"})
    objmail(om, "mailbox", "create", "m", "Old Mail")
    om.deliver("m@example.com", messages.simple("x"))
    with open(os.path.join(om.base, "in.mbox"), "wb") as f:
        f.write(MBOX)
    with om.raw(login="m") as r:
        tag, n0 = start_idle(r, "Old Mail")
        assert n0 == 0
        # a relative path is the tool's, not the daemon's working directory
        res = ojs(om, "import", "mbox", "in.mbox", "m", "Old Mail", cwd=om.base)
        assert res == {"user": "m", "mailboxes": 1, "messages": 2, "skipped": 0,
                       "uids_kept": 0}
        assert b"* 2 EXISTS" in idle_until_exists(r, 2)
        stop_idle(r, tag)
    got = ojs(om, "fetch", "m", "flags hdr.subject", 'MAILBOX "Old Mail" ALL')["messages"]
    assert [(g["hdr.subject"], g["flags"]) for g in got] == [("one", ["\\Seen"]), ("two", [])]


def test_import_imap_live_resumes(make_server):
    src = make_server(users={"s": "s-pw"}, pool=0)
    with src.raw(login="s") as r:
        r.ok("CREATE Folder")
        for i in range(30):
            r.append("INBOX" if i % 2 else "Folder", messages.simple("imap %d" % i),
                     "\\Seen" if i % 3 == 0 else None)
    dst = live_server(make_server, {"d": "d-pw"})
    dst.deliver("d@example.com", messages.simple("local"))
    url = "imap://s:s-pw@127.0.0.1:%d" % src.ports["imap"]
    with dst.raw(login="d") as r:
        tag, n0 = start_idle(r)
        p = objmail(dst, "import", "imap", url, "d", "-j", "2", "--json")
        res = json.loads(p.stdout)
        assert res["messages"] == 30, res
        assert "import imap: 30/30 done" in p.stderr.decode(), p.stderr
        assert b"* 16 EXISTS" in idle_until_exists(r, 16)
        stop_idle(r, tag)
    # Folder was new at the target: the source's UIDs
    got = ojs(dst, "fetch", "d", "uid", "MAILBOX Folder ALL")["messages"]
    assert [g["uid"] for g in got] == list(range(1, 16))
    with src.raw(login="s") as r:
        r.append("Folder", messages.simple("later"))
    assert ojs(dst, "import", "imap", url, "d")["messages"] == 1
    assert ojs(dst, "import", "imap", url, "d")["messages"] == 0
    # the password of the URL stays out of the daemon's log
    assert "s-pw" not in dst.read_log()


def maildir_view(root):
    """{folder: {uid: (flags letters, bytes, mtime)}} of an exported Maildir
    (file names carry the export's time and pid, so they are not compared)."""
    out = {}
    for folder in [""] + [d for d in os.listdir(root) if d.startswith(".")]:
        d = os.path.join(root, folder)
        with open(os.path.join(d, "dovecot-uidlist")) as f:
            lines = f.read().splitlines()
        hdr = re.sub(r" G\S+", "", lines[0])
        uids = {}
        for ln in lines[1:]:
            uid, base = ln.split(" :", 1)
            uids[base] = int(uid)
        msgs = {}
        for n in os.listdir(os.path.join(d, "cur")):
            p = os.path.join(d, "cur", n)
            base, flags = n.split(":2,")
            with open(p, "rb") as f:
                msgs[uids[base]] = (flags, f.read(), int(os.stat(p).st_mtime))
        kw = os.path.join(d, "dovecot-keywords")
        kws = open(kw).read() if os.path.exists(kw) else ""
        out[folder or "INBOX"] = (hdr, kws, msgs)
    return out


def test_export_live_same_as_offline(make_server):
    om = live_server(make_server, {"e": "e-pw"})
    with om.raw(login="e") as r:
        r.ok('CREATE "Work/Old"')
        for i in range(6):
            r.append("INBOX", messages.simple("ex %d" % i, body="line\nFrom here\n"),
                     "\\Seen $Work" if i % 2 else "\\Flagged",
                     '%02d-Jan-2026 09:00:%02d +0000' % (i + 1, i))
        r.append("Work/Old", messages.simple("old"), "\\Answered")
        # a session stays open meanwhile: the live export reads what it sees
        r.ok("SELECT INBOX")
        live_md = os.path.join(om.base, "live-md")
        live_mbox = os.path.join(om.base, "live.mbox")
        j1 = ojs(om, "export", "maildir", "e", live_md)
        j2 = ojs(om, "export", "mbox", "e", "INBOX", live_mbox)
        t1 = objmail(om, "export", "mbox", "e", "Work/Old",
                     os.path.join(om.base, "live-old.mbox")).stdout
        assert j1["messages"] == 7 and j2["messages"] == 6
        # an existing target is refused, naming user, mailbox and path
        p = objmail(om, "export", "mbox", "e", "INBOX", live_mbox, ok=False)
        assert p.returncode == 1
        assert b"user e, mailbox INBOX" in p.stderr and live_mbox.encode() in p.stderr
    om.stop()
    off_md = os.path.join(om.base, "off-md")
    off_mbox = os.path.join(om.base, "off.mbox")
    assert ojs(om, "export", "maildir", "e", off_md) == j1
    assert ojs(om, "export", "mbox", "e", "INBOX", off_mbox) == j2
    t2 = objmail(om, "export", "mbox", "e", "Work/Old",
                 os.path.join(om.base, "off-old.mbox")).stdout
    assert t1 == t2 and t1.startswith(b"export mbox e: 1 mailboxes, 1 messages copied")
    assert maildir_view(live_md) == maildir_view(off_md)
    assert open(live_mbox, "rb").read() == open(off_mbox, "rb").read()
    om.start()


def test_quota_live(make_server):
    om = live_server(make_server, {"q": ("pw", "quota_rule=*:storage=100K:messages=9")})
    for i in range(3):
        om.deliver("q@example.com", messages.simple("q%d" % i))
    with om.raw(login="q") as r:
        r.ok("SELECT INBOX")  # the user is open in the daemon (on obox: its lease)
        j = ojs(om, "quota", "get", "q")
        assert j["user"] == "q" and j["messages_used"] == 3 and j["messages_limit"] == 9
        assert j["storage_limit"] == 100 * 1024 and j["storage_used"] > 0
        if om.storage == "maildir":
            # mail put into the Maildir behind the daemon's back
            with open(os.path.join(om.maildir("q"), "new", "1700000000.M1P1.hand"), "wb") as f:
                f.write(messages.simple("by hand"))
        p = objmail(om, "quota", "recalc", "q")
        n = 4 if om.storage == "maildir" else 3
        assert b"messages: %d, limit 9" % n in p.stdout, p.stdout
        assert ojs(om, "quota", "recalc", "q")["messages_used"] == n
        p = objmail(om, "quota", "get", "nobody", ok=False)
        assert p.returncode == 1 and b"nobody" in p.stderr
    om.stop()
    # offline: the same answer
    assert ojs(om, "quota", "get", "q")["messages_used"] == n
    om.start()


def test_live_errors_name_user_and_cause(make_server):
    om = live_server(make_server, {"x": "x-pw"})
    p = objmail(om, "import", "maildir", os.path.join(om.base, "nope"), "x", ok=False)
    assert p.returncode == 1
    assert b"user x" in p.stderr and b"nope" in p.stderr, p.stderr
    p = objmail(om, "import", "maildir", om.base, "ghost", ok=False)
    assert p.returncode == 1 and b"ghost" in p.stderr, p.stderr
    p = objmail(om, "import", "imap", "http://x", "x", ok=False)
    assert p.returncode == 1 and b"imap://" in p.stderr, p.stderr
    p = objmail(om, "export", "mbox", "x", "Nope", os.path.join(om.base, "n.mbox"), ok=False)
    assert p.returncode == 1 and b"mailbox Nope" in p.stderr, p.stderr
    # usage errors stay usage errors
    assert objmail(om, "import", "imap", "imap://a:b@h", "x", "-j", "99", ok=False).returncode == 2


def make_maildir(path, n):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub))
    for i in range(n):
        with open(os.path.join(path, "cur", "17000000%02d.M%dP1.src:2,S" % (i, i)), "wb") as f:
            f.write(messages.simple("perm %d" % i))


def test_paths_are_the_mail_uids(make_server):
    """objmaild runs as mail_uid: it reads and writes the paths with that
    uid's rights; a path it can't use is named with the uid."""
    omtest.need_root()
    mail = pwd.getpwnam("mail")
    # LeakSanitizer can't inspect a process that changed its uid
    # the test cluster's RADOS keyring is root's: mail can't use it (the rule
    # tested here is the same on every storage)
    storage = "maildir" if omtest.STORAGE == "obox-rados" else omtest.STORAGE
    om = live_server(make_server, {"p": "p-pw"}, start=False, conf={"mail_uid": "mail"},
                     env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0"}, storage=storage)
    om.write_files()
    omtest.chown_tree(om.base)
    om.start()
    private = omtest.make_tempdir("objmail-private-")
    try:
        os.chmod(private, 0o700)  # root's, not mail's
        md = os.path.join(private, "Maildir")
        make_maildir(md, 3)
        p = objmail(om, "import", "maildir", md, "p", ok=False)
        err = p.stderr.decode()
        assert p.returncode == 1, err
        assert "user p" in err and private in err and "uid %d" % mail.pw_uid in err, err
        assert "Permission denied" in err, err
        p = objmail(om, "export", "mbox", "p", "INBOX", os.path.join(private, "o.mbox"),
                    ok=False)
        err = p.stderr.decode()
        assert p.returncode == 1 and private in err and "uid %d" % mail.pw_uid in err, err
        # readable by mail: it works, and what the export writes is mail's
        omtest.chown_tree(private)
        assert ojs(om, "import", "maildir", md, "p")["messages"] == 3
        out = os.path.join(private, "o.mbox")
        assert ojs(om, "export", "mbox", "p", "INBOX", out)["messages"] == 3
        assert os.stat(out).st_uid == mail.pw_uid
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_client_gone_cancels_import(make_server):
    """A live import whose client went away stops (as an interrupted
    offline one would) instead of running on for nobody."""
    om = live_server(make_server, {"c": "c-pw"})
    md = os.path.join(om.base, "big")
    make_maildir(md, 0)
    for i in range(3000):
        with open(os.path.join(md, "cur", "1%09d.M%dP2.src:2," % (i, i)), "wb") as f:
            f.write(messages.simple("c %d" % i, body="x" * 2000 + "\n"))
    admin = om.conf["listen_admin"][5:]
    s = socket.socket(socket.AF_UNIX)
    s.connect(admin)
    s.sendall(b"import\tjson\tmaildir\t%s\tc\n" % md.encode())
    # wait for the first progress line, then hang up
    buf = b""
    s.settimeout(60)
    while b"+progress\t" not in buf:
        buf += s.recv(4096)
    s.close()
    deadline = time.time() + 60
    while time.time() < deadline and "admin: import maildir c failed" not in om.read_log():
        time.sleep(0.2)
    log = om.read_log()
    assert "admin: import maildir c failed" in log and "cancelled" in log, log[-3000:]
    n = ojs(om, "mailbox", "status", "c", "INBOX")["mailboxes"][0]["messages"]
    assert 0 < n < 3000, n


def test_fresh_selected_mailbox_takes_source_uidvalidity(make_server):
    """An empty, never used mailbox selected in a session gets the source's
    UIDVALIDITY: the session's UIDs are void, it is told BYE, and after a
    reconnect the client finds the source's UIDVALIDITY and UIDs."""
    om = live_server(make_server, {"f": "f-pw"})
    md = os.path.join(om.base, "src")
    make_maildir(md, 0)
    with open(os.path.join(md, "dovecot-uidlist"), "w") as f:
        f.write("3 V1234567 N21 Gabc\n")
        for uid in (5, 9, 20):
            base = "17000000%02d.M%dP1.src" % (uid, uid)
            f.write("%d :%s\n" % (uid, base))
            with open(os.path.join(md, "cur", base + ":2,S"), "wb") as m:
                m.write(messages.simple("fresh %d" % uid))
    r = om.raw(login="f")
    try:
        tag, n0 = start_idle(r)
        assert n0 == 0
        res = ojs(om, "import", "maildir", md, "f")
        assert res["messages"] == 3 and res["uids_kept"] == 1
        got = []
        r.sock.settimeout(20)
        try:
            while True:
                got.append(r.read_response())
        except EOFError:
            pass  # closed after the BYE
        assert any(g.startswith(b"* BYE") and b"UIDVALIDITY changed" in g for g in got), got
    finally:
        r.close()
    with om.raw(login="f") as r:
        u, _ = r.ok("SELECT INBOX")
        assert any(b"[UIDVALIDITY 1234567]" in x for x in u), u
        assert [int(x) for x in r.ok("UID SEARCH ALL")[0][0].split()[2:]] == [5, 9, 20]


# --- force-resync, fts rescan, check live; SIGTERM during a live job ---

def mailbox_state(r, box="INBOX"):
    """(UIDVALIDITY, {uid: (flags, body)}) as a fresh SELECT sees it."""
    u, _ = r.ok('SELECT "%s"' % box)
    uv = [int(re.search(rb"UIDVALIDITY (\d+)", x).group(1)) for x in u if b"UIDVALIDITY" in x][0]
    u, _ = r.ok("UID FETCH 1:* (UID FLAGS BODY.PEEK[])")
    out = {}
    for v in omtest.fetch_map(u).values():
        flags = frozenset(bytes(f).decode() for f in v[b"FLAGS"]) - {"\\Recent"}
        out[int(v[b"UID"])] = (flags, bytes(v[b"BODY[]"]))
    return uv, out


def read_until_closed(r, timeout=20):
    """Every response until the server closes the connection."""
    got = []
    r.sock.settimeout(timeout)
    try:
        while True:
            got.append(r.read_response())
    except (EOFError, ConnectionResetError):
        pass
    return got


def fill_user(om, user, n=4):
    with om.raw(login=user) as r:
        r.ok("CREATE Work")
        for i in range(n):
            r.append("INBOX", messages.simple("rs %d" % i, body="resync body %d\n" % i),
                     "\\Seen" if i % 2 else "\\Flagged $Later")
        r.append("Work", messages.simple("work"))
        r.ok("SELECT INBOX")
        r.ok("UID STORE 1 +FLAGS (\\Answered)")
        r.ok("UID STORE 2 +FLAGS (\\Deleted)")
        r.ok("UID EXPUNGE 2")
        r.append("INBOX", messages.simple("rs last", body="resync body last\n"))


def resync_with_session(om, user, damage=None):
    """force-resync while a session has INBOX selected: the session is told
    BYE (its view would not survive a new index), the client reconnects to
    the same UIDVALIDITY, UIDs, flags and bodies."""
    with om.raw(login=user) as r:
        before = mailbox_state(r)
        u, _ = r.ok("SELECT INBOX (CONDSTORE)")
        hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", b" ".join(u)).group(1))
    r = om.raw(login=user)
    try:
        r.ok("SELECT INBOX")
        if damage is not None:
            damage()
        p = objmail(om, "force-resync", user, "--json")
        res = json.loads(p.stdout)
        assert res["user"] == user and res["sessions_closed"] == 1, res
        assert res["mailboxes"] >= 2 and res["messages"] == len(before[1]) + 1, res
        # the session's next command: BYE, then the connection closes
        try:
            r.send("N1 NOOP\r\n")
        except OSError:
            pass
        got = read_until_closed(r)
        assert any(g.startswith(b"* BYE [UNAVAILABLE]") and b"rebuilding" in g for g in got), got
        assert not any(g.startswith(b"N1 OK") for g in got), got
    finally:
        r.close()
    with om.raw(login=user) as r:
        r.ok("ENABLE QRESYNC")
        assert mailbox_state(r) == before
        # a CONDSTORE/QRESYNC client that synced before is not told "nothing
        # changed" by a modseq counted from 1 again: HIGHESTMODSEQ only grows,
        # and the expunged UID 2 is VANISHED to a client that knew 1:5
        r.ok("UNSELECT")
        u, _ = r.ok("SELECT INBOX (QRESYNC (%d %d 1:5))" % (before[0], hms))
        joined = b"\n".join(u)
        now_hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", joined).group(1))
        assert now_hms >= hms, (now_hms, hms)
        if now_hms > hms:
            # the rebuilt index (maildir): every message is reported changed
            assert b"VANISHED (EARLIER) 2" in joined, u
            assert len([x for x in u if b" FETCH " in x]) == len(before[1]), u
        # and it keeps working: new mail gets the next UID
        r.append("INBOX", messages.simple("after resync"))
        uv, now = mailbox_state(r)
        assert uv == before[0] and max(now) == max(before[1]) + 1
    res = ojs(om, "check", user)
    assert res["ok"] and res["problems_count"] == 0, res
    return before


def test_force_resync_live_with_session(make_server):
    om = live_server(make_server, {"rs": "rs-pw"})
    fill_user(om, "rs")
    resync_with_session(om, "rs")
    text = objmail(om, "force-resync", "rs").stdout.decode()
    assert text.startswith("rs: index rebuilt from the store: ") and "messages" in text, text
    p = objmail(om, "force-resync", "ghost", ok=False)
    assert p.returncode == 1 and b"user ghost" in p.stderr and b"no such user" in p.stderr
    assert objmail(om, "force-resync", ok=False).returncode == 2
    live = ojs(om, "force-resync", "rs")
    om.stop()
    # offline (obox: the lease is free now): the same rebuild, the same answer
    assert ojs(om, "force-resync", "rs") == live
    om.start()
    with om.raw(login="rs") as r:
        assert len(mailbox_state(r)[1]) == live["messages"] - 1


def test_force_resync_live_maildir_index_lost_or_damaged(make_server):
    """maildir: an index deleted or overwritten under the running daemon is
    rebuilt from the folders (dovecot-uidlist keeps the UIDs)."""
    om = live_server(make_server, {"rd": "rd-pw"}, storage="maildir")
    fill_user(om, "rd")
    idx = os.path.join(om.maildir("rd"), "objmail-index.sqlite")
    assert os.path.exists(idx)

    def delete():
        for sfx in ("", "-wal", "-shm"):
            if os.path.exists(idx + sfx):
                os.unlink(idx + sfx)

    resync_with_session(om, "rd", delete)
    assert os.path.exists(idx)

    def garbage():
        with open(idx, "r+b") as f:
            f.write(b"\x5a" * 8192)

    resync_with_session(om, "rd", garbage)
    om.stop()
    # offline: the same rebuild
    res = ojs(om, "force-resync", "rd")
    assert res["sessions_closed"] == 0 and res["messages"] == 7, res
    om.start()


def make_mbox(path, n, needle_every):
    with open(path, "wb") as f:
        for i in range(n):
            body = "filler text %d\n" % i + ("the word zanzibar is here\n" if i % needle_every == 0
                                              else "nothing special\n") + "x" * 1500 + "\n"
            f.write(b"From a@example.com Mon Jan  5 10:00:00 2026\n")
            f.write(messages.simple("fts %d" % i, body=body).replace(b"\r\n", b"\n"))
            f.write(b"\n")


def search_uids(r, crit):
    u, _ = r.ok("UID SEARCH " + crit)
    line = [x for x in u if x.startswith(b"* SEARCH")][0]
    return sorted(int(x) for x in line.split()[2:])


def test_fts_rescan_live_with_concurrent_search(make_server):
    om = live_server(make_server, {"ft": "ft-pw"})
    n = 600
    mbox = os.path.join(om.base, "fts.mbox")
    make_mbox(mbox, n, 7)
    assert ojs(om, "import", "mbox", mbox, "ft", "INBOX")["messages"] == n
    with om.raw(login="ft") as r:
        r.ok("SELECT INBOX")
        want = search_uids(r, "BODY zanzibar")
        assert len(want) == (n + 6) // 7
        p = subprocess.Popen([omtest.OBJMAIL, "-c", om.conf_path, "fts", "rescan", "ft", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=omtest.sanitizer_env())
        during = 0
        while p.poll() is None:
            # every answer right, while rows are dropped and rebuilt
            assert search_uids(r, "BODY zanzibar") == want
            assert search_uids(r, "TEXT ZANZIBAR") == want
            during += 1
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert not omtest.sanitizer_reports(err.decode()), err
        assert json.loads(out) == {"user": "ft", "indexed": n}
        assert b"fts rescan: %d/%d done" % (n, n) in err, err
        assert during > 0
        assert search_uids(r, "BODY zanzibar") == want
        r.ok("NOOP")
    assert objmail(om, "fts", "rescan", "ft").stdout == b"ft: %d messages indexed\n" % n
    om.stop()
    # offline: the same answer
    assert ojs(om, "fts", "rescan", "ft") == {"user": "ft", "indexed": n}
    om.start()


def test_check_live(make_server):
    om = live_server(make_server, {"ck": "ck-pw"})
    fill_user(om, "ck")
    with om.raw(login="ck") as r:
        r.ok("SELECT INBOX")  # open in the daemon (obox: its lease)
        live = ojs(om, "check", "ck")
        assert live["ok"] and live["problems_count"] == 0 and live["messages"] == 5, live
        t = objmail(om, "check", "ck").stdout
        assert re.match(rb"ck: ok: \d+ mailboxes, 5 messages, \d+ (files|objects), 0 problems\n$",
                        t), t
        p = objmail(om, "check", "nobody", ok=False)
        assert p.returncode == 1 and b"nobody" in p.stderr
    om.stop()
    off = ojs(om, "check", "ck")  # offline: the same answer
    if "objects" in live:
        # the expunged message's object went at the shutdown's final upload
        assert off.pop("objects") <= live.pop("objects")
    assert off == live
    om.start()
    if om.storage not in ("maildir", "obox-file"):
        return  # the store's objects are not files here to break
    # break it behind the daemon's back: one message gone, one stray
    if om.storage == "maildir":
        cur = os.path.join(om.maildir("ck"), "cur")
        os.unlink(os.path.join(cur, sorted(os.listdir(cur))[0]))
        with open(os.path.join(cur, "1700000000.M1P1.stray:2,S"), "wb") as f:
            f.write(messages.simple("stray"))
        kinds = ["missing file", "unindexed file"]
    else:
        mdirs = [(d, sorted(f for f in fs if not f.startswith(".")))
                 for d, _, fs in os.walk(os.path.join(om.base, "objects")) if os.path.basename(d) == "m"]
        assert len(mdirs) == 1, mdirs
        os.unlink(os.path.join(mdirs[0][0], mdirs[0][1][0]))
        with open(os.path.join(mdirs[0][0], "0" * 32), "wb") as f:
            f.write(b"stray")
        kinds = ["missing object", "unreferenced object"]
    p = objmail(om, "check", "ck", "--json", ok=False)
    assert p.returncode == 1, (p.stdout, p.stderr)
    res = json.loads(p.stdout)
    assert not res["ok"] and sorted(x["problem"] for x in res["problems"]) == kinds, res
    assert b"user ck" in p.stderr and b"2 problem(s)" in p.stderr, p.stderr
    p = objmail(om, "check", "ck", ok=False)
    assert p.returncode == 1 and b"INCONSISTENT" in p.stdout, p.stdout


def test_sigterm_stops_live_import(make_server):
    """SIGTERM while a live import runs: the import stops at the next message
    with an error saying why, objmaild exits promptly with 0, and a second
    run copies only what is missing."""
    src = live_server(make_server, {"s": "s-pw"})
    md = os.path.join(src.base, "many")
    make_maildir(md, 0)
    n = 3000
    for i in range(n):
        with open(os.path.join(md, "cur", "1%09d.M%dP3.src:2,S" % (i, i)), "wb") as f:
            f.write(messages.simple("many %d" % i, body="y" * 1000 + "\n"))
    assert ojs(src, "import", "maildir", md, "s")["messages"] == n
    dst = live_server(make_server, {"d": "d-pw"})
    url = "imap://s:s-pw@127.0.0.1:%d" % src.ports["imap"]
    p = subprocess.Popen([omtest.OBJMAIL, "-c", dst.conf_path, "import", "imap", url, "d",
                          "-j", "1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=omtest.sanitizer_env())
    try:
        deadline = time.time() + 120
        # some mail is in: the import is under way
        while time.time() < deadline:
            with dst.raw(login="d") as r:
                u, _ = r.ok("STATUS INBOX (MESSAGES)")
            got = int(re.search(rb"MESSAGES (\d+)", u[0]).group(1))
            if got > 0:
                break
            time.sleep(0.02)
        assert 0 < got < n, got
        t0 = time.time()
        dst.stop(check=True)  # SIGTERM; exit 0 and no sanitizer report
        took = time.time() - t0
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert took < 15, took
    assert p.returncode == 1, (out, err)
    assert b"objmaild is stopping" in err and b"run the import again, it resumes" in err, err
    assert b"user d" in err, err
    dst.start()
    before = ojs(dst, "mailbox", "status", "d", "INBOX")["mailboxes"][0]["messages"]
    assert 0 < before < n, before
    res = ojs(dst, "import", "imap", url, "d")
    assert res["messages"] == n - before, (res, before)
    with dst.raw(login="d") as r:
        r.ok("SELECT INBOX")
        assert search_uids(r, "ALL") == list(range(1, n + 1))
