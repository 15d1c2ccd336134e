/* LIBS: om_mime om_lib */
/* MIME parser and IMAP structure tests. The ENVELOPE/BODY/BODYSTRUCTURE
 * expectations below were captured from a real Dovecot 2.3.19 (APPEND of
 * each tests/unit/mime/ mail with CRLF line ends, then FETCH) and must
 * match byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "mime/mime.h"

struct expected_fetch {
	const char *file;
	const char *fetch; /* what Dovecot printed inside "* 1 FETCH (...)" */
};

static const struct expected_fetch dovecot_fetch[] = {
	{ "01-simple.eml",
	  "ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" {20}\r\nHello \"world\" \\ test ((\"Alice Examp"
	  "le\" NIL \"alice\" \"example.com\")) ((\"Alice Example\" NIL \"alice\" \"example.com\")) ((\"Alice Exa"
	  "mple\" NIL \"alice\" \"example.com\")) ((\"Bob\" NIL \"bob\" \"example.org\")(NIL NIL \"carol\" \"exampl"
	  "e.net\")) NIL NIL NIL \"<B27397-0100000@example.com>\") BODY (\"text\" \"plain\" (\"charset\" \"us-a"
	  "scii\") NIL NIL \"7bit\" 38 3) BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \""
	  "7bit\" 38 3 NIL NIL NIL NIL)" },
	{ "03-no-sep.eml",
	  "ENVELOPE (NIL \"no body here\" ((NIL NIL \"nobody\" \"example.com\")) ((NIL NIL \"nobody\" \"exampl"
	  "e.com\")) ((NIL NIL \"nobody\" \"example.com\")) NIL NIL NIL NIL NIL) BODY (\"text\" \"plain\" (\"ch"
	  "arset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\""
	  ") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)" },
	{ "04-nested.eml",
	  "ENVELOPE (\"Tue, 1 Mar 2022 10:00:00 +0100\" \"nested\" ((\"Alice\" NIL \"alice\" \"example.com\")) "
	  "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" \"example.com\")) ((NIL NIL \"bob"
	  "\" \"example.org\")) NIL NIL NIL \"<nested@example.com>\") BODY (((\"text\" \"plain\" (\"charset\" \"I"
	  "SO-8859-1\") NIL NIL \"quoted-printable\" 60 1)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL \"the ht"
	  "ml version\" \"base64\" 64 0) \"alternative\")(\"application\" \"octet-stream\" (\"name\" \"data.bin\")"
	  " NIL NIL \"base64\" 16) \"mixed\") BODYSTRUCTURE (((\"text\" \"plain\" (\"charset\" \"ISO-8859-1\") NI"
	  "L NIL \"quoted-printable\" 60 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL \"the "
	  "html version\" \"base64\" 64 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"inner\") NIL NIL NI"
	  "L)(\"application\" \"octet-stream\" (\"name\" \"data.bin\") NIL NIL \"base64\" 16 \"Q2hlY2sgSW50ZWdya"
	  "XR5IQ==\" (\"attachment\" (\"filename\" \"data.bin\" \"size\" \"12\")) (\"en\" \"de\") \"http://example.co"
	  "m/data.bin\") \"mixed\" (\"boundary\" \"outer-b\") NIL NIL NIL)" },
	{ "05-rfc822.eml",
	  "ENVELOPE (\"Wed, 2 Mar 2022 11:00:00 +0000\" \"forwarded\" ((NIL NIL \"outer\" \"example.com\")) ("
	  "(NIL NIL \"outer\" \"example.com\")) ((NIL NIL \"outer\" \"example.com\")) ((NIL NIL \"someone\" \"ex"
	  "ample.org\")) NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	  "12 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 361 (\"Thu, 3 Mar 2022 12:00:00 -0500\" \"inner s"
	  "ubject\" ((\"Inner Person\" NIL \"inner\" \"example.com\")) ((\"Inner Person\" NIL \"inner\" \"example"
	  ".com\")) ((\"Inner Person\" NIL \"inner\" \"example.com\")) ((NIL NIL \"a\" \"b.c\")) NIL NIL \"<prev@"
	  "example.com>\" \"<inner@example.com>\") ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit"
	  "\" 21 1)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0) \"alternative\") 18) \"mixe"
	  "d\") BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0 NIL NIL NIL "
	  "NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 361 (\"Thu, 3 Mar 2022 12:00:00 -0500\" \"inner su"
	  "bject\" ((\"Inner Person\" NIL \"inner\" \"example.com\")) ((\"Inner Person\" NIL \"inner\" \"example."
	  "com\")) ((\"Inner Person\" NIL \"inner\" \"example.com\")) ((NIL NIL \"a\" \"b.c\")) NIL NIL \"<prev@e"
	  "xample.com>\" \"<inner@example.com>\") ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""
	  " 21 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0 NIL NIL NI"
	  "L NIL) \"alternative\" (\"boundary\" \"YY\") NIL NIL NIL) 18 NIL (\"inline\" NIL) NIL NIL) \"mixed\""
	  " (\"boundary\" \"XX\") NIL NIL NIL)" },
	{ "06-missing-close.eml",
	  "ENVELOPE (NIL \"missing close\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) "
	  "((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"charset\" \"us-as"
	  "cii\") NIL NIL \"7bit\" 10 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 39 2) \"mix"
	  "ed\") BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NIL"
	  " NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 39 2 NIL NIL NIL NIL) \"mixed\" ("
	  "\"boundary\" \"abc\") NIL NIL NIL)" },
	{ "07-prefix.eml",
	  "ENVELOPE (NIL \"prefix boundary\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")"
	  ") ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY (((\"text\" \"plain\" (\"charset\" \"us"
	  "-ascii\") NIL NIL \"7bit\" 9 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0) \"al"
	  "ternative\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0) \"mixed\") BODYSTRUCTU"
	  "RE (((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0 NIL NIL NIL NIL)(\"text\" \"pl"
	  "ain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" "
	  "\"b-inner\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 0 NIL NIL N"
	  "IL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)" },
	{ "08-8bit.eml",
	  "ENVELOPE (NIL {14}\r\nGr\xc3\xbc\xc3\x9f" "e \xe0 tous (({15}\r\nJ\xc3\xbcrgen M\xc3\xbcller NIL \"juergen\" \"example.com\")) ("
	  "({15}\r\nJ\xc3\xbcrgen M\xc3\xbcller NIL \"juergen\" \"example.com\")) (({15}\r\nJ\xc3\xbcrgen M\xc3\xbcller NIL \"juergen\""
	  " \"example.com\")) (({8}\r\nFran\xe7ois NIL \"francois\" \"example.fr\")) NIL NIL NIL NIL) BODY (\"tex"
	  "t\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 22 1) BODYSTRUCTURE (\"text\" \"plain\" (\"charse"
	  "t\" \"utf-8\") NIL NIL \"8bit\" 22 1 NIL NIL NIL NIL)" },
	{ "09-rfc2047.eml",
	  "ENVELOPE (NIL {136}\r\n=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1"
	  "bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?= and =?utf-8?Q?M=C3=BCnchen?= end ((\"=?ISO-8859-1?Q?Andr"
	  "=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRA"
	  "RD\" \"vm1.ulg.ac.be\")) ((\"=?ISO-8859-1?Q?Andr=E9?= Pirard\" NIL \"PIRARD\" \"vm1.ulg.ac.be\")) ("
	  "(\"=?UTF-8?B?SsO8cmdlbg==?=\" NIL \"j\" \"example.com\")(\"=?utf-8?q?Quoted_=C3=A4?=\" NIL \"q\" \"ex"
	  "ample.com\")) ((\"=?US-ASCII*EN?Q?Keith_Moore?=\" NIL \"moore\" \"cs.utk.edu\")) NIL NIL NIL) BOD"
	  "Y (\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 16 1) BODYSTRUCTURE "
	  "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 16 1 NIL NIL NIL NIL)" },
	{ "10-rfc2231.eml",
	  "ENVELOPE (NIL \"rfc2231\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL "
	  "NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"application\" \"x-stuff\" (\"title*\" \"us-"
	  "ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!\") NIL NIL \"7bit\" 5)(\""
	  "text\" \"plain\" (\"name*\" \"iso-8859-1''caf%E9.txt\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) "
	  "\"mixed\") BODYSTRUCTURE ((\"application\" \"x-stuff\" (\"title*\" \"us-ascii'en'This%20is%20even%2"
	  "0more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!\") NIL NIL \"7bit\" 5 NIL (\"attachment\" (\"filename*"
	  "\" \"UTF-8''Gr%C3%BC%C3%9Fe.txt\")) NIL NIL)(\"text\" \"plain\" (\"name*\" \"iso-8859-1''caf%E9.txt\""
	  " \"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL (\"inline\" (\"filename\" \"plain name.txt\" \"File"
	  "Name\" \"dup\")) NIL NIL) \"mixed\" (\"boundary\" \"Z\") NIL NIL NIL)" },
	{ "11-groups.eml",
	  "ENVELOPE (NIL \"groups\" ((\"Alice\" NIL \"alice\" \"example.com\")) ((NIL NIL \"sender\" \"example.c"
	  "om\")) ((\"Reply Person\" NIL \"reply\" \"example.com\")) ((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL"
	  " \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL))"
	  " ((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"friends\" NIL)(NIL NI"
	  "L NIL NIL)(NIL NIL \"x\" \"y.z\")) NIL NIL) BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NI"
	  "L \"7bit\" 6 1) BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL "
	  "NIL NIL NIL)" },
	{ "12-addr-weird.eml",
	  "ENVELOPE (NIL \"weird addresses\" ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Pete\" NIL \"pete\" \"si"
	  "lly.test\")) ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Joe Q. Public\" NIL \"john.q.public\" \"exam"
	  "ple.com\")(NIL NIL \"quoted\\\"local\" \"example.com\")(NIL \"@route1,@route2\" \"user\" \"host.test\")"
	  "(NIL NIL \"nodomain\" \"MISSING_DOMAIN\")(\"Mary Smith\" NIL \"mary\" \"x.test\")(\"John Doe\" NIL \"jd"
	  "oe\" \"example.org\")) (({12}\r\nweird \\ name NIL \"w\" \"x.y\")(NIL NIL \"undisclosed\" \"MISSING_DOM"
	  "AIN\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAI"
	  "N\")(NIL NIL \"empty\" \"name.test\")) NIL \"<a@b> <c@d>\" \"<id with space@x>  \") BODY (\"text\" \"p"
	  "lain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1) BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL NIL NIL)" },
	{ "13-ctype.eml",
	  "ENVELOPE (NIL \"content types\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) "
	  "((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"text\" \"\" (\"charset\" \"us-ascii\")"
	  " NIL NIL \"7bit\" 10 0)(\"TEXT\" \"HTML\" (\"CHARSET\" \"ISO-8859-1\") NIL NIL \"7bit\" 10 0)(\"applica"
	  "tion\" \"pdf\" NIL NIL NIL \"7bit\" 4)(\"\" \"\" NIL NIL NIL \"BASE64\" 8)(\"text\" \"plain\" (\"charset\" "
	  "\"utf-8\") NIL NIL \"x-uuencode\" 19 0) \"mixed\") BODYSTRUCTURE ((\"text\" \"\" (\"charset\" \"us-asci"
	  "i\") NIL NIL \"7bit\" 10 0 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"ISO-8859-1\") NIL NIL \"7"
	  "bit\" 10 0 NIL NIL NIL NIL)(\"application\" \"pdf\" NIL NIL NIL \"7bit\" 4 NIL NIL NIL NIL)(\"\" \"\""
	  " NIL NIL NIL \"BASE64\" 8 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"x-uue"
	  "ncode\" 19 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"C\") NIL NIL NIL)" },
	{ "14-digest.eml",
	  "ENVELOPE (NIL \"digest\" ((NIL NIL \"digest\" \"example.com\")) ((NIL NIL \"digest\" \"example.com\""
	  ")) ((NIL NIL \"digest\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"message\" \"rfc822\" NIL N"
	  "IL NIL \"7bit\" 61 (NIL \"first in digest\" ((NIL NIL \"one\" \"example.com\")) ((NIL NIL \"one\" \"e"
	  "xample.com\")) ((NIL NIL \"one\" \"example.com\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"chars"
	  "et\" \"us-ascii\") NIL NIL \"7bit\" 10 0) 3)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bi"
	  "t\" 13 0)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 141 (NIL \"second in digest\" ((NIL NIL \"two\""
	  " \"example.com\")) ((NIL NIL \"two\" \"example.com\")) ((NIL NIL \"two\" \"example.com\")) NIL NIL N"
	  "IL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0) \"mixed\") 9) \"diges"
	  "t\") BODYSTRUCTURE ((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 61 (NIL \"first in digest\" ((NIL "
	  "NIL \"one\" \"example.com\")) ((NIL NIL \"one\" \"example.com\")) ((NIL NIL \"one\" \"example.com\")) "
	  "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL NI"
	  "L NIL) 3 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0 NIL NI"
	  "L NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 141 (NIL \"second in digest\" ((NIL NIL \"tw"
	  "o\" \"example.com\")) ((NIL NIL \"two\" \"example.com\")) ((NIL NIL \"two\" \"example.com\")) NIL NIL"
	  " NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) "
	  "\"mixed\" (\"boundary\" \"E\") NIL NIL NIL) 9 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"D\") NIL NIL"
	  " NIL)" },
	{ "17-garbage.eml",
	  "ENVELOPE (NIL NIL ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((NIL NIL \"MISSING_MAILBO"
	  "X\" \"MISSING_DOMAIN\")) ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL) "
	  "BODY ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\""
	  " \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\") BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-as"
	  "cii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7"
	  "bit\" 0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"\") NIL NIL NIL)" },
	{ "18-nomime.eml",
	  "ENVELOPE (NIL \"not mime\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL"
	  " NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	  "NIL NIL \"7bit\" 13 1) BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1"
	  "3 1 NIL NIL NIL NIL)" },
	{ "19-global.eml",
	  "ENVELOPE (NIL \"global\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL N"
	  "IL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"message\" \"global\" NIL NIL NIL \"7bit\" 5"
	  "2)(\"message\" \"rfc822\" (\"name\" \"x\") NIL NIL \"7bit\" 19 (NIL \"upper\" NIL NIL NIL NIL NIL NIL "
	  "NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) 2) \"mixed\") BODYSTRUCT"
	  "URE ((\"message\" \"global\" NIL NIL NIL \"7bit\" 52 NIL NIL NIL NIL)(\"message\" \"rfc822\" (\"name\""
	  " \"x\") NIL NIL \"7bit\" 19 (NIL \"upper\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"ch"
	  "arset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"mixed\" (\"bounda"
	  "ry\" \"G\") NIL NIL NIL)" },
	{ "20-dups.eml",
	  "ENVELOPE (\"Fri, 4 Mar 2022 13:00:00 +0000\" {26}\r\nsecond subject folded here ((NIL NIL \"a\" "
	  "\"example.com\")(NIL NIL \"b\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")(NIL NIL \"b\" \"examp"
	  "le.com\")) ((NIL NIL \"a\" \"example.com\")(NIL NIL \"b\" \"example.com\")) ((NIL NIL \"spaced\" \"exa"
	  "mple.com\")) NIL NIL NIL \"<two@x>\") BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"fl"
	  "owed\") \"<cid folded@x>\" {39}\r\na \"quoted\" \\desc\\ with more \\ escapes \" \"7bit\" 6 1) BODYSTRU"
	  "CTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\" \"format\" \"flowed\") \"<cid folded@x>\" {39}\r\na \"q"
	  "uoted\" \\desc\\ with more \\ escapes \" \"7bit\" 6 1 NIL NIL NIL NIL)" },
	{ "21-noboundary.eml",
	  "ENVELOPE (NIL \"multipart without boundary\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"ex"
	  "ample.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"ch"
	  "arset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\") BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" "
	  "\"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)" },
	{ "22-hdr-boundary.eml",
	  "ENVELOPE (NIL \"boundary inside part header\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"e"
	  "xample.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"text\" \"html\" (\"ch"
	  "arset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit"
	  "\" 0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0)(\"text\" \"plain\" (\"charset\""
	  " \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\") BODYSTRUCTURE ((\"text\" \"html\" (\"charset\" \"us-asc"
	  "ii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7b"
	  "it\" 0 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL "
	  "NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mixed\""
	  " (\"boundary\" \"q\") NIL NIL NIL)" },
	{ "23-empty-multipart.eml",
	  "ENVELOPE (NIL \"empty multipart\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")"
	  ") ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"charset\" \"us-"
	  "ascii\") NIL NIL \"7bit\" 0 0) \"alternative\") BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-a"
	  "scii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"e\") NIL NIL NIL)" },
	{ "24-folds.eml",
	  "ENVELOPE (\"Fri, 4 Mar 2022\x09" "13:00:00 +0000\" {10}\r\ntab folded (({8}\r\nTab Name NIL \"a\" \"b.c\")"
	  ") (({8}\r\nTab Name NIL \"a\" \"b.c\")) (({8}\r\nTab Name NIL \"a\" \"b.c\")) NIL NIL NIL \" <x@y>\" \"<a"
	  "\x09" "b@c>\") BODY (\"text\" \"plain\" (\"name\" \"a\x09" "b\" \"charset\" \"us-ascii\") NIL \"desc\x09" "folded\" \"7bit\" "
	  "3 1) BODYSTRUCTURE (\"text\" \"plain\" (\"name\" \"a\x09" "b\" \"charset\" \"us-ascii\") NIL \"desc\x09" "folded\" \""
	  "7bit\" 3 1 \"md\x09" "5\" (\"inline\" (\"filename\" \"x y\")) (\"en\" \"de\" \"fr\") \"loc\x09" "ation\")" },
	{ "25-trailing-boundary.eml",
	  "ENVELOPE (NIL \"trailing boundary line\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"exampl"
	  "e.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"charse"
	  "t\" \"us-ascii\") NIL NIL \"7bit\" 1 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	  "0) \"mixed\") BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL N"
	  "IL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"mix"
	  "ed\" (\"boundary\" \"t\") NIL NIL NIL)" },
	{ "26-addr-edge.eml",
	  "ENVELOPE (NIL {21}\r\nreally spaced subject ((\"quoted only\" NIL \"MISSING_MAILBOX\" \"MISSING_D"
	  "OMAIN\")) ((\"=?utf-8?q?J=C3=BCrgen?=\" NIL \"j\" \"x\")(\"=?utf-8?q?comment?=\" NIL \"j2\" \"y\")) ((N"
	  "IL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"John Smith\" NIL \"MISSING_MAILBOX\" \"MISSING_"
	  "DOMAIN\")(\"Q\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL \"INVALID_ROUTE\" \"MISSING_MAILBOX\""
	  " \"MISSING_DOMAIN\")(NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"c"
	  "\" \"d\")(NIL NIL \"G\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)) ((NIL \"@a,@b\" \"x\" \"y\")(NIL NIL "
	  "\"x y\" \"z.test\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((NIL NIL \"Group Only\" NIL)(N"
	  "IL NIL NIL NIL)) \"<a@b>\x09 (comment)\" NIL) BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL N"
	  "IL \"7bit\" 6 1) BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL"
	  " NIL NIL NIL)" },
	{ "27-params-edge.eml",
	  "ENVELOPE (NIL \"params\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")) ((NIL N"
	  "IL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"text\" \"plain\" (\"flag\" \"\" \"q\" \"=?utf-8?"
	  "b?w6Q=?=\" \"charset\" \"UTF-8\" \"name*0\" \"a\" \"name*2\" \"c\") NIL NIL \"7bit\" 4 0)(\"text\" \"plain\" "
	  "(\"charset\" \"a\\\"b\\\\c\" \"x*\" \"utf-8'en'%41%42\" \"y*\" \"x%25zz\") \"\" NIL \"7bit\" 4 0) \"mixed\") BOD"
	  "YSTRUCTURE ((\"text\" \"plain\" (\"flag\" \"\" \"q\" \"=?utf-8?b?w6Q=?=\" \"charset\" \"UTF-8\" \"name*0\" \""
	  "a\" \"name*2\" \"c\") NIL NIL \"7bit\" 4 0 NIL (\"attachment\" (\"filename\" \"second\")) (\"en-US\" \"x\")"
	  " \"\")(\"text\" \"plain\" (\"charset\" \"a\\\"b\\\\c\" \"x*\" \"utf-8'en'%41%42\" \"y*\" \"x%25zz\") \"\" NIL \"7bi"
	  "t\" 4 0 NIL (\"\" (\"filename\" \"x\")) NIL NIL) \"mixed\" (\"boundary\" \"P\" \"boundary\" \"second\") NIL"
	  " NIL NIL)" },
	{ "28-cut-header.eml",
	  "ENVELOPE (NIL \"headers cut by boundaries\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"exa"
	  "mple.com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY (((\"message\" \"rfc822\" "
	  "NIL NIL NIL \"7bit\" 49 (NIL \"embedded, header only\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text"
	  "\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 2) \"mixed\")((\"text\" \"plain\" (\"charset"
	  "\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"alternative\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL"
	  " NIL \"7bit\" 4 0) \"mixed\") BODYSTRUCTURE (((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 49 (NIL \""
	  "embedded, header only\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-asc"
	  "ii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"inner\") N"
	  "IL NIL NIL)((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) \"al"
	  "ternative\" (\"boundary\" \"alt\") NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \""
	  "7bit\" 4 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)" },
	{ "29-dovecot-quirks.eml",
	  "ENVELOPE (NIL NIL ((\"Baraw\" NIL \".org\" \"MISSING_DOMAIN\")({4}\r\na. b NIL \"MISSING_MAILBOX\" \""
	  "MISSING_DOMAIN\")) ((\"Baraw\" NIL \".org\" \"MISSING_DOMAIN\")({4}\r\na. b NIL \"MISSING_MAILBOX\" \""
	  "MISSING_DOMAIN\")) ((\"Baraw\" NIL \".org\" \"MISSING_DOMAIN\")({4}\r\na. b NIL \"MISSING_MAILBOX\" \""
	  "MISSING_DOMAIN\")) ((NIL NIL \"user\" \"MISSING_DOMAIN\")(\"x\" NIL \"y\" \"SYNTAX_ERROR\")) ((\"comme"
	  "nt with ) and (nested) parts\" NIL \"j\" \"x\")) NIL NIL \"<quirks@example.com>\") BODY ((\"applic"
	  "ation\" \"octet-stream\" NIL NIL NIL \"7bit\" 47)(\"\" \"\" NIL NIL NIL \"7bit\" 38)(\"\" \"\" NIL NIL NI"
	  "L \"7bit\" 25)((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL"
	  " NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 0)(\"message\" \"rfc822\" NIL"
	  " NIL NIL \"7bit\" 49 (NIL \"blank line right before the boundary\" NIL NIL NIL NIL NIL NIL NIL"
	  " NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) 2) \"digest\") \"mixed\") BOD"
	  "YSTRUCTURE ((\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" 47 NIL NIL NIL NIL)(\"\" \"\" NIL"
	  " NIL NIL \"7bit\" 38 NIL NIL NIL NIL)(\"\" \"\" NIL NIL NIL \"7bit\" 25 NIL NIL NIL NIL)((\"message"
	  "\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	  "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)(\"message\" \"r"
	  "fc822\" NIL NIL NIL \"7bit\" 49 (NIL \"blank line right before the boundary\" NIL NIL NIL NIL N"
	  "IL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"
	  " 2 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"D\") NIL NIL NIL) \"mixed\" (\"boundary\" \"Q\") NIL NI"
	  "L NIL)" },
	{ "30-plain-upper.eml",
	  "ENVELOPE (NIL \"upper-case plain text\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example"
	  ".com\")) ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY (\"text\" \"plain\" (\"charset\""
	  " \"us-ascii\") NIL NIL \"7bit\" 7 1) BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	  "NIL \"7bit\" 7 1 NIL NIL NIL NIL)" },
	{ "31-2231-quirks.eml",
	  "ENVELOPE (NIL \"rfc 2231 quirks\" ((NIL NIL \"a\" \"example.com\")) ((NIL NIL \"a\" \"example.com\")"
	  ") ((NIL NIL \"a\" \"example.com\")) NIL NIL NIL NIL NIL) BODY ((\"application\" \"x-a\" (\"N*1*\" \"x"
	  "'y'z\" \"name*\" \"utf-8''%41x\") NIL NIL \"7bit\" 1)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL N"
	  "IL \"7bit\" 32 0) \"mixed\") BODYSTRUCTURE ((\"application\" \"x-a\" (\"N*1*\" \"x'y'z\" \"name*\" \"utf-"
	  "8''%41x\") NIL NIL \"7bit\" 1 NIL (\"attachment\" (\"filename\" \"abc\")) NIL NIL)(\"TEXT\" \"PLAIN\" ("
	  "\"CHARSET\" \"US-ASCII\") NIL NIL \"7bit\" 32 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"R\") NIL NI"
	  "L NIL)" },
};

