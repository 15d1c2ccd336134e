"""TLS: STARTTLS (RFC 3501 6.2.1), implicit TLS on the IMAPS listener,
ssl_required = yes (LOGINDISABLED until TLS), with a certificate the test
makes and verifies."""

import base64
import socket
import ssl

import pytest

import omtest
from omtest import RawImap, client_context, status_of, untagged_named


@pytest.fixture(scope="module")
def tls_server():
    srv = omtest.Objmaild(tls=True, listeners=("imap", "imaps", "lmtp"))
    try:
        srv.start()
    except Exception:
        srv.cleanup()
        raise
    yield srv
    try:
        srv.stop(check=True)
    finally:
        srv.cleanup()


def caps(r):
    u, t = r.ok("CAPABILITY")
    return set(untagged_named(u, "CAPABILITY")[0].decode().upper().split()[2:])


def tls_wrap(r, cert):
    ctx = client_context(cert)
    r.sock = ctx.wrap_socket(r.sock, server_hostname="localhost")
    r.buf = b""
    return r


def test_starttls_then_login_imaplib(tls_server):
    srv = tls_server
    user = srv.take_user()
    m = srv.imap()
    assert "STARTTLS" in m.capabilities
    typ, _ = m.starttls(ssl_context=client_context(srv.cert))
    assert typ == "OK"
    assert "STARTTLS" not in m.capabilities  # imaplib re-asks CAPABILITY after TLS
    m.login(user, srv.password(user))
    typ, _ = m.select("INBOX")
    assert typ == "OK"
    m.logout()


def test_starttls_raw_and_no_injection(tls_server):
    srv = tls_server
    user = srv.take_user()
    r = RawImap(srv.ports["imap"])
    try:
        assert "STARTTLS" in caps(r)
        # a command pipelined behind STARTTLS in the clear must be discarded
        r.send("S1 STARTTLS\r\nS2 LOGIN %s %s\r\n" % (user, srv.password(user)))
        line = r.read_response()
        assert line.startswith(b"S1 OK"), line
        tls_wrap(r, srv.cert)
        u, t = r.cmd("NOOP", tag="S3")
        assert not any(x.startswith(b"S2") for x in u), "plaintext injection executed: %r" % u
        assert t.startswith(b"S3 OK"), t
        c = caps(r)
        assert "STARTTLS" not in c and "LOGINDISABLED" not in c, c
        # not logged in by the injected LOGIN
        u, t = r.cmd("SELECT INBOX")
        assert status_of(t) in ("BAD", "NO"), t
        r.login(user, srv.password(user))
        u, t = r.cmd("STARTTLS")
        assert status_of(t) in ("BAD", "NO"), t  # already on, and wrong state
    finally:
        r.close()


def test_starttls_wrong_cert_rejected_by_client(tls_server, tmp_path):
    """Sanity check of the test itself: another CA doesn't verify."""
    other_cert, _ = omtest.make_cert(str(tmp_path))
    srv = tls_server
    r = RawImap(srv.ports["imap"])
    try:
        r.ok("STARTTLS")
        with pytest.raises(ssl.SSLError):
            tls_wrap(r, other_cert)
    finally:
        r.close()
    # the server survives the failed handshake
    with srv.raw() as r2:
        r2.ok("NOOP")


def test_imaps_implicit_tls(tls_server):
    srv = tls_server
    user = srv.take_user()
    m = srv.imaps(client_context(srv.cert))
    assert "STARTTLS" not in m.capabilities
    m.login(user, srv.password(user))
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_imaps_plaintext_client_is_dropped(tls_server):
    srv = tls_server
    s = socket.create_connection(("127.0.0.1", srv.ports["imaps"]), timeout=10)
    s.sendall(b"a LOGIN x y\r\n")
    try:
        data = s.recv(1000)
    except (ConnectionResetError, socket.timeout):
        data = b""
    assert not data.startswith(b"* OK"), data
    s.close()
    with srv.raw() as r:
        r.ok("NOOP")


def test_starttls_without_cert(server):
    """No certificate configured: STARTTLS is not offered and refused."""
    with server.raw() as r:
        assert "STARTTLS" not in caps(r)
        u, t = r.cmd("STARTTLS")
        assert status_of(t) in ("BAD", "NO"), t
        r.ok("NOOP")


# --- ssl_required ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def strict_server():
    srv = omtest.Objmaild(tls=True, listeners=("imap", "imaps"), conf={"ssl_required": "yes"})
    try:
        srv.start()
    except Exception:
        srv.cleanup()
        raise
    yield srv
    try:
        srv.stop(check=True)
    finally:
        srv.cleanup()


def test_ssl_required_logindisabled_on_loopback(strict_server):
    """objmail treats loopback TCP like any network (only unix sockets are
    trusted), so LOGINDISABLED is announced to 127.0.0.1 too."""
    srv = strict_server
    user = srv.take_user()
    with srv.raw() as r:
        c = caps(r)
        assert "LOGINDISABLED" in c, c
        assert "STARTTLS" in c, c
        assert "AUTH=PLAIN" not in c, c
        u, t = r.cmd('LOGIN %s "%s"' % (user, srv.password(user)))
        assert status_of(t) in ("NO", "BAD"), t
        ir = base64.b64encode(b"\0%s\0%s" % (user.encode(), srv.password(user).encode())).decode()
        u, t = r.cmd("AUTHENTICATE PLAIN " + ir)
        assert status_of(t) in ("NO", "BAD"), t
        u, t = r.cmd("SELECT INBOX")
        assert status_of(t) in ("NO", "BAD"), t


def test_ssl_required_login_after_starttls(strict_server):
    srv = strict_server
    user = srv.take_user()
    m = srv.imap()
    m.starttls(ssl_context=client_context(srv.cert))
    assert "LOGINDISABLED" not in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities
    m.login(user, srv.password(user))
    m.logout()


def test_ssl_required_imaps(strict_server):
    srv = strict_server
    user = srv.take_user()
    m = srv.imaps(client_context(srv.cert))
    assert "LOGINDISABLED" not in m.capabilities
    m.login(user, srv.password(user))
    m.logout()
