/* The index's memory of expunges, for QRESYNC's VANISHED (EARLIER) and
 * so that no UID is given twice: one row per expunged message, the newest
 * index_expunge_history of each mailbox; older ones are pruned, and the
 * expunged_floor row of the mailbox says what the pruned ones covered. */
#include <stdlib.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"
#include "storage/index-private.h"

/* Expunges remembered per mailbox (QRESYNC); see index_set_expunge_history. */
static _Atomic unsigned g_expunge_history = INDEX_EXPUNGE_HISTORY_DEFAULT;

void index_set_expunge_history(unsigned n)
{
	g_expunge_history = n < INDEX_EXPUNGE_HISTORY_MIN ? INDEX_EXPUNGE_HISTORY_MIN : n;
}

static int expunged_prune(struct om_index *idx, int64_t mailbox_id);

int index_expunged_record(struct om_index *idx, int64_t mailbox_id, uint32_t uid,
			  uint64_t modseq)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)"
			     " VALUES (?,?,?)", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	ret = index_step_done(idx, st);
	/* look at the table's size now and then, not at every expunge */
	if (ret == 0 && ++idx->expunges >= INDEX_EXPUNGE_PRUNE_EVERY) {
		idx->expunges = 0;
		ret = expunged_prune(idx, mailbox_id);
	}
	return ret;
}

/* One integer from a query with the mailbox id as parameter 1 and an
 * optional second parameter; *v_r = dflt when there is no row or NULL. */
static int query_int(struct om_index *idx, const char *sql, int64_t mailbox_id, int64_t arg2,
		     bool has_arg2, int64_t dflt, int64_t *v_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, sql, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	if (has_arg2)
		sqlite3_bind_int64(st, 2, arg2);
	int rc = sqlite3_step(st);
	*v_r = dflt;
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			*v_r = sqlite3_column_int64(st, 0);
	} else if (rc != SQLITE_DONE) {
		ret = index_db_err(idx, "expunged query");
	}
	index_unprep(idx, st);
	return ret;
}

int index_expunged_floor_raise(struct om_index *idx, int64_t mailbox_id, uint64_t modseq,
			       uint32_t max_uid)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "INSERT INTO expunged_floor (mailbox_id, modseq, max_uid) VALUES (?,?,?)"
		       " ON CONFLICT(mailbox_id) DO UPDATE SET"
		       " modseq = MAX(modseq, excluded.modseq), max_uid = MAX(max_uid, excluded.max_uid)",
		       &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, (int64_t)modseq);
	sqlite3_bind_int64(st, 3, max_uid);
	return index_step_done(idx, st);
}

int index_expunged_floor(struct om_index *idx, int64_t mailbox_id, uint64_t *modseq_r,
			 uint32_t *max_uid_r)
{
	int64_t m, u;
	int ret = query_int(idx, "SELECT modseq FROM expunged_floor WHERE mailbox_id = ?",
			    mailbox_id, 0, false, 0, &m);
	if (ret == 0)
		ret = query_int(idx, "SELECT max_uid FROM expunged_floor WHERE mailbox_id = ?",
				mailbox_id, 0, false, 0, &u);
	*modseq_r = ret == 0 ? (uint64_t)m : 0;
	*max_uid_r = ret == 0 ? (uint32_t)u : 0;
	return ret;
}

/* Keep the newest g_expunge_history expunges of the mailbox; the floor row
 * records what the forgotten ones covered. Runs in the caller's
 * transaction. Hysteresis: prunes only past 1.5x, down to 1x. */
static int expunged_prune(struct om_index *idx, int64_t mailbox_id)
{
	unsigned keep = g_expunge_history;
	int64_t count, cutoff, max_uid;
	int ret = query_int(idx, "SELECT COUNT(*) FROM expunged WHERE mailbox_id = ?", mailbox_id,
			    0, false, 0, &count);
	if (ret < 0 || count <= (int64_t)keep + keep / 2)
		return ret;
	/* records at or below the modseq of the keep+1-th newest go */
	ret = query_int(idx, "SELECT modseq FROM expunged WHERE mailbox_id = ?"
			" ORDER BY modseq DESC LIMIT 1 OFFSET ?", mailbox_id, keep, true, 0, &cutoff);
	if (ret == 0)
		ret = query_int(idx, "SELECT MAX(uid) FROM expunged WHERE mailbox_id = ? AND modseq <= ?",
				mailbox_id, cutoff, true, 0, &max_uid);
	if (ret < 0 || cutoff <= 0)
		return ret;
	sqlite3_stmt *st;
	ret = index_prep(idx, "INSERT INTO expunged_floor (mailbox_id, modseq, max_uid) VALUES (?,?,?)"
		   " ON CONFLICT(mailbox_id) DO UPDATE SET"
		   " modseq = MAX(modseq, excluded.modseq), max_uid = MAX(max_uid, excluded.max_uid)",
		   &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, cutoff);
	sqlite3_bind_int64(st, 3, max_uid);
	ret = index_step_done(idx, st);
	if (ret < 0)
		return ret;
	ret = index_prep(idx, "DELETE FROM expunged WHERE mailbox_id = ? AND modseq <= ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, cutoff);
	ret = index_step_done(idx, st);
	if (ret == 0)
		log_debug("index %s: mailbox %lld: forgot expunges up to modseq %lld (UID %lld)",
			  idx->path, (long long)mailbox_id, (long long)cutoff, (long long)max_uid);
	return ret;
}

int index_expunged_has(struct om_index *idx, int64_t mailbox_id, uint32_t uid, bool *has_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT 1 FROM expunged WHERE mailbox_id = ? AND uid = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		*has_r = rc == SQLITE_ROW;
		ret = 0;
	} else {
		ret = index_db_err(idx, "expunged lookup");
	}
	index_unprep(idx, st);
	if (ret == 0 && !*has_r) {
		/* forgotten expunges: any UID up to the floor may have been used */
		uint64_t fm;
		uint32_t fu;
		ret = index_expunged_floor(idx, mailbox_id, &fm, &fu);
		if (ret == 0 && uid <= fu)
			*has_r = true;
	}
	return ret;
}

int index_expunged_since(struct om_index *idx, int64_t mailbox_id, uint64_t modseq,
			 uint32_t **uids_r, size_t *n_r)
{
	sqlite3_stmt *st;
	*uids_r = NULL;
	*n_r = 0;
	int ret = index_prep(idx, "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ?"
		       " ORDER BY uid", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	/* modseqs stay far below 2^63 (one step per change) */
	sqlite3_bind_int64(st, 2, modseq > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)modseq);
	uint32_t *uids = NULL;
	size_t n = 0, alloc = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			uids = om_reallocarray(uids, alloc, sizeof(*uids));
		}
		uids[n++] = (uint32_t)sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE) {
		ret = index_db_err(idx, "expunged since");
		free(uids);
		uids = NULL;
		n = 0;
	}
	index_unprep(idx, st);
	*uids_r = uids;
	*n_r = n;
	return ret;
}
