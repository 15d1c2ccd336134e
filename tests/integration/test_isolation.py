"""Isolation (issue 7): after login a session reaches only its own user's
mail. Traversal through user names (LOGIN, AUTHENTICATE, LMTP), mailbox
names (SELECT, CREATE, RENAME, APPEND, COPY, MOVE, STATUS, DELETE), %-
variables, symlinks planted in a Maildir, and another user's object keys
through GUIDs (obox). Generic tests run on the run's storage; the symlink
ones on Maildir, the object-key one on obox (doc/reliability.md)."""

import base64
import os
import re

import pytest

import omtest
from omtest import status_of

SECRET = "SECRET-OF-THE-VICTIM-7f3a"


def secret_msg(n=0):
    return ("From: victim@example.com\r\nSubject: %s %d\r\nMessage-ID: <secret%d@x>\r\n\r\n"
            "%s body %d\r\n" % (SECRET, n, n, SECRET, n))


def plant_victim(srv, victim):
    for i in range(2):
        assert srv.deliver(victim + "@example.com", secret_msg(i))[0][0] == 250
    with srv.raw(login=victim) as r:
        r.ok("CREATE Private")
        r.append("Private", secret_msg(9).encode())


def everything_visible(srv, user):
    """All bytes user can see: every mailbox's every message, whole."""
    out = b""
    with srv.raw(login=user) as r:
        untagged, _ = r.ok('LIST "" "*"')
        out += b"".join(untagged)
        names = []
        for u in untagged:
            m = re.search(rb'"([^"]*)"$', u) or re.search(rb" (\S+)$", u)
            if m and b"\\Noselect" not in u and b"\\NonExistent" not in u:
                names.append(m.group(1).decode())
        for n in names:
            _, t = r.cmd("EXAMINE %s" % omtest.quote(n))
            if status_of(t) != "OK":
                continue
            untagged, _ = r.cmd("FETCH 1:* (BODY.PEEK[] ENVELOPE)")
            out += b"".join(untagged)
    return out


def victim_state(srv, victim):
    with srv.raw(login=victim) as r:
        a, _ = r.ok("STATUS INBOX (MESSAGES UIDNEXT)")
        b, _ = r.ok("STATUS Private (MESSAGES UIDNEXT)")
        c, _ = r.ok('LIST "" "*"')
    return a, b, sorted(c)


BAD_USERS = ["../{v}", "{a}/../{v}", "%u", "{v}%00", "{v}\x00", "../../etc/passwd", "/{v}",
             "{v}/", ".", "..", "%n", "%d", "{v}/../{v}", "./{v}", "{v}@../x", "~{v}",
             "{a}\x00{v}", "{v}*", "{v}%"]


def test_login_names_cannot_traverse(server):
    attacker, victim = server.take_user(), server.take_user()
    plant_victim(server, victim)
    for tmpl in BAD_USERS:
        name = tmpl.format(a=attacker, v=victim).encode()
        for pw in (server.password(victim), server.password(attacker)):
            with server.raw() as r:
                lit = b"LOGIN {%d}\r\n" % len(name) + name + b" " + omtest.quote(pw).encode()
                try:
                    _, t = r.cmd(lit)
                    st = status_of(t)
                except EOFError:
                    st = "CLOSED"
                assert st in ("NO", "BAD", "CLOSED"), (name, st)
            with server.raw() as r:
                ir = base64.b64encode(b"\0" + name + b"\0" + pw.encode())
                try:
                    _, t = r.cmd(b"AUTHENTICATE PLAIN " + ir)
                    st = status_of(t)
                except EOFError:
                    st = "CLOSED"
                assert st in ("NO", "BAD", "CLOSED"), (name, st)
        # authorization identity: log in as attacker, act as victim
        with server.raw() as r:
            ir = base64.b64encode(name + b"\0" + attacker.encode() + b"\0" +
                                  server.password(attacker).encode())
            try:
                _, t = r.cmd(b"AUTHENTICATE PLAIN " + ir)
                st = status_of(t)
            except EOFError:
                st = "CLOSED"
            assert st in ("NO", "BAD", "CLOSED"), (name, st)