/* BODY[<path>] and BODY[<path>.MIME] of every part, as Dovecot sent them */
struct expected_section {
	const char *file, *path;
	const char *body, *mime;
};

static const struct expected_section dovecot_sections[] = {
	{ "01-simple.eml", "1",
	  "Hello Bob,\r\n\r\nthis is a simple test.\r\n",
	  "Return-Path: <alice@example.com>\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Alice "
	  "Example <alice@example.com>\r\nTo: Bob <bob@example.org>, carol@example.net\r\nSubject: Hello "
	  "\"world\" \\ test\r\nMessage-ID: <B27397-0100000@example.com>\r\nMIME-Version: 1.0\r\n\r\n" },
	{ "03-no-sep.eml", "1",
	  "",
	  "From: nobody@example.com\r\nSubject: no body here\r\nX-Last: yes\r\n" },
	{ "04-nested.eml", "1",
	  "--inner\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-p"
	  "rintable\r\n\r\nGr=FC=DFe aus M=FCnchen, soft=\r\n break here. Bad =ZZ escape.\r\n--inner\r\nContent"
	  "-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\nContent-Description:"
	  " the html version\r\n\r\nPGh0bWw+PGJvZHk+R3LDvMOfZSBhdXMgTcO8bmNoZW48L2JvZHk+PC9odG1sPgo=\r\n--i"
	  "nner--\r\n",
	  "Content-Type: multipart/alternative; boundary=inner\r\nContent-ID: <alt@x>\r\n\r\n" },
	{ "04-nested.eml", "1.1",
	  "Gr=FC=DFe aus M=FCnchen, soft=\r\n break here. Bad =ZZ escape.",
	  "Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r"
	  "\n\r\n" },
	{ "04-nested.eml", "1.2",
	  "PGh0bWw+PGJvZHk+R3LDvMOfZSBhdXMgTcO8bmNoZW48L2JvZHk+PC9odG1sPgo=",
	  "Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\nContent-Descr"
	  "iption: the html version\r\n\r\n" },
	{ "04-nested.eml", "2",
	  "AAECAwQFBgcICQoL",
	  "Content-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Disposition: attachment; "
	  "filename=\"data.bin\"; size=12\r\nContent-Transfer-Encoding: base64\r\nContent-Language: en, de\r"
	  "\nContent-Location: http://example.com/data.bin\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\n" },
	{ "05-rfc822.eml", "1",
	  "see attached",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "05-rfc822.eml", "2",
	  "From: Inner Person <inner@example.com>\r\nTo: a@b.c\r\nSubject: inner subject\r\nDate: Thu, 3 Ma"
	  "r 2022 12:00:00 -0500\r\nMessage-ID: <inner@example.com>\r\nIn-Reply-To: <prev@example.com>\r\nC"
	  "ontent-Type: multipart/alternative; boundary=YY\r\n\r\n--YY\r\nContent-Type: text/plain; charset"
	  "=us-ascii\r\n\r\ninner text\r\ntwo lines\r\n--YY\r\nContent-Type: text/html\r\n\r\n<p>inner</p>\r\n--YY--\r"
	  "\n",
	  "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" },
	{ "05-rfc822.eml", "2.1",
	  "inner text\r\ntwo lines",
	  "Content-Type: text/plain; charset=us-ascii\r\n\r\n" },
	{ "05-rfc822.eml", "2.2",
	  "<p>inner</p>",
	  "Content-Type: text/html\r\n\r\n" },
	{ "06-missing-close.eml", "1",
	  "first part",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "06-missing-close.eml", "2",
	  "second part runs to the end\r\nand more\r\n",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "07-prefix.eml", "1",
	  "--b-inner\r\nContent-Type: text/plain\r\n\r\ninner one\r\n--b-inner\r\nContent-Type: text/plain\r\n\r\ni"
	  "nner two\r\n--b-inner--\r\n",
	  "Content-Type: multipart/alternative; boundary=\"b-inner\"\r\n\r\n" },
	{ "07-prefix.eml", "1.1",
	  "inner one",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "07-prefix.eml", "1.2",
	  "inner two",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "07-prefix.eml", "2",
	  "outer two",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "08-8bit.eml", "1",
	  "K\xc3\xa4se und Br\xc3\xb6tchen.\r\n",
	  "From: J\xc3\xbcrgen M\xc3\xbcller <juergen@example.com>\r\nTo: \"Fran\xe7ois\" <francois@example.fr>\r\nSubject"
	  ": Gr\xc3\xbc\xc3\x9f" "e \xe0 tous\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit"
	  "\r\n\r\n" },
	{ "09-rfc2047.eml", "1",
	  "Caf=E9 cr=E8me\r\n",
	  "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\nTo: =?UTF-8?B?SsO8cmdlbg==?="
	  " <j@example.com>, \"=?utf-8?q?Quoted_=C3=A4?=\" <q@example.com>\r\nCc: =?US-ASCII*EN?Q?Keith_M"
	  "oore?= <moore@cs.utk.edu>\r\nSubject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n =?"
	  "ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?= and =?utf-8?Q?M=C3=BCnchen?= end\r\nCont"
	  "ent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" },
	{ "10-rfc2231.eml", "1",
	  "stuff",
	  "Content-Type: application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n ti"
	  "tle*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"\r\nContent-Disposition: attachment;\r\n"
	  " filename*0*=UTF-8''Gr%C3%BC%C3%9Fe;\r\n filename*1=\".txt\"\r\n\r\n" },
	{ "10-rfc2231.eml", "2",
	  "text",
	  "Content-Type: text/plain; name*=iso-8859-1''caf%E9.txt\r\nContent-Disposition: inline; filen"
	  "ame=\"plain name.txt\"; FileName=\"dup\"\r\n\r\n" },
	{ "11-groups.eml", "1",
	  "body\r\n",
	  "From: Alice <alice@example.com>\r\nTo: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe"
	  "@one.test>;\r\nCc: Undisclosed recipients:;\r\nBcc: friends: ;, x@y.z\r\nReply-To: \"Reply Person"
	  "\" <reply@example.com>\r\nSender: sender@example.com\r\nSubject: groups\r\n\r\n" },
	{ "12-addr-weird.eml", "1",
	  "body\r\n",
	  "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\nTo: \"Joe Q. Public\" <"
	  "john.q.public@example.com>, \"quoted\\\"local\"@example.com, <@route1,@route2:user@host.test>,"
	  " nodomain, Mary Smith <mary@x.test>, jdoe@example.org (John Doe)\r\nCc: \"weird \\\\ name\" <w@x"
	  ".y>, undisclosed, @, <>, \"\" <empty@name.test>\r\nIn-Reply-To: <a@b> <c@d>\r\nMessage-ID:   <id"
	  " with space@x>  \r\nSubject: weird addresses\r\n\r\n" },
	{ "13-ctype.eml", "1",
	  "no subtype",
	  "Content-Type: text\r\n\r\n" },
	{ "13-ctype.eml", "2",
	  "bad params",
	  "Content-Type: TEXT/HTML; CHARSET=ISO-8859-1; ; junk; x=\"unterminated\r\n\r\n" },
	{ "13-ctype.eml", "3",
	  "%PDF",
	  "Content-Type: application/pdf\r\n\r\n" },
	{ "13-ctype.eml", "4",
	  "aGVsbG8=",
	  "Content-Type: ; charset=utf-8\r\nContent-Transfer-Encoding: BASE64\r\n\r\n" },
	{ "13-ctype.eml", "5",
	  "comment after param",
	  "Content-Type: text/plain; charset=\"utf-8\" (comment)\r\nContent-Transfer-Encoding: x-uuencode"
	  "\r\n\r\n" },
	{ "14-digest.eml", "1",
	  "From: one@example.com\r\nSubject: first in digest\r\n\r\nfirst body",
	  "\r\n" },
	{ "14-digest.eml", "1.1",
	  "first body",
	  "From: one@example.com\r\nSubject: first in digest\r\n\r\n" },
	{ "14-digest.eml", "2",
	  "explicit text",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "14-digest.eml", "3",
	  "From: two@example.com\r\nSubject: second in digest\r\nContent-Type: multipart/mixed; boundary="
	  "E\r\n\r\n--E\r\nContent-Type: text/plain\r\n\r\ndeep\r\n--E--\r\n",
	  "\r\n" },
	{ "14-digest.eml", "3.1",
	  "deep",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "17-garbage.eml", "1",
	  "",
	  "" },
	{ "17-garbage.eml", "2",
	  "",
	  "\xff\xff\xff\r\n" },
	{ "18-nomime.eml", "1",
	  "body=20text\r\n",
	  "From: a@example.com\r\nSubject: not mime\r\nContent-Transfer-Encoding: quoted-printable\r\nConte"
	  "nt-Description: ignored?\r\nContent-Disposition: attachment; filename=x\r\n\r\n" },
	{ "19-global.eml", "1",
	  "From: inner@example.com\r\nSubject: inner global\r\n\r\nhi",
	  "Content-Type: message/global\r\n\r\n" },
	{ "19-global.eml", "2",
	  "Subject: upper\r\n\r\nx",
	  "Content-Type: Message/RFC822; name=x\r\n\r\n" },
	{ "19-global.eml", "2.1",
	  "x",
	  "Subject: upper\r\n\r\n" },
	{ "20-dups.eml", "1",
	  "body\r\n",
	  "Date: Fri, 4 Mar 2022\r\n 13:00:00 +0000\r\nSubject: first subject\r\nSubject: second\x09subject\r\n "
	  " folded   here\r\nFrom: a@example.com\r\nFrom: b@example.com\r\nMessage-ID: <one@x>\r\nMessage-Id:"
	  " <two@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain;\r\n\x09" "charset=\"us-ascii\";\r\n format=flow"
	  "ed\r\nContent-Type: text/html\r\nContent-ID: <cid\r\n folded@x>\r\nContent-Description: a \"quoted\""
	  " \\desc\\ with more \\ escapes \"\r\nX-Empty:\r\nX-Spaces:   \r\nNoColonLine\r\nTo : spaced@example.co"
	  "m\r\n\r\n" },
	{ "22-hdr-boundary.eml", "1",
	  "",
	  "Content-Type: text/html" },
	{ "22-hdr-boundary.eml", "2",
	  "",
	  "" },
	{ "22-hdr-boundary.eml", "3",
	  "last",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "22-hdr-boundary.eml", "4",
	  "",
	  "" },
	{ "24-folds.eml", "1",
	  "x\r\n",
	  "Date: Fri, 4 Mar 2022\r\n\x09" "13:00:00 +0000\r\nSubject: tab\r\n\x09" "folded\r\nMessage-ID: <a\r\n\x09" "b@c>\r\nIn-R"
	  "eply-To:\r\n <x@y>\r\nFrom: \"Tab\r\n\x09Name\" <a@b.c>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain;"
	  " name=\"a\r\n\x09" "b\"\r\nContent-Description: desc\r\n\x09" "folded\r\nContent-Location: loc\r\n\x09" "ation\r\nContent-"
	  "Language: en\r\n\x09,de (comment) , fr\r\nContent-Disposition: inline; filename=\"x\r\n y\"\r\nContent-"
	  "MD5: md\r\n\x09" "5\r\n\r\n" },
	{ "25-trailing-boundary.eml", "1",
	  "x",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "25-trailing-boundary.eml", "2",
	  "",
	  "" },
	{ "26-addr-edge.eml", "1",
	  "body\r\n",
	  "From: \"quoted only\"\r\nTo: John Smith, \"Q\" <>, <@route.only>, a@b, ,c@d, G: a@b c;, e@f (unt"
	  "erminated\r\nCc: <@a,@b:x@y>, \"x y\"@z.test, [weird]@x, user@[1.2.3.4], @:x@y\r\nBcc: Group Onl"
	  "y:;\r\nReply-To: ,\r\nSender: =?utf-8?q?J=C3=BCrgen?= <j@x>, j2@y (=?utf-8?q?comment?=)\r\nSubje"
	  "ct: \r\nIn-Reply-To: <a@b>\r\n\x09 (comment)\r\nSubject: really   spaced\x09subject  \r\n\r\n" },
	{ "27-params-edge.eml", "1",
	  "QQ==",
	  "Content-Type: text/plain; name*0=\"a\"; name*2=\"c\"; flag=; q==?utf-8?b?w6Q=?=; charset=UTF-8"
	  "\r\nContent-Disposition: inline\r\nContent-Disposition: attachment; filename=second\r\nContent-L"
	  "anguage: (c) en-US ,  x@y\r\nContent-Location: \r\nContent-Transfer-Encoding: base64 junk\r\n\r\n" },
	{ "27-params-edge.eml", "2",
	  "body",
	  "Content-Type: text/plain; charset=\"a\\\"b\\\\c\" ; x*=utf-8'en'%41%42; y*0*=x; y*1=%zz\r\nContent"
	  "-ID:\r\nContent-Disposition: ; filename=x\r\n\r\n" },
	{ "28-cut-header.eml", "1",
	  "--inner\r\nContent-Type: message/rfc822\r\n\r\nSubject: embedded, header only\r\nX-No-Body: true\r\n",
	  "Content-Type: multipart/mixed; boundary=\"inner\"\r\n\r\n" },
	{ "28-cut-header.eml", "1.1",
	  "Subject: embedded, header only\r\nX-No-Body: true\r\n",
	  "Content-Type: message/rfc822\r\n\r\n" },
	{ "28-cut-header.eml", "1.1.1",
	  "",
	  "Subject: embedded, header only\r\nX-No-Body: true" },
	{ "28-cut-header.eml", "2",
	  "--alt\r\nContent-Type: text/plain\r\n\r\n",
	  "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n" },
	{ "28-cut-header.eml", "2.1",
	  "",
	  "Content-Type: text/plain\r\n" },
	{ "28-cut-header.eml", "3",
	  "last",
	  "Content-Type: text/plain\r\n\r\n" },
	{ "29-dovecot-quirks.eml", "1",
	  "no subtype: application/octet-stream to clients",
	  "Content-Type: multipart\r\n\r\n" },
	{ "29-dovecot-quirks.eml", "2",
	  "junk after the subtype: no type at all",
	  "Content-Type: text/plainX-Junk: y\r\n\r\n" },
	{ "29-dovecot-quirks.eml", "3",
	  "no subtype but parameters",
	  "Content-Type: text; charset=us-ascii\r\n\r\n" },
	{ "29-dovecot-quirks.eml", "4",
	  "--D\r\nSubject: cut by the boundary\r\n--D\r\n\r\nSubject: blank line right before the boundary\r\n\r"
	  "\n--D--\r\n",
	  "Content-Type: multipart/digest; boundary=\"D\"\r\n\r\n" },
	{ "29-dovecot-quirks.eml", "4.1",
	  "",
	  "Subject: cut by the boundary" },
	{ "29-dovecot-quirks.eml", "4.1.1",
	  "",
	  "" },
	{ "29-dovecot-quirks.eml", "4.2",
	  "Subject: blank line right before the boundary\r\n\r\n",
	  "\r\n" },
	{ "29-dovecot-quirks.eml", "4.2.1",
	  "",
	  "Subject: blank line right before the boundary\r\n" },
	{ "30-plain-upper.eml", "1",
	  "plain\r\n",
	  "From: a@example.com\r\nSubject: upper-case plain text\r\nContent-Type: TEXT/PLAIN; CHARSET=US-"
	  "ASCII\r\nContent-Transfer-Encoding: 7BIT\r\n\r\n" },
	{ "31-2231-quirks.eml", "1",
	  "a",
	  "Content-Type: application/x-a; name*0*=utf-8''%41; name*1=x; N*=x'y'z\r\nContent-Disposition"
	  ": attachment; filename*2=\"c\"; filename*0=\"a\"; filename*1=\"b\"\r\n\r\n" },
	{ "31-2231-quirks.eml", "2",
	  "not the root: types kept as sent",
	  "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n" },
};

