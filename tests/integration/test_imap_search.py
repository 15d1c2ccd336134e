"""SEARCH and UID SEARCH (RFC 3501 6.4.4): every search key, charsets,
decoded headers and bodies, NOT/OR nesting, sequence and UID sets."""

import pytest

import messages
from omtest import crlf, fetch_map, resp_code, search_result, status_of

BIG = messages.simple("big one", body="x" * 60000 + "\n", date="Tue, 15 Mar 2022 10:00:00 +0000")
BCC = crlf("From: sender@example.com\nTo: rcpt@example.com\nCc: someone@example.org\n"
           "Bcc: secret@example.com\nSubject: bcc test\nDate: Mon, 01 Jan 2024 10:00:00 +0000\n"
           "Message-ID: <bcc-8@test>\n\nhidden recipients\n")

# (message, flags, internal date)
MAILBOX = [
    (messages.PLAIN, "\\Seen \\Answered", "01-Jan-2020 12:00:00 +0000"),
    (messages.ALTERNATIVE, "\\Flagged $Work", "15-Jun-2021 12:00:00 +0000"),
    (messages.ATTACHMENT, "\\Deleted", "10-Mar-2022 12:00:00 +0000"),
    (messages.FORWARD, "\\Draft", "10-Mar-2022 12:00:00 +0000"),
    (messages.LATIN1_QP, "", "11-Mar-2022 12:00:00 +0000"),
    (messages.UTF8_8BIT, "$Label1", "12-Mar-2022 12:00:00 +0000"),
    (messages.MINIMAL, "\\Seen", "13-Mar-2022 12:00:00 +0000"),
    (BCC, "\\Seen \\Flagged", "14-Mar-2022 12:00:00 +0000"),
    (BIG, "", "15-Mar-2022 12:00:00 +0000"),
]
N = len(MAILBOX)
ALL = list(range(1, N + 1))


def others(*seqs):
    return [i for i in ALL if i not in seqs]


@pytest.fixture(scope="module")
def box(server):
    user = server.take_user()
    r = server.raw(login=user)
    for m, flags, date in MAILBOX:
        r.append("INBOX", m, flags or None, date)
    r.ok("SELECT INBOX")
    yield user, r
    r.close()


def search(r, criteria):
    if isinstance(criteria, str):
        criteria = criteria.encode("utf-8")
    u, t = r.cmd(b"SEARCH " + criteria)
    assert status_of(t) == "OK", (criteria, t)
    return sorted(search_result(u))


