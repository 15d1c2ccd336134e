"""mbsync (isync 1.4) syncs a 500-message account with folders and flags
both ways, and a sync with nothing to do changes nothing."""

import os
import re
import subprocess

import pytest

import messages
import omtest
from omtest import fetch_map, search_result

N_INBOX = 500
FOLDERS = {"Work": 20, "Lists/Debian": 10}


def write_rc(srv, user, local):
    rc = os.path.join(srv.base, "mbsyncrc-" + user)
    with open(rc, "w") as f:
        f.write(f"""IMAPAccount srv
Host 127.0.0.1
Port {srv.ports["imap"]}
User {user}
Pass {srv.password(user)}
SSLType None
AuthMechs LOGIN PLAIN
PipelineDepth 10

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
    return rc


def mbsync(rc, *extra):
    r = subprocess.run(["mbsync", "-c", rc, "-V", "-a"] + list(extra), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, "mbsync failed (%d):\n%s\n%s" % (r.returncode, r.stdout[-5000:],
                                                               r.stderr[-5000:])
    return r.stdout + r.stderr


def local_files(local, box):
    d = os.path.join(local, box)
    out = {}
    for sub in ("cur", "new"):
        p = os.path.join(d, sub)
        if os.path.isdir(p):
            for n in os.listdir(p):
                out[os.path.join(sub, n)] = n.split(":2,")[1] if ":2," in n else ""
    return out


def server_state(srv, user, box):
    """{uid: set(flags)} of a server mailbox."""
    with srv.raw(login=user) as r:
        u, t = r.ok('EXAMINE "%s"' % box)
        n = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS")][0]
        if n == 0:
            return {}
        fm = fetch_map(r.ok("FETCH 1:* (UID FLAGS)")[0])
        return {int(v[b"UID"]): {bytes(f).decode() for f in v[b"FLAGS"]} - {"\\Recent"}
                for v in fm.values()}


def fill(srv, user):
    with srv.lmtp() as c:
        for i in range(N_INBOX):
            res = c.send("list@example.com", [user + "@example.com"],
                         messages.simple("inbox message %d" % i, body="body %d\n" % i))
            assert res[0][0] == 250, res
    with srv.raw(login=user) as r:
        for box, n in FOLDERS.items():
            r.ok('CREATE "%s"' % box)
            for i in range(n):
                r.append(box, messages.simple("%s %d" % (box, i)), "\\Answered" if i < 3 else None)
        r.ok("SELECT INBOX")
        r.ok("STORE 1:50 +FLAGS.SILENT (\\Seen)")
        r.ok("STORE 10:20 +FLAGS.SILENT (\\Flagged)")
        r.ok("STORE 30 +FLAGS.SILENT (\\Answered \\Seen)")


@pytest.fixture(scope="module")
def synced(server):
    omtest.need("mbsync")
    user = server.take_user()
    fill(server, user)
    local = os.path.join(server.base, "local-" + user)
    os.makedirs(local)
    rc = write_rc(server, user, local)
    out = mbsync(rc)
    return user, local, rc, out


def test_first_sync_pulls_everything(server, synced):
    user, local, rc, out = synced
    files = local_files(local, "INBOX")
    assert len(files) == N_INBOX, out[-3000:]
    assert sum("S" in f for f in files.values()) == 50
    assert sum("F" in f for f in files.values()) == 11
    assert sum("R" in f for f in files.values()) == 1
    for box, n in FOLDERS.items():
        lf = local_files(local, box)
        assert len(lf) == n, (box, out[-3000:])
        assert sum("R" in f for f in lf.values()) == 3
    for box in ("Drafts", "Sent", "Trash", "Junk"):
        assert os.path.isdir(os.path.join(local, box, "cur")), box
    # the message bytes made it
    some = sorted(files)[0]
    with open(os.path.join(local, "INBOX", some), "rb") as f:
        data = f.read()
    assert b"Subject: inbox message" in data


def test_second_sync_both_ways(server, synced):
    user, local, rc, out = synced
    inbox = os.path.join(local, "INBOX")
    # local: mark 5 unseen messages \Seen and \Flagged, add a message to Work
    unseen = sorted(n for n, f in local_files(local, "INBOX").items() if "S" not in f)[:5]
    for n in unseen:
        base = n.split(":2,")[0] if ":2," in n else n
        new = os.path.join("cur", os.path.basename(base) + ":2,FS")
        os.rename(os.path.join(inbox, n), os.path.join(inbox, new))
    new_local = os.path.join(local, "Work", "new", "1700000000.local1.host")
    with open(new_local, "wb") as f:
        f.write(messages.crlf(messages.simple("written locally")).replace(b"\r\n", b"\n"))
    # server: flag two messages, add three
    with server.raw(login=user) as r:
        r.ok("SELECT INBOX")
        r.ok("STORE 400:401 +FLAGS.SILENT (\\Flagged)")
        for i in range(3):
            r.append("INBOX", messages.simple("server side %d" % i))
    out = mbsync(rc)
    # local side has the server's changes
    files = local_files(local, "INBOX")
    assert len(files) == N_INBOX + 3, out[-3000:]
    assert sum("F" in f for f in files.values()) == 11 + 5 + 2, out[-3000:]
    # server has the local changes
    st = server_state(server, user, "INBOX")
    assert len(st) == N_INBOX + 3
    assert sum("\\Seen" in f for f in st.values()) == 50 + 5
    assert sum("\\Flagged" in f for f in st.values()) == 11 + 5 + 2
    work = server_state(server, user, "Work")
    assert len(work) == FOLDERS["Work"] + 1
    with server.raw(login=user) as r:
        r.ok("EXAMINE Work")
        u, t = r.ok('SEARCH SUBJECT "written locally"')
        assert len(search_result(u)) == 1, u


def test_third_sync_changes_nothing(server, synced):
    user, local, rc, out = synced
    before_local = {b: local_files(local, b) for b in ["INBOX"] + list(FOLDERS)}
    before_server = {b: server_state(server, user, b) for b in ["INBOX"] + list(FOLDERS)}
    out = mbsync(rc)
    after_local = {b: local_files(local, b) for b in ["INBOX"] + list(FOLDERS)}
    after_server = {b: server_state(server, user, b) for b in ["INBOX"] + list(FOLDERS)}
    assert after_local == before_local
    assert after_server == before_server
    # mbsync's own summary: nothing pulled or pushed
    m = re.search(r"pulled (\d+) new message\(s\) and (\d+) flag update\(s\)", out)
    if m:
        assert m.groups() == ("0", "0"), out[-2000:]
    m = re.search(r"pushed (\d+) new message\(s\) and (\d+) flag update\(s\)", out)
    if m:
        assert m.groups() == ("0", "0"), out[-2000:]