/* Read tests/unit/mime/<name>; with crlf, bare LFs become CRLF (IMAP
 * hands the parser CRLF messages). */
static char *read_mail(const char *name, bool crlf, size_t *len_r)
{
	const char *srcdir = getenv("OM_SRCDIR");
	struct buf path = BUF_INIT, out = BUF_INIT;
	char chunk[4096];
	size_t n, i;
	FILE *f;
	char prev = '\0';

	buf_printf(&path, "%s/tests/unit/mime/%s", srcdir != NULL ? srcdir : ".", name);
	f = fopen(buf_cstr(&path), "rb");
	if (f == NULL)
		fail_msg("cannot open %s (set OM_SRCDIR)", buf_cstr(&path));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		for (i = 0; i < n; i++) {
			if (crlf && chunk[i] == '\n' && prev != '\r')
				buf_append_c(&out, '\r');
			buf_append_c(&out, chunk[i]);
			prev = chunk[i];
		}
	}
	fclose(f);
	buf_free(&path);
	*len_r = out.len;
	return buf_steal(&out);
}

static void fetch_string(const struct mime_message *msg, struct buf *out)
{
	buf_append_str(out, "ENVELOPE ");
	mime_envelope(msg, &msg->root, out);
	buf_append_str(out, " BODY ");
	mime_bodystructure(msg, &msg->root, false, out);
	buf_append_str(out, " BODYSTRUCTURE ");
	mime_bodystructure(msg, &msg->root, true, out);
}

