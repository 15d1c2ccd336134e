/* The objmail tool's import, export and quota code, compiled into objmaild
 * for the admin socket's live `import`, `export` and `quota` requests
 * (admin-import.c), as admin-mail.c does with mail-ops.c: the daemon runs
 * exactly what the tool runs offline, so the answers are the same. One
 * translation unit; the files share no static names. */
#include "cli/cli-util.c"
#include "cli/cli-progress.c"
#include "cli/import-summary.c"
#include "cli/import-maildir.c"
#include "cli/import-mbox.c"
#include "cli/imap-client.c"
#include "cli/import-imap.c"
#include "cli/export-maildir.c"
#include "cli/export-mbox.c"
#include "cli/quota-ops.c"
