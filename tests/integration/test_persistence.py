"""What a server wrote survives a restart; the per-user SQLite index beside
the Maildir rebuilds itself when deleted, with the same UIDs and flags."""

import glob
import os

import messages
from omtest import fetch_map, list_map, resp_code

INDEX_GLOB = "objmail-index.sqlite*"


def snapshot(srv, user, boxes=("INBOX", "Work")):
    out = {}
    with srv.raw(login=user) as r:
        for box in boxes:
            u, t = r.ok("EXAMINE %s" % box)
            uv = resp_code(b"\r\n".join(u), "UIDVALIDITY")
            fm = fetch_map(r.ok("FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0])
            msgs = {}
            for v in fm.values():
                subj = [bytes(v[k]) for k in v if k.startswith(b"BODY[")][0]
                msgs[int(v[b"UID"])] = (frozenset(bytes(f) for f in v[b"FLAGS"]) - {b"\\Recent"},
                                        int(v[b"RFC822.SIZE"]), subj)
            out[box] = (uv, msgs)
        out["list"] = sorted(list_map(r.ok('LIST "" "*"')[0]))
        out["lsub"] = sorted(list_map(r.ok('LSUB "" "*"')[0], b"LSUB"))
    return out


def populate(srv, user):
    for i in range(6):
        assert srv.deliver(user + "@example.com", messages.simple("persist %d" % i))[0][0] == 250
    with srv.raw(login=user) as r:
        r.ok("CREATE Work")
        r.ok("UNSUBSCRIBE Junk")
        r.append("Work", messages.ALTERNATIVE, "\\Seen $Work")
        r.append("Work", messages.PLAIN, "\\Answered")
        r.ok("SELECT INBOX")
        r.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
        r.ok("STORE 2 +FLAGS.SILENT (\\Flagged $Later)")
        r.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        r.ok("EXPUNGE")


def test_restart_keeps_everything(make_server):
    srv = make_server()
    user = srv.take_user()
    populate(srv, user)
    before = snapshot(srv, user)
    srv.stop(check=True)
    srv.start()
    after = snapshot(srv, user)
    assert after == before
    # UIDs continue where they were
    with srv.raw(login=user) as r:
        u, t = r.append("INBOX", messages.MINIMAL)
        assert resp_code(t, "APPENDUID").split()[1] == "7", t


def test_index_rebuilds_when_deleted(make_server):
    srv = make_server()
    user = srv.take_user()
    populate(srv, user)
    before = snapshot(srv, user)
    srv.stop(check=True)
    found = glob.glob(os.path.join(srv.maildir(user), INDEX_GLOB)) + \
        glob.glob(os.path.join(srv.maildir(user), "*", INDEX_GLOB))
    assert found, "no %s beside the Maildir: %r" % (INDEX_GLOB, os.listdir(srv.maildir(user)))
    for f in found:
        os.unlink(f)
    srv.start()
    after = snapshot(srv, user)
    assert after == before
    with srv.raw(login=user) as r:
        u, t = r.append("INBOX", messages.MINIMAL)
        assert resp_code(t, "APPENDUID").split()[1] == "7", t


def test_index_garbage_is_survived(make_server):
    srv = make_server()
    user = srv.take_user()
    populate(srv, user)
    before = snapshot(srv, user)
    srv.stop(check=True)
    path = os.path.join(srv.maildir(user), "objmail-index.sqlite")
    if os.path.exists(path):
        with open(path, "r+b") as f:
            f.seek(0)
            f.write(b"this is not a sqlite database" * 10)
        for f in glob.glob(path + "-*"):
            os.unlink(f)
    srv.start()
    after = snapshot(srv, user)
    assert after == before


def test_maildir_changed_while_stopped(make_server):
    """Files added to new/ and flags changed in names while the server was
    down (as another MDA or Dovecot would) are picked up."""
    srv = make_server()
    user = srv.take_user()
    populate(srv, user)
    srv.stop(check=True)
    md = srv.maildir(user)
    with open(os.path.join(md, "new", "1700000000.M1P1.otherhost"), "wb") as f:
        f.write(messages.simple("dropped in").replace(b"\r\n", b"\n"))
    cur = os.path.join(md, "cur")
    plain = sorted(n for n in os.listdir(cur) if n.endswith(":2,"))
    if plain:
        os.rename(os.path.join(cur, plain[0]), os.path.join(cur, plain[0] + "F"))
    else:  # still in new/ (no info part yet)
        new = sorted(n for n in os.listdir(os.path.join(md, "new")) if "otherhost" not in n)
        assert new, (os.listdir(cur), os.listdir(os.path.join(md, "new")))
        os.rename(os.path.join(md, "new", new[0]), os.path.join(cur, new[0] + ":2,F"))
    srv.start()
    with srv.raw(login=user) as r:
        u, t = r.ok("SELECT INBOX")
        assert b"* 6 EXISTS" in u, u
        fm = fetch_map(r.ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0])
        subjects = [bytes(v[k]) for v in fm.values() for k in v if k.startswith(b"BODY[")]
        assert b"Subject: dropped in\r\n\r\n" in subjects, subjects
        assert int(fm[6][b"UID"]) == 7, fm
        flagged = [v for v in fm.values() if b"\\Flagged" in v[b"FLAGS"]]
        assert len(flagged) == 2, fm