CASES = [
    ("ALL", ALL),
    # flags
    ("ANSWERED", [1]), ("UNANSWERED", others(1)),
    ("DELETED", [3]), ("UNDELETED", others(3)),
    ("DRAFT", [4]), ("UNDRAFT", others(4)),
    ("FLAGGED", [2, 8]), ("UNFLAGGED", others(2, 8)),
    ("SEEN", [1, 7, 8]), ("UNSEEN", others(1, 7, 8)),
    ("KEYWORD $Work", [2]), ("KEYWORD $work", [2]), ("UNKEYWORD $Work", others(2)),
    ("KEYWORD $Label1", [6]), ("KEYWORD $NeverUsed", []), ("UNKEYWORD $NeverUsed", ALL),
    # internal date (date only, RFC 3501)
    ("BEFORE 10-Mar-2022", [1, 2]), ("ON 10-Mar-2022", [3, 4]), ("SINCE 12-Mar-2022", [6, 7, 8, 9]),
    ("BEFORE 1-Jan-2020", []), ("SINCE 1-Jan-2020", ALL), ("ON 1-Jan-2020", [1]),
    # Date: header (message 7 has none; leave it out)
    ("SENTBEFORE 1-Jan-2000 1:6", [1]), ("SENTON 10-Mar-2022", [4]),
    ("SENTSINCE 11-Mar-2022 1:6", [5, 6]), ("SENTON 12-Mar-2022", [6]),
    ("SENTSINCE 1-Jan-2024", [8]),
    # addresses and headers (RFC 2047 decoded, case-insensitive substrings)
    ("FROM alice", [1]), ("FROM ALICE@EXAMPLE.COM", [1]), ("FROM juergen", [2]),
    ("TO bob", [1]), ("TO carol", [1]), ("TO ivan", [6]), ("TO alice@example.com", [2, 3, 4, 5, 6]),
    ("CC dave", [1]), ("CC someone", [8]), ("CC \"the boss\"", [1]),
    ("BCC secret", [8]), ("BCC nobody", []),
    ("SUBJECT lunch", [1, 4]), ("SUBJECT \"lunch tomorrow\"", [1, 4]), ("SUBJECT fwd:", [4]),
    ("HEADER Message-ID <latin1-5@", [5]), ("HEADER X-Nothing \"\"", []),
    ("HEADER Message-ID \"\"", others(7)), ("HEADER content-transfer-encoding base64", []),
    ("HEADER Content-Type multipart/mixed", [3, 4]),
    # bodies: decoded QP/base64, nested message/rfc822
    ("BODY zebrafish", [1]), ("BODY XYZZY-42", [3]), ("BODY kumquat", [4]),
    ("BODY \"hidden recipients\"", [8]),
    ("TEXT zebrafish", [1]), ("TEXT juergen@example.de", [2]), ("TEXT kumquat", [4]),
    ("TEXT \"bcc test\"", [8]),
    # sizes
    ("LARGER 50000", [9]), ("SMALLER 50000", others(9)),
    ("SMALLER %d" % (len(messages.MINIMAL) + 1), [7]),
    ("LARGER %d" % (len(BIG) - 1), [9]), ("LARGER %d" % len(BIG), []),
    # NOT / OR nesting, parenthesised lists
    ("NOT SEEN", others(1, 7, 8)), ("NOT NOT SEEN", [1, 7, 8]),
    ("OR ANSWERED DRAFT", [1, 4]), ("OR OR ANSWERED DRAFT DELETED", [1, 3, 4]),
    ("OR (SEEN FLAGGED) DRAFT", [4, 8]), ("NOT (OR SEEN DELETED)", [2, 4, 5, 6, 9]),
    ("(SEEN) (UNFLAGGED)", [1, 7]), ("SEEN NOT FROM alice", [7, 8]),
    ("OR FROM alice (OR SUBJECT minimal NOT UNDRAFT)", [1, 4, 7]),
    ("((((SEEN))))", [1, 7, 8]),
    # sequence sets and UID sets
    ("2:4", [2, 3, 4]), ("*", [9]), ("1,3,5:6", [1, 3, 5, 6]), ("4:2", [2, 3, 4]),
    ("5:* SEEN", [7, 8]), ("UID 2:3", [2, 3]), ("UID 8:*", [8, 9]), ("UID 1000:*", [9]),
    ("NOT 2:8", [1, 9]), ("UID 1,9 FLAGGED", []),
    # charsets
    ("CHARSET US-ASCII FROM alice", [1]), ("CHARSET UTF-8 SUBJECT lunch", [1, 4]),
]


@pytest.mark.parametrize("criteria,expected", CASES, ids=[c for c, _ in CASES])
def test_search(box, criteria, expected):
    user, r = box
    assert search(r, criteria) == expected


UTF8_CASES = [
    ("SUBJECT", "Grüße", [2]),            # B-encoded UTF-8 subject
    ("SUBJECT", "grüsse", []),            # no fuzzy folding of ß
    ("SUBJECT", "Résumé", [5]),           # Q-encoded ISO-8859-1 subject
    ("SUBJECT", "RÉSUMÉ", [5]),           # case-insensitive beyond ASCII
    ("SUBJECT", "мир", [6]),
    ("FROM", "Jürgen", [2]),              # encoded display name
    ("FROM", "François", [5]),
    ("TO", "Иван", [6]),
    ("BODY", "München", [2]),             # QP UTF-8 (text and html parts)
    ("BODY", "délicieux", [5]),           # QP ISO-8859-1
    ("BODY", "Smörgåsbord", [6]),         # 8-bit UTF-8 body
    ("BODY", "Привет", [6]),
    ("TEXT", "Grüße", [2]),               # header and body
    ("TEXT", "Straße", [6]),
    ("BODY", "Zoë", []),                  # only in a header
    ("TEXT", "Zoë", [6]),
]


@pytest.mark.parametrize("key,text,expected", UTF8_CASES,
                         ids=["%s-%s" % (k, t) for k, t, _ in UTF8_CASES])
def test_search_utf8_literal(box, key, text, expected):
    user, r = box
    data = text.encode("utf-8")
    u, t = r.cmd(b"SEARCH CHARSET UTF-8 " + key.encode() + b" {%d}\r\n" % len(data) + data)
    assert status_of(t) == "OK", t
    assert sorted(search_result(u)) == expected, (key, text, u)


