/* A search_source answering SEARCH's content keys from the user's full-text
 * index (storage/fts.h) instead of the message: header and text callbacks
 * read the stored (folded) text, sent_date the cached sort fields, and
 * index_match narrows string keys of >= 3 characters by an FTS MATCH over
 * the whole mailbox (kept per thread for a few seconds: a message's stored
 * text never changes, so a kept answer stays right). A message not yet
 * indexed is read once and indexed; if that fails the fallback source (the
 * message loader) is asked, so storage errors surface as before. */
#ifndef OM_IMAP_FTS_H
#define OM_IMAP_FTS_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap-search.h"
#include "imap/imap-session.h"
#include "storage/fts.h"

struct imap_fts_src {
	struct search_source src;    /* give &src to search_program_match */
	struct imap_session *s;
	uint32_t uid;
	bool expunged;
	const struct search_source *fallback;
	bool doc_tried, doc_ok;
	struct fts_doc doc;
	bool sf_tried, sf_ok;
	struct mail_sort_fields sf;
};

void imap_fts_src_init(struct imap_fts_src *f, struct imap_session *s, const struct imap_msg *im,
		       const struct search_source *fallback);
void imap_fts_src_deinit(struct imap_fts_src *f);

#endif
