"""Helpers for the objmail integration tests: start/stop objmaild and a
private Dovecot, raw IMAP and LMTP clients that see exact bytes."""

import imaplib
import math
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.abspath(os.environ.get("OBJMAIL_BUILD", os.path.join(REPO, "build-asan")))
OBJMAILD = os.path.join(BUILD, "objmaild")
OBJMAIL = os.path.join(BUILD, "objmail")

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                     "ThreadSanitizer", "UndefinedBehaviorSanitizer")

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 30.0

# --------------------------------------------------------------------------
# the storage matrix (doc/testing.md): OBJMAIL_STORAGE picks what every
# default server stores mail on.

STORAGES = ("maildir", "obox-file", "obox-s3", "obox-rados")
STORAGE = os.environ.get("OBJMAIL_STORAGE", "maildir")
# one run's keys/namespaces: no run sees another's users
RUN_ID = "run-%d-%s" % (os.getpid(), os.urandom(4).hex())
_store_seq = [0]


class StorageMissing(RuntimeError):
    pass


def store_spec(kind, tag=None):
    """An objstore spec of its own (a fresh key prefix or RADOS namespace)
    for kind "s3" or "rados", from OBJMAIL_TEST_S3 / OBJMAIL_TEST_RADOS.
    Raises StorageMissing when the variable is not set: a run that asks
    for that storage must fail, never skip."""
    var = {"s3": "OBJMAIL_TEST_S3", "rados": "OBJMAIL_TEST_RADOS"}[kind]
    base = os.environ.get(var)
    if not base:
        raise StorageMissing(
            "%s is not set, so this run cannot use obox over %s. Start a test cluster:\n"
            "  scripts/ceph-dev start /tmp/ceph && eval \"$(scripts/ceph-dev env /tmp/ceph)\"\n"
            "or run everything with `make test` (scripts/run-tests starts one)." % (var, kind))
    _store_seq[0] += 1
    name = "%s-%d" % (RUN_ID, _store_seq[0])
    if tag:
        name += "-" + tag
    if kind == "s3":
        return base.rstrip("/") + "/" + name
    return base + ("&" if "?" in base else "?") + "namespace=" + name


def storage_conf(base, storage=None):
    """Config keys putting a server in `base` on `storage`."""
    storage = storage or STORAGE
    if storage not in STORAGES:
        raise ValueError("OBJMAIL_STORAGE=%s: not one of %s" % (storage, ", ".join(STORAGES)))
    if storage == "maildir":
        return {"mail_location": "maildir:" + os.path.join(base, "mail") + "/%u"}
    conf = {"mail_location": "obox:" + os.path.join(base, "cache")}
    if storage == "obox-file":
        conf["objstore"] = "file:" + os.path.join(base, "objects")
    else:
        conf["objstore"] = store_spec(storage[5:])
    return conf


def is_root():
    return os.geteuid() == 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_tempdir(prefix="objmail-itest-"):
    """A temp dir that the `mail` and `dovecot` users can traverse too
    (pytest's tmp_path is 0700 root, which Dovecot's processes can't enter)."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


def sanitizer_env(extra=None):
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if extra:
        env.update(extra)
    return env


def sanitizer_reports(text):
    return [m for m in SANITIZER_MARKERS if m in text]


def log_excerpt(text, limit=20000):
    """The part of a log worth showing: from just before the first
    sanitizer report, else the tail."""
    pos = [text.find(m) for m in SANITIZER_MARKERS if m in text]
    if pos:
        start = max(0, min(pos) - 3000)
        return text[start:start + limit]
    return text[-limit:]


def crlf(text):
    """str or bytes with \\n line ends -> bytes with CRLF."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    text = text.replace(b"\r\n", b"\n")
    return text.replace(b"\n", b"\r\n")


# --------------------------------------------------------------------------
# objmaild

DEFAULT_USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw",
                 "dave": "dave-pw"}