def test_search_utf8_literal_plus(box):
    user, r = box
    data = "München".encode("utf-8")
    tag = r.tag()
    r.send(tag.encode() + b" SEARCH CHARSET UTF-8 BODY {%d+}\r\n" % len(data) + data + b"\r\n")
    u, t = r.collect(tag)
    assert status_of(t) == "OK", t
    assert search_result(u) == [2], u


def test_search_utf8_quoted(box):
    user, r = box
    u, t = r.cmd('SEARCH CHARSET UTF-8 SUBJECT "Grüße"'.encode("utf-8"))
    # 8-bit in a quoted string is not allowed by RFC 3501, but widely sent;
    # either refused (BAD) or understood
    if status_of(t) == "OK":
        assert search_result(u) == [2], u
    else:
        assert status_of(t) == "BAD", t


def test_badcharset(box):
    user, r = box
    u, t = r.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET TEXT foo")
    assert status_of(t) == "NO", t
    assert resp_code(t, "BADCHARSET") is not None, t


def test_search_syntax_errors(box):
    user, r = box
    for bad in ("FROBNICATE", "FROM", "BEFORE yesterday", "LARGER x",
                "OR SEEN", "NOT", "(SEEN", "SEEN)", "UID", "KEYWORD", "HEADER Subject",
                "0:3", "1:2:3"):
        u, t = r.cmd("SEARCH " + bad)
        assert status_of(t) == "BAD", (bad, t)
    r.ok("NOOP")


def test_search_out_of_range_sequence(box):
    user, r = box
    u, t = r.cmd("SEARCH 100")
    assert status_of(t) in ("OK", "BAD", "NO"), t
    if status_of(t) == "OK":
        assert search_result(u) == [], u


def test_recent_new_old(server, box):
    user, r = box
    # the box session appended and selected first: it holds \Recent
    assert search(r, "RECENT") == ALL
    assert search(r, "NEW") == others(1, 7, 8)
    assert search(r, "OLD") == []
    with server.raw(login=user) as r2:
        r2.ok("EXAMINE INBOX")
        assert search(r2, "RECENT") == []
        assert search(r2, "OLD") == ALL
        assert search(r2, "NEW") == []


def test_uid_search(server):
    user = server.take_user()
    with server.raw(login=user) as r:
        for i in range(6):
            r.append("INBOX", messages.simple("uidsearch %d" % i), "\\Seen" if i % 2 else None)
        r.ok("SELECT INBOX")
        r.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        r.ok("EXPUNGE")
        # UIDs 3..6 are now sequence numbers 1..4; \Seen on UIDs 4, 6
        assert search(r, "SEEN") == [2, 4]
        u, t = r.ok("UID SEARCH SEEN")
        assert sorted(search_result(u)) == [4, 6], u
        u, t = r.ok("UID SEARCH UID 4:5")
        assert sorted(search_result(u)) == [4, 5], u
        u, t = r.ok("UID SEARCH 1:2")
        assert sorted(search_result(u)) == [3, 4], u
        u, t = r.ok("UID SEARCH ALL")
        assert sorted(search_result(u)) == [3, 4, 5, 6], u
        u, t = r.ok("UID SEARCH UID 1:2")
        assert search_result(u) == [], u
        u, t = r.ok("UID SEARCH SUBJECT \"uidsearch 5\"")
        assert search_result(u) == [6], u
        u, t = r.ok("SEARCH UID *")
        assert search_result(u) == [4], u


def test_body_search_in_embedded_message_header(box):
    """BODY of message 4 includes its message/rfc822 part's header (which
    says "Lunch"): RFC 3501 says "in the body of the message", Dovecot does
    not match there. Either answer is accepted."""
    user, r = box
    assert search(r, "BODY lunch") in ([1], [1, 4])


def test_search_empty_mailbox(server):
    user = server.take_user()
    with server.raw(login=user) as r:
        r.ok("SELECT INBOX")
        u, t = r.ok("SEARCH ALL")
        assert u == [b"* SEARCH"], u
        u, t = r.ok("UID SEARCH UID 1:*")
        assert u == [b"* SEARCH"], u
        u, t = r.ok("UID FETCH 1:* (FLAGS)")  # what mbsync sends on an empty box
        assert u == [], u
        # "*" in a sequence set of an empty mailbox: Dovecot answers OK and
        # nothing; refusing it is allowed too
        u, t = r.cmd("SEARCH 1:*")
        assert status_of(t) in ("OK", "NO", "BAD"), t
        if status_of(t) == "OK":
            assert u == [b"* SEARCH"], u


