"""Dovecot 2.3 and objmail open the same Maildir in turn: what one wrote, the
other serves with the same UIDVALIDITY, UIDs, flags and keywords."""

import os

import pytest

import messages
import omtest
from omtest import fetch_map, list_map, resp_code

USER, PW = "interop", "interop-pw"
BOXES = ["INBOX", "Archive", "Archive/2021", "Entw&APw-rfe"]


def state(r, boxes):
    """{box: (uidvalidity, uidnext, {uid: (flags, subject)})} via IMAP."""
    out = {}
    for box in boxes:
        u, t = r.ok('EXAMINE "%s"' % box)
        joined = b"\r\n".join(u)
        uv = int(resp_code(joined, "UIDVALIDITY"))
        un = resp_code(joined, "UIDNEXT")
        n = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS")][0]
        msgs = {}
        if n:
            fm = fetch_map(r.ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0])
            for v in fm.values():
                subj = [bytes(v[k]) for k in v if k.startswith(b"BODY[")][0].strip()
                flags = frozenset(bytes(f).decode() for f in v[b"FLAGS"]) - {"\\Recent"}
                msgs[int(v[b"UID"])] = (flags, subj)
        out[box] = (uv, int(un) if un else None, msgs)
    return out


def describe_diff(a, b):
    lines = []
    for box in sorted(set(a) | set(b)):
        if a.get(box) == b.get(box):
            continue
        if box not in a or box not in b:
            lines.append("%s: only in %s" % (box, "first" if box in a else "second"))
            continue
        (uva, una, ma), (uvb, unb, mb) = a[box], b[box]
        if uva != uvb:
            lines.append("%s: UIDVALIDITY %s vs %s" % (box, uva, uvb))
        if una != unb:
            lines.append("%s: UIDNEXT %s vs %s" % (box, una, unb))
        for uid in sorted(set(ma) | set(mb)):
            if ma.get(uid) != mb.get(uid):
                lines.append("%s UID %d: %r vs %r" % (box, uid, ma.get(uid), mb.get(uid)))
    return "\n".join(lines)


@pytest.fixture
def setup(make_server):
    omtest.need_root()
    omtest.need(omtest.DOVECOT)
    srv = make_server(start=False, users={USER: PW})
    dv = omtest.Dovecot(srv.mail_root, {USER: PW}, base=os.path.join(srv.base, "dovecot"))
    omtest.chown_tree(srv.mail_root)
    yield srv, dv
    dv.stop()


def test_dovecot_then_objmail_then_dovecot(setup):
    srv, dv = setup
    # 1. Dovecot writes folders, messages, flags and keywords
    dv.start()
    with dv.raw(login=USER) as r:
        for box in BOXES[1:]:
            r.ok('CREATE "%s"' % box)
        flags = ["\\Seen", "\\Seen \\Flagged", "$Work", "\\Answered $Label1 NonJunk", "",
                 "\\Draft", "\\Deleted", "$Work $Private", "\\Seen", ""]
        for i, f in enumerate(flags):
            r.append("INBOX", messages.simple("dovecot inbox %d" % i), f or None)
        for i in range(3):
            r.append("Archive/2021", messages.simple("archived %d" % i), "\\Seen")
        r.append("Entw&APw-rfe", messages.ALTERNATIVE, "\\Draft $Work")
        r.ok("SELECT INBOX")
        r.ok("STORE 5 +FLAGS.SILENT (\\Deleted)")
        r.ok("UID EXPUNGE 5")  # a gap in the UIDs
        r.ok("SUBSCRIBE Archive/2021")
        dovecot_state = state(r, BOXES)
    dv.stop()
    assert os.path.exists(os.path.join(srv.mail_root, USER, "dovecot-keywords"))

    # 2. objmail serves the same
    srv.start()
    with srv.raw(login=USER) as r:
        lst = list_map(r.ok('LIST "" "*"')[0])
        for box in BOXES:
            assert box in lst, (box, lst)
        subs = list_map(r.ok('LSUB "" "*"')[0], b"LSUB")
        assert "Archive/2021" in subs, subs
        ours = state(r, BOXES)
        assert ours == dovecot_state, "objmail differs from what Dovecot wrote:\n" + \
            describe_diff(dovecot_state, ours)
        # 3. objmail changes things
        r.ok("SELECT INBOX")
        r.ok("UID STORE 1 -FLAGS.SILENT (\\Seen)")
        r.ok("UID STORE 2 +FLAGS.SILENT (\\Answered $Work)")
        r.ok("UID STORE 3 FLAGS.SILENT ($Label1 $Brandnew)")
        r.ok("UID STORE 7 +FLAGS.SILENT (\\Deleted)")
        r.ok("UID EXPUNGE 7")
        r.append("INBOX", messages.simple("objmail appended"), "\\Flagged $Brandnew")
        r.append("Archive", messages.PLAIN, "\\Seen")
        r.ok("SELECT Archive/2021")
        r.ok("UID MOVE 2 Archive")
        ours_after = state(r, BOXES)
    srv.stop(check=True)
    omtest.chown_tree(srv.mail_root)

    # 4. Dovecot sees exactly objmail's changes, with the same UIDs
    dv.start()
    with dv.raw(login=USER) as r:
        theirs = state(r, BOXES)
        assert theirs == ours_after, "Dovecot reads objmail's Maildir differently:\n" + \
            describe_diff(ours_after, theirs)
        # and the bodies are intact
        r.ok("EXAMINE Archive")
        fm = fetch_map(r.ok("FETCH 1:* (BODY.PEEK[])")[0])
        bodies = [bytes(v[b"BODY[]"]) for v in fm.values()]
        assert messages.PLAIN in bodies
    dv.stop()


def test_objmail_first_then_dovecot(setup):
    """A Maildir created by objmail opens in Dovecot with the same UIDs."""
    srv, dv = setup
    srv.start()
    with srv.raw(login=USER) as r:
        r.ok('CREATE "Entw&APw-rfe"')
        r.ok("CREATE Archive/2021")
        for i in range(5):
            r.append("INBOX", messages.simple("objmail %d" % i), "$Work \\Seen" if i % 2 else None)
        r.append("Entw&APw-rfe", messages.MINIMAL, "\\Flagged")
        r.append("Archive/2021", messages.PLAIN, "NonJunk")
        r.ok("SELECT INBOX")
        r.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        r.ok("EXPUNGE")
        lst = list_map(r.ok('LIST "" "*"')[0])
        boxes = [b for b in BOXES if b in lst and "\\Noselect" not in lst[b]]
        ours = state(r, boxes)
    srv.stop(check=True)
    omtest.chown_tree(srv.mail_root)
    dv.start()
    with dv.raw(login=USER) as r:
        theirs = state(r, boxes)
    dv.stop()
    assert theirs == ours, "Dovecot reads objmail's Maildir differently:\n" + describe_diff(ours, theirs)
