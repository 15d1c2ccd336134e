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