def test_lmtp_recipients_cannot_traverse(server):
    victim = server.take_user()
    before = None
    with server.raw(login=victim) as r:
        before, _ = r.ok("STATUS INBOX (MESSAGES)")
    for tmpl in ["../{v}", "{v}/..", "%u", "{v}%00", "../{v}/cur", "/{v}"]:
        rcpt = tmpl.format(v=victim) + "@example.com"
        res = server.deliver(rcpt, "Subject: x\r\n\r\nx\r\n")
        assert res[0][0] >= 500 or res[0][0] in (450, 451), (rcpt, res)
    with server.raw(login=victim) as r:
        after, _ = r.ok("STATUS INBOX (MESSAGES)")
    assert before == after


MAILBOX_NAMES = ["../{v}/INBOX", "../{v}", ".{v}", "~{v}", "~{v}/INBOX", "a/../../b",
                 "INBOX/../../x", "INBOX/../../{v}/Private", "/etc", "/tmp/om-iso-{v}", "/{v}/INBOX",
                 "..", ".", "INBOX/..", "~/../{v}", "%u", "%u/INBOX", "#shared/{v}",
                 "#user/{v}/INBOX", "Other Users/{v}", "{v}", "../../../../../../tmp/om-iso-pwn-{v}",
                 ".{v}.Private", "..{v}", "a/./b", "a//b", "\\..\\{v}", "&AC4ALg-/{v}"]


def test_mailbox_names_cannot_traverse(server):
    attacker, victim = server.take_user(), server.take_user()
    plant_victim(server, victim)
    state = victim_state(server, victim)
    with server.raw(login=attacker) as r:
        r.append("INBOX", b"Subject: mine\r\n\r\nmine\r\n")
        for tmpl in MAILBOX_NAMES:
            name = omtest.quote(tmpl.format(v=victim))
            for cmd in ("SELECT %s", "EXAMINE %s", "STATUS %s (MESSAGES)", "DELETE %s",
                        "SUBSCRIBE %s", "RENAME %s stolen", "CREATE %s", "RENAME INBOX %s",
                        "COPY 1 %s", "MOVE 1 %s", 'LIST "" %s', "GETQUOTAROOT %s"):
                if cmd.startswith(("COPY", "MOVE")):
                    r.ok("SELECT INBOX")
                    if cmd.startswith("MOVE"):
                        continue  # keep the message for the next names; COPY is enough
                untagged, t = r.cmd(cmd % name)
                assert status_of(t) in ("OK", "NO", "BAD"), (cmd, name, t)
                assert SECRET.encode() not in b"".join(untagged) + t, (cmd, name)
            r.append(name, b"Subject: appended\r\n\r\nx\r\n", check=False)
    assert victim_state(server, victim) == state, "the victim's mail changed"
    assert SECRET.encode() not in everything_visible(server, attacker)
    if server.storage == "maildir":
        # nothing was created outside the attacker's own Maildir
        for entry in os.listdir(server.mail_root):
            assert not entry.startswith((".", "~", "%", "#")), entry
        for p in ("/tmp/om-iso-" + victim, "/tmp/om-iso-pwn-" + victim):
            assert not os.path.exists(p), p


def test_percent_variables_are_literal(server):
    """%u/%n/%d in a user name are never expanded into another path."""
    attacker = server.take_user()
    with server.raw(login=attacker) as r:
        for name in ("%u", "%n", "%d", "%%u", "%u/%n"):
            _, t = r.cmd("CREATE %s" % omtest.quote(name))
            assert status_of(t) in ("OK", "NO", "BAD"), t
    if server.storage == "maildir":
        for entry in os.listdir(server.mail_root):
            assert "%" not in entry, entry


