"""A second real client library: imapflow (npm, run by Node.js) connects
with CONDSTORE/QRESYNC, lists, fetches (envelope, bodyStructure, source),
searches, sees a flag change with CHANGEDSINCE, is woken in IDLE by an LMTP
delivery, and MOVEs; its results are checked here.

imapflow is installed into tests/integration/imapflow/node_modules with
`npm ci` (package-lock.json is committed) the first time this runs."""

import json
import os
import shutil
import subprocess

import pytest

import messages
import omtest

pytestmark = pytest.mark.skipif(omtest.server_class() is not omtest.Objmaild,
                                reason="objmail-specific expectations")

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imapflow")

MULTIPART = omtest.crlf("""\
From: Nina Needle <nina@example.com>
To: rcpt@example.com
Subject: the needle in a multipart
Date: Tue, 02 Jan 2024 10:00:00 +0000
Message-ID: <needle@test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

hello
--b1
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAwQ=
--b1--
""")


def node_ready():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed (scripts/install-deps)")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "imapflow")):
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE,
                           capture_output=True, timeout=300)
        if p.returncode != 0:
            pytest.skip("npm ci failed (no registry?): %s" % p.stderr[-500:])


def test_imapflow_client(server, user):
    node_ready()
    pw = server.password(user)
    r = server.raw(login=user)
    r.append("INBOX", messages.simple("first plain", frm="a@example.com"))
    r.append("INBOX", MULTIPART)
    r.append("INBOX", messages.simple("third"), flags="\\Seen")
    r.ok("CREATE Archive")
    r.close()

    p = subprocess.Popen(["node", os.path.join(HERE, "check.mjs"),
                          str(server.ports["imap"]), user, pw],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE)
    result = None
    try:
        for line in p.stdout:
            ev = json.loads(line)
            if ev.get("event") == "idle":
                rep = server.deliver(user + "@example.com", messages.simple("wake up"))
                assert rep[0][0] == 250
            elif "result" in ev:
                result = ev["result"]
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read().decode(errors="replace")
    assert result is not None, err
    assert result["ok"], result.get("error")

    assert "CONDSTORE" in result["enabled"] and "QRESYNC" in result["enabled"], result["enabled"]
    paths = {m["path"]: m for m in result["list"]}
    assert {"INBOX", "Archive", "Sent", "Trash", "Drafts", "Junk"} <= set(paths)
    assert paths["Sent"]["specialUse"] == "\\Sent"
    assert paths["Trash"]["specialUse"] == "\\Trash"

    assert result["inbox"]["exists"] == 3
    assert int(result["inbox"]["highestModseq"]) > 0
    f = result["fetch"]
    assert [m["uid"] for m in f] == [1, 2, 3]
    assert f[0]["subject"] == "first plain" and f[0]["from"] == ["a@example.com"]
    assert f[1]["subject"] == "the needle in a multipart"
    assert f[1]["messageId"] == "<needle@test>"
    assert f[1]["type"] == "multipart/mixed"
    assert f[1]["parts"] == ["text/plain", "application/octet-stream"]
    assert f[1]["sourceLength"] == len(MULTIPART)
    assert f[1]["sourceHead"] == MULTIPART[:200].decode()
    assert all(int(m["modseq"]) > 0 for m in f)

    assert result["searchSubject"] == [2]
    assert result["searchUnseen"] == [1, 2]
    assert result["changedSince"] == [{"uid": 1, "flags": ["\\Flagged"]}]

    assert result["idle"]["count"] == 4
    assert result["move"]["destination"] == "Archive"
    assert result["move"]["uidMap"] == [[1, 1]]
    assert result["statusInbox"]["messages"] == 3
    assert result["statusArchive"]["messages"] == 1
