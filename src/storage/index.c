/* The per-user SQLite index: schema, statements (a small cache of prepared
 * ones per connection), mailboxes, messages, keywords, cached fields,
 * subscriptions, quota sums, meta, pending deletes. The expunge history
 * (QRESYNC) is index-expunged.c. */
#include "storage/index.h"
#include "storage/index-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/om-error.h"

/* sqlite page cache per index connection, KiB (see index_open) */
#define INDEX_CACHE_KIB "256"

static const char *const schema_sql =
	"CREATE TABLE IF NOT EXISTS mailboxes ("
	" id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, guid TEXT NOT NULL DEFAULT '',"
	" uidvalidity INTEGER NOT NULL DEFAULT 0, uidnext INTEGER NOT NULL DEFAULT 1,"
	" highest_modseq INTEGER NOT NULL DEFAULT 1, first_recent_uid INTEGER NOT NULL DEFAULT 1,"
	" special_use INTEGER NOT NULL DEFAULT 0, sync_state TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS messages ("
	" mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL, guid TEXT NOT NULL,"
	" size INTEGER NOT NULL, internal_date INTEGER NOT NULL, internal_tz INTEGER NOT NULL,"
	" flags INTEGER NOT NULL, keywords INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" ddata TEXT NOT NULL DEFAULT '', PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS keywords ("
	" mailbox_id INTEGER NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,"
	" PRIMARY KEY (mailbox_id, idx));"
	"CREATE TABLE IF NOT EXISTS cache ("
	" mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL, field TEXT NOT NULL, value BLOB,"
	" PRIMARY KEY (mailbox_id, uid, field)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS expunged ("
	" mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	/* what the pruned expunges of a mailbox covered: modseqs up to modseq,
	 * UIDs up to max_uid */
	"CREATE TABLE IF NOT EXISTS expunged_floor ("
	" mailbox_id INTEGER PRIMARY KEY, modseq INTEGER NOT NULL, max_uid INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS subscriptions (name TEXT PRIMARY KEY);"
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS pending_deletes (guid TEXT PRIMARY KEY, after_seq INTEGER NOT NULL);";

int index_db_err(struct om_index *idx, const char *what)
{
	int code = sqlite3_errcode(idx->db);
	log_error("index %s: %s: %s", idx->path, what, sqlite3_errmsg(idx->db));
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return -OM_ETEMP;
	return -OM_EIO;
}

static int exec(struct om_index *idx, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(idx->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("index %s: %s: %s", idx->path, sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -OM_EIO;
	}
	return 0;
}

/* A statement for sql, from the cache when there; give it back with
 * index_unprep(). A statement in use (nested or recursive use of the same SQL)
 * is never handed out twice: the second gets an uncached one. */
int index_prep(struct om_index *idx, const char *sql, sqlite3_stmt **st)
{
	struct stmt_slot *free_slot = NULL, *victim = NULL;
	for (unsigned i = 0; i < STMT_CACHE_SIZE; i++) {
		struct stmt_slot *sl = &idx->stmts[i];
		if (sl->st == NULL) {
			if (free_slot == NULL)
				free_slot = sl;
			continue;
		}
		if (sl->key == sql && !sl->busy && strcmp(sqlite3_sql(sl->st), sql) == 0) {
			sl->busy = true;
			*st = sl->st;
			return 0;
		}
	}
	if (free_slot == NULL) {
		for (unsigned n = 0; n < STMT_CACHE_SIZE && victim == NULL; n++) {
			struct stmt_slot *sl = &idx->stmts[idx->stmt_evict];
			idx->stmt_evict = (idx->stmt_evict + 1) % STMT_CACHE_SIZE;
			if (!sl->busy)
				victim = sl;
		}
		if (victim != NULL) {
			sqlite3_finalize(victim->st);
			victim->st = NULL;
			free_slot = victim;
		}
	}
	unsigned flags = free_slot != NULL ? SQLITE_PREPARE_PERSISTENT : 0;
	if (sqlite3_prepare_v3(idx->db, sql, -1, flags, st, NULL) != SQLITE_OK)
		return index_db_err(idx, sql);
	if (free_slot != NULL) {
		free_slot->key = sql;
		free_slot->st = *st;
		free_slot->busy = true;
	}
	return 0;
}

/* Gives back a statement from index_prep(): a cached one is reset for its next
 * use (which also ends its implicit read transaction), others finalized. */
void index_unprep(struct om_index *idx, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (unsigned i = 0; i < STMT_CACHE_SIZE; i++) {
		if (idx->stmts[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			idx->stmts[i].busy = false;
			return;
		}
	}
	sqlite3_finalize(st);
}

static void stmt_cache_clear(struct om_index *idx)
{
	for (unsigned i = 0; i < STMT_CACHE_SIZE; i++) {
		if (idx->stmts[i].st != NULL)
			sqlite3_finalize(idx->stmts[i].st);
		idx->stmts[i].st = NULL;
		idx->stmts[i].busy = false;
	}
}

/* Run a statement that returns no rows and give it back. */
int index_step_done(struct om_index *idx, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = index_db_err(idx, sqlite3_sql(st));
	index_unprep(idx, st);
	return ret;
}

static char *col_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	return om_strdup(s ? (const char *)s : "");
}

static void col_copy(sqlite3_stmt *st, int col, char *dst, size_t dstsize)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	size_t n = s ? strlen((const char *)s) : 0;
	if (n >= dstsize)
		n = dstsize - 1;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

int index_open(const char *path, struct om_index **idx_r, bool *created_r)
{
	struct stat stb;
	bool created = stat(path, &stb) < 0 && errno == ENOENT;
	struct om_index *idx = om_calloc(1, sizeof(*idx));
	idx->path = om_strdup(path);

	int rc = sqlite3_open_v2(path, &idx->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("index %s: open: %s", path, idx->db ? sqlite3_errmsg(idx->db) : "out of memory");
		index_close(idx);
		return -OM_EIO;
	}
	sqlite3_busy_timeout(idx->db, 5000);
	sqlite3_stmt *st;
	int version = 0;
	if (index_prep(idx, "PRAGMA user_version", &st) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		index_unprep(idx, st);
	}
	if (version > INDEX_SCHEMA_VERSION) {
		log_error("index %s: schema version %d is newer than %d", path, version,
			  INDEX_SCHEMA_VERSION);
		index_close(idx);
		return -OM_EIO;
	}
	int ret = exec(idx, "PRAGMA journal_mode=WAL");
	if (ret == 0)
		ret = exec(idx, "PRAGMA synchronous=NORMAL");
	/* One connection per open user: sqlite's default page cache (2 MB)
	 * is paid by every logged-in user once its index has been read
	 * through; the OS page cache backs the rest. */
	if (ret == 0)
		ret = exec(idx, "PRAGMA cache_size=-" INDEX_CACHE_KIB);
	if (ret == 0)
		ret = exec(idx, schema_sql);
	if (ret == 0 && version < INDEX_SCHEMA_VERSION)
		ret = exec(idx, "PRAGMA user_version=1");
	if (ret < 0) {
		index_close(idx);
		return ret;
	}
	*idx_r = idx;
	if (created_r != NULL)
		*created_r = created;
	return 0;
}

void index_close(struct om_index *idx)
{
	if (idx == NULL)
		return;
	stmt_cache_clear(idx);
	if (idx->db != NULL)
		sqlite3_close(idx->db);
	free(idx->path);
	free(idx);
}

const char *index_path(const struct om_index *idx)
{
	return idx->path;
}

int index_sync(const struct om_index *idx)
{
	struct buf wal = BUF_INIT;
	buf_printf(&wal, "%s-wal", idx->path);
	int ret = 0;
	int fd = open(wal.data, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT) /* no WAL: everything is in the main file */
			ret = -OM_EIO;
	} else {
		if (fsync(fd) < 0)
			ret = -OM_EIO;
		close(fd);
	}
	if (ret < 0)
		log_warn("index %s: fsync of the WAL failed: %s", idx->path, strerror(errno));
	buf_free(&wal);
	return ret;
}

void *index_sqlite(struct om_index *idx)
{
	return idx->db;
}

int index_begin(struct om_index *idx)
{
	return exec(idx, "BEGIN IMMEDIATE");
}

int index_commit(struct om_index *idx)
{
	return exec(idx, "COMMIT");
}

void index_rollback(struct om_index *idx)
{
	if (!sqlite3_get_autocommit(idx->db))
		(void)exec(idx, "ROLLBACK");
}

/* --- mailboxes --- */

#define MB_COLS "id, name, guid, uidvalidity, uidnext, first_recent_uid, highest_modseq, special_use, sync_state"

static void mb_from_row(sqlite3_stmt *st, struct index_mailbox *mb)
{
	mb->id = sqlite3_column_int64(st, 0);
	mb->name = col_strdup(st, 1);
	col_copy(st, 2, mb->guid, sizeof(mb->guid));
	mb->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
	mb->uidnext = (uint32_t)sqlite3_column_int64(st, 4);
	mb->first_recent_uid = (uint32_t)sqlite3_column_int64(st, 5);
	mb->highest_modseq = (uint64_t)sqlite3_column_int64(st, 6);
	mb->special_use = (unsigned)sqlite3_column_int(st, 7);
	mb->sync_state = col_strdup(st, 8);
}

void index_mailbox_clear(struct index_mailbox *mb)
{
	free(mb->name);
	free(mb->sync_state);
	memset(mb, 0, sizeof(*mb));
}

static int mailbox_get_stmt(struct om_index *idx, sqlite3_stmt *st, struct index_mailbox *mb_r)
{
	int rc = sqlite3_step(st);
	int ret;
	if (rc == SQLITE_ROW) {
		mb_from_row(st, mb_r);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = -OM_ENOTFOUND;
	} else {
		ret = index_db_err(idx, "mailbox lookup");
	}
	index_unprep(idx, st);
	return ret;
}

int index_mailbox_get(struct om_index *idx, const char *name, struct index_mailbox *mb_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT " MB_COLS " FROM mailboxes WHERE name = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return mailbox_get_stmt(idx, st, mb_r);
}

int index_mailbox_get_by_id(struct om_index *idx, int64_t id, struct index_mailbox *mb_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT " MB_COLS " FROM mailboxes WHERE id = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, id);
	return mailbox_get_stmt(idx, st, mb_r);
}

