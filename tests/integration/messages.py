"""Real-world-like test messages (bytes with CRLF line ends)."""

import base64

from omtest import crlf

PLAIN = crlf("""\
Return-Path: <alice@example.com>
From: Alice Example <alice@example.com>
To: Bob <bob@example.org>, carol@example.net
Cc: "Dave, the boss" <dave@example.com>
Subject: Lunch tomorrow?
Date: Mon, 7 Feb 1994 21:52:25 -0800
Message-ID: <plain-1@example.com>
In-Reply-To: <prev@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Hi Bob,

are we still on for lunch tomorrow at the Zebrafish Cafe?

Alice
""")

ALTERNATIVE = crlf("""\
From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>
To: alice@example.com
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=
Date: Tue, 08 Mar 2022 10:11:12 +0100
Message-ID: <alt-2@example.de>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1_alt"

This is a multi-part message in MIME format.

--b1_alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hallo Alice,

viele Gr=C3=BC=C3=9Fe aus M=C3=BCnchen! Das Wetter ist sch=C3=B6n.

J=C3=BCrgen
--b1_alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>Hallo Alice,</p><p>viele Gr=C3=BC=C3=9Fe aus M=C3=BCnchen!</p=
></body></html>
--b1_alt--
""")

_PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
_PDF_B64 = base64.encodebytes(_PDF).decode()

ATTACHMENT = crlf("""\
From: Bob <bob@example.org>
To: alice@example.com
Subject: Invoice attached
Date: Wed, 09 Mar 2022 08:00:00 +0000
Message-ID: <att-3@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=-=mixed=-="

--=-=mixed=-=
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=us-ascii

Please find the invoice attached. Reference XYZZY-42.
--inner
Content-Type: text/html; charset=us-ascii

<p>Please find the invoice attached.</p>
--inner--

--=-=mixed=-=
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64
Content-Description: The invoice

""" + _PDF_B64 + """
--=-=mixed=-=--
""")

ATTACHMENT_PDF = _PDF

_SECRET_B64 = base64.encodebytes("The secret word is kumquat.\r\n".encode()).decode()

FORWARD = crlf("""\
From: carol@example.net
To: alice@example.com
Subject: Fwd: Lunch tomorrow?
Date: Thu, 10 Mar 2022 12:30:00 -0500
Message-ID: <fwd-4@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain; charset=us-ascii

See below.

--fwd
Content-Type: message/rfc822

From: Alice Example <alice@example.com>
To: carol@example.net
Subject: Lunch tomorrow?
Date: Mon, 7 Feb 1994 21:52:25 -0800
Message-ID: <inner-4@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="in2"

--in2
Content-Type: text/plain

inner text
--in2
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

""" + _SECRET_B64 + """--in2--

--fwd--
""")

LATIN1_QP = crlf(b"""\
From: =?ISO-8859-1?Q?Fran=E7ois?= <francois@example.fr>
To: alice@example.com
Subject: =?ISO-8859-1?Q?R=E9sum=E9_de_la_r=E9union?=
Date: Fri, 11 Mar 2022 18:00:00 +0100
Message-ID: <latin1-5@example.fr>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Bonjour,

voici le r=E9sum=E9 de la r=E9union: le caf=E9 est d=E9licieux.
Une tr=E8s longue ligne qui est coup=E9e par le codage quoted-printable p=
our tester le d=E9codage.

Fran=E7ois
""")

# 8-bit UTF-8 body without a transfer encoding header
UTF8_8BIT = crlf("""\
From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>
To: alice@example.com, =?utf-8?B?0JjQstCw0L0=?= <ivan@example.ru>
Subject: =?utf-8?B?0J/RgNC40LLQtdGCINC80LjRgA==?=
Date: Sat, 12 Mar 2022 09:00:00 +0300
Message-ID: <utf8-6@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Привет! Smörgåsbord und Straße.
""")

# No MIME-Version, minimal headers
MINIMAL = crlf("""\
From: nobody@example.com
Subject: minimal

just a body line
""")

ALL = [PLAIN, ALTERNATIVE, ATTACHMENT, FORWARD, LATIN1_QP, UTF8_8BIT, MINIMAL]
NAMES = ["plain", "alternative", "attachment", "forward", "latin1_qp", "utf8_8bit", "minimal"]