static void test_dovecot_identical(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dovecot_fetch) / sizeof(dovecot_fetch[0]); i++) {
		size_t len;
		char *data = read_mail(dovecot_fetch[i].file, true, &len);
		struct mime_message *msg = mime_parse(data, len);
		struct buf out = BUF_INIT;

		fetch_string(msg, &out);
		if (strcmp(buf_cstr(&out), dovecot_fetch[i].fetch) != 0) {
			print_error("%s:\n ours:    %s\n dovecot: %s\n", dovecot_fetch[i].file,
				    buf_cstr(&out), dovecot_fetch[i].fetch);
			fail();
		}
		buf_free(&out);
		mime_free(msg);
		free(data);
	}
}

static void test_dovecot_sections(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(dovecot_sections) / sizeof(dovecot_sections[0]); i++) {
		const struct expected_section *e = &dovecot_sections[i];
		unsigned path[64];
		size_t n = 0, len;
		const char *p = e->path;
		char *data = read_mail(e->file, true, &len);
		struct mime_message *msg = mime_parse(data, len);
		const struct mime_part *part;

		while (*p != '\0' && n < 64) {
			path[n++] = (unsigned)strtoul(p, (char **)&p, 10);
			if (*p == '.')
				p++;
		}
		part = mime_part_by_path(msg, path, n);
		if (part == NULL)
			fail_msg("%s: no part %s", e->file, e->path);
		if (part->body_len != strlen(e->body) ||
		    memcmp(msg->data + part->body_off, e->body, part->body_len) != 0 ||
		    part->hdr_len != strlen(e->mime) ||
		    memcmp(msg->data + part->hdr_off, e->mime, part->hdr_len) != 0)
			fail_msg("%s: BODY[%s] or BODY[%s.MIME] differs from Dovecot's", e->file,
				 e->path, e->path);
		mime_free(msg);
		free(data);
	}
}