class Objmaild:
    kind = "objmail"
    """One objmaild process with its own temp dir, config and users.

    users: {name: password} or {name: (password, extra_fields[, stored])}
    (stored: the passwd-file's hash field, default "{PLAIN}password"); a pool of
    users u00..u59 (password "pw-uNN") is always added so that tests sharing
    one server can take distinct users (take_user())."""

    def __init__(self, conf=None, users=None, pool=60, base=None, tls=False,
                 env=None, listeners=("imap", "lmtp"), storage=None):
        self.base = base or make_tempdir()
        self.own_base = base is None
        self.mail_root = os.path.join(self.base, "mail")
        os.makedirs(self.mail_root, exist_ok=True)
        self.conf_path = os.path.join(self.base, "objmail.conf")
        self.passwd_path = os.path.join(self.base, "users")
        self.log_path = os.path.join(self.base, "objmaild.stderr")
        self.users = {}
        for name, v in (users or DEFAULT_USERS).items():
            self.users[name] = v if isinstance(v, tuple) else (v, "")
        self._pool = ["u%02d" % i for i in range(pool)]
        for name in self._pool:
            self.users.setdefault(name, ("pw-" + name, ""))
        self.conf = {
            "passdb": "passwd-file:" + self.passwd_path,
            "auth_failure_delay": "0",
            "hostname": "objmail.test",
            "log_level": "info",
            "mail_uid": "",
        }
        # DovecotServer serves Maildir whatever the run's storage
        self.storage = "maildir" if self.kind == "dovecot" else (storage or STORAGE)
        self.conf.update(storage_conf(self.base, self.storage))
        if "imap" in listeners:
            self.conf["listen_imap"] = "127.0.0.1:0"
        if "lmtp" in listeners:
            self.conf["listen_lmtp"] = "127.0.0.1:0"
        if "imaps" in listeners:
            self.conf["listen_imaps"] = "127.0.0.1:0"
        if tls:
            self.cert, self.key = make_cert(self.base)
            self.conf["ssl_cert"] = self.cert
            self.conf["ssl_key"] = self.key
        if conf:
            self.conf.update(conf)
        self.env = env
        self.proc = None
        self.ports = {}
        self.stderr_text = ""

    # --- files ---
    def write_files(self):
        with open(self.passwd_path, "w") as f:
            for name, t in self.users.items():
                # (password, extra fields[, stored hash])
                stored = t[2] if len(t) > 2 else "{PLAIN}" + t[0]
                f.write("%s:%s::::::%s\n" % (name, stored, t[1]))
        with open(self.conf_path, "w") as f:
            f.write("# written by tests/integration/omtest.py\n")
            for k, v in self.conf.items():
                f.write('%s = "%s"\n' % (k, v) if v == "" else "%s = %s\n" % (k, v))

    def password(self, user):
        return self.users[user][0]

    def take_user(self):
        """A user no other test on this server has had."""
        if not self._pool:
            raise RuntimeError("user pool exhausted; raise pool=")
        return self._pool.pop(0)

    def maildir(self, user, folder=None):
        d = os.path.join(self.mail_root, user)
        if folder and folder != "INBOX":
            d = os.path.join(d, "." + folder.replace("/", "."))
        return d

    def count_files(self, user, folder=None):
        d = self.maildir(user, folder)
        n = 0
        for sub in ("cur", "new"):
            p = os.path.join(d, sub)
            if os.path.isdir(p):
                n += len([x for x in os.listdir(p) if not x.startswith(".")])
        return n

    # --- process ---
    def start(self, timeout=START_TIMEOUT):
        self.write_files()
        self.ports = {}
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([OBJMAILD, "-c", self.conf_path, "-F"],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.base,
                                     env=sanitizer_env(self.env))
        want = [k for k in ("imap", "imaps", "lmtp") if self.conf.get("listen_" + k)]
        deadline = time.time() + timeout
        while True:
            text = self.read_log()
            for m in re.finditer(r"listening (imaps|imap|lmtp) (\S+)", text):
                addr = m.group(2)
                self.ports[m.group(1)] = int(addr.rsplit(":", 1)[1])
            if all(k in self.ports for k in want):
                return self
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError("objmaild exited %s before listening; stderr:\n%s"
                                   % (rc, self.read_log()))
            if time.time() > deadline:
                self.kill()
                raise RuntimeError("objmaild did not report listening %s within %ss; "
                                   "stderr:\n%s" % (want, timeout, self.read_log()))
            time.sleep(0.05)

    def restart_after_death(self):
        """The process died: keep its log, start a fresh one on the same
        mail (so one crash fails one test, not the rest of the module).
        Returns the dead process's log."""
        dead_log = self.read_log()
        self.restarts = getattr(self, "restarts", 0) + 1
        os.rename(self.log_path, "%s.dead%d" % (self.log_path, self.restarts))
        if self.proc:
            self.proc.wait()
            self._log.close()
            self.proc = None
        self.ports = {}
        self.start()
        return dead_log

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, check=True):
        """SIGTERM, SIGKILL after STOP_TIMEOUT; returns (rc, stderr).
        check: assert a clean exit 0 and no sanitizer report."""
        if self.proc is None:
            return None, ""
        killed = False
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                killed = True
        rc = self.proc.returncode
        self._log.close()
        self.stderr_text = self.read_log()
        self.proc = None
        if check:
            tail = log_excerpt(self.stderr_text)
            assert not killed, "objmaild ignored SIGTERM for %ss; stderr:\n%s" % (STOP_TIMEOUT, tail)
            reports = sanitizer_reports(self.stderr_text)
            assert not reports, "sanitizer report %s in objmaild stderr:\n%s" % (reports, tail)
            assert rc == 0, "objmaild exited %s; stderr:\n%s" % (rc, tail)
        return rc, self.stderr_text

    def cleanup(self):
        if self.own_base:
            rmtree_retry(self.base)

    def assert_alive(self):
        assert self.alive(), "objmaild died; stderr:\n%s" % self.read_log()[-20000:]

    # --- clients ---
    def imap(self, timeout=IO_TIMEOUT):
        return imaplib.IMAP4("127.0.0.1", self.ports["imap"], timeout=timeout)

    def imap_login(self, user, password=None):
        m = self.imap()
        m.login(user, password if password is not None else self.password(user))
        return m

    def imaps(self, ctx):
        return imaplib.IMAP4_SSL("127.0.0.1", self.ports["imaps"], ssl_context=ctx,
                                 timeout=IO_TIMEOUT)

    def raw(self, login=None, port=None):
        r = RawImap(port or self.ports["imap"])
        if login:
            r.login(login, self.password(login))
        return r

    def lmtp(self):
        return Lmtp(self.ports["lmtp"])

    def deliver(self, rcpts, msg, sender="sender@example.com"):
        """LMTP delivery; returns the per-recipient replies after DATA."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        with self.lmtp() as c:
            return c.send(sender, rcpts, msg)

    def deliver_smtplib(self, rcpt, msg, sender="sender@example.com"):
        """One-recipient delivery with Python's smtplib.LMTP (its sendmail()
        reads a single reply after DATA, so it is only right for one
        recipient; deliver() handles many)."""
        import smtplib
        with smtplib.LMTP("127.0.0.1", self.ports["lmtp"], timeout=IO_TIMEOUT) as c:
            return c.sendmail(sender, [rcpt], msg)

    def objmail(self, *args):
        return subprocess.run([OBJMAIL, "-c", self.conf_path] + list(args),
                              capture_output=True, env=sanitizer_env(self.env),
                              timeout=60)


# --------------------------------------------------------------------------
# raw IMAP

class ImapError(Exception):
    pass


class RawImap:
    """Line/literal-exact IMAP client. cmd() returns (untagged, tagged):
    untagged is a list of bytes responses (literals inlined, CRLFs kept
    except the last), tagged is the tagged line without CRLF."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, sock=None):
        self.sock = sock or socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.n = 0
        self.greeting = self.read_response()

    # --- reading ---
    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed by server")
        self.buf += data

    def read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self):
        """One whole response (line plus any literals and continuation)."""
        out = b""
        while True:
            line = self.read_line()
            out += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return out
            out += b"\r\n" + self.read_exact(int(m.group(1)))

    def closed(self, timeout=5.0):
        """True if the server closed the connection (reads until EOF)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True

    # --- writing ---
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def tag(self):
        self.n += 1
        return "T%03d" % self.n

    def cmd(self, command, tag=None):
        """Send "TAG command\\r\\n" (command may contain synchronizing
        literals as {N}\\r\\n: we wait for "+" before each literal)."""
        tag = tag or self.tag()
        if isinstance(command, str):
            command = command.encode("utf-8")
        parts = re.split(rb"(\{\d+\}\r\n)", command)
        parts[0] = tag.encode() + b" " + parts[0]  # one write: no Nagle stall
        untagged = []
        i = 0
        while i < len(parts):
            chunk = parts[i]
            if i + 1 < len(parts):
                self.send(chunk + parts[i + 1])
                while True:
                    resp = self.read_response()
                    if resp.startswith(b"+"):
                        break
                    if resp.startswith(tag.encode() + b" "):
                        return untagged, resp
                    untagged.append(resp)
                i += 2
            else:
                self.send(chunk + b"\r\n")
                i += 1
        return self.collect(tag, untagged)

    def collect(self, tag, untagged=None):
        untagged = [] if untagged is None else untagged
        t = tag.encode() + b" "
        while True:
            resp = self.read_response()
            if resp.startswith(t):
                return untagged, resp
            untagged.append(resp)

    def ok(self, command):
        untagged, tagged = self.cmd(command)
        if b" OK" not in tagged[:12]:
            raise ImapError("%r -> %r (untagged %r)" % (command, tagged, untagged[:5]))
        return untagged, tagged

    def append(self, box, msg, flags=None, date=None, check=True):
        """APPEND with a synchronizing literal; msg is bytes."""
        cmd = b"APPEND " + (box.encode() if isinstance(box, str) else box)
        if flags is not None:
            cmd += b" (" + flags.encode() + b")"
        if date:
            cmd += b' "' + date.encode() + b'"'
        cmd += b" {%d}\r\n" % len(msg) + msg
        return self.ok(cmd) if check else self.cmd(cmd)

    def login(self, user, password):
        return self.ok("LOGIN %s %s" % (quote(user), quote(password)))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def status_of(tagged):
    """b"T001 OK ..." -> "OK"."""
    parts = tagged.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 else ""


def untagged_named(untagged, name):
    """Untagged responses "* NAME ..." (or "* n NAME ...")."""
    name = name.encode() if isinstance(name, str) else name
    out = []
    for u in untagged:
        w = u.split(b" ")
        if len(w) > 1 and w[1].upper() == name.upper():
            out.append(u)
        elif len(w) > 2 and w[1].isdigit() and w[2].upper().startswith(name.upper()):
            out.append(u)
    return out


# --------------------------------------------------------------------------
# LMTP

class LmtpError(Exception):
    pass


class Lmtp:
    """LMTP client that reads one reply per accepted recipient after DATA
    (smtplib.LMTP reads only one, which is wrong for LMTP)."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile("rb")
        self.greeting = self.reply()
        self.ehlo = None

    def reply(self):
        """(code, [lines]) of one possibly multi-line reply."""
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                raise EOFError("LMTP connection closed")
            line = line.rstrip(b"\r\n").decode("utf-8", "replace")
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def send_line(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.sock.sendall(line + b"\r\n")

    def cmd(self, line):
        self.send_line(line)
        return self.reply()

    def lhlo(self, name="client.example.com"):
        code, lines = self.cmd("LHLO " + name)
        if code != 250:
            raise LmtpError("LHLO -> %s %s" % (code, lines))
        self.ehlo = lines
        return code, lines

    def send(self, sender, rcpts, msg, dot_stuff=True):
        """Whole transaction; returns [(code, text)] per recipient in rcpts
        order (for rejected RCPTs, the RCPT reply)."""
        if self.ehlo is None:
            self.lhlo()
        msg = crlf(msg)
        code, lines = self.cmd("MAIL FROM:<%s>" % sender)
        if code != 250:
            raise LmtpError("MAIL -> %s %s" % (code, lines))
        results = []
        accepted = []
        for r in rcpts:
            code, lines = self.cmd("RCPT TO:<%s>" % r)
            results.append((code, " ".join(lines)))
            if code == 250:
                accepted.append(len(results) - 1)
        if not accepted:
            self.cmd("RSET")
            return results
        code, lines = self.cmd("DATA")
        if code != 354:
            raise LmtpError("DATA -> %s %s" % (code, lines))
        body = msg
        if dot_stuff:
            body = re.sub(rb"(^|\r\n)\.", rb"\1..", body)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        self.sock.sendall(body + b".\r\n")
        for i in accepted:
            code, lines = self.reply()
            results[i] = (code, " ".join(lines))
        return results

    def close(self):
        try:
            self.send_line("QUIT")
            self.reply()
        except (OSError, EOFError):
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# --------------------------------------------------------------------------
# TLS

def make_cert(d):
    cert = os.path.join(d, "cert.pem")
    key = os.path.join(d, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-days", "2", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        os.chmod(key, 0o644)  # readable after a privilege drop too
    return cert, key


def client_context(cert):
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = True
    return ctx


# --------------------------------------------------------------------------
# a private Dovecot (see /work/shared/notes/peers.md)

DOVECOT = "/usr/sbin/dovecot"


class Dovecot:
    """Dovecot 2.3 on loopback, serving mail_root/<user> as Maildir++ with
    separator "/", as the `mail` user. Stop it by the PID in master.pid."""

    def __init__(self, mail_root, users, base=None):
        self.base = base or make_tempdir("objmail-dovecot-")
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.mail_root = mail_root
        self.users = users  # {name: password}
        self.imap_port = free_port()
        self.lmtp_port = free_port()
        self.conf_path = os.path.join(self.base, "dovecot.conf")
        self.passwd_path = os.path.join(self.base, "dovecot-users")
        self.log_path = os.path.join(self.base, "dovecot.log")
        self.run_dir = os.path.join(self.base, "run")
        self.instance_name = "objmail-itest-%d-%d" % (os.getpid(), self.imap_port)
        self.pid = None

    def write_files(self):
        os.makedirs(os.path.join(self.base, "state"), exist_ok=True)
        with open(self.passwd_path, "w") as f:
            for name, pw in self.users.items():
                f.write("%s:{PLAIN}%s::::::\n" % (name, pw))
        os.chmod(self.passwd_path, 0o644)
        b = self.base
        conf = f"""
base_dir = {b}/run
state_dir = {b}/state
instance_name = {self.instance_name}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
log_path = {self.log_path}
protocols = imap lmtp
first_valid_uid = 8
mail_location = maildir:{self.mail_root}/%n
auth_username_format = %Ln
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.passwd_path}
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={self.mail_root}/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@example.com
}}
"""
        with open(self.conf_path, "w") as f:
            f.write(conf)

    def start(self, timeout=START_TIMEOUT):
        self.write_files()
        # dovecot daemonises: its children would hold a pipe open, so its
        # startup output goes to a file
        out_path = os.path.join(self.base, "dovecot.start")
        with open(out_path, "wb") as out:
            rc = subprocess.call([DOVECOT, "-c", self.conf_path], stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT)
        if rc != 0:
            with open(out_path) as f:
                raise RuntimeError("dovecot failed to start (%s): %s" % (rc, f.read()))
        deadline = time.time() + timeout
        while True:
            try:
                with open(os.path.join(self.run_dir, "master.pid")) as f:
                    self.pid = int(f.read().strip())
                socket.create_connection(("127.0.0.1", self.imap_port), timeout=2).close()
                socket.create_connection(("127.0.0.1", self.lmtp_port), timeout=2).close()
                return self
            except (OSError, ValueError):
                if time.time() > deadline:
                    raise RuntimeError("dovecot not listening; log:\n" + self.log())
                time.sleep(0.1)

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid = None
            return
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None
        # Children (imap-login, lmtp...) can linger for seconds after the
        # master (waiting on its stats socket); they carry our unique
        # instance name in their titles: end them by PID.
        deadline = time.time() + 5
        while True:
            left = self.instance_pids()
            if not left or time.time() > deadline:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def instance_pids(self):
        mark = ("dovecot-%s/" % self.instance_name).encode()
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if f.read().startswith(mark):
                        pids.append(int(d))
            except OSError:
                pass
        return pids

    def imap_login(self, user, password=None):
        m = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=IO_TIMEOUT)
        m.login(user, password if password is not None else self.users[user])
        return m

    def raw(self, login=None):
        r = RawImap(self.imap_port)
        if login:
            r.login(login, self.users[login])
        return r

    def cleanup(self):
        rmtree_retry(self.base)


def chown_tree(path, user="mail"):
    import pwd
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for n in dirs + files:
            os.lchown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)


