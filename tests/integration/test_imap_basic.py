"""IMAP4rev1 basics: capabilities, authentication, mailbox management,
SELECT/EXAMINE, APPEND, CHECK/CLOSE/UNSELECT (RFC 3501 6.1-6.3, 6.4.1-6.4.2)."""

import base64
import os
import re

import pytest

import messages
from omtest import (list_map, resp_code, status_of, untagged_named, fetch_map, sexp,
                    internaldate_ts, dovecot_only_differs)

REQUIRED_CAPS = ["IMAP4REV1", "IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "ENABLE",
                 "ID", "CHILDREN", "SPECIAL-USE", "LITERAL+", "SASL-IR", "AUTH=PLAIN"]


def caps_of(untagged):
    line = untagged_named(untagged, "CAPABILITY")
    assert line, "no * CAPABILITY in %r" % untagged
    return set(line[0].decode().upper().split()[2:])


# --- any state -------------------------------------------------------------

def test_greeting(server):
    with server.raw() as r:
        assert r.greeting.startswith(b"* OK"), r.greeting


def test_capability(server):
    with server.raw() as r:
        u, t = r.ok("CAPABILITY")
        caps = caps_of(u)
        pre = ["IMAP4REV1", "LITERAL+", "SASL-IR", "AUTH=PLAIN", "ID", "ENABLE", "IDLE"]
        missing = [c for c in pre if c not in caps]
        assert not missing, "CAPABILITY lacks %s: %r" % (missing, u)
        assert "LOGINDISABLED" not in caps  # no ssl_required here


def test_capability_after_login(server, user):
    with server.raw(login=user) as r:
        u, t = r.ok("CAPABILITY")
        caps = caps_of(u)
        missing = [c for c in REQUIRED_CAPS if c not in caps and c not in ("SASL-IR", "AUTH=PLAIN")]
        assert not missing, "CAPABILITY lacks %s: %r" % (missing, u)


def test_noop_any_state(server, user):
    with server.raw() as r:
        r.ok("NOOP")
        r.login(user, server.password(user))
        r.ok("NOOP")
        r.ok("SELECT INBOX")
        r.ok("NOOP")


def test_logout(server):
    with server.raw() as r:
        u, t = r.cmd("LOGOUT")
        assert any(x.startswith(b"* BYE") for x in u), u
        assert status_of(t) == "OK", t
        assert r.closed(), "connection left open after LOGOUT"


# --- authentication ---------------------------------------------------------

def test_login_good(server, user):
    with server.raw() as r:
        u, t = r.cmd('LOGIN %s "%s"' % (user, server.password(user)))
        assert status_of(t) == "OK", t


def test_login_bad_password(server, user):
    with server.raw() as r:
        u, t = r.cmd('LOGIN %s "wrong"' % user)
        assert status_of(t) == "NO", t
        assert resp_code(t, "AUTHENTICATIONFAILED") is not None, t
        # still not authenticated
        u, t = r.cmd("SELECT INBOX")
        assert status_of(t) in ("BAD", "NO"), t
        # and a good login on the same connection works
        r.login(user, server.password(user))


def test_login_unknown_user(server):
    with server.raw() as r:
        u, t = r.cmd('LOGIN nosuchuser "x"')
        assert status_of(t) == "NO", t
        assert resp_code(t, "AUTHENTICATIONFAILED") is not None, t


def test_login_literal_password(server, user):
    pw = server.password(user)
    with server.raw() as r:
        u, t = r.cmd("LOGIN {%d}\r\n%s {%d}\r\n%s" % (len(user), user, len(pw), pw))
        assert status_of(t) == "OK", t


def test_login_twice_is_error(server, user):
    with server.raw(login=user) as r:
        u, t = r.cmd('LOGIN %s "%s"' % (user, server.password(user)))
        assert status_of(t) in ("BAD", "NO"), t


def _plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()


def test_authenticate_plain_sasl_ir(server, user):
    with server.raw() as r:
        u, t = r.cmd("AUTHENTICATE PLAIN " + _plain(user, server.password(user)))
        assert status_of(t) == "OK", t
        r.ok("SELECT INBOX")


def test_authenticate_plain_continuation(server, user):
    with server.raw() as r:
        tag = r.tag()
        r.send(tag + " AUTHENTICATE PLAIN\r\n")
        cont = r.read_response()
        assert cont.startswith(b"+"), cont
        r.send(_plain(user, server.password(user)) + "\r\n")
        u, t = r.collect(tag)
        assert status_of(t) == "OK", t


