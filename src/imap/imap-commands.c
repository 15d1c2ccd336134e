/* The command table: name, function, states it is valid in, and how the core
 * syncs after it. */
#include <string.h>

#include "imap/imap-session-private.h"

#define ANY (IMAP_STATE_NOT_AUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define NOTAUTH IMAP_STATE_NOT_AUTH
#define AUTHED (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define SELECTED IMAP_STATE_SELECTED

/* fn NULL: handled by the dispatcher itself (UID). */
static const struct imap_cmd_def commands[] = {
	{ "APPEND", cmd_append, AUTHED, 0 },
	{ "AUTHENTICATE", cmd_authenticate, NOTAUTH, IMAP_CMD_NO_SYNC },
	{ "CANCELUPDATE", cmd_cancelupdate, SELECTED, 0 },
	{ "CAPABILITY", cmd_capability, ANY, 0 },
	{ "CHECK", cmd_check, SELECTED, 0 },
	{ "CLOSE", cmd_close, SELECTED, IMAP_CMD_NO_SYNC },
	{ "COMPRESS", cmd_compress, AUTHED, IMAP_CMD_NO_SYNC },
	{ "COPY", cmd_copy, SELECTED, IMAP_CMD_UID },
	{ "CREATE", cmd_create, AUTHED, 0 },
	{ "DELETE", cmd_delete, AUTHED, 0 },
	{ "ENABLE", cmd_enable, IMAP_STATE_AUTH, 0 },
	{ "EXAMINE", cmd_examine, AUTHED, IMAP_CMD_NO_SYNC },
	{ "EXPUNGE", cmd_expunge, SELECTED, IMAP_CMD_UID },
	{ "FETCH", cmd_fetch, SELECTED, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ "GETQUOTA", cmd_getquota, AUTHED, 0 },
	{ "GETQUOTAROOT", cmd_getquotaroot, AUTHED, 0 },
	{ "ID", cmd_id, ANY, 0 },
	{ "IDLE", cmd_idle, AUTHED, 0 },
	{ "LIST", cmd_list, AUTHED, 0 },
	{ "LOGIN", cmd_login, NOTAUTH, IMAP_CMD_NO_SYNC },
	{ "LOGOUT", cmd_logout, ANY, IMAP_CMD_NO_SYNC },
	{ "LSUB", cmd_lsub, AUTHED, 0 },
	{ "MOVE", cmd_move, SELECTED, IMAP_CMD_UID },
	{ "NAMESPACE", cmd_namespace, AUTHED, 0 },
	{ "NOOP", cmd_noop, ANY, 0 },
	{ "RENAME", cmd_rename, AUTHED, 0 },
	{ "SEARCH", cmd_search, SELECTED, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ "SELECT", cmd_select, AUTHED, IMAP_CMD_NO_SYNC },
	{ "SETQUOTA", cmd_setquota, AUTHED, 0 },
	{ "SORT", cmd_sort, SELECTED, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ "STARTTLS", cmd_starttls, NOTAUTH, IMAP_CMD_NO_SYNC },
	{ "STATUS", cmd_status, AUTHED, 0 },
	{ "STORE", cmd_store, SELECTED, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ "SUBSCRIBE", cmd_subscribe, AUTHED, 0 },
	{ "THREAD", cmd_thread, SELECTED, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE },
	{ "UID", NULL, SELECTED, 0 },
	{ "UNSELECT", cmd_unselect, SELECTED, IMAP_CMD_NO_SYNC },
	{ "UNSUBSCRIBE", cmd_unsubscribe, AUTHED, 0 },
};

const struct imap_cmd_def *imap_cmd_find(const char *name)
{
	size_t lo = 0, hi = sizeof(commands) / sizeof(commands[0]);

	if (name == NULL)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, commands[mid].name);
		if (c == 0)
			return &commands[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