def rmtree_retry(path):
    for _ in range(20):
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            return
        time.sleep(0.1)


def need(cmd):
    import pytest
    if not shutil.which(cmd) and not os.path.exists(cmd):
        pytest.skip("%s not installed (scripts/install-deps)" % cmd)


def need_root():
    import pytest
    if not is_root():
        pytest.skip("needs root (Dovecot / privilege drop)")


# --------------------------------------------------------------------------
# parsing responses

class Sexp:
    """Parse IMAP response data: atoms (bytes), quoted strings and literals
    (bytes, wrapped in Str so they differ from atoms), NIL (None), lists."""

    def __init__(self, data):
        self.d = data
        self.i = 0

    def parse_all(self):
        out = []
        while True:
            self.skip_sp()
            if self.i >= len(self.d):
                return out
            out.append(self.value())

    def skip_sp(self):
        while self.i < len(self.d) and self.d[self.i:self.i + 1] in (b" ", b"\r", b"\n"):
            self.i += 1

    def value(self):
        d = self.d
        c = d[self.i:self.i + 1]
        if c == b"(":
            self.i += 1
            lst = []
            while True:
                self.skip_sp()
                if d[self.i:self.i + 1] == b")":
                    self.i += 1
                    return lst
                if self.i >= len(d):
                    raise ValueError("unterminated list in %r" % d)
                lst.append(self.value())
        if c == b'"':
            self.i += 1
            out = b""
            while True:
                ch = d[self.i:self.i + 1]
                if ch == b"\\":
                    out += d[self.i + 1:self.i + 2]
                    self.i += 2
                elif ch == b'"':
                    self.i += 1
                    return Str(out)
                elif ch == b"":
                    raise ValueError("unterminated string in %r" % d)
                else:
                    out += ch
                    self.i += 1
        if c == b"{":
            j = d.index(b"}", self.i)
            n = int(d[self.i + 1:j].rstrip(b"+"))
            start = j + 1
            if d[start:start + 2] == b"\r\n":
                start += 2
            self.i = start + n
            return Str(d[start:start + n])
        # atom, possibly with [...] containing spaces, and <partial>
        j = self.i
        depth = 0
        while j < len(d):
            ch = d[j:j + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b")", b"(", b"\r", b"\n"):
                break
            j += 1
        atom = d[self.i:j]
        self.i = j
        if atom.upper() == b"NIL":
            return None
        return atom


