/* The summary line of imports and exports, shared by the tool (offline)
 * and objmaild (live), so both print the same. */
#include "cli/cli.h"
#include "cli/import.h"

void import_summary(const char *what, const char *user, const struct import_stats *st,
		    bool json, struct buf *out)
{
	if (json) {
		buf_append_str(out, "{\"user\":");
		cli_json_str(out, user);
		buf_printf(out, ",\"mailboxes\":%llu,\"messages\":%llu,\"skipped\":%llu,"
				"\"uids_kept\":%llu}\n",
			   st->mailboxes, st->messages, st->skipped, st->uids_kept);
	} else {
		buf_printf(out, "%s %s: %llu mailboxes, %llu messages copied, %llu already there, "
				"UIDs kept in %llu mailboxes\n",
			   what, user, st->mailboxes, st->messages, st->skipped, st->uids_kept);
	}
}
