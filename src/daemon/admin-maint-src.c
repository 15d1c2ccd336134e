/* The objmail tool's force-resync, fts rescan and check code, compiled into
 * objmaild for the admin socket's live `force-resync`, `fts-rescan` and
 * `check` requests (admin-maint.c), as admin-cli-src.c does for imports:
 * the daemon runs exactly what the tool runs offline. A translation unit of
 * its own (check-ops.c has static names the import files have too). */
#include "cli/maint-ops.c"
#include "cli/check-ops.c"