class Str(bytes):
    """A quoted string or literal (vs an atom, which is plain bytes)."""


def sexp(data):
    return Sexp(data).parse_all()


def norm(v):
    """Sexp value -> comparable form (Str and bytes alike, atoms upper-cased
    only where IMAP says case does not matter is left to the caller)."""
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, bytes):
        return bytes(v)
    return v


def fetch_map(untagged):
    """{seq: {ITEM(bytes, upper): value}} from "* n FETCH (...)" responses;
    several FETCH responses for one message are merged."""
    out = {}
    for u in untagged:
        m = re.match(rb"\* (\d+) FETCH ", u)
        if not m:
            continue
        items = sexp(u[m.end():])[0]
        d = out.setdefault(int(m.group(1)), {})
        for k, v in zip(items[0::2], items[1::2]):
            d[bytes(k).upper()] = v
    return out


def list_map(untagged, kind=b"LIST"):
    """{name(str): set of attribute strings} from LIST/LSUB responses."""
    out = {}
    for u in untagged:
        if not u.startswith(b"* " + kind + b" "):
            continue
        v = sexp(u[len(kind) + 3:])
        attrs, _sep, name = v[0], v[1], v[2]
        out[bytes(name).decode()] = {bytes(a).decode() for a in attrs}
    return out