static struct mime_message *parse_file(const char *name, bool crlf, char **data_r)
{
	size_t len;

	*data_r = read_mail(name, crlf, &len);
	return mime_parse(*data_r, len);
}

static void test_lf_only(void **state)
{
	char *lf_data, *crlf_data;
	struct mime_message *lf = parse_file("01-simple.eml", false, &lf_data);
	struct mime_message *crlf = parse_file("01-simple.eml", true, &crlf_data);
	struct buf a = BUF_INIT, b = BUF_INIT;

	(void)state;
	mime_envelope(lf, &lf->root, &a);
	mime_envelope(crlf, &crlf->root, &b);
	assert_string_equal(buf_cstr(&a), buf_cstr(&b));
	/* same structure, sizes of the bytes we were given */
	assert_int_equal(lf->root.body_lines, 3);
	assert_int_equal(crlf->root.body_lines, 3);
	assert_int_equal(lf->root.body_len, 35);
	assert_int_equal(crlf->root.body_len, 38);
	assert_memory_equal(lf->data + lf->root.body_off, "Hello Bob,\n", 11);
	buf_reset(&a);
	mime_bodystructure(lf, &lf->root, true, &a);
	assert_string_equal(buf_cstr(&a),
			    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 35 3 NIL NIL NIL NIL)");

	/* multipart with LF only */
	mime_free(lf);
	free(lf_data);
	lf = parse_file("05-rfc822.eml", false, &lf_data);
	assert_true(lf->root.is_multipart);
	assert_int_equal(lf->root.n_children, 2);
	assert_true(lf->root.children[1].is_message_rfc822);
	assert_int_equal(lf->root.children[1].children[0].n_children, 2);
	assert_memory_equal(lf->data + lf->root.children[0].body_off, "see attached", 12);
	assert_int_equal(lf->root.children[0].body_len, 12);

	buf_free(&a);
	buf_free(&b);
	mime_free(lf);
	mime_free(crlf);
	free(lf_data);
	free(crlf_data);
}