def test_authenticate_plain_authzid_same_user(server, user):
    ir = base64.b64encode(user.encode() + b"\0" + user.encode() + b"\0"
                          + server.password(user).encode()).decode()
    with server.raw() as r:
        u, t = r.cmd("AUTHENTICATE PLAIN " + ir)
        assert status_of(t) == "OK", t


def test_authenticate_plain_bad(server, user):
    with server.raw() as r:
        u, t = r.cmd("AUTHENTICATE PLAIN " + _plain(user, "nope"))
        assert status_of(t) == "NO", t
        assert resp_code(t, "AUTHENTICATIONFAILED") is not None, t


def test_authenticate_cancel(server):
    with server.raw() as r:
        tag = r.tag()
        r.send(tag + " AUTHENTICATE PLAIN\r\n")
        assert r.read_response().startswith(b"+")
        r.send("*\r\n")
        u, t = r.collect(tag)
        assert status_of(t) == "BAD", t
        r.ok("NOOP")


def test_authenticate_bad_base64(server):
    with server.raw() as r:
        u, t = r.cmd("AUTHENTICATE PLAIN !!!notbase64!!!")
        assert status_of(t) in ("BAD", "NO"), t


def test_authenticate_unknown_mechanism(server):
    with server.raw() as r:
        u, t = r.cmd("AUTHENTICATE X-UNKNOWN")
        assert status_of(t) in ("NO", "BAD"), t


def test_imaplib_login_and_logout(server, user):
    m = server.imap_login(user)
    typ, data = m.select("INBOX")
    assert typ == "OK"
    assert m.logout()[0] == "BYE"


# --- NAMESPACE, ID, ENABLE ---------------------------------------------------

def test_namespace(server, user):
    with server.raw(login=user) as r:
        u, t = r.ok("NAMESPACE")
        ns = untagged_named(u, "NAMESPACE")
        assert ns, u
        v = sexp(ns[0][len(b"* NAMESPACE "):])
        assert v[0] == [[b"", b"/"]], ns[0]
        assert v[1] is None and v[2] is None, ns[0]


def test_id(server, user):
    with server.raw() as r:
        u, t = r.ok('ID ("name" "pytest" "version" "1")')
        ids = untagged_named(u, "ID")
        assert ids, u
        v = sexp(ids[0][len(b"* ID "):])[0]
        assert v is None or (isinstance(v, list) and len(v) % 2 == 0), ids
        r.ok("ID NIL")


def test_enable(server, user):
    with server.raw(login=user) as r:
        u, t = r.cmd("ENABLE X-NOSUCH-EXTENSION")
        assert status_of(t) == "OK", t  # unknown capabilities are ignored (RFC 5161)
        en = untagged_named(u, "ENABLED")
        if en:
            assert b"X-NOSUCH" not in en[0]


def test_enable_before_auth_is_error(server):
    with server.raw() as r:
        u, t = r.cmd("ENABLE CONDSTORE")
        # RFC 5161: valid only in the authenticated state (Dovecot: "OK ignored")
        en = untagged_named(u, "ENABLED")
        assert status_of(t) in ("BAD", "NO") or not en or b"CONDSTORE" not in en[0], (u, t)


# --- special-use folders -------------------------------------------------------

SPECIAL = {"Drafts": "\\Drafts", "Sent": "\\Sent", "Trash": "\\Trash", "Junk": "\\Junk"}


def test_special_use_created_and_subscribed(server, user):
    with server.raw(login=user) as r:
        u, t = r.ok('LIST "" "*"')
        lst = list_map(u)
        assert "INBOX" in lst, u
        for name, attr in SPECIAL.items():
            assert name in lst, "%s missing: %r" % (name, u)
            assert attr in lst[name], "%s lacks %s: %r" % (name, attr, u)
        u, t = r.ok('LSUB "" "*"')
        subs = list_map(u, b"LSUB")
        for name in SPECIAL:
            assert name in subs, "%s not subscribed: %r" % (name, u)
        # and on disk, Maildir++ style
        dovecot_only_differs(server, "creates auto mailboxes lazily")
        for name in SPECIAL:
            assert os.path.isdir(os.path.join(server.maildir(user), "." + name, "cur")), name
        subs = subscriptions_file(server, user)
        for name in SPECIAL:
            assert name in subs, subs