def search_result(untagged):
    nums = []
    for u in untagged:
        if u.startswith(b"* SEARCH"):
            nums += [int(x) for x in u[8:].split()]
    return nums


def resp_code(line, code):
    """Arguments of response code [CODE args] in a line, or None."""
    m = re.search(rb"\[" + code.encode() + rb"(?: ([^\]]*))?\]", line)
    if not m:
        return None
    return (m.group(1) or b"").decode()


class DovecotServer(Objmaild):
    kind = "dovecot"
    """The same interface as Objmaild, served by a private Dovecot: run the
    suite with OBJMAIL_TEST_AGAINST=dovecot to check a test's expectations
    against the reference implementation (doc/testing.md)."""

    def start(self, timeout=START_TIMEOUT):
        chown_tree(self.mail_root)
        self.dv = Dovecot(self.mail_root, {n: t[0] for n, t in self.users.items()},
                          base=os.path.join(self.base, "dovecot"))
        os.makedirs(self.dv.base, exist_ok=True)
        self.dv.start(timeout)
        self.ports = {"imap": self.dv.imap_port, "lmtp": self.dv.lmtp_port}
        return self

    def alive(self):
        return getattr(self, "dv", None) is not None and self.dv.pid is not None

    def stop(self, check=True):
        if getattr(self, "dv", None):
            self.dv.stop()
            self.stderr_text = self.dv.log()
            self.dv = None
        return 0, self.stderr_text

    def read_log(self):
        return self.dv.log() if getattr(self, "dv", None) else self.stderr_text