static void assert_part_body(const struct mime_message *msg, const unsigned *path, size_t n,
			     const char *expected)
{
	const struct mime_part *p = mime_part_by_path(msg, path, n);

	assert_non_null(p);
	assert_int_equal(p->body_len, strlen(expected));
	assert_memory_equal(msg->data + p->body_off, expected, p->body_len);
}

static void test_part_by_path(void **state)
{
	char *data;
	struct mime_message *msg = parse_file("05-rfc822.eml", true, &data);
	const unsigned p1[] = { 1 }, p2[] = { 2 }, p21[] = { 2, 1 }, p211[] = { 2, 1, 1 },
		       p22[] = { 2, 2 }, p3[] = { 3 }, p0[] = { 0 }, p23[] = { 2, 3 };
	const struct mime_part *part;

	(void)state;
	assert_ptr_equal(mime_part_by_path(msg, NULL, 0), &msg->root);
	/* bodies as Dovecot returned BODY[1], BODY[2.1], BODY[2.1.1] */
	assert_part_body(msg, p1, 1, "see attached");
	assert_part_body(msg, p21, 2, "inner text\r\ntwo lines");
	assert_part_body(msg, p211, 3, "inner text\r\ntwo lines");
	assert_part_body(msg, p22, 2, "<p>inner</p>");
	part = mime_part_by_path(msg, p2, 1);
	assert_non_null(part);
	assert_true(part->is_message_rfc822);
	assert_ptr_equal(part->children[0].parent, part);
	/* BODY[2.1.MIME] */
	part = mime_part_by_path(msg, p21, 2);
	assert_int_equal(part->hdr_len, strlen("Content-Type: text/plain; charset=us-ascii\r\n\r\n"));
	assert_memory_equal(msg->data + part->hdr_off, "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
			    part->hdr_len);
	assert_null(mime_part_by_path(msg, p3, 1));
	assert_null(mime_part_by_path(msg, p0, 1));
	assert_null(mime_part_by_path(msg, p23, 2));
	mime_free(msg);
	free(data);

	/* a non-multipart message: part 1 is the body, part 2 doesn't exist */
	msg = parse_file("01-simple.eml", true, &data);
	assert_ptr_equal(mime_part_by_path(msg, p1, 1), &msg->root);
	assert_null(mime_part_by_path(msg, p2, 1));
	mime_free(msg);
	free(data);

	/* missing close boundary: the last part runs to the end */
	msg = parse_file("06-missing-close.eml", true, &data);
	assert_part_body(msg, p2, 1, "second part runs to the end\r\nand more\r\n");
	mime_free(msg);
	free(data);

	/* digest children default to message/rfc822 */
	msg = parse_file("14-digest.eml", true, &data);
	assert_true(msg->root.children[0].is_message_rfc822);
	assert_string_equal(msg->root.children[0].type, "message");
	assert_false(msg->root.children[1].is_message_rfc822);
	assert_part_body(msg, p1, 1, "From: one@example.com\r\nSubject: first in digest\r\n\r\nfirst body");
	assert_part_body(msg, p21, 2, "explicit text");
	mime_free(msg);
	free(data);
}