def subscriptions_file(server, user):
    """Names in the Maildir's subscriptions file: one per line, or Dovecot
    2.3's version 2 format ("V\t2" header, hierarchy separated by tabs)."""
    with open(os.path.join(server.maildir(user), "subscriptions")) as f:
        lines = f.read().split("\n")
    if lines and lines[0].startswith("V\t"):
        lines = lines[1:]
    return {ln.replace("\t", "/") for ln in lines if ln}


def test_list_return_special_use(server, user):
    with server.raw(login=user) as r:
        u, t = r.cmd('LIST (SPECIAL-USE) "" "*"')
        if status_of(t) != "OK":
            pytest.skip("LIST-EXTENDED selection not supported: %r" % t)
        lst = list_map(u)
        assert set(lst) == set(SPECIAL), u


def test_special_use_not_recreated_after_delete(server, user):
    dovecot_only_differs(server, "auto=subscribe re-creates")
    with server.raw(login=user) as r:
        r.ok("DELETE Junk")
    with server.raw(login=user) as r:
        lst = list_map(r.ok('LIST "" "*"')[0])
        assert "Junk" not in lst, "Junk re-created at second login: %r" % lst


# --- CREATE / DELETE / RENAME / LIST ------------------------------------------

def test_create_list_delete(server, user):
    with server.raw(login=user) as r:
        r.ok("CREATE Projects")
        lst = list_map(r.ok('LIST "" "*"')[0])
        assert "Projects" in lst
        assert "\\HasNoChildren" in lst["Projects"], lst
        assert os.path.isdir(os.path.join(server.maildir(user), ".Projects", "cur"))
        u, t = r.cmd("CREATE Projects")
        assert status_of(t) == "NO", t
        r.ok("DELETE Projects")
        assert "Projects" not in list_map(r.ok('LIST "" "*"')[0])
        assert not os.path.exists(os.path.join(server.maildir(user), ".Projects"))
        u, t = r.cmd("DELETE Projects")
        assert status_of(t) == "NO", t


def test_create_inbox_is_error(server, user):
    dovecot_only_differs(server, "lets CREATE INBOX pass while INBOX is not on disk")
    with server.raw(login=user) as r:
        u, t = r.cmd("CREATE INBOX")
        assert status_of(t) == "NO", t
        u, t = r.cmd("CREATE inbox")
        assert status_of(t) == "NO", t
        u, t = r.cmd("DELETE INBOX")
        assert status_of(t) == "NO", t


def test_create_with_trailing_separator(server, user):
    with server.raw(login=user) as r:
        u, t = r.cmd("CREATE Foo/")
        assert status_of(t) == "OK", t  # RFC 3501 6.3.3: the name is created without it
        assert "Foo" in list_map(r.ok('LIST "" "*"')[0])


def test_hierarchy_children(server, user):
    with server.raw(login=user) as r:
        r.ok("CREATE Work/Clients/Acme")
        lst = list_map(r.ok('LIST "" "*"')[0])
        assert "Work" in lst and "Work/Clients" in lst and "Work/Clients/Acme" in lst, lst
        assert "\\HasChildren" in lst["Work"], lst
        assert "\\HasChildren" in lst["Work/Clients"], lst
        assert "\\HasNoChildren" in lst["Work/Clients/Acme"], lst
        assert os.path.isdir(os.path.join(server.maildir(user), ".Work.Clients.Acme"))


def test_list_wildcards(server, user):
    with server.raw(login=user) as r:
        r.ok("CREATE A/B/C")
        r.ok("CREATE A/D")
        r.ok("CREATE AB")
        top = list_map(r.ok('LIST "" "%"')[0])
        assert "A" in top and "AB" in top and "INBOX" in top, top
        assert not any("/" in n for n in top), top
        lvl = list_map(r.ok('LIST "" "A/%"')[0])
        assert set(lvl) == {"A/B", "A/D"}, lvl
        deep = list_map(r.ok('LIST "" "A/*"')[0])
        assert set(deep) == {"A/B", "A/B/C", "A/D"}, deep
        star = list_map(r.ok('LIST "" "A*"')[0])
        assert set(star) == {"A", "A/B", "A/B/C", "A/D", "AB"}, star
        ref = list_map(r.ok('LIST "A/" "%"')[0])
        assert set(ref) == {"A/B", "A/D"}, ref
        inbox = list_map(r.ok('LIST "" "inbox"')[0])
        assert set(inbox) == {"INBOX"}, inbox