static void bind_mb_fields(sqlite3_stmt *st, const struct index_mailbox *mb)
{
	sqlite3_bind_text(st, 1, mb->guid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, mb->uidvalidity);
	sqlite3_bind_int64(st, 3, mb->uidnext);
	sqlite3_bind_int64(st, 4, mb->first_recent_uid);
	sqlite3_bind_int64(st, 5, (int64_t)mb->highest_modseq);
	sqlite3_bind_int(st, 6, (int)mb->special_use);
	sqlite3_bind_text(st, 7, mb->sync_state ? mb->sync_state : "", -1, SQLITE_STATIC);
}

int index_mailbox_add(struct om_index *idx, struct index_mailbox *mb)
{
	struct index_mailbox old;
	if (index_mailbox_get(idx, mb->name, &old) == 0) {
		index_mailbox_clear(&old);
		return -OM_EEXISTS;
	}
	sqlite3_stmt *st;
	int ret = index_prep(idx, "INSERT INTO mailboxes (guid, uidvalidity, uidnext, first_recent_uid,"
		       " highest_modseq, special_use, sync_state, name) VALUES (?,?,?,?,?,?,?,?)", &st);
	if (ret < 0)
		return ret;
	bind_mb_fields(st, mb);
	sqlite3_bind_text(st, 8, mb->name, -1, SQLITE_STATIC);
	ret = index_step_done(idx, st);
	if (ret == 0)
		mb->id = sqlite3_last_insert_rowid(idx->db);
	return ret;
}

