"""objmail user/mailbox/mail commands (issue 6): every listing with --json
parsed, offline on the storage and live through the admin socket (changes
reach open IMAP sessions at once); errors name user, mailbox and cause."""

import json
import os

import pytest

import omtest

MSG = (b"From: Bob <bob@example.com>\r\nTo: alice@example.com\r\n"
       b"Subject: quarterly report\r\nDate: Mon, 5 Jan 2026 10:00:00 +0000\r\n"
       b"Message-ID: <q1@example.com>\r\n\r\nThe numbers are in.\r\n")
MSG2 = (b"From: Carol <carol@example.com>\r\nSubject: lunch\r\n"
        b"Date: Tue, 6 Jan 2026 12:00:00 +0000\r\n\r\nNoon?\r\n")


def run(srv, *args, stdin=None, ok=True):
    import subprocess
    r = subprocess.run([omtest.OBJMAIL, "-c", srv.conf_path] + list(args), input=stdin,
                       capture_output=True, env=omtest.sanitizer_env(), timeout=120)
    err = r.stderr.decode("utf-8", "replace")
    assert not omtest.sanitizer_reports(err), err
    if ok:
        assert r.returncode == 0, "objmail %s: %d\n%s" % (args, r.returncode, err)
    return r


def js(srv, *args, stdin=None):
    r = run(srv, *(list(args) + ["--json"]), stdin=stdin)
    return json.loads(r.stdout.decode())


@pytest.fixture
def offline(make_server):
    srv = make_server(start=False)
    srv.write_files()
    return srv


@pytest.fixture
def live(make_server):
    base = omtest.make_tempdir()
    return make_server(base=base, conf={"listen_admin": "unix:" + os.path.join(base, "admin")})


def test_user_list(offline):
    users = js(offline, "user", "list")["users"]
    assert users[:4] == ["alice", "bob", "carol", "dave"]
    assert "u59" in users
    assert js(offline, "user", "list", "u0*")["users"] == ["u%02d" % i for i in range(10)]
    plain = run(offline, "user", "list", "a*").stdout.decode().split()
    assert plain == ["alice"]


def test_user_info_and_auth(offline):
    info = js(offline, "user", "info", "alice")
    assert info["user"] == "alice"
    assert run(offline, "user", "auth", "alice", stdin=b"alice-pw\n").returncode == 0
    r = run(offline, "user", "auth", "alice", stdin=b"wrong\n", ok=False)
    assert r.returncode == 1


def test_mailbox_commands_offline(offline):
    names = [m["name"] for m in js(offline, "mailbox", "list", "alice")["mailboxes"]]
    assert names[0] == "INBOX" and {"Drafts", "Sent", "Trash", "Junk"} <= set(names)
    run(offline, "mailbox", "create", "alice", "Projects/2026")
    boxes = {m["name"]: m for m in js(offline, "mailbox", "list", "alice")["mailboxes"]}
    assert "Projects/2026" in boxes and boxes["Projects/2026"]["subscribed"]
    assert "\\HasChildren" in boxes["Projects"]["flags"]
    st = js(offline, "mailbox", "status", "alice", "Projects/2026")["mailboxes"][0]
    assert st["messages"] == 0 and st["uidnext"] == 1 and st["uidvalidity"] > 0
    allst = js(offline, "mailbox", "status", "alice")["mailboxes"]
    assert "INBOX" in [m["name"] for m in allst]
    run(offline, "mailbox", "unsubscribe", "alice", "Projects/2026")
    boxes = {m["name"]: m for m in js(offline, "mailbox", "list", "alice")["mailboxes"]}
    assert not boxes["Projects/2026"]["subscribed"]
    run(offline, "mailbox", "subscribe", "alice", "Projects/2026")
    run(offline, "mailbox", "rename", "alice", "Projects/2026", "Archive2026")
    names = [m["name"] for m in js(offline, "mailbox", "list", "alice")["mailboxes"]]
    assert "Archive2026" in names and "Projects/2026" not in names
    run(offline, "mailbox", "delete", "alice", "Archive2026")
    names = [m["name"] for m in js(offline, "mailbox", "list", "alice")["mailboxes"]]
    assert "Archive2026" not in names


def test_errors_name_user_mailbox_cause(offline):
    r = run(offline, "mailbox", "status", "alice", "NoSuchBox", ok=False)
    err = r.stderr.decode()
    assert r.returncode == 1
    assert "alice" in err and "NoSuchBox" in err and "not found" in err.lower(), err
    r = run(offline, "mailbox", "list", "nobody", ok=False)
    assert r.returncode == 1 and "nobody" in r.stderr.decode()
    r = run(offline, "search", "alice", "FROB 1", ok=False)
    assert r.returncode != 0 and "alice" in r.stderr.decode()
    r = run(offline, "mailbox", "delete", "alice", "INBOX", ok=False)
    assert r.returncode == 1 and "INBOX" in r.stderr.decode()