def test_list_empty_pattern_gives_separator(server, user):
    with server.raw(login=user) as r:
        u, t = r.ok('LIST "" ""')
        assert len(u) == 1, u
        v = sexp(u[0][len(b"* LIST "):])
        assert "\\Noselect" in {bytes(a).decode() for a in v[0]}, u
        assert v[1] == b"/", u


def test_noselect_parent_from_disk(server):
    """A Maildir where only .x.y exists (as another server may leave it):
    x is listed \\Noselect \\HasChildren, and SELECT x fails."""
    user = server.take_user()
    md = server.maildir(user)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
        os.makedirs(os.path.join(md, ".x.y", sub), exist_ok=True)
    with server.raw(login=user) as r:
        lst = list_map(r.ok('LIST "" "*"')[0])
        assert "x/y" in lst, lst
        assert "x" in lst, lst
        assert "\\Noselect" in lst["x"] or "\\NonExistent" in lst["x"], lst
        assert "\\HasChildren" in lst["x"], lst
        u, t = r.cmd("SELECT x")
        assert status_of(t) == "NO", t


def test_delete_with_children(server, user):
    with server.raw(login=user) as r:
        r.ok("CREATE P/C")
        u, t = r.cmd("DELETE P")
        assert status_of(t) in ("OK", "NO"), t
        lst = list_map(r.ok('LIST "" "*"')[0])
        assert "P/C" in lst, "DELETE P removed its child: %r" % lst
        if status_of(t) == "OK":
            # RFC 3501 6.3.4: the name stays as \Noselect
            assert "P" in lst and "\\Noselect" in lst["P"], lst


def test_rename_with_children(server, user):
    with server.raw(login=user) as r:
        r.ok("CREATE Old/Sub")
        r.append("Old/Sub", messages.MINIMAL)
        r.ok("RENAME Old New")
        lst = list_map(r.ok('LIST "" "*"')[0])
        assert "New" in lst and "New/Sub" in lst, lst
        assert "Old" not in lst and "Old/Sub" not in lst, lst
        u, t = r.ok("STATUS New/Sub (MESSAGES)")
        assert b"MESSAGES 1" in u[0], u
        md = server.maildir(user)
        assert os.path.isdir(os.path.join(md, ".New.Sub"))
        assert not os.path.exists(os.path.join(md, ".Old.Sub"))
        u, t = r.cmd("RENAME Nonexistent Whatever")
        assert status_of(t) == "NO", t
        if server.kind != "dovecot":  # Dovecot 2.3 lets this pass
            r.ok("CREATE Existing")
            u, t = r.cmd("RENAME New Existing")
            assert status_of(t) == "NO", t  # target exists


def test_rename_inbox(server, user):
    dovecot_only_differs(server, "can't rename INBOX on Maildir")
    with server.raw(login=user) as r:
        for i in range(3):
            r.append("INBOX", messages.simple("inbox msg %d" % i))
        r.ok("RENAME INBOX Archive2022")
        u, _ = r.ok("STATUS Archive2022 (MESSAGES)")
        assert b"MESSAGES 3" in u[0], u
        u, _ = r.ok("STATUS INBOX (MESSAGES)")
        assert b"MESSAGES 0" in u[0], u  # INBOX stays, empty (RFC 3501 6.3.5)
        assert "INBOX" in list_map(r.ok('LIST "" "*"')[0])


def test_subscribe_lsub(server, user):
    with server.raw(login=user) as r:
        r.ok("CREATE Lists/Debian")
        r.ok("SUBSCRIBE Lists/Debian")
        subs = list_map(r.ok('LSUB "" "*"')[0], b"LSUB")
        assert "Lists/Debian" in subs, subs
        # LSUB "%" shows the unsubscribed parent as \Noselect (RFC 3501 6.3.9)
        top = list_map(r.ok('LSUB "" "%"')[0], b"LSUB")
        if "Lists" in top:
            assert "\\Noselect" in top["Lists"], top
        assert "Lists/Debian" in subscriptions_file(server, user)
        r.ok("UNSUBSCRIBE Lists/Debian")
        subs = list_map(r.ok('LSUB "" "*"')[0], b"LSUB")
        assert "Lists/Debian" not in subs, subs


