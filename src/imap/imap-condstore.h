/* Helpers shared by the CONDSTORE/QRESYNC (RFC 7162), ESEARCH (RFC 4731),
 * SEARCHRES (RFC 5182) and CONTEXT=SEARCH (RFC 5267) parts of the command
 * files: number sets, mod-sequence values, VANISHED. */
#ifndef OM_IMAP_CONDSTORE_H
#define OM_IMAP_CONDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-session.h"
#include "lib/buf.h"

/* Contexts (RETURN (UPDATE)) one session may keep. */
#define IMAP_MAX_SEARCH_CONTEXTS 16

/* Append sorted, distinct numbers as a compact sequence set "1:3,5,9:10".
 * Nothing for n == 0. */
void imap_write_num_set(struct buf *out, const uint32_t *nums, size_t n);
/* mod-sequence-value (RFC 7162: 1..2^63-1); zero_ok for
 * mod-sequence-valzer (UNCHANGEDSINCE 0, SEARCH MODSEQ 0). */
bool imap_parse_modseq(const char *s, bool zero_ok, uint64_t *modseq_r);
/* A CONDSTORE-enabling command ran (RFC 7162 3.1): turn CONDSTORE on; the
 * first time with a mailbox selected, tell its HIGHESTMODSEQ. */
void imap_condstore_enable(struct imap_session *s);
/* "* VANISHED [(EARLIER) ]uids" (nothing for n == 0). */
void imap_send_vanished(struct imap_session *s, bool earlier, const uint32_t *uids, size_t n);
/* "* VANISHED (EARLIER) set" for what vanished since a modseq: uids[]
 * (sorted, from mailbox_vanished) plus, when forgot_max > 0, every UID up
 * to forgot_max (the index forgot those expunges); only UIDs the view
 * doesn't hold, and within `ranges` when n_ranges > 0 ('*' = the view's
 * last UID). Written as ranges: the forgotten part may span millions. */
void imap_send_vanished_earlier(struct imap_session *s, const uint32_t *uids, size_t n,
				uint32_t forgot_max, const struct seq_range *ranges,
				size_t n_ranges);
/* uids[] (sorted) that fall in the UID set `ranges` ('*' = star), in place;
 * returns the new count. */
size_t imap_uids_in_ranges(uint32_t *uids, size_t n, const struct seq_range *ranges,
			   size_t n_ranges, uint32_t star);

#endif
