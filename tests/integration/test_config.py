"""Config errors and the admin tool's view of the config (DESIGN.md)."""

import os
import re
import subprocess

import pytest

import omtest

# Every key of src/lib/config.h
KEYS = ["role", "listen_imap", "listen_imaps", "listen_lmtp", "listen_admin", "listen_metrics",
        "passdb", "mail_location", "objstore", "fscache_size", "index_flush_interval",
        "director_backends", "ssl_cert", "ssl_key", "ssl_required", "mail_uid", "quota",
        "hostname", "log_path", "log_level", "recipient_delimiter", "auth_failure_delay",
        "io_threads", "worker_threads", "mail_max_size", "imap_max_line", "imap_idle_timeout",
        "login_timeout", "max_connections_per_ip"]


def run_daemon(conf_path, timeout=20):
    return subprocess.run([omtest.OBJMAILD, "-c", conf_path, "-F"], capture_output=True,
                          text=True, timeout=timeout, env=omtest.sanitizer_env())


def write_conf(srv, extra_lines):
    srv.write_files()
    with open(srv.conf_path, "a") as f:
        f.write(extra_lines)
    return srv.conf_path


@pytest.fixture
def conf_srv():
    srv = omtest.Objmaild()
    yield srv
    srv.cleanup()


@pytest.mark.parametrize("line,why", [
    ("no_such_key = 1", r"unknown|no_such_key"),
    ("quota = lots", r"quota"),
    ("auth_failure_delay = 5 fortnights", r"auth_failure_delay"),
    ("ssl_required = maybe", r"ssl_required"),
    ("role = janitor", r"role"),
    ("this line has no equals sign", r""),
    ("mail_max_size = 99999999999999999999999G", r"mail_max_size"),
])
def test_bad_config_exits_1_with_file_line(conf_srv, line, why):
    path = write_conf(conf_srv, "# comment\n%s\n" % line)
    nlines = sum(1 for _ in open(path))
    r = run_daemon(path)
    assert r.returncode == 1, (r.returncode, r.stderr)
    m = re.search(r"%s:(\d+): (.*)" % re.escape(path), r.stderr)
    assert m, "no FILE:LINE: in %r" % r.stderr
    assert int(m.group(1)) == nlines, (m.group(0), nlines)
    assert re.search(why, m.group(2), re.I), m.group(0)
    assert not omtest.sanitizer_reports(r.stderr), r.stderr
    # the admin tool reports the same
    r2 = subprocess.run([omtest.OBJMAIL, "-c", path, "config"], capture_output=True, text=True,
                        timeout=20, env=omtest.sanitizer_env())
    assert r2.returncode != 0 and ("%s:%d:" % (path, nlines)) in r2.stderr, r2.stderr


@pytest.mark.parametrize("uid,why", [
    ("no-such-user-xyz", r"unknown user 'no-such-user-xyz' for mail_uid"),
    ("root", r"mail_uid root: is root"),
])
def test_bad_mail_uid_is_a_config_error(conf_srv, uid, why):
    """mail_uid is resolved right after the config is read: FILE:LINE on
    stderr, exit 1, and nothing bound or logged as listening before."""
    conf_srv.conf["mail_uid"] = uid
    conf_srv.write_files()
    path = conf_srv.conf_path
    with open(path) as f:
        nline = [i for i, l in enumerate(f, 1) if re.match(r"\s*mail_uid\s*=", l)]
    assert len(nline) == 1, nline
    r = run_daemon(path)
    assert r.returncode == 1, (r.returncode, r.stderr)
    m = re.search(r"%s:(\d+): (.*)" % re.escape(path), r.stderr)
    assert m, "no FILE:LINE: in %r" % r.stderr
    assert int(m.group(1)) == nline[0], (m.group(0), nline)
    assert re.search(why, m.group(2)), m.group(0)
    assert "listening" not in r.stderr, r.stderr
    assert not omtest.sanitizer_reports(r.stderr), r.stderr


def test_missing_config_file(conf_srv):
    r = run_daemon(os.path.join(conf_srv.base, "nope.conf"))
    assert r.returncode == 1, r
    assert "nope.conf" in r.stderr


def test_duplicate_listener_port_fails(make_server):
    a = make_server()
    b = make_server(start=False, conf={"listen_imap": "127.0.0.1:%d" % a.ports["imap"]})
    b.write_files()
    r = run_daemon(b.conf_path)
    assert r.returncode != 0, r
    assert str(a.ports["imap"]) in r.stderr or "address" in r.stderr.lower(), r.stderr


def test_config_prints_every_key(conf_srv):
    conf_srv.conf["quota"] = "1M"
    conf_srv.conf["hostname"] = "mx.example.com"
    conf_srv.write_files()
    r = subprocess.run([omtest.OBJMAIL, "-c", conf_srv.conf_path, "config"], capture_output=True,
                       text=True, timeout=20, env=omtest.sanitizer_env())
    assert r.returncode == 0, r.stderr
    got = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([a-z_]+)\s*=\s*(.*)$", line)
        if m:
            got[m.group(1)] = m.group(2).strip().strip('"')
    missing = [k for k in KEYS if k not in got]
    assert not missing, "objmail config lacks %s:\n%s" % (missing, r.stdout)
    assert got["hostname"] == "mx.example.com"
    assert got["quota"] in ("1M", "1048576", "1024K"), got["quota"]
    assert got["passdb"] == "passwd-file:" + conf_srv.passwd_path
    assert got["auth_failure_delay"] in ("0", "0s"), got["auth_failure_delay"]
    # the printed config is itself a valid config
    again = os.path.join(conf_srv.base, "printed.conf")
    with open(again, "w") as f:
        f.write(r.stdout)
    r2 = subprocess.run([omtest.OBJMAIL, "-c", again, "config"], capture_output=True, text=True,
                        timeout=20, env=omtest.sanitizer_env())
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == r.stdout


def test_sighup_reloads_users(make_server):
    srv = make_server()
    srv.users["latecomer"] = ("late-pw", "")
    srv.write_files()
    os.kill(srv.proc.pid, 1)
    import time
    deadline = time.time() + 5
    while True:
        with srv.raw() as r:
            u, t = r.cmd('LOGIN latecomer "late-pw"')
            if omtest.status_of(t) == "OK":
                break
        assert time.time() < deadline, "SIGHUP did not reload the passwd-file: %r" % t
        time.sleep(0.2)