int index_mailbox_update(struct om_index *idx, const struct index_mailbox *mb)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "UPDATE mailboxes SET guid=?, uidvalidity=?, uidnext=?, first_recent_uid=?,"
		       " highest_modseq=?, special_use=?, sync_state=? WHERE id=?", &st);
	if (ret < 0)
		return ret;
	bind_mb_fields(st, mb);
	sqlite3_bind_int64(st, 8, mb->id);
	return index_step_done(idx, st);
}

static int exec_id(struct om_index *idx, const char *sql, int64_t id)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, sql, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, id);
	return index_step_done(idx, st);
}

int index_mailbox_delete(struct om_index *idx, int64_t id)
{
	static const char *const sqls[] = {
		"DELETE FROM messages WHERE mailbox_id = ?",
		"DELETE FROM keywords WHERE mailbox_id = ?",
		"DELETE FROM cache WHERE mailbox_id = ?",
		"DELETE FROM expunged WHERE mailbox_id = ?",
		"DELETE FROM expunged_floor WHERE mailbox_id = ?",
		"DELETE FROM mailboxes WHERE id = ?",
	};
	for (size_t i = 0; i < sizeof(sqls) / sizeof(sqls[0]); i++) {
		int ret = exec_id(idx, sqls[i], id);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int index_mailbox_set_name(struct om_index *idx, int64_t id, const char *name)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "UPDATE mailboxes SET name = ? WHERE id = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	return index_step_done(idx, st);
}

int index_mailbox_list(struct om_index *idx, struct index_mailbox **list_r, size_t *n_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT " MB_COLS " FROM mailboxes ORDER BY name", &st);
	if (ret < 0)
		return ret;
	struct index_mailbox *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			list = om_reallocarray(list, cap, sizeof(*list));
		}
		memset(&list[n], 0, sizeof(list[n]));
		mb_from_row(st, &list[n++]);
	}
	if (rc != SQLITE_DONE) {
		ret = index_db_err(idx, "mailbox list");
		index_mailboxes_free(list, n);
		index_unprep(idx, st);
		return ret;
	}
	index_unprep(idx, st);
	*list_r = list;
	*n_r = n;
	return 0;
}