def server_class():
    return DovecotServer if os.environ.get("OBJMAIL_TEST_AGAINST") == "dovecot" else Objmaild


def internaldate_ts(v):
    """b"07-Feb-1994 21:52:25 -0800" -> unix seconds."""
    import email.utils
    import datetime
    d = datetime.datetime.strptime(bytes(v).decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    return int(d.timestamp())


def dovecot_only_differs(server, why):
    """Skip a check that encodes objmail's documented choice where Dovecot
    differs (only when running the suite against Dovecot)."""
    import pytest
    if server.kind == "dovecot":
        pytest.skip("Dovecot differs: " + why)


def apply_expunges(uids, untagged):
    """Apply "* n EXPUNGE" responses in order to a list of UIDs (index
    n-1); returns the new list. Fails on a number past the end."""
    uids = list(uids)
    for u in untagged:
        m = re.match(rb"\* (\d+) EXPUNGE$", u)
        if m:
            n = int(m.group(1))
            assert 1 <= n <= len(uids), "EXPUNGE %d with %d messages: %r" % (n, len(uids), untagged)
            del uids[n - 1]
    return uids


# --- director helpers (test_director.py, test_director_proxy.py) ---

def hrw_score(user, backend_id, weight=100):
    """src/director/hrw.c in Python: the weighted rendezvous score."""
    m = (1 << 64) - 1
    h = 0xcbf29ce484222325
    for c in user.encode() + b"\0" + backend_id.encode():
        h = ((h ^ c) * 0x100000001b3) & m
    x = h
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & m
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & m
    x ^= x >> 31
    u = ((x >> 11) + 0.5) / 9007199254740992.0
    return -weight / math.log(u)


class Greeter:
    """Accepts and sends one greeting line, then hangs up: enough for a
    director's probe (an IMAP greeting alone: a backend whose LMTP side is
    dead). close() makes the port dead again."""

    def __init__(self, greeting, port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.greeting = greeting
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            try:
                c.sendall(self.greeting)
            except OSError:
                pass
            c.close()

    def close(self):
        self.stop = True
        self.t.join(5)
        self.sock.close()
