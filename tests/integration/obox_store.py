"""Looking into an obox object store from the tests: list the keys under a
prefix for file:, s3:// (a SigV4 ListObjectsV2 of our own: no boto3 needed)
and rados:// (the `rados` CLI with the spec's conf and namespace)."""

import datetime
import hashlib
import hmac
import os
import re
import subprocess
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET


def user_prefix(user):
    """u/<h>/<user>/ as doc/obox.md lays it out (plain user names only)."""
    h = hashlib.sha256(user.encode()).hexdigest()[:2]
    return "u/%s/%s/" % (h, user)


def _inner(spec):
    """The innermost store of a faulty:/fscache: wrapped spec."""
    while True:
        if spec.startswith("faulty:"):
            spec = spec.split(":", 2)[2]
        elif spec.startswith("fscache:"):
            spec = spec.split(":", 3)[3]
        else:
            return spec


def list_keys(spec, prefix):
    spec = _inner(spec)
    if spec.startswith("file:"):
        root = spec[5:]
        if root.startswith("//"):
            root = root[2:]
        out = []
        top = os.path.join(root, prefix)
        for d, _dirs, files in os.walk(top):
            for f in files:
                if not f.startswith(".om."):
                    out.append(os.path.relpath(os.path.join(d, f), root))
        return sorted(out)
    if spec.startswith("s3://"):
        return _s3_list(spec, prefix)
    if spec.startswith("rados://"):
        return _rados_list(spec, prefix)
    raise ValueError("no lister for %s" % spec)


def count_messages(spec, user):
    p = user_prefix(user) + "m/"
    return len([k for k in list_keys(spec, p) if k.startswith(p)])


# --- rados ---

def _rados_list(spec, prefix):
    u = urllib.parse.urlparse(spec)
    q = dict(urllib.parse.parse_qsl(u.query))
    cmd = ["rados", "-p", u.netloc]
    if "conf" in q:
        cmd += ["-c", q["conf"]]
    if "id" in q:
        cmd += ["--id", q["id"]]
    if "namespace" in q:
        cmd += ["-N", q["namespace"]]
    r = subprocess.run(cmd + ["ls"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("rados ls: %s" % r.stderr)
    return sorted(k for k in r.stdout.split("\n") if k and k.startswith(prefix))


# --- s3 (path style, SigV4, region from OBJMAIL_TEST_S3_REGION) ---

def _s3_parse(spec):
    m = re.match(r"s3://([^:]+):([^@]+)@([^/]+)/([^/]+)/?(.*)$", spec)
    if not m:
        raise ValueError("bad s3 spec %s" % spec)
    key, secret, host, bucket, kprefix = m.groups()
    if kprefix and not kprefix.endswith("/"):
        kprefix += "/"
    return key, secret, host, bucket, kprefix


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _s3_get(host, path, query, access, secret):
    region = os.environ.get("OBJMAIL_TEST_S3_REGION", "default")
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    qs = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                  for k, v in sorted(query.items()))
    payload = hashlib.sha256(b"").hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amzdate}
    signed = ";".join(sorted(headers))
    canon = "\n".join(["GET", urllib.parse.quote(path), qs,
                       "".join("%s:%s\n" % (k, headers[k]) for k in sorted(headers)),
                       signed, payload])
    scope = "%s/%s/s3/aws4_request" % (day, region)
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = _sign(("AWS4" + secret).encode(), day)
    k = _sign(k, region)
    k = _sign(k, "s3")
    k = _sign(k, "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request("http://%s%s?%s" % (host, path, qs))
    for h, v in headers.items():
        if h != "host":
            req.add_header(h, v)
    req.add_header("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
                   % (access, scope, signed, sig))
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def _s3_list(spec, prefix):
    access, secret, host, bucket, kprefix = _s3_parse(spec)
    out = []
    token = None
    while True:
        q = {"list-type": "2", "prefix": kprefix + prefix, "max-keys": "1000"}
        if token:
            q["continuation-token"] = token
        root = ET.fromstring(_s3_get(host, "/" + bucket, q, access, secret))
        ns = {"s": root.tag.split("}")[0][1:]} if root.tag.startswith("{") else {}
        pre = "s:" if ns else ""
        for c in root.findall(pre + "Contents", ns):
            out.append(c.find(pre + "Key", ns).text[len(kprefix):])
        trunc = root.find(pre + "IsTruncated", ns)
        nxt = root.find(pre + "NextContinuationToken", ns)
        if trunc is not None and trunc.text == "true" and nxt is not None:
            token = nxt.text
        else:
            return sorted(out)