def test_subscribe_nonexistent_allowed(server, user):
    with server.raw(login=user) as r:
        u, t = r.cmd("SUBSCRIBE Ghost")
        assert status_of(t) in ("OK", "NO"), t


def test_modified_utf7_names(server, user):
    with server.raw(login=user) as r:
        r.ok('CREATE "Entw&APw-rfe"')
        lst = list_map(r.ok('LIST "" "*"')[0])
        assert "Entw&APw-rfe" in lst, lst
        assert os.path.isdir(os.path.join(server.maildir(user), ".Entw&APw-rfe"))
        r.ok('CREATE "&ZeVnLIqe-/&U,BTFw-"')  # Japanese, with a child
        lst = list_map(r.ok('LIST "" "*"')[0])
        assert "&ZeVnLIqe-/&U,BTFw-" in lst, lst
        r.ok('SELECT "Entw&APw-rfe"')
        r.ok('STATUS "&ZeVnLIqe-/&U,BTFw-" (MESSAGES)')


def test_invalid_modified_utf7_refused(server, user):
    with server.raw(login=user) as r:
        for bad in ('"&Jjo"', '"a&b"', '"&AGE-"'):  # unterminated; bad base64; encoded ASCII
            u, t = r.cmd("CREATE " + bad)
            assert status_of(t) in ("BAD", "NO"), (bad, t)


# --- STATUS, SELECT, EXAMINE ---------------------------------------------------

def _append(r, box, msg, flags="", date=None):
    return r.append(box, msg, flags or None, date)


def test_status(server, user):
    with server.raw(login=user) as r:
        r.ok("CREATE S")
        _append(r, "S", messages.PLAIN, "\\Seen")
        _append(r, "S", messages.MINIMAL)
        u, t = r.ok("STATUS S (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
        st = untagged_named(u, "STATUS")
        assert st, u
        v = sexp(st[0][len(b"* STATUS "):])
        assert bytes(v[0]) == b"S"
        d = {bytes(k).upper(): int(x) for k, x in zip(v[1][0::2], v[1][1::2])}
        assert d[b"MESSAGES"] == 2, st
        assert d[b"RECENT"] == 2, st
        assert d[b"UNSEEN"] == 1, st
        assert d[b"UIDNEXT"] == 3, st
        assert d[b"UIDVALIDITY"] > 0, st
        u, t = r.cmd("STATUS NoSuchBox (MESSAGES)")
        assert status_of(t) == "NO", t


def test_select_responses(server, user):
    with server.raw(login=user) as r:
        _append(r, "INBOX", messages.PLAIN, "\\Seen")
        _append(r, "INBOX", messages.MINIMAL, "\\Flagged $Label1")
        u, t = r.ok("SELECT INBOX")
        assert resp_code(t, "READ-WRITE") is not None, t
        assert b"* 2 EXISTS" in u, u
        assert b"* 2 RECENT" in u, u
        fl = untagged_named(u, "FLAGS")
        assert fl, u
        flags = {bytes(x).decode() for x in sexp(fl[0][len(b"* FLAGS "):])[0]}
        for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "$Label1"):
            assert f in flags, (f, fl)
        joined = b"\r\n".join(u)
        pf = re.search(rb"\[PERMANENTFLAGS \(([^)]*)\)\]", joined)
        assert pf, u
        assert b"\\*" in pf.group(1).split(), pf.group(0)
        assert resp_code(joined, "UIDVALIDITY"), u
        assert resp_code(joined, "UIDNEXT") == "3", u
        unseen = resp_code(joined, "UNSEEN")
        assert unseen in (None, "2"), u  # first unseen message is 2
        # second SELECT in another session: no longer \Recent there
    with server.raw(login=user) as r2:
        u, t = r2.ok("SELECT INBOX")
        assert b"* 0 RECENT" in u, u


