"""LMTP (RFC 2033) with PIPELINING, ENHANCEDSTATUSCODES, 8BITMIME, SIZE,
CHUNKING/BDAT; real clients swaks and postfix's smtp-source."""

import os
import re
import socket
import subprocess

import pytest

import messages
import omtest
from omtest import Lmtp, crlf, fetch_map


def inbox(server, user):
    """The bodies of the user's INBOX messages via IMAP, in UID order."""
    with server.raw(login=user) as r:
        u, t = r.ok("EXAMINE INBOX")
        n = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS")][0]
        if n == 0:
            return []
        fm = fetch_map(r.ok("FETCH 1:* (BODY.PEEK[])")[0])
        return [bytes(fm[k][b"BODY[]"]) for k in sorted(fm)]


def count(server, user, box="INBOX"):
    with server.raw(login=user) as r:
        u, t = r.ok("STATUS %s (MESSAGES)" % box)
        return int(re.search(rb"MESSAGES (\d+)", u[0]).group(1))


def lines_reply(sock_file):
    lines = []
    while True:
        line = sock_file.readline().decode().rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


def test_greeting_and_lhlo(server):
    with server.lmtp() as c:
        code, text = c.greeting
        assert code == 220, c.greeting
        code, lines = c.lhlo()
        caps = {l.split()[0].upper() for l in lines[1:]}
        for cap in ("PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE", "CHUNKING"):
            assert cap in caps, (cap, lines)
        size = [l for l in lines if l.upper().startswith("SIZE")][0].split()
        assert len(size) == 1 or int(size[1]) > 0, lines


def test_helo_ehlo_rejected(server):
    with server.lmtp() as c:
        code, _ = c.cmd("EHLO client.example.com")
        assert 500 <= code < 600, code
        code, _ = c.cmd("MAIL FROM:<a@example.com>")
        assert code == 503 or 500 <= code < 600, code  # LHLO first
        c.lhlo()
        code, lines = c.cmd("NOOP")
        assert code == 250
        code, lines = c.cmd("RSET")
        assert code == 250


def test_deliver_one(server, user):
    res = server.deliver(user + "@example.com", messages.PLAIN)
    assert res[0][0] == 250, res
    assert res[0][1].startswith("2."), res  # enhanced status code
    got = inbox(server, user)
    assert len(got) == 1
    assert got[0].endswith(messages.PLAIN), got[0][:500]


def test_smtplib_lmtp_client(server, user):
    """Python's smtplib.LMTP as a real client (one recipient: its
    sendmail() reads only one reply after DATA)."""
    refused = server.deliver_smtplib(user + "@example.com", messages.PLAIN)
    assert refused == {}, refused
    import smtplib
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        server.deliver_smtplib("nobody-at-all@example.com", messages.PLAIN)
    assert inbox(server, user)[0].endswith(messages.PLAIN)


def test_several_recipients_one_reply_each(server):
    users = [server.take_user() for _ in range(3)]
    rcpts = [users[0] + "@example.com", "nosuchuser@example.com", users[1] + "@example.com",
             users[2] + "@example.org"]
    with server.lmtp() as c:
        res = c.send("sender@example.com", rcpts, messages.simple("to three"))
    assert res[0][0] == 250 and res[2][0] == 250 and res[3][0] == 250, res
    assert res[1][0] == 550 and res[1][1].startswith("5.1.1"), res
    for u in users:
        assert count(server, u) == 1, u


def test_same_user_twice(server, user):
    with server.lmtp() as c:
        res = c.send("s@example.com", [user + "@example.com", user + "@example.com"],
                     messages.simple("dup"))
    assert all(code == 250 for code, _ in res), res
    assert count(server, user) in (1, 2)


def test_unknown_user(server):
    with server.lmtp() as c:
        c.lhlo()
        assert c.cmd("MAIL FROM:<s@example.com>")[0] == 250
        code, lines = c.cmd("RCPT TO:<nobody-here@example.com>")
        assert code == 550, lines
        assert lines[0].startswith("5.1.1"), lines
        code, lines = c.cmd("DATA")
        assert code in (503, 554), (code, lines)  # no valid recipients


