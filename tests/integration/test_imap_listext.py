"""LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), CREATE-SPECIAL-USE
(RFC 6154), STATUS=SIZE (RFC 8438) and STATUS DELETED (RFC 9051), MULTIAPPEND
(RFC 3502) over raw IMAP."""

import re

import pytest

import messages
import omtest
from omtest import status_of, untagged_named

pytestmark = pytest.mark.skipif(omtest.server_class() is not omtest.Objmaild,
                                reason="objmail-specific expectations")


def lists(untagged):
    """{name: (attrs set, extended data or b"")} of the LIST responses."""
    out = {}
    for u in untagged_named(untagged, "LIST"):
        m = re.match(rb'\* LIST \(([^)]*)\) "/" ("(?:[^"\\]|\\.)*"|\S+)(.*)$', u)
        assert m, u
        name = m.group(2).strip(b'"').decode()
        out[name] = (set(m.group(1).split()), m.group(3).strip())
    return out


@pytest.fixture
def conn(server, user):
    r = server.raw(login=user)
    yield r
    r.close()


def test_capabilities(conn):
    u, _ = conn.ok("CAPABILITY")
    caps = u[0].split()
    for c in (b"IMAP4rev1", b"IMAP4rev2", b"LIST-EXTENDED", b"LIST-STATUS", b"STATUS=SIZE",
              b"CREATE-SPECIAL-USE", b"SPECIAL-USE", b"QUOTA", b"MULTIAPPEND",
              b"COMPRESS=DEFLATE", b"UTF8=ACCEPT", b"LITERAL+"):
        assert c in caps, c