void index_mailboxes_free(struct index_mailbox *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		index_mailbox_clear(&list[i]);
	free(list);
}

/* --- subscriptions --- */

static int strings_query(struct om_index *idx, sqlite3_stmt *st, char ***names_r, size_t *n_r)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = om_reallocarray(names, cap, sizeof(*names));
		}
		names[n++] = col_strdup(st, 0);
	}
	int ret = 0;
	if (rc != SQLITE_DONE) {
		ret = index_db_err(idx, sqlite3_sql(st));
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		names = NULL;
		n = 0;
	}
	index_unprep(idx, st);
	*names_r = names;
	*n_r = n;
	return ret;
}

int index_subs_list(struct om_index *idx, char ***names_r, size_t *n_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT name FROM subscriptions ORDER BY name", &st);
	if (ret < 0)
		return ret;
	return strings_query(idx, st, names_r, n_r);
}

int index_subs_set(struct om_index *idx, const char *name, bool subscribed)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, subscribed ? "INSERT OR IGNORE INTO subscriptions (name) VALUES (?)"
				       : "DELETE FROM subscriptions WHERE name = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return index_step_done(idx, st);
}

int index_subs_replace(struct om_index *idx, char *const *names, size_t n)
{
	int ret = exec(idx, "DELETE FROM subscriptions");
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = index_subs_set(idx, names[i], true);
	return ret;
}

/* --- messages --- */

#define MSG_COLS "uid, guid, size, internal_date, internal_tz, flags, keywords, modseq, ddata"

static void msg_from_row(sqlite3_stmt *st, struct index_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->rec.uid = (uint32_t)sqlite3_column_int64(st, 0);
	col_copy(st, 1, m->rec.guid, sizeof(m->rec.guid));
	m->rec.size = (uint64_t)sqlite3_column_int64(st, 2);
	m->rec.internal_date = sqlite3_column_int64(st, 3);
	m->rec.internal_tz = sqlite3_column_int(st, 4);
	m->rec.flags = (uint32_t)sqlite3_column_int64(st, 5);
	m->rec.keywords = (uint64_t)sqlite3_column_int64(st, 6);
	m->rec.modseq = (uint64_t)sqlite3_column_int64(st, 7);
	m->ddata = col_strdup(st, 8);
}

void index_msg_clear(struct index_msg *msg)
{
	free(msg->ddata);
	memset(msg, 0, sizeof(*msg));
}

void index_msgs_free(struct index_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(msgs[i].ddata);
	free(msgs);
}

int index_msgs_get(struct om_index *idx, int64_t mailbox_id, struct index_msg **msgs_r, size_t *n_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT " MSG_COLS " FROM messages WHERE mailbox_id = ? ORDER BY uid", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	struct index_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			msgs = om_reallocarray(msgs, cap, sizeof(*msgs));
		}
		msg_from_row(st, &msgs[n++]);
	}
	if (rc != SQLITE_DONE) {
		ret = index_db_err(idx, "message list");
		index_msgs_free(msgs, n);
		index_unprep(idx, st);
		return ret;
	}
	index_unprep(idx, st);
	*msgs_r = msgs;
	*n_r = n;
	return 0;
}

int index_msg_get(struct om_index *idx, int64_t mailbox_id, uint32_t uid, struct index_msg *msg_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT " MSG_COLS " FROM messages WHERE mailbox_id = ? AND uid = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		msg_from_row(st, msg_r);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = -OM_ENOTFOUND;
	} else {
		ret = index_db_err(idx, "message lookup");
	}
	index_unprep(idx, st);
	return ret;
}