def test_examine_read_only(server, user):
    with server.raw(login=user) as r:
        _append(r, "INBOX", messages.PLAIN)
        u, t = r.ok("EXAMINE INBOX")
        assert resp_code(t, "READ-ONLY") is not None, t
        assert b"* 1 EXISTS" in u
        joined = b"\r\n".join(u)
        pf = re.search(rb"\[PERMANENTFLAGS \(([^)]*)\)\]", joined)
        if pf:
            assert pf.group(1) == b"", "EXAMINE must not permit flag changes: %r" % pf.group(0)
        u, t = r.cmd("STORE 1 +FLAGS (\\Seen)")
        assert status_of(t) in ("NO", "BAD", "OK"), t  # Dovecot: "OK ignored"
        # FETCH BODY[] does not set \Seen in a read-only mailbox
        r.ok("FETCH 1 BODY[]")
        fm = fetch_map(r.ok("FETCH 1 FLAGS")[0])
        assert b"\\Seen" not in fm[1][b"FLAGS"], fm
        u, t = r.cmd("EXPUNGE")
        assert status_of(t) in ("NO", "BAD", "OK"), t
        assert not any(b"EXPUNGE" in x for x in u), u
        r.ok("CLOSE")
        u, _ = r.ok("STATUS INBOX (MESSAGES)")
        assert b"MESSAGES 1" in u[0], u


def test_select_nonexistent(server, user):
    with server.raw(login=user) as r:
        r.ok("SELECT INBOX")
        u, t = r.cmd("SELECT NoSuchBox")
        assert status_of(t) == "NO", t
        # a failed SELECT leaves no mailbox selected (RFC 3501 6.3.1)
        u, t = r.cmd("FETCH 1 FLAGS")
        assert status_of(t) in ("BAD", "NO"), t


def test_select_closes_previous(server, user):
    with server.raw(login=user) as r:
        r.ok("SELECT INBOX")
        u, t = r.ok("SELECT Sent")
        assert b"* 0 EXISTS" in u, u


# --- APPEND -------------------------------------------------------------------

def test_append_flags_date_appenduid(server, user):
    with server.raw(login=user) as r:
        u, t = _append(r, "INBOX", messages.PLAIN, "\\Seen \\Flagged $Work",
                       "07-Feb-1994 21:52:25 -0800")
        code = resp_code(t, "APPENDUID")
        assert code, t
        uidvalidity, uid = code.split()
        u2, t2 = _append(r, "INBOX", messages.MINIMAL)
        assert resp_code(t2, "APPENDUID") == "%s %d" % (uidvalidity, int(uid) + 1), t2
        u, t = r.ok("SELECT INBOX")
        assert resp_code(b"\r\n".join(u), "UIDVALIDITY") == uidvalidity
        fm = fetch_map(r.ok("UID FETCH %s (FLAGS INTERNALDATE RFC822.SIZE)" % uid)[0])
        item = fm[1]
        flags = {bytes(x).decode() for x in item[b"FLAGS"]}
        assert {"\\Seen", "\\Flagged", "$Work"} <= flags, item
        # the same instant; the zone may differ (Dovecot keeps only a timestamp)
        assert internaldate_ts(item[b"INTERNALDATE"]) == 760686745, item
        assert int(item[b"RFC822.SIZE"]) == len(messages.PLAIN), item
        # the file in the Maildir carries the flags and the size
        names = os.listdir(os.path.join(server.maildir(user), "cur"))
        flagged = [n for n in names if ":2," in n and {"F", "S"} <= set(n.split(":2,")[1])]
        assert flagged, names
        sizes = (len(messages.PLAIN), len(messages.PLAIN.replace(b"\r\n", b"\n")))
        assert any(",S=%d" % sz in flagged[0] for sz in sizes), flagged


def test_append_to_missing_mailbox_trycreate(server, user):
    with server.raw(login=user) as r:
        m = messages.MINIMAL
        u, t = r.cmd("APPEND NoSuchBox {%d}\r\n%s" % (len(m), m.decode()))
        assert status_of(t) == "NO", t
        assert resp_code(t, "TRYCREATE") is not None, t


def test_append_bad_flags_or_date(server, user):
    with server.raw(login=user) as r:
        m = messages.MINIMAL.decode()
        u, t = r.cmd('APPEND INBOX "31-Foo-2020 00:00:00 +0000" {%d}\r\n%s' % (len(m), m))
        assert status_of(t) == "BAD", t
        u, t = r.cmd("APPEND INBOX (\\Recent) {%d}\r\n%s" % (len(m), m))
        assert status_of(t) in ("BAD", "NO"), t
        r.ok("NOOP")