def test_subscribed_nonexistent_and_recursivematch(conn):
    conn.ok("CREATE Fruit/Apple")
    conn.ok("CREATE Fruit/Banana")
    conn.ok("CREATE Veg")
    conn.ok("CREATE Veg/Peas")
    conn.ok("SUBSCRIBE Fruit/Banana")
    conn.ok("SUBSCRIBE Veg")
    conn.ok("SUBSCRIBE Veg/Peas")
    conn.ok("SUBSCRIBE Gone")            # never existed
    conn.ok("SUBSCRIBE Ghost/Child")     # neither exists
    # plain LIST: children attributes right
    l = lists(conn.ok('LIST "" "*"')[0])
    assert b"\\HasChildren" in l["Fruit"][0]
    assert b"\\HasNoChildren" in l["Fruit/Apple"][0]
    assert b"\\HasChildren" in l["Veg"][0]
    assert "Gone" not in l             # only SUBSCRIBED selects missing names
    # SUBSCRIBED: \Subscribed, \NonExistent for missing ones
    l = lists(conn.ok('LIST (SUBSCRIBED) "" "*"')[0])
    assert set(l) >= {"Fruit/Banana", "Veg", "Veg/Peas", "Gone", "Ghost/Child"}
    assert "Fruit/Apple" not in l and "Fruit" not in l
    assert {b"\\Subscribed", b"\\NonExistent"} <= l["Gone"][0]
    assert b"\\Noselect" not in l["Gone"][0]
    assert b"\\Subscribed" in l["Veg"][0]
    # RECURSIVEMATCH with %: parents get CHILDINFO
    l = lists(conn.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')[0])
    assert l["Fruit"][1] == b'("CHILDINFO" ("SUBSCRIBED"))'
    assert b"\\Subscribed" not in l["Fruit"][0]
    assert l["Veg"][1] == b'("CHILDINFO" ("SUBSCRIBED"))'
    assert b"\\Subscribed" in l["Veg"][0]
    assert b"\\NonExistent" in l["Ghost"][0] and b"CHILDINFO" in l["Ghost"][1]
    assert l["Gone"][1] == b""
    assert "Fruit/Banana" not in l
    # RECURSIVEMATCH alone is an error
    _, t = conn.cmd('LIST (RECURSIVEMATCH) "" "%"')
    assert status_of(t) == "BAD"
    # RETURN (SUBSCRIBED) marks without selecting
    l = lists(conn.ok('LIST "" "Veg*" RETURN (SUBSCRIBED CHILDREN)')[0])
    assert b"\\Subscribed" in l["Veg"][0] and b"\\HasChildren" in l["Veg"][0]


def test_multiple_patterns_and_special_use(conn):
    conn.ok('CREATE "Archive 2020" (USE (\\Archive))')
    u, t = conn.cmd('CREATE Bad (USE (\\Nonsense))')
    assert status_of(t) == "NO" and b"[USEATTR]" in t
    l = lists(conn.ok('LIST "" ("INBOX" "Sent" "Archive*")')[0])
    assert set(l) == {"INBOX", "Sent", "Archive 2020"}
    assert b"\\Archive" in l["Archive 2020"][0]
    l = lists(conn.ok('LIST (SPECIAL-USE) "" "*"')[0])
    assert "INBOX" not in l
    assert b"\\Sent" in l["Sent"][0] and b"\\Trash" in l["Trash"][0]
    assert b"\\Archive" in l["Archive 2020"][0]
    l = lists(conn.ok('LIST "" "*" RETURN (SPECIAL-USE)')[0])
    assert "INBOX" in l and b"\\Drafts" in l["Drafts"][0]


def test_list_status_and_status_size(conn):
    conn.ok("CREATE Box")
    m1, m2 = messages.simple("one"), messages.simple("two, longer body text")
    conn.append("Box", m1)
    conn.append("Box", m2, flags="\\Deleted \\Seen")
    conn.ok("CREATE Parent/Kid")
    conn.ok("DELETE Parent")           # has a child: stays as \\Noselect
    u, _ = conn.ok('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN SIZE))')
    assert b"\\Noselect" in lists(u)["Parent"][0]
    st = {}
    for x in untagged_named(u, "STATUS"):
        m = re.match(rb'\* STATUS ("[^"]*"|\S+) \((.*)\)$', x)
        st[m.group(1).strip(b'"').decode()] = m.group(2)
    assert st["Box"] == b"MESSAGES 2 UNSEEN 1 SIZE %d" % (len(m1) + len(m2))
    assert "Parent" not in st          # \Noselect: no STATUS
    assert "Parent/Kid" in st
    # each STATUS right after its LIST line
    i = [k for k, x in enumerate(u) if x.startswith(b"* LIST") and
         x.rstrip(b'"').endswith(b" Box") or x.endswith(b' "Box"')][0]
    assert u[i + 1].startswith(b'* STATUS "Box" ') or u[i + 1].startswith(b"* STATUS Box ")
    u, _ = conn.ok("STATUS Box (SIZE DELETED MESSAGES)")
    assert u[-1].endswith(b"(SIZE %d DELETED 1 MESSAGES 2)" % (len(m1) + len(m2)))
    _, t = conn.cmd("STATUS Box (BOGUS)")
    assert status_of(t) == "BAD"


def test_multiappend_all_or_nothing(server, conn):
    conn.ok("CREATE Multi")
    a, b, c = (messages.simple("m%d" % i) for i in range(3))
    u, t = conn.ok(b"APPEND Multi (\\Seen) {%d}\r\n" % len(a) + a +
                   b' "01-Jan-2020 10:00:00 +0000" {%d}\r\n' % len(b) + b +
                   b" {%d}\r\n" % len(c) + c)
    m = re.search(rb"\[APPENDUID (\d+) 1:3\]", t)
    assert m, t
    u, _ = conn.ok("STATUS Multi (MESSAGES)")
    assert u[-1].endswith(b"(MESSAGES 3)")
    # the third message is empty: nothing of the command stays
    u, t = conn.cmd(b"APPEND Multi {%d}\r\n" % len(a) + a + b" {%d}\r\n" % len(b) + b +
                    b" {0}\r\n")
    assert status_of(t) == "NO"
    u, _ = conn.ok("STATUS Multi (MESSAGES)")
    assert u[-1].endswith(b"(MESSAGES 3)")
    # a storage failure in the middle (over quota) rolls back what was saved
    # (see test_quota for that path); a bad flag fails before any save
    u, t = conn.cmd(b"APPEND Multi {%d}\r\n" % len(a) + a + b" (\\Bogus) {%d}\r\n" % len(b) + b)
    assert status_of(t) == "BAD"
    u, _ = conn.ok("STATUS Multi (MESSAGES)")
    assert u[-1].endswith(b"(MESSAGES 3)")