int index_msg_add(struct om_index *idx, int64_t mailbox_id, const struct index_msg *msg)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "INSERT OR REPLACE INTO messages (mailbox_id, " MSG_COLS
		       ") VALUES (?,?,?,?,?,?,?,?,?,?)", &st);
	if (ret < 0)
		return ret;
	const struct mail_rec *r = &msg->rec;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, r->uid);
	sqlite3_bind_text(st, 3, r->guid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)r->size);
	sqlite3_bind_int64(st, 5, r->internal_date);
	sqlite3_bind_int(st, 6, r->internal_tz);
	sqlite3_bind_int64(st, 7, r->flags);
	sqlite3_bind_int64(st, 8, (int64_t)r->keywords);
	sqlite3_bind_int64(st, 9, (int64_t)r->modseq);
	sqlite3_bind_text(st, 10, msg->ddata ? msg->ddata : "", -1, SQLITE_STATIC);
	return index_step_done(idx, st);
}

int index_msg_update(struct om_index *idx, int64_t mailbox_id, const struct index_msg *msg)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "UPDATE messages SET flags=?, keywords=?, modseq=?, ddata=?"
		       " WHERE mailbox_id=? AND uid=?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, msg->rec.flags);
	sqlite3_bind_int64(st, 2, (int64_t)msg->rec.keywords);
	sqlite3_bind_int64(st, 3, (int64_t)msg->rec.modseq);
	sqlite3_bind_text(st, 4, msg->ddata ? msg->ddata : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, mailbox_id);
	sqlite3_bind_int64(st, 6, msg->rec.uid);
	return index_step_done(idx, st);
}

static int exec_id_uid(struct om_index *idx, const char *sql, int64_t id, uint32_t uid)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, sql, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, uid);
	return index_step_done(idx, st);
}

int index_msg_expunge(struct om_index *idx, int64_t mailbox_id, uint32_t uid, uint64_t modseq)
{
	int ret = exec_id_uid(idx, "DELETE FROM messages WHERE mailbox_id = ? AND uid = ?", mailbox_id, uid);
	if (ret == 0)
		ret = exec_id_uid(idx, "DELETE FROM cache WHERE mailbox_id = ? AND uid = ?", mailbox_id, uid);
	if (ret < 0)
		return ret;
	return index_expunged_record(idx, mailbox_id, uid, modseq);
}

/* --- keywords --- */

int index_keywords_get(struct om_index *idx, int64_t mailbox_id, char ***names_r, size_t *n_r)
{
	sqlite3_stmt *st;
	/* Indexes are dense from 0 (only appended), so order = index. */
	int ret = index_prep(idx, "SELECT name FROM keywords WHERE mailbox_id = ? ORDER BY idx", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	return strings_query(idx, st, names_r, n_r);
}

int index_keyword_add(struct om_index *idx, int64_t mailbox_id, unsigned kw_index, const char *name)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "INSERT INTO keywords (mailbox_id, idx, name) VALUES (?,?,?)", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int(st, 2, (int)kw_index);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	return index_step_done(idx, st);
}

/* --- cache --- */

int index_cache_get(struct om_index *idx, int64_t mailbox_id, uint32_t uid, const char *field, struct buf *out)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT value FROM cache WHERE mailbox_id = ? AND uid = ? AND field = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_text(st, 3, field, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *v = sqlite3_column_blob(st, 0);
		int len = sqlite3_column_bytes(st, 0);
		buf_reset(out);
		if (v != NULL && len > 0)
			buf_append(out, v, (size_t)len);
		else
			buf_append(out, "", 0);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = -OM_ENOTFOUND;
	} else {
		ret = index_db_err(idx, "cache lookup");
	}
	index_unprep(idx, st);
	return ret;
}

int index_cache_put(struct om_index *idx, int64_t mailbox_id, uint32_t uid, const char *field,
		    const char *data, size_t len)
{
	if (len > 16 * 1024 * 1024)
		return -OM_ELIMIT;
	sqlite3_stmt *st;
	int ret = index_prep(idx, "INSERT OR REPLACE INTO cache (mailbox_id, uid, field, value) VALUES (?,?,?,?)", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_text(st, 3, field, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, data, (int)len, SQLITE_STATIC);
	return index_step_done(idx, st);
}

int index_quota_used(struct om_index *idx, uint64_t *used_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT COALESCE(SUM(size), 0) FROM messages", &st);
	if (ret < 0)
		return ret;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*used_r = (uint64_t)sqlite3_column_int64(st, 0);
		ret = 0;
	} else {
		ret = index_db_err(idx, "quota sum");
	}
	index_unprep(idx, st);
	return ret;
}