static void test_header_fields(void **state)
{
	char *data;
	struct mime_message *msg = parse_file("05-rfc822.eml", true, &data);
	const char *const names[] = { "SUBJECT", "FROM", "TO" };
	const char *const not_names[] = { "SUBJECT", "FROM" };
	struct buf out = BUF_INIT;

	(void)state;
	mime_header_fields(msg->data + msg->root.hdr_off, msg->root.hdr_len, names, 3, false, &out);
	assert_string_equal(buf_cstr(&out),
			    "From: outer@example.com\r\nTo: someone@example.org\r\nSubject: forwarded\r\n\r\n");
	buf_reset(&out);
	mime_header_fields(msg->data + msg->root.hdr_off, msg->root.hdr_len, not_names, 2, true, &out);
	assert_string_equal(buf_cstr(&out),
			    "To: someone@example.org\r\nDate: Wed, 2 Mar 2022 11:00:00 +0000\r\n"
			    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n");
	mime_free(msg);
	free(data);

	/* folded and duplicate fields, "To :" with space, a line without ':' */
	msg = parse_file("20-dups.eml", true, &data);
	buf_reset(&out);
	mime_header_fields(msg->data + msg->root.hdr_off, msg->root.hdr_len, names, 3, false, &out);
	assert_string_equal(buf_cstr(&out),
			    "Subject: first subject\r\nSubject: second\tsubject\r\n  folded   here\r\n"
			    "From: a@example.com\r\nFrom: b@example.com\r\nTo : spaced@example.com\r\n\r\n");
	buf_reset(&out);
	mime_header_fields(msg->data + msg->root.hdr_off, msg->root.hdr_len, not_names, 2, true, &out);
	assert_string_equal(buf_cstr(&out),
			    "Date: Fri, 4 Mar 2022\r\n 13:00:00 +0000\r\nMessage-ID: <one@x>\r\n"
			    "Message-Id: <two@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain;\r\n"
			    "\tcharset=\"us-ascii\";\r\n format=flowed\r\nContent-Type: text/html\r\n"
			    "Content-ID: <cid\r\n folded@x>\r\n"
			    "Content-Description: a \"quoted\" \\desc\\ with more \\ escapes \"\r\n"
			    "X-Empty:\r\nX-Spaces:   \r\nNoColonLine\r\nTo : spaced@example.com\r\n\r\n");

	/* header_get: first value, unfolded, raw */
	buf_reset(&out);
	assert_true(mime_header_get(msg->data, msg->root.hdr_len, "subject", &out));
	assert_string_equal(buf_cstr(&out), "first subject");
	buf_reset(&out);
	assert_true(mime_header_get(msg->data, msg->root.hdr_len, "Date", &out));
	assert_string_equal(buf_cstr(&out), "Fri, 4 Mar 2022 13:00:00 +0000");
	buf_reset(&out);
	assert_true(mime_header_get(msg->data, msg->root.hdr_len, "X-Empty", &out));
	assert_string_equal(buf_cstr(&out), "");
	assert_false(mime_header_get(msg->data, msg->root.hdr_len, "X-Nope", &out));
	buf_reset(&out);
	assert_true(mime_header_get_all_utf8(msg->data, msg->root.hdr_len, "Subject", &out));
	assert_string_equal(buf_cstr(&out), "first subject\nsecond\tsubject  folded   here");
	mime_free(msg);
	free(data);

	/* the edges, as Dovecot answers them: a field cut short at the end of
	 * the message, lines without ':', a header without blank line */
	{
		static const struct {
			const char *hdr, *name;
			bool exclude;
			const char *want;
		} edges[] = {
			{ "Subject: p", "Subject", false, "Subject: p\r\n" },
			{ "Subject: p\r\nTo: x", "Subject", false, "Subject: p\r\n\r\n" },
			{ "Subject\r\nSubject: p", "Subject", false, "Subject: p\r\n" },
			{ "From: a@b\nSubject: x\n", "Subject", false, "Subject: x\r\n\r\n" },
			{ "From: a@b\nSubject: x\n", "Subject", true, "From: a@b\r\n" },
			{ "Subject\r\nFrom: a@b\r\nFrom\r\nTo: x\r\nX-Last: y", "From", true,
			  "Subject\r\nFrom\r\nTo: x\r\nX-Last: y" },
			{ "X: \0\r\n\r\n", "X", false, "X: \x80\r\n\r\n" },
		};
		size_t k;

		for (k = 0; k < sizeof(edges) / sizeof(edges[0]); k++) {
			const char *name = edges[k].name;
			size_t hlen = strlen(edges[k].hdr);

			if (k == 6)
				hlen = 8; /* with the NUL */
			buf_reset(&out);
			mime_header_fields(edges[k].hdr, hlen, &name, 1, edges[k].exclude, &out);
			assert_int_equal(out.len, strlen(edges[k].want));
			assert_memory_equal(out.data, edges[k].want, out.len);
		}
	}

	/* LF-only input still gives CRLF output */
	msg = parse_file("05-rfc822.eml", false, &data);
	buf_reset(&out);
	mime_header_fields(msg->data + msg->root.hdr_off, msg->root.hdr_len, names, 3, false, &out);
	assert_string_equal(buf_cstr(&out),
			    "From: outer@example.com\r\nTo: someone@example.org\r\nSubject: forwarded\r\n\r\n");
	mime_free(msg);
	free(data);
	buf_free(&out);
}

static bool contains(const struct buf *b, const char *s)
{
	return strstr(buf_cstr(b), s) != NULL;
}

static void test_search_text(void **state)
{
	char *data;
	struct mime_message *msg = parse_file("04-nested.eml", true, &data);
	struct buf out = BUF_INIT;

	(void)state;
	mime_search_text(msg, false, true, &out);
	/* QP latin-1 part and base64 UTF-8 html part, both as UTF-8 */
	assert_true(contains(&out, "Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\xbcnchen, soft break here. Bad =ZZ escape."));
	assert_true(contains(&out, "<html><body>Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\xbcnchen</body></html>"));
	assert_false(contains(&out, "AAECAwQF")); /* not text */
	assert_false(contains(&out, "Subject"));
	buf_reset(&out);
	mime_search_text(msg, true, false, &out);
	assert_true(contains(&out, "Subject: nested\n"));
	assert_false(contains(&out, "aus"));
	mime_free(msg);
	free(data);

	msg = parse_file("09-rfc2047.eml", true, &data);
	buf_reset(&out);
	mime_search_text(msg, true, true, &out);
	assert_true(contains(&out, "Subject: If you can read this you understand the example. and M\xc3\xbcnchen end\n"));
	assert_true(contains(&out, "From: Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>\n"));
	assert_true(contains(&out, "To: J\xc3\xbcrgen <j@example.com>, \"Quoted \xc3\xa4\" <q@example.com>\n"));
	assert_true(contains(&out, "Cc: Keith Moore <moore@cs.utk.edu>\n"));
	assert_true(contains(&out, "Caf\xc3\xa9 cr\xc3\xa8me"));
	assert_true(mime_utf8_contains_ci(out.data, out.len, "CAF\xc3\x89 CR\xc3\x88ME",
					  strlen("CAF\xc3\x89 CR\xc3\x88ME")));
	mime_free(msg);
	free(data);

	/* raw 8-bit headers: UTF-8 kept, latin-1 converted */
	msg = parse_file("08-8bit.eml", true, &data);
	buf_reset(&out);
	mime_search_text(msg, true, true, &out);
	assert_true(contains(&out, "From: J\xc3\xbcrgen M\xc3\xbcller <juergen@example.com>\n"));
	assert_true(contains(&out, "To: \"Fran\xc3\xa7ois\" <francois@example.fr>\n"));
	/* UTF-8 and latin-1 mixed in one value: both parts readable */
	assert_true(contains(&out, "Subject: Gr\xc3\xbc\xc3\x9f" "e \xc3\xa0 tous\n"));
	assert_true(contains(&out, "K\xc3\xa4se und Br\xc3\xb6tchen."));
	mime_free(msg);
	free(data);

	/* embedded message: its text is body text; its header, like every
	 * part's header, is only seen by TEXT (as in Dovecot) */
	msg = parse_file("05-rfc822.eml", true, &data);
	buf_reset(&out);
	mime_search_text(msg, false, true, &out);
	assert_false(contains(&out, "Subject: inner subject\n"));
	assert_true(contains(&out, "inner text\r\ntwo lines"));
	assert_true(contains(&out, "<p>inner</p>"));
	buf_reset(&out);
	mime_search_text(msg, true, true, &out);
	assert_true(contains(&out, "Subject: inner subject\n"));
	assert_true(contains(&out, "Content-Type: message/rfc822"));
	assert_true(contains(&out, "inner text\r\ntwo lines"));
	mime_free(msg);
	free(data);
	buf_free(&out);
}

static void test_rfc2231_params(void **state)
{
	char *data;
	struct mime_message *msg = parse_file("10-rfc2231.eml", true, &data);
	const struct mime_part *p = &msg->root.children[0];

	(void)state;
	assert_int_equal(p->n_params, 1);
	assert_string_equal(p->params[0].name, "title*");
	assert_string_equal(p->params[0].raw_name, "title*");
	assert_string_equal(p->params[0].value,
			    "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn't it!");
	assert_string_equal(p->disposition, "attachment");
	assert_int_equal(p->n_disp_params, 1);
	assert_string_equal(p->disp_params[0].value, "UTF-8''Gr%C3%BC%C3%9Fe.txt");
	{
		struct buf v = BUF_INIT;
		mime_param_value_utf8(&p->disp_params[0], &v);
		assert_string_equal(buf_cstr(&v), "Gr\xc3\xbc\xc3\x9f" "e.txt");
		buf_reset(&v);
		mime_param_value_utf8(&p->params[0], &v);
		assert_string_equal(buf_cstr(&v), "This is even more ***fun*** isn't it!");
		buf_reset(&v);
		mime_param_value_utf8(&msg->root.children[1].params[0], &v);
		assert_string_equal(buf_cstr(&v), "caf\xc3\xa9.txt");
		buf_free(&v);
	}
	p = &msg->root.children[1];
	assert_string_equal(p->disp_params[1].name, "filename");
	assert_string_equal(p->disp_params[1].raw_name, "FileName");
	{
		/* a plain value with RFC 2047 inside, as many mailers send */
		struct mime_param q = { (char *)"filename", (char *)"=?utf-8?q?K=C3=A4se?=.pdf",
					(char *)"filename" };
		struct buf v = BUF_INIT;
		mime_param_value_utf8(&q, &v);
		assert_string_equal(buf_cstr(&v), "K\xc3\xa4se.pdf");
		buf_free(&v);
	}
	mime_free(msg);
	free(data);
}

static void test_decode(void **state)
{
	struct buf out = BUF_INIT;
	const char *hdr;

	(void)state;
	/* RFC 2047: adjacent words joined, space to plain text kept */
	hdr = "=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=\r\n =?utf-8?B?w6Q=?=  c =?bogus?Q?d_e?=";
	mime_decode_header_utf8(hdr, strlen(hdr), &out);
	assert_string_equal(buf_cstr(&out), "ab\xc3\xa4  c d e");
	buf_reset(&out);
	/* a UTF-8 character split over two words */
	hdr = "=?UTF-8?Q?=C3?= =?UTF-8?Q?=A4?=";
	mime_decode_header_utf8(hdr, strlen(hdr), &out);
	assert_string_equal(buf_cstr(&out), "\xc3\xa4");
	buf_reset(&out);
	/* not encoded words */
	hdr = "=?utf-8?q?broken and =?x?y?z?= plain";
	mime_decode_header_utf8(hdr, strlen(hdr), &out);
	assert_string_equal(buf_cstr(&out), hdr);
	buf_reset(&out);
	/* language suffix, latin-1 fallback for raw 8-bit */
	hdr = "=?ISO-8859-1*de?Q?Gr=FC=DFe?= \xe0 vous";
	mime_decode_header_utf8(hdr, strlen(hdr), &out);
	assert_string_equal(buf_cstr(&out), "Gr\xc3\xbc\xc3\x9f" "e \xc3\xa0 vous");
	buf_reset(&out);

	assert_true(mime_charset_to_utf8("windows-1252", "\x80 \xe9", 3, &out));
	assert_string_equal(buf_cstr(&out), "\xe2\x82\xac \xc3\xa9");
	buf_reset(&out);
	assert_true(mime_charset_to_utf8("koi8-r", "\xcd\xcf\xd3\xcb\xd7\xc1", 6, &out));
	assert_string_equal(buf_cstr(&out), "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0");
	buf_reset(&out);
	assert_false(mime_charset_to_utf8("x-no-such-charset", "abc\xff", 4, &out));
	assert_string_equal(buf_cstr(&out), "abc\xc3\xbf");
	buf_reset(&out);
	assert_false(mime_charset_to_utf8("utf-16//IGNORE", "ab", 2, &out));
	assert_string_equal(buf_cstr(&out), "ab");
	buf_reset(&out);
	/* invalid bytes in a multibyte charset become U+FFFD */
	assert_true(mime_charset_to_utf8("utf-16le", "a\0b", 3, &out));
	assert_string_equal(buf_cstr(&out), "a\xef\xbf\xbd");
	buf_free(&out);
}

static void test_transfer_decoding(void **state)
{
	const char *mail =
		"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
		"--B\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVs\r\nbG8*!gd29y\r\nbGQ\r\n"
		"--B\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n"
		"a=3Db=\r\nc =ZZ d=\nend  \r\nx\r\n"
		"--B\r\nContent-Transfer-Encoding: 8bit\r\n\r\nraw=41\r\n--B--\r\n";
	struct mime_message *msg = mime_parse(mail, strlen(mail));
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(msg->root.n_children, 3);
	mime_part_decode_body(msg, &msg->root.children[0], &out);
	assert_string_equal(buf_cstr(&out), "Hello world");
	buf_reset(&out);
	mime_part_decode_body(msg, &msg->root.children[1], &out);
	assert_string_equal(buf_cstr(&out), "a=bc =ZZ dend\r\nx");
	buf_reset(&out);
	mime_part_decode_body(msg, &msg->root.children[2], &out);
	assert_string_equal(buf_cstr(&out), "raw=41");
	buf_free(&out);
	mime_free(msg);
}

static void test_contains_ci(void **state)
{
	const char *h = "Gr\xc3\xbc\xc3\x9f" "e aus M\xc3\x9cNCHEN, \xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1, "
			"\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90, \xc5\x81\xc3\xb3" "d\xc5\xba, \xc3\x84rger";

	(void)state;
	assert_true(mime_utf8_contains_ci(h, strlen(h), "m\xc3\xbcnchen", 8));
	assert_true(mime_utf8_contains_ci(h, strlen(h), "GR\xc3\x9c\xc3\x9f" "E", 7));
	assert_true(mime_utf8_contains_ci(h, strlen(h), "\xce\x91\xce\x98\xce\x89\xce\x9d\xce\x91", 10));
	assert_true(mime_utf8_contains_ci(h, strlen(h), "\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", 12));
	assert_true(mime_utf8_contains_ci(h, strlen(h), "\xc5\x82\xc3\x93" "D\xc5\xb9", 7));
	assert_true(mime_utf8_contains_ci(h, strlen(h), "\xc3\xa4RGER", 6));
	assert_true(mime_utf8_contains_ci(h, strlen(h), "", 0));
	assert_false(mime_utf8_contains_ci(h, strlen(h), "munchen", 7));
	assert_false(mime_utf8_contains_ci(h, strlen(h), "\xc3\xa4rgerlich", 11));
	/* invalid UTF-8 doesn't break matching of the rest */
	assert_true(mime_utf8_contains_ci("\xff\xfeHELLO\xc3", 8, "hello", 5));
}

static void test_parse_date(void **state)
{
	static const struct {
		const char *s;
		long long t;
		int tz;
	} ok[] = {
		{ "Mon, 7 Feb 1994 21:52:25 -0800 (PST)", 760686745, -480 },
		{ "7 Feb 1994 21:52:25 -0800", 760686745, -480 },
		{ "Mon, 07 Feb 94 21:52 PST", 760686720, -480 },
		{ "Tue, 1 Mar 2022 10:00:00 +0100", 1646125200, 60 },
		{ "  Tue ,  1  Mar  2022  09:00:00  GMT  ", 1646125200, 0 },
		{ "1 Mar 2022 (comment) 04:00:00 EST", 1646125200, -300 },
		{ "Thu, 3 Mar 22 12:00:00 UT", 1646308800, 0 },
		{ "Thu, 3 Mar 122 12:00:00 Z", 1646308800, 0 },
		{ "Thu, 3 Mar 2022 12:00:00 A", 1646308800, 0 },
		{ "Thu, 3 Mar 2022 12:00:00", 1646308800, 0 },
		{ "Sat, 1 Jan 1970 00:00:00 +0000", 0, 0 },
		{ "29 Feb 2000 23:59:60 -0000", 951868800, 0 },
		{ "Fri, 4 Mar 2022\t13:00:00 +0000", 1646398800, 0 },
		{ "1 march 2022 10:00:00 +0000", 1646128800, 0 },
	};
	static const char *const bad[] = {
		"", "garbage", "Mon, 7 Foo 1994 21:52:25 -0800", "7 Feb 1994", "32 Feb 1994 10:00 +0000",
		"7 Feb 1994 25:00 +0000", "7 Feb 1994 10:61 +0000", "7 Feb 1994 10:00 +12",
	};
	size_t i;
	long long t;
	int tz;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!mime_parse_date(ok[i].s, strlen(ok[i].s), &t, &tz))
			fail_msg("date not parsed: %s", ok[i].s);
		if (t != ok[i].t || tz != ok[i].tz)
			fail_msg("%s: %lld %d, want %lld %d", ok[i].s, t, tz, ok[i].t, ok[i].tz);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mime_parse_date(bad[i], strlen(bad[i]), &t, &tz))
			fail_msg("bad date parsed: %s", bad[i]);
	}
}