def test_trace_headers(server, user):
    server.deliver(user + "@example.com", messages.MINIMAL, sender="bounce@example.net")
    msg = inbox(server, user)[0]
    head = msg.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"Return-Path: <bounce@example.net>\r\n"), head
    assert re.search(rb"(?m)^Delivered-To: <?%s@example\.com>?\r$" % user.encode(), head), head
    rec = re.search(rb"(?ms)^Received: (.*?)\r\n(?![ \t])", head)
    assert rec, head
    assert b"objmail.test" in rec.group(1) and b"LMTP" in rec.group(1).upper(), rec.group(1)
    assert msg.endswith(messages.MINIMAL)
    # the stored size is that of the message with these headers
    with server.raw(login=user) as r:
        r.ok("EXAMINE INBOX")
        fm = fetch_map(r.ok("FETCH 1 RFC822.SIZE")[0])
        assert int(fm[1][b"RFC822.SIZE"]) == len(msg)


def test_null_sender(server, user):
    with server.lmtp() as c:
        c.lhlo()
        assert c.cmd("MAIL FROM:<>")[0] == 250
        assert c.cmd("RCPT TO:<%s@example.com>" % user)[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.sock.sendall(crlf(messages.simple("bounce")) + b".\r\n")
        assert c.reply()[0] == 250
    assert inbox(server, user)[0].startswith(b"Return-Path: <>\r\n")


def test_plus_detail(server, user):
    res = server.deliver(user + "+lists@example.com", messages.simple("detail"))
    assert res[0][0] == 250, res
    assert count(server, user) == 1
    res = server.deliver(user + "+@example.com", messages.simple("empty detail"))
    assert res[0][0] == 250, res
    assert count(server, user) == 2


def test_dot_stuffing(server, user):
    body = crlf("Subject: dots\n\n.leading dot\n..two dots\n.\n text\n")
    with server.lmtp() as c:
        res = c.send("s@example.com", [user + "@example.com"], body)  # client stuffs
    assert res[0][0] == 250
    assert inbox(server, user)[0].endswith(body)


def test_8bit_body_preserved(server, user):
    res = server.deliver(user + "@example.com", messages.UTF8_8BIT)
    assert res[0][0] == 250
    assert inbox(server, user)[0].endswith(messages.UTF8_8BIT)


def test_pipelining(server):
    u1, u2 = server.take_user(), server.take_user()
    msg = crlf(messages.simple("pipelined"))
    with server.lmtp() as c:
        c.lhlo()
        c.sock.sendall(b"MAIL FROM:<s@example.com>\r\nRCPT TO:<%s@example.com>\r\n"
                       b"RCPT TO:<nope@example.com>\r\nRCPT TO:<%s@example.com>\r\nDATA\r\n"
                       % (u1.encode(), u2.encode()))
        codes = [c.reply()[0] for _ in range(5)]
        assert codes == [250, 250, 550, 250, 354], codes
        c.sock.sendall(msg + b".\r\n")
        assert [c.reply()[0] for _ in range(2)] == [250, 250]
        # a second transaction on the same connection
        res = c.send("s2@example.com", [u1 + "@example.com"], messages.simple("second"))
        assert res[0][0] == 250
    assert count(server, u1) == 2 and count(server, u2) == 1


def test_bdat(server, user):
    msg = crlf(messages.simple("chunked", body="part one\n.not stuffed\npart two\n"))
    half = len(msg) // 2
    with server.lmtp() as c:
        c.lhlo()
        assert c.cmd("MAIL FROM:<s@example.com>")[0] == 250
        assert c.cmd("RCPT TO:<%s@example.com>" % user)[0] == 250
        assert c.cmd("RCPT TO:<%s+x@example.com>" % user)[0] == 250
        c.sock.sendall(b"BDAT %d\r\n" % half + msg[:half])
        assert c.reply()[0] == 250
        c.sock.sendall(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
        assert [c.reply()[0] for _ in range(2)] == [250, 250]
    got = inbox(server, user)
    assert len(got) == 2 and all(g.endswith(msg) for g in got)


def test_bdat_zero_last(server, user):
    msg = crlf(messages.simple("bdat zero"))
    with server.lmtp() as c:
        c.lhlo()
        c.cmd("MAIL FROM:<s@example.com>")
        c.cmd("RCPT TO:<%s@example.com>" % user)
        c.sock.sendall(b"BDAT %d\r\n" % len(msg) + msg)
        assert c.reply()[0] == 250
        c.sock.sendall(b"BDAT 0 LAST\r\n")
        assert c.reply()[0] == 250
    assert inbox(server, user)[0].endswith(msg)


def test_size_limit(make_server):
    srv = make_server(conf={"mail_max_size": "10K"})
    user = srv.take_user()
    with srv.lmtp() as c:
        c.lhlo()
        code, lines = c.cmd("MAIL FROM:<s@example.com> SIZE=20000")
        assert code == 552, lines
        assert lines[0].startswith("5.3.4"), lines
        # undeclared and too big: refused after DATA
        res = c.send("s@example.com", [user + "@example.com"],
                     messages.simple("big", body="y" * 20000 + "\n"))
        assert res[0][0] == 552 and res[0][1].startswith(("5.3.4", "5.2.3")), res
        res = c.send("s@example.com", [user + "@example.com"], messages.simple("small"))
        assert res[0][0] == 250, res
    assert count(srv, user) == 1


def test_over_quota(make_server):
    srv = make_server(users={"tiny": ("tiny-pw", "quota=4K"), "roomy": "roomy-pw"})
    big = messages.simple("quota", body="z" * 3000 + "\n")
    with srv.lmtp() as c:
        res = c.send("s@example.com", ["tiny@example.com", "roomy@example.com"], big)
        assert res[0][0] == 250 and res[1][0] == 250, res
        res = c.send("s@example.com", ["tiny@example.com", "roomy@example.com"], big)
        assert res[0][0] == 552 and res[0][1].startswith("5.2.2"), res
        assert res[1][0] == 250, res
    assert count(srv, "tiny") == 1
    assert count(srv, "roomy") == 2
    # config-wide quota too
    srv2 = make_server(conf={"quota": "3K"}, users={"q": "q-pw"})
    res = srv2.deliver("q@example.com", big)
    assert res[0][0] == 552 and res[0][1].startswith("5.2.2"), res
    assert count(srv2, "q") == 0


def test_rcpt_syntax_errors(server):
    with server.lmtp() as c:
        c.lhlo()
        c.cmd("MAIL FROM:<s@example.com>")
        for bad in ("RCPT TO:", "RCPT TO:<>", "RCPT TO:<a@b", "RCPT FOO", "RCPT TO:<../../x@example.com>",
                    "RCPT TO:<a/b@example.com>", "RCPT TO:<%s@example.com>" % ("x" * 600)):
            code, lines = c.cmd(bad)
            assert 500 <= code < 600, (bad, code, lines)
        code, _ = c.cmd("NOOP")
        assert code == 250


def test_long_line_and_garbage(server):
    s = socket.create_connection(("127.0.0.1", server.ports["lmtp"]), timeout=10)
    f = s.makefile("rb")
    lines_reply(f)
    s.sendall(b"LHLO x\r\n")
    lines_reply(f)
    s.sendall(b"X" * 100000 + b"\r\n")
    reply = lines_reply(f)
    assert reply[0][:1] == "5", reply
    s.close()
    with server.lmtp() as c:
        assert c.lhlo()[0] == 250


# --- real clients --------------------------------------------------------------------

def test_swaks_several_recipients(server):
    omtest.need("swaks")
    u1, u2 = server.take_user(), server.take_user()
    r = subprocess.run(["swaks", "--protocol", "LMTP", "--server",
                        "127.0.0.1:%d" % server.ports["lmtp"],
                        "--from", "swaks@example.com", "--to", "%s@example.com,%s@example.com" % (u1, u2),
                        "--header", "Subject: from swaks", "--body", "hello from swaks"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert count(server, u1) == 1 and count(server, u2) == 1, r.stdout
    msg = inbox(server, u1)[0]
    assert b"Subject: from swaks" in msg and b"hello from swaks" in msg


def test_smtp_source_500(server, user):
    omtest.need("smtp-source")
    r = subprocess.run(["smtp-source", "-L", "-s", "20", "-l", "5120", "-m", "500",
                        "-f", "s@example.com", "-t", user + "@example.com",
                        "127.0.0.1:%d" % server.ports["lmtp"]],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert count(server, user) == 500
    assert server.count_files(user) == 500
    # each file is one whole message, all different files
    d = os.path.join(server.maildir(user))
    names = [n for sub in ("new", "cur") for n in os.listdir(os.path.join(d, sub))]
    assert len(set(n.split(":")[0] for n in names)) == 500
    with server.raw(login=user) as c:
        c.ok("EXAMINE INBOX")
        fm = fetch_map(c.ok("FETCH 1:* (UID RFC822.SIZE)")[0])
        assert len(fm) == 500
        assert sorted(int(v[b"UID"]) for v in fm.values()) == list(range(1, 501))
        assert all(int(v[b"RFC822.SIZE"]) > 5120 for v in fm.values()), \
            sorted(int(v[b"RFC822.SIZE"]) for v in fm.values())[:3]