int index_quota_usage(struct om_index *idx, uint64_t *bytes_r, uint64_t *messages_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages", &st);
	if (ret < 0)
		return ret;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*bytes_r = (uint64_t)sqlite3_column_int64(st, 0);
		*messages_r = (uint64_t)sqlite3_column_int64(st, 1);
		ret = 0;
	} else {
		ret = index_db_err(idx, "quota usage");
	}
	index_unprep(idx, st);
	return ret;
}

int index_meta_get(struct om_index *idx, const char *key, struct buf *out)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT value FROM meta WHERE key = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		buf_reset(out);
		buf_append_str(out, v ? (const char *)v : "");
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		ret = -OM_ENOTFOUND;
	} else {
		ret = index_db_err(idx, "meta lookup");
	}
	index_unprep(idx, st);
	return ret;
}

int index_meta_set(struct om_index *idx, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return index_step_done(idx, st);
}

/* --- object-store helpers (obox) --- */

int index_backup_to(struct om_index *idx, const char *path)
{
	sqlite3 *dst = NULL;
	(void)unlink(path);
	int rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("index %s: backup to %s: %s", idx->path, path,
			  dst ? sqlite3_errmsg(dst) : "out of memory");
		sqlite3_close(dst);
		return -OM_EIO;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", idx->db, "main");
	int ret = 0;
	if (b == NULL) {
		log_error("index %s: backup to %s: %s", idx->path, path, sqlite3_errmsg(dst));
		ret = -OM_EIO;
	} else {
		rc = sqlite3_backup_step(b, -1);
		if (rc != SQLITE_DONE) {
			log_error("index %s: backup to %s: %s", idx->path, path, sqlite3_errstr(rc));
			ret = rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? -OM_ETEMP : -OM_EIO;
		}
		sqlite3_backup_finish(b);
	}
	if (ret == 0 && sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK)
		ret = -OM_EIO;
	sqlite3_close(dst);
	if (ret < 0)
		(void)unlink(path);
	return ret;
}

int index_guid_refs(struct om_index *idx, const char *guid, int64_t skip_mailbox_id,
		    uint32_t skip_uid, unsigned *n_r)
{
	sqlite3_stmt *st;
	/* skip_uid 0: skip every row of skip_mailbox_id */
	int ret = index_prep(idx, "SELECT COUNT(*) FROM messages WHERE guid = ?"
		       " AND NOT (mailbox_id = ? AND (? = 0 OR uid = ?))", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, skip_mailbox_id);
	sqlite3_bind_int64(st, 3, skip_uid);
	sqlite3_bind_int64(st, 4, skip_uid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*n_r = (unsigned)sqlite3_column_int64(st, 0);
		ret = 0;
	} else {
		ret = index_db_err(idx, "guid refs");
	}
	index_unprep(idx, st);
	return ret;
}

int index_pending_delete_add(struct om_index *idx, const char *guid, uint64_t after_seq)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "INSERT OR REPLACE INTO pending_deletes (guid, after_seq) VALUES (?, ?)", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)after_seq);
	return index_step_done(idx, st);
}

int index_pending_delete_remove(struct om_index *idx, const char *guid)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "DELETE FROM pending_deletes WHERE guid = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	return index_step_done(idx, st);
}

int index_pending_delete_list(struct om_index *idx, uint64_t max_seq, char ***guids_r, size_t *n_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT guid FROM pending_deletes WHERE after_seq <= ? ORDER BY guid", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (int64_t)max_seq);
	return strings_query(idx, st, guids_r, n_r);
}

int index_known_guids(struct om_index *idx, char ***guids_r, size_t *n_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT guid FROM messages UNION SELECT guid FROM pending_deletes"
		       " ORDER BY 1", &st);
	if (ret < 0)
		return ret;
	return strings_query(idx, st, guids_r, n_r);
}

int index_mailbox_get_by_guid(struct om_index *idx, const char *guid, struct index_mailbox *mb_r)
{
	sqlite3_stmt *st;
	int ret = index_prep(idx, "SELECT " MB_COLS " FROM mailboxes WHERE guid = ?", &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, guid, -1, SQLITE_STATIC);
	return mailbox_get_stmt(idx, st, mb_r);
}
