/* THREAD (RFC 5256 section 3): ORDEREDSUBJECT and REFERENCES over the
 * messages of a search result, written as the THREAD response's thread
 * list. Storage-independent: the caller fills one `struct thread_msg` per
 * message (in sequence order) from the cached sort fields. */
#ifndef OM_IMAP_THREAD_H
#define OM_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* References used per message (the last ones are kept). */
#define THREAD_MAX_REFS 500
/* Deeper threads are cut (the rest starts a thread of its own): the
 * algorithm's steps recurse along the tree. */
#define THREAD_MAX_DEPTH 1000

enum thread_algo {
	THREAD_ORDEREDSUBJECT,
	THREAD_REFERENCES,
};

struct thread_msg {
	uint32_t seq, uid;
	int64_t date;              /* sent date, else the internal date */
	const char *message_id;    /* raw header values; NULL = absent */
	const char *references;
	const char *in_reply_to;
	const char *subject;       /* base subject, folded; NULL = "" */
	bool subject_reply;        /* base subject extraction removed Re:/Fwd: */
};

bool thread_parse_algo(const char *name, enum thread_algo *algo_r);
/* Append "(1 2)(3 (4)(5))..." (nothing for no messages); uids: UIDs
 * instead of sequence numbers. */
void thread_write(const struct thread_msg *msgs, size_t n, enum thread_algo algo, bool uids,
		  struct buf *out);

/* The Message-IDs of a References/In-Reply-To value ("<a@b> <c@d>"), each
 * without its brackets, appended NUL-separated to out; their count. */
size_t thread_parse_msgids(const char *value, struct buf *out);

#endif