def simple(subject, body="body\n", frm="sender@example.com", to="rcpt@example.com",
           date="Mon, 01 Jan 2024 10:00:00 +0000", extra=""):
    return crlf("From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s@test>\n%s\n%s"
                % (frm, to, subject, date, abs(hash((subject, body))), extra, body))


# --- tricky messages: compared with Dovecot's answers in test_imap_fetch ---

HEADERS_ONLY = crlf("From: a@example.com\nSubject: only headers, no blank line\n")

MISSING_END_BOUNDARY = crlf("""\
From: a@example.com
Subject: missing final boundary
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="zz"

--zz
Content-Type: text/plain

first part
--zz
Content-Type: text/plain

second part, and then the message just ends
""")

NO_BOUNDARY_PARAM = crlf("""\
From: a@example.com
Subject: multipart without boundary
MIME-Version: 1.0
Content-Type: multipart/mixed

--whatever
Content-Type: text/plain

text
--whatever--
""")

RFC2231 = crlf("""\
From: a@example.com
Subject: rfc 2231 parameters
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=simple

--simple
Content-Type: application/octet-stream; name*=UTF-8''%E2%82%AC%20rates.bin
Content-Disposition: attachment; filename*0*=UTF-8''%E2%82%AC%20very%20long%20;
 filename*1*=name%20split.bin; size=42
Content-Transfer-Encoding: BASE64
Content-ID: <part1@example.com>
Content-Language: de, en
Content-Location: http://example.com/rates.bin
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

AAECAwQFBgcICQ==
--simple
Content-Type: TEXT/Plain (a comment); CHARSET="ISO-8859-1"; format=flowed

caf\xe9
--simple--
""".replace("\\xe9", "\xe9").encode("latin-1"))

RAW_8BIT_HEADERS = crlf("""\
From: Jürgen Müller <juergen@example.de>
To: "Zoë, la reine" <zoe@example.fr>
Subject: Grüße ohne Kodierung — ein Test
Date: Sun, 13 Mar 2022 10:00:00 +0100
Content-Type: text/plain; charset=utf-8

8-bit headers as real-world mailers send them.
""")

ADDRESSES = crlf("""\
From: "Last, First" <first.last@example.com>
Sender: (comment) sender@example.com (Sender Name)
Reply-To: undisclosed-recipients:;
To: Team: a@example.com, "b c" <b@example.com>;, localonly, "john doe"@example.com
Cc: <@route.example:routed@example.com>, =?utf-8?q?Caf=C3=A9?= <cafe@example.com>
Bcc: 
Subject: address edge cases
Subject: a second subject line
Date: 1 Jan 2023 00:00 GMT
Message-ID: <addr@example.com> (comment)
In-Reply-To: <a@x> <b@y>

body
""")

FOLDED = crlf("""\
From: a@example.com
Subject: a very long subject line that goes on
\tand on, folded with a tab,
   and then with spaces
X-Empty:
Content-Type: text/plain;
\tcharset="us-ascii"

folded
""")

NESTED = crlf("""\
From: a@example.com
Subject: deeply nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=l1

--l1
Content-Type: multipart/alternative; boundary=l2

--l2
Content-Type: multipart/related; boundary=l3

--l3
Content-Type: multipart/mixed; boundary=l4

--l4
Content-Type: text/plain

deepest
--l4
Content-Type: message/rfc822

Subject: embedded without much

embedded body
--l4--
--l3
Content-Type: image/png
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--l3--
--l2
Content-Type: text/html

<b>html</b>
--l2--
--l1
--l1--
""")

EMPTY_MULTIPART = crlf("""\
From: a@example.com
Subject: empty multipart
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=nothing

just a preamble, no parts at all
""")

BARE_LF = (b"From: a@example.com\nSubject: bare LF line ends\nContent-Type: text/plain\n\n"
           b"line one\nline two\n")

TRICKY = [HEADERS_ONLY, MISSING_END_BOUNDARY, NO_BOUNDARY_PARAM, RFC2231, RAW_8BIT_HEADERS,
          ADDRESSES, FOLDED, NESTED, EMPTY_MULTIPART, BARE_LF]
TRICKY_NAMES = ["headers_only", "missing_end_boundary", "no_boundary_param", "rfc2231",
                "raw_8bit_headers", "addresses", "folded", "nested", "empty_multipart", "bare_lf"]
