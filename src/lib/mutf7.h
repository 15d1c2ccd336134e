/* Modified UTF-7 mailbox names (RFC 3501 5.1.3), strict both ways. Shared
 * by the IMAP layer (names on the wire) and the maildir driver (folder
 * names on disk, as Dovecot writes them). Both append to out. */
#ifndef OM_MUTF7_H
#define OM_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* -> UTF-8. false (out unspecified) if `in` is not valid modified UTF-7. */
bool mutf7_to_utf8(const char *in, size_t len, struct buf *out);
/* UTF-8 -> modified UTF-7. false if `in` is not valid UTF-8. */
bool utf8_to_mutf7(const char *in, size_t len, struct buf *out);

#endif