# --- the same searches as Dovecot 2.3, over the tricky messages too --------------------

import os
import shutil

import omtest

DOVECOT_CRITERIA = [
    "FROM example", "FROM first.last", "FROM \"Last, First\"", "TO team", "TO localonly",
    "TO \"john doe\"", "CC routed", "CC cafe", "SUBJECT second", "SUBJECT \"a very long subject\"",
    "SUBJECT \"on, folded\"", "HEADER X-Empty \"\"", "HEADER Content-Type mixed",
    "BODY deepest", "BODY \"embedded body\"", "BODY preamble", "BODY \"line two\"", "TEXT embedded",
    "TEXT rates", "BODY caf", "SENTBEFORE 1-Jan-2023", "SENTON 1-Jan-2023", "SENTSINCE 2-Jan-2023",
    "LARGER 300", "SMALLER 200", "NOT BODY text", "OR SUBJECT nested BODY deepest",
    "HEADER Message-ID addr", "HEADER In-Reply-To <b@y>", "SUBJECT \"\"", "BODY \"\"",
    "BODY rates", "TEXT octet-stream", "BODY octet-stream", "TEXT part1@example.com",
    "TEXT multipart/related", "BODY multipart/related", "TEXT \"Subject: embedded\"",
    "BODY \"Subject: embedded\"",
]
DOVECOT_UTF8 = ["Grüße", "Müller", "Zoë", "café", "€", "Café", "reine", "ohne Kodierung — ein"]
# criteria -> why; these xfail (an XPASS means fixed: delete the entry)
# (TEXT now searches the MIME part headers and BODY only body text, as in
# Dovecot: the former entries are fixed)
KNOWN_SEARCH_DIFFS = {}


@pytest.fixture(scope="module")
def both(server):
    omtest.need_root()
    omtest.need(omtest.DOVECOT)
    if omtest.server_class() is omtest.DovecotServer:
        pytest.skip("comparing Dovecot with itself")
    msgs = [m for m, _f, _d in MAILBOX] + messages.TRICKY
    user = server.take_user()
    ours = server.raw(login=user)
    for m in msgs:
        ours.append("INBOX", m, None, "10-Mar-2022 12:00:00 +0000")
    ours.ok("EXAMINE INBOX")
    base = omtest.make_tempdir("objmail-search-dovecot-")
    mail = os.path.join(base, "mail")
    os.makedirs(mail)
    omtest.chown_tree(mail)
    dv = omtest.Dovecot(mail, {"ref": "ref-pw"}, base=os.path.join(base, "dv"))
    try:
        dv.start()
        theirs = dv.raw(login="ref")
        for m in msgs:
            theirs.append("INBOX", m, None, "10-Mar-2022 12:00:00 +0000")
        theirs.ok("EXAMINE INBOX")
        yield ours, theirs
        theirs.close()
    finally:
        ours.close()
        dv.stop()
        omtest.rmtree_retry(base)


def _compare(both, criteria):
    ours, theirs = both
    a_u, a_t = ours.cmd(criteria)
    b_u, b_t = theirs.cmd(criteria)
    if status_of(b_t) != "OK":
        pytest.skip("Dovecot refuses %r: %r" % (criteria, b_t))
    assert status_of(a_t) == "OK", (criteria, a_t)
    a, b = sorted(search_result(a_u)), sorted(search_result(b_u))
    if a != b and criteria.decode("utf-8", "replace")[len("SEARCH "):] in KNOWN_SEARCH_DIFFS:
        pytest.xfail(KNOWN_SEARCH_DIFFS[criteria.decode()[len("SEARCH "):]])
    assert a == b, "%s: objmail %r, Dovecot %r" % (criteria.decode("utf-8", "replace"), a, b)


@pytest.mark.parametrize("criteria", DOVECOT_CRITERIA + ["BODY lunch"])
def test_search_same_as_dovecot(both, criteria):
    _compare(both, b"SEARCH " + criteria.encode())


@pytest.mark.parametrize("text", DOVECOT_UTF8)
@pytest.mark.parametrize("key", ["TEXT", "SUBJECT", "FROM", "TO", "BODY"])
def test_search_utf8_same_as_dovecot(both, key, text):
    data = text.encode("utf-8")
    _compare(both, b"SEARCH CHARSET UTF-8 " + key.encode() + b" {%d}\r\n" % len(data) + data)
