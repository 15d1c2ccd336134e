/* LIBS: om_objstore om_lib */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "objstore-conformance.c"

static char *make_tmpdir(const char *tag)
{
	struct buf b = BUF_INIT;
	const char *base = getenv("TMPDIR");
	buf_printf(&b, "%s/om-objstore-%s-XXXXXX", base != NULL ? base : "/tmp", tag);
	if (mkdtemp(b.data) == NULL)
		abort();
	return buf_steal(&b);
}

static void rm_rf(const char *dir)
{
	struct buf cmd = BUF_INIT;
	buf_printf(&cmd, "rm -rf '%s'", dir);
	if (system(cmd.data) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	buf_free(&cmd);
}

int main(void)
{
	int failed = 0;
	char *dir = make_tmpdir("file");
	struct buf spec = BUF_INIT;

	buf_printf(&spec, "file:%s", dir);
	failed += objstore_conformance_run("conformance file:", spec.data);

	buf_free(&spec);
	rm_rf(dir);
	free(dir);
	return failed;
}
