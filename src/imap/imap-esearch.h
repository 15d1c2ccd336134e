/* ESEARCH (RFC 4731), SEARCHRES (RFC 5182) and CONTEXT=SEARCH (RFC 5267):
 * SEARCH RETURN (...) options, the ESEARCH response, and the search
 * contexts that RETURN (UPDATE) keeps current as the mailbox changes. */
#ifndef OM_IMAP_ESEARCH_H
#define OM_IMAP_ESEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-search.h"
#include "imap/imap-session.h"
#include "imap/imap-sort.h"

enum esearch_return {
	ESEARCH_MIN = 1 << 0,
	ESEARCH_MAX = 1 << 1,
	ESEARCH_ALL = 1 << 2,
	ESEARCH_COUNT = 1 << 3,
	ESEARCH_SAVE = 1 << 4,
	ESEARCH_UPDATE = 1 << 5,
	ESEARCH_PARTIAL = 1 << 6,
	ESEARCH_CONTEXT = 1 << 7,
};

struct esearch_options {
	bool esearch;            /* RETURN was given: answer with ESEARCH */
	unsigned ret;            /* enum esearch_return */
	int64_t partial_lo, partial_hi; /* 1-based, negative from the end */
};

/* Parse "RETURN (opts)" at args[0] if there; *used_r: how many arguments
 * it took. false: *error_r for BAD. */
bool esearch_parse_return(const struct imap_arg *args, size_t n_args,
			  struct esearch_options *opts, size_t *used_r, const char **error_r);

/* A search kept current (RETURN (UPDATE)). */
struct imap_search_context {
	char *tag;
	bool uid;                /* UID SEARCH: updates name UIDs */
	struct search_program *prog;
	uint32_t *uids;          /* the result now: by UID, or in sort order */
	size_t n, alloc;
	/* CONTEXT=SORT: a SORT RETURN (UPDATE); positions in ADDTO and
	 * REMOVEFROM are then 1-based places in the sorted result */
	bool sorted;
	struct sort_key keys[SORT_MAX_KEYS];
	size_t n_keys;
	uint64_t seen_modseq;    /* messages changed after this are re-evaluated */
	uint32_t seen_uid;       /* and messages above this UID */
};

/* The answer to a search: "* ESEARCH (TAG ...) ..." for the matching UIDs
 * (sorted; modseqs[i] is uids[i]'s). */
void esearch_send(struct imap_session *s, const struct esearch_options *opts,
		  const uint32_t *uids, const uint64_t *modseqs, size_t n, bool with_modseq);
/* Keep a context for the search just answered (takes prog). false: not
 * kept, "* NO [NOUPDATE ...]" was sent. */
bool imap_search_context_add(struct imap_session *s, struct search_program *prog,
			     const uint32_t *uids, size_t n);
/* The same for SORT RETURN (UPDATE): uids[] in sort order. */
bool imap_sort_context_add(struct imap_session *s, struct search_program *prog,
			   const struct sort_key *keys, size_t n_keys, const uint32_t *uids,
			   size_t n);
/* imap-context-sort.c: put uids[] (of view messages) in the keys' order.
 * 0 or a storage error. */
int imap_sort_uids(struct imap_session *s, const struct sort_key *keys, size_t n_keys,
		   uint32_t *uids, size_t n);
/* Does a context with this tag exist? */
bool imap_search_context_exists(const struct imap_session *s, const char *tag);

/* imap-cmd-search.c: does view message idx match the bound program?
 * false with *error_r set if the message could not be read (other than
 * being expunged). */
bool imap_search_match_msg(struct imap_session *s, struct search_program *prog, size_t idx,
			   int *error_r);

#endif