# --- Maildir symlinks -------------------------------------------------------

def test_maildir_symlinks_are_not_followed(make_server):
    srv = make_server(storage="maildir")
    attacker, victim = srv.take_user(), srv.take_user()
    plant_victim(srv, victim)
    with srv.raw(login=attacker) as r:
        r.append("INBOX", b"Subject: mine\r\n\r\nmine\r\n")
        r.ok("CREATE Real")
    a_root, v_root = srv.maildir(attacker), srv.maildir(victim)
    # a folder that is a symlink to the victim's root, and to a victim folder
    os.symlink(v_root, os.path.join(a_root, ".Evil"))
    os.symlink(os.path.join(v_root, ".Private"), os.path.join(a_root, ".Evil2"))
    # a real folder whose cur/ and new/ are symlinks into the victim's
    fake = os.path.join(a_root, ".Fake")
    os.makedirs(os.path.join(fake, "tmp"))
    os.symlink(os.path.join(v_root, "cur"), os.path.join(fake, "cur"))
    os.symlink(os.path.join(v_root, "new"), os.path.join(fake, "new"))
    # a message file in the attacker's INBOX that is a symlink to a victim message
    vfiles = [os.path.join(v_root, s, f) for s in ("cur", "new")
              for f in os.listdir(os.path.join(v_root, s))]
    assert vfiles
    os.symlink(vfiles[0], os.path.join(a_root, "cur", "1700000000.M1P1.evil:2,"))
    for name in ("Evil", "Evil2", "Fake"):
        with srv.raw(login=attacker) as r:
            untagged, t = r.cmd("SELECT %s" % name)
            if status_of(t) == "OK":
                u2, _ = r.cmd("FETCH 1:* (BODY.PEEK[])")
                assert SECRET.encode() not in b"".join(u2), name
    seen = everything_visible(srv, attacker)
    assert SECRET.encode() not in seen
    assert b"Evil" not in seen and b"Fake" not in seen, "symlinked folders are listed"
    srv.assert_alive()


# --- obox object keys -------------------------------------------------------

def test_obox_guids_cannot_reach_other_users_objects(make_server):
    srv = make_server(storage="obox-file")
    attacker, victim = srv.take_user(), srv.take_user()
    plant_victim(srv, victim)
    with srv.raw(login=attacker) as r:
        r.append("INBOX", b"Subject: mine\r\n\r\nmine\r\n")
    objects = srv.conf["objstore"].split("file:", 1)[1]
    # the victim's message GUIDs and key prefix, as an attacker who knows them would
    vkeys = []
    for root, dirs, files in os.walk(objects):
        rel = os.path.relpath(root, objects)
        if rel.endswith("/" + victim + "/m"):
            vkeys += [(rel, f) for f in files if not f.startswith(".")]
    assert vkeys, "no victim objects found"
    prefix, guid = vkeys[0]
    tries = [guid, prefix + "/" + guid, "../" + victim + "/m/" + guid,
             "../../" + prefix + "/" + guid, "m/" + guid, "/" + prefix, prefix]
    with srv.raw(login=attacker) as r:
        r.ok("SELECT INBOX")
        for t in tries:
            q = omtest.quote(t)
            for cmd in ("SELECT %s" % q, "STATUS %s (MESSAGES)" % q, "CREATE %s" % q,
                        "UID SEARCH EMAILID %s" % q, "UID SEARCH THREADID %s" % q,
                        "UID SEARCH HEADER Message-ID %s" % q, "UID FETCH %s BODY[]" % q,
                        "FETCH 1 BODY[%s]" % t, "UID SEARCH X-GUID %s" % q):
                untagged, tag = r.cmd(cmd)
                assert SECRET.encode() not in b"".join(untagged) + tag, cmd
                r.cmd("SELECT INBOX")
    assert SECRET.encode() not in everything_visible(srv, attacker)