static size_t max_depth(const struct mime_part *p, size_t d, size_t *count)
{
	size_t i, m = d;

	(*count)++;
	for (i = 0; i < p->n_children; i++) {
		size_t c = max_depth(&p->children[i], d + 1, count);
		if (c > m)
			m = c;
	}
	return m;
}

static void exercise(const char *data, size_t len)
{
	struct mime_message *msg = mime_parse(data, len);
	struct buf out = BUF_INIT;
	const unsigned path[] = { 1, 1, 2 };
	const char *const names[] = { "subject", "content-type" };
	size_t count = 0;

	mime_envelope(msg, &msg->root, &out);
	mime_bodystructure(msg, &msg->root, true, &out);
	mime_bodystructure(msg, &msg->root, false, &out);
	mime_search_text(msg, true, true, &out);
	mime_header_fields(data, msg->root.hdr_len, names, 2, false, &out);
	mime_header_fields(data, msg->root.hdr_len, names, 2, true, &out);
	(void)mime_header_get_all_utf8(data, msg->root.hdr_len, "From", &out);
	(void)mime_part_by_path(msg, path, 3);
	assert_true(max_depth(&msg->root, 0, &count) <= MIME_MAX_DEPTH);
	assert_true(count <= MIME_MAX_PARTS);
	buf_free(&out);
	mime_free(msg);
}

static void test_deep_nesting(void **state)
{
	char *data;
	size_t len, count = 0;
	struct mime_message *msg;
	struct buf out = BUF_INIT;

	(void)state;
	data = read_mail("15-deep.eml", true, &len);
	msg = mime_parse(data, len);
	/* 60 levels sent, MIME_MAX_DEPTH kept; the rest is an opaque body */
	assert_int_equal(max_depth(&msg->root, 0, &count), MIME_MAX_DEPTH);
	mime_bodystructure(msg, &msg->root, true, &out);
	assert_true(strstr(buf_cstr(&out), "(\"application\" \"octet-stream\" (\"boundary\" \"=_lvl50_=\")") != NULL);
	buf_free(&out);
	mime_free(msg);
	exercise(data, len);
	free(data);

	/* 2000 levels of message/rfc822 */
	{
		struct buf m = BUF_INIT;
		size_t i;
		for (i = 0; i < 2000; i++)
			buf_append_str(&m, "Content-Type: message/rfc822\r\n\r\n");
		buf_append_str(&m, "Subject: bottom\r\n\r\nx\r\n");
		exercise(m.data, m.len);
		buf_free(&m);
	}
}

static void test_many_parts(void **state)
{
	struct buf m = BUF_INIT;
	struct mime_message *msg;
	size_t i, count = 0;

	(void)state;
	buf_append_str(&m, "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (i = 0; i < 12000; i++)
		buf_printf(&m, "--x\r\nContent-Type: text/plain\r\n\r\npart %zu\r\n", i);
	buf_append_str(&m, "--x--\r\n");
	msg = mime_parse(m.data, m.len);
	(void)max_depth(&msg->root, 0, &count);
	assert_int_equal(count, MIME_MAX_PARTS);
	assert_int_equal(msg->root.n_children, MIME_MAX_PARTS - 1);
	/* the parts past the limit stay in the multipart's body */
	assert_int_equal(msg->root.body_off + msg->root.body_len, m.len);
	mime_free(msg);
	exercise(m.data, m.len);
	buf_free(&m);
}

static void test_garbage(void **state)
{
	static const char *const pieces[] = {
		"--", "--b", "--b--", "\r\n", "\n", "\r", ":", "Content-Type: multipart/mixed; boundary=b\r\n",
		"Content-Type: message/rfc822\r\n", "Content-Type: multipart/digest; boundary=\"\"\r\n",
		"From: \"", "To: (", "=?utf-8?b?", "?=", "\0", "\xff", "<@", ";", ",", " ", "\t",
		"Content-Transfer-Encoding: base64\r\n", "=", "Subject: =?x?q?=C3", "MIME-Version: 1\r\n",
		"Content-Disposition: a; b*0*=x; b*1=y; b*3=z\r\n",
	};
	char *data, *file;
	size_t len, i, j;
	unsigned seed = 12345;

	(void)state;
	file = read_mail("17-garbage.eml", false, &len);
	exercise(file, len);
	free(file);
	exercise("", 0);
	exercise("\r\n", 2);
	exercise("--", 2);

	for (i = 0; i < 3000; i++) {
		struct buf m = BUF_INIT;
		size_t n = (seed = seed * 1103515245 + 12345) % 60;

		for (j = 0; j < n; j++) {
			seed = seed * 1103515245 + 12345;
			if ((seed >> 16) % 4 == 0) {
				buf_append_c(&m, (char)(seed >> 8));
			} else {
				const char *p = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
				buf_append(&m, p, p[0] == '\0' ? 1 : strlen(p));
			}
		}
		/* an exact-size copy so ASan sees any read past the end */
		data = malloc(m.len ? m.len : 1);
		memcpy(data, m.data == NULL ? "" : m.data, m.len);
		exercise(data, m.len);
		free(data);
		buf_free(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dovecot_identical),
		cmocka_unit_test(test_dovecot_sections),
		cmocka_unit_test(test_lf_only),
		cmocka_unit_test(test_part_by_path),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_search_text),
		cmocka_unit_test(test_rfc2231_params),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_transfer_decoding),
		cmocka_unit_test(test_contains_ci),
		cmocka_unit_test(test_parse_date),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