def test_save_search_fetch_flags_expunge_offline(offline):
    u = "bob"
    saved = js(offline, "save", u, "INBOX", stdin=MSG)
    assert saved["uid"] == 1
    js(offline, "save", u, "INBOX", stdin=MSG2)
    run(offline, "mailbox", "create", u, "Work")
    js(offline, "save", u, "Work", stdin=MSG)

    res = js(offline, "search", u, "FROM bob SINCE 1-Jan-2026")["results"]
    assert sorted((x["mailbox"], x["uid"]) for x in res) == [("INBOX", 1), ("Work", 1)]
    plain = run(offline, "search", u, "SUBJECT lunch").stdout.decode()
    assert plain == "INBOX 2\n"
    res = js(offline, "search", u, "MAILBOX Work ALL")["results"]
    assert [(x["mailbox"], x["uid"]) for x in res] == [("Work", 1)]

    msgs = js(offline, "fetch", u, "mailbox uid flags size internaldate hdr.subject text",
              "MAILBOX INBOX ALL")["messages"]
    assert [m["uid"] for m in msgs] == [1, 2]
    assert msgs[0]["hdr.subject"] == "quarterly report"
    assert msgs[0]["text"].encode() == MSG
    assert msgs[0]["size"] == len(MSG)
    assert msgs[0]["flags"] == []

    ch = js(offline, "flags", "add", u, "\\Seen \\Flagged $Important", "SUBJECT report")
    assert sorted((m["mailbox"], m["changed"]) for m in ch["mailboxes"]) == [("INBOX", 1),
                                                                              ("Work", 1)]
    m = js(offline, "fetch", u, "uid flags", "MAILBOX INBOX UID 1")["messages"][0]
    assert set(m["flags"]) == {"\\Seen", "\\Flagged", "$Important"}
    js(offline, "flags", "remove", u, "\\Flagged", "MAILBOX INBOX ALL")
    m = js(offline, "fetch", u, "uid flags", "MAILBOX INBOX UID 1")["messages"][0]
    assert set(m["flags"]) == {"\\Seen", "$Important"}
    js(offline, "flags", "replace", u, "\\Answered", "MAILBOX INBOX UID 1")
    m = js(offline, "fetch", u, "flags", "MAILBOX INBOX UID 1")["messages"][0]
    assert m["flags"] == ["\\Answered"]
    assert [x["uid"] for x in js(offline, "search", u, "ANSWERED")["results"]] == [1]

    ex = js(offline, "expunge", u, "MAILBOX INBOX SUBJECT lunch")
    assert ex["mailboxes"] == [{"mailbox": "INBOX", "expunged": 1}]
    st = js(offline, "mailbox", "status", u, "INBOX")["mailboxes"][0]
    assert st["messages"] == 1 and st["uidnext"] == 3


def test_live_changes_reach_open_sessions(live):
    u = live.take_user()
    imap = live.raw(login=u)
    imap.ok("SELECT INBOX")
    imap.append("INBOX", MSG)
    imap.append("INBOX", MSG2)
    imap.ok("NOOP")
    # live: the daemon answers on its admin socket
    res = js(live, "search", u, "MAILBOX INBOX SUBJECT lunch")["results"]
    assert [x["uid"] for x in res] == [2]
    js(live, "flags", "add", u, "\\Flagged", "MAILBOX INBOX UID 1")
    untagged, tagged = imap.cmd("NOOP")
    assert any(b"FETCH" in x and b"\\Flagged" in x for x in untagged), untagged
    js(live, "expunge", u, "MAILBOX INBOX UID 2")
    untagged, tagged = imap.cmd("NOOP")
    assert any(x.endswith(b"2 EXPUNGE") for x in untagged), untagged
    run(live, "mailbox", "create", u, "LiveBox")
    untagged, tagged = imap.cmd('LIST "" "LiveBox"')
    assert any(b"LiveBox" in x for x in untagged), untagged
    names = [m["name"] for m in js(live, "mailbox", "list", u)["mailboxes"]]
    assert "LiveBox" in names
    st = js(live, "mailbox", "status", u, "INBOX")["mailboxes"][0]
    assert st["messages"] == 1
    msgs = js(live, "fetch", u, "uid flags hdr.subject", "MAILBOX INBOX ALL")["messages"]
    assert msgs == [{"uid": 1, "flags": ["\\Flagged"], "hdr.subject": "quarterly report"}]
    r = run(live, "mailbox", "status", u, "Nope", ok=False)
    assert r.returncode == 1 and u in r.stderr.decode() and "Nope" in r.stderr.decode()
    # save goes live too: the selected session sees the new message
    big = MSG2 + b"x" * 9000 + b"\r\n"
    saved = js(live, "save", u, "INBOX", stdin=big)
    assert saved["mailbox"] == "INBOX" and saved["uid"] == 3
    untagged, tagged = imap.cmd("NOOP")
    assert any(x.endswith(b" EXISTS") for x in untagged), untagged
    m = js(live, "fetch", u, "uid text", "MAILBOX INBOX UID 3")["messages"][0]
    assert m["text"].encode() == big
    # who/kick exist already and go live too
    who = js(live, "who")
    assert any(s["user"] == u for s in who["sessions"])
    kicked = json.loads(run(live, "kick", u).stdout.decode())
    assert kicked["kicked"] >= 1
    imap.close()