def test_append_literal_plus(server, user):
    """LITERAL+ (RFC 7888): no continuation is sent, the literal follows."""
    msg = messages.ALTERNATIVE
    with server.raw(login=user) as r:
        tag = r.tag()
        r.send(b"%s APPEND INBOX (\\Draft) {%d+}\r\n" % (tag.encode(), len(msg)) + msg + b"\r\n")
        u, t = r.collect(tag)
        assert not any(x.startswith(b"+") for x in u), u
        assert status_of(t) == "OK", t
        r.ok("SELECT INBOX")
        fm = fetch_map(r.ok("FETCH 1 (BODY.PEEK[] FLAGS)")[0])
        assert bytes(fm[1][b"BODY[]"]) == msg
        assert b"\\Draft" in fm[1][b"FLAGS"]


def test_append_continuation_sent_for_sync_literal(server, user):
    msg = messages.MINIMAL
    with server.raw(login=user) as r:
        tag = r.tag()
        r.send(b"%s APPEND INBOX {%d}\r\n" % (tag.encode(), len(msg)))
        cont = r.read_response()
        assert cont.startswith(b"+ ") or cont == b"+", cont
        r.send(msg + b"\r\n")
        u, t = r.collect(tag)
        assert status_of(t) == "OK", t


def test_append_binary_and_empty_lines(server, user):
    # 8-bit bytes and a bare final line without CRLF survive as they are
    msg = messages.UTF8_8BIT + b"no final newline"
    with server.raw(login=user) as r:
        tag = r.tag()
        r.send(b"%s APPEND INBOX {%d+}\r\n" % (tag.encode(), len(msg)) + msg + b"\r\n")
        u, t = r.collect(tag)
        assert status_of(t) == "OK", t
        r.ok("SELECT INBOX")
        fm = fetch_map(r.ok("FETCH 1 (BODY.PEEK[] RFC822.SIZE)")[0])
        assert bytes(fm[1][b"BODY[]"]) == msg
        assert int(fm[1][b"RFC822.SIZE"]) == len(msg)


def test_append_selected_mailbox_gets_exists(server, user):
    with server.raw(login=user) as r:
        r.ok("SELECT INBOX")
        u, t = _append(r, "INBOX", messages.MINIMAL)
        assert b"* 1 EXISTS" in u, "APPEND to the selected mailbox must report EXISTS: %r" % u


# --- CHECK / CLOSE / UNSELECT ----------------------------------------------------

def test_check(server, user):
    with server.raw(login=user) as r:
        r.ok("SELECT INBOX")
        r.ok("CHECK")


def test_close_expunges_deleted(server, user):
    with server.raw(login=user) as r:
        for i in range(3):
            _append(r, "INBOX", messages.simple("close %d" % i))
        r.ok("SELECT INBOX")
        r.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        u, t = r.ok("CLOSE")
        assert not any(b"EXPUNGE" in x for x in u), "CLOSE sends no EXPUNGE: %r" % u
        u, t = r.cmd("FETCH 1 FLAGS")
        assert status_of(t) == "BAD" or status_of(t) == "NO", t  # no longer selected
        u, _ = r.ok("STATUS INBOX (MESSAGES)")
        assert b"MESSAGES 2" in u[0], u
        assert server.count_files(user) == 2


def test_close_on_examine_does_not_expunge(server, user):
    with server.raw(login=user) as r:
        _append(r, "INBOX", messages.MINIMAL, "\\Deleted")
        r.ok("EXAMINE INBOX")
        r.ok("CLOSE")
        u, _ = r.ok("STATUS INBOX (MESSAGES)")
        assert b"MESSAGES 1" in u[0], u


def test_unselect_keeps_deleted(server, user):
    with server.raw(login=user) as r:
        _append(r, "INBOX", messages.MINIMAL, "\\Deleted")
        r.ok("SELECT INBOX")
        r.ok("UNSELECT")
        u, t = r.cmd("FETCH 1 FLAGS")
        assert status_of(t) in ("BAD", "NO"), t
        u, _ = r.ok("STATUS INBOX (MESSAGES)")
        assert b"MESSAGES 1" in u[0], u
        u, t = r.cmd("UNSELECT")
        assert status_of(t) in ("BAD", "NO"), t  # nothing selected


def test_selected_state_commands_need_selection(server, user):
    with server.raw(login=user) as r:
        for c in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "EXPUNGE",
                  "COPY 1 Sent", "CLOSE", "CHECK", "UID FETCH 1 FLAGS"):
            u, t = r.cmd(c)
            assert status_of(t) in ("BAD", "NO"), (c, t)
        r.ok("NOOP")
