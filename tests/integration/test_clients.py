"""More real clients: offlineimap (Debian's offlineimap3) syncs folders and
flags both ways and a sync with nothing to do changes nothing; fetchmail
downloads and deletes the INBOX. (mbsync: test_mbsync.py; imapflow:
test_imapflow.py; Python's imaplib is used throughout.)"""

import os
import shutil
import subprocess
import time

import pytest

import messages
import omtest
from omtest import fetch_map

FOLDERS = {"INBOX": 12, "Archive": 6, "Archive/2021": 4}


def server_state(srv, user):
    """{mailbox: sorted [(subject, flags)]} of every mailbox."""
    out = {}
    with srv.raw(login=user) as r:
        untagged, _ = r.ok('LIST "" "*"')
        names = []
        for line in untagged:
            name = line.rsplit(b" ", 1)[1].strip(b'"').decode()
            if b"\\Noselect" not in line:
                names.append(name)
        for box in names:
            u, _ = r.ok('EXAMINE "%s"' % box)
            n = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS")][0]
            rows = []
            if n:
                fm = fetch_map(r.ok("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0])
                for v in fm.values():
                    subj = [bytes(x) for k, x in v.items() if k.startswith(b"BODY[")][0]
                    subj = subj.decode().strip().split(":", 1)[1].strip()
                    flags = sorted(bytes(f).decode() for f in v[b"FLAGS"]) 
                    rows.append((subj, tuple(f for f in flags if f != "\\Recent")))
            out[box] = sorted(rows)
    return out


def fill(srv, user):
    with srv.raw(login=user) as r:
        for box, n in FOLDERS.items():
            if box != "INBOX":
                r.ok('CREATE "%s"' % box)
            for i in range(n):
                flags = "\\Seen" if i % 3 == 0 else ("\\Flagged \\Seen" if i % 3 == 1 else "")
                r.append(box, messages.simple(subject="%s %d" % (box, i)), flags=flags)


# --- offlineimap ---

def offlineimap_rc(srv, user, base):
    rc = os.path.join(base, "offlineimaprc")
    with open(rc, "w") as f:
        f.write(f"""[general]
accounts = t
metadata = {base}/meta
ui = basic

[Account t]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {base}/mail
sep = /

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {srv.ports["imap"]}
remoteuser = {user}
remotepass = {srv.password(user)}
ssl = no
starttls = no
maxconnections = 2
""")
    return rc


def offlineimap(rc):
    r = subprocess.run(["offlineimap", "-c", rc, "-o", "-u", "basic"], capture_output=True,
                       text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "ERROR" not in out, \
        "offlineimap failed (%d):\n%s" % (r.returncode, out[-6000:])
    return out


def local_dir(base, box):
    return os.path.join(base, "mail", box)


def local_msgs(base, box):
    """{file path: flag letters} of a local folder."""
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(local_dir(base, box), sub)
        for n in os.listdir(d) if os.path.isdir(d) else ():
            out[os.path.join(d, n)] = n.split(":2,")[1] if ":2," in n else ""
    return out


def test_offlineimap_sync_both_ways(make_server, tmp_path):
    omtest.need("offlineimap")
    srv = make_server()
    user = srv.take_user()
    fill(srv, user)
    before = server_state(srv, user)
    base = str(tmp_path)
    rc = offlineimap_rc(srv, user, base)

    # 1. pull: every message, with its flags, in the same folders
    offlineimap(rc)
    for box, n in FOLDERS.items():
        msgs = local_msgs(base, box)
        assert len(msgs) == n, (box, msgs)
        seen = sum(1 for f in msgs.values() if "S" in f)
        flagged = sum(1 for f in msgs.values() if "F" in f)
        assert seen == len([i for i in range(n) if i % 3 in (0, 1)])
        assert flagged == len([i for i in range(n) if i % 3 == 1])
    assert server_state(srv, user) == before

    # 2. push: a flag set, a message deleted, a message and a folder added
    inbox = local_msgs(base, "INBOX")
    unseen = sorted(p for p, f in inbox.items() if "S" not in f)
    os.rename(unseen[0], unseen[0].split(":2,")[0] + ":2,S"
              if ":2," in unseen[0] else unseen[0] + ":2,S")
    victim = sorted(local_msgs(base, "Archive"))[0]
    with open(victim, "rb") as f:
        victim_subject = [l for l in f.read().split(b"\n") if l.startswith(b"Subject:")][0]
    os.unlink(victim)
    newbox = local_dir(base, "Projects")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(newbox, sub))
    with open(os.path.join(newbox, "new", "%d.1.local" % int(time.time())), "wb") as f:
        f.write(messages.simple(subject="made offline").replace(b"\r\n", b"\n"))
    offlineimap(rc)

    after = server_state(srv, user)
    assert [r for r in after["Projects"]] == [("made offline", ())]
    subj = victim_subject.decode().split(":", 1)[1].strip()
    assert subj not in [s for s, _ in after["Archive"]]
    assert len(after["Archive"]) == FOLDERS["Archive"] - 1
    seen_now = sum(1 for _, f in after["INBOX"] if "\\Seen" in f)
    seen_before = sum(1 for _, f in before["INBOX"] if "\\Seen" in f)
    assert seen_now == seen_before + 1

    # 3. a server-side change comes down; then a sync with nothing to do
    with srv.raw(login=user) as r:
        r.append("Archive/2021", messages.simple(subject="late arrival"), flags="\\Answered")
    offlineimap(rc)
    late = [p for p, f in local_msgs(base, "Archive/2021").items() if "R" in f]
    assert len(late) == 1
    settled = server_state(srv, user)
    local_before = {b: sorted(local_msgs(base, b)) for b in list(FOLDERS) + ["Projects"]}
    offlineimap(rc)
    assert server_state(srv, user) == settled
    assert {b: sorted(local_msgs(base, b)) for b in local_before} == local_before


# --- fetchmail ---

def test_fetchmail_downloads_and_deletes(make_server, tmp_path):
    omtest.need("fetchmail")
    srv = make_server()
    user = srv.take_user()
    sent = {}
    with srv.raw(login=user) as r:
        for i in range(8):
            body = "fetch me %d\n" % i + ("y" * 76 + "\n") * (i * 70)
            m = messages.simple(subject="fm %d" % i, body=body)
            sent["fm %d" % i] = m
            r.append("INBOX", m)
    out = tmp_path / "out"
    out.mkdir()
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f"""set no bouncemail
set no syslog
poll 127.0.0.1 service {srv.ports["imap"]} protocol IMAP auth password
  user "{user}" password "{srv.password(user)}" is "root" here
  folder INBOX
  fetchall
  sslproto ''
  mda "/bin/sh -c 'cat > {out}/$$.eml'"
""")
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nodetach", "-v"], capture_output=True,
                       text=True, timeout=120, env=env)
    assert r.returncode == 0, "fetchmail failed (%d):\n%s\n%s" % (r.returncode, r.stdout[-4000:],
                                                                 r.stderr[-4000:])
    got = {}
    for p in out.iterdir():
        data = p.read_bytes().replace(b"\r\n", b"\n")
        subj = [l for l in data.split(b"\n") if l.startswith(b"Subject:")][0]
        got[subj.split(b":", 1)[1].strip().decode()] = data
    assert sorted(got) == sorted(sent)
    for s, m in sent.items():
        body = m.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1]
        assert got[s].endswith(body), s
    # fetched without `keep`: flagged \Deleted and expunged on the server
    with srv.raw(login=user) as r2:
        u, _ = r2.ok("EXAMINE INBOX")
        assert b"* 0 EXISTS" in u
