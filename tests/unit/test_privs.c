/* LIBS: om_lib */
/* Privilege drop: name/number resolution, and (when run as root) a real
 * drop in a child process, verified from inside. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/privs.h"

static void test_resolve(void **state)
{
	uid_t uid;
	gid_t gid;
	char *err = NULL;
	struct passwd *pw = getpwnam("nobody");
	if (pw != NULL) {
		assert_int_equal(privs_resolve("nobody", &uid, &gid, &err), 0);
		assert_int_equal(uid, pw->pw_uid);
		assert_int_equal(gid, pw->pw_gid);
	}
	assert_int_equal(privs_resolve("54321", &uid, &gid, &err), 0);
	assert_int_equal(uid, 54321);
	assert_int_equal(privs_resolve("no-such-user-xyz", &uid, &gid, &err), -1);
	assert_non_null(err);
	free(err);
	assert_int_equal(privs_resolve("root", &uid, &gid, &err), -1);
	free(err);
	assert_int_equal(privs_resolve("0", &uid, &gid, &err), -1);
	free(err);
	assert_int_equal(privs_resolve("", &uid, &gid, &err), -1);
	free(err);
}

static int child_drop(const char *who, uid_t want)
{
	char *err = NULL;
	if (privs_drop(who, &err) != 0) {
		fprintf(stderr, "drop: %s\n", err);
		return 10;
	}
	uid_t r, e, s;
	if (getresuid(&r, &e, &s) != 0 || r != want || e != want || s != want)
		return 11;
	if (setuid(0) == 0 || setgid(0) == 0)
		return 12;
	gid_t groups[4];
	if (getgroups(4, groups) != 1)
		return 13;
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "CapEff:", 7) == 0 && strtoull(line + 7, NULL, 16) != 0)
			return 14;
	}
	if (f != NULL)
		fclose(f);
	return 0;
}

static void test_drop(void **state)
{
	if (geteuid() != 0) {
		/* not root: only "no switch" and "already that user" work */
		char *err = NULL;
		assert_int_equal(privs_drop("", &err), 0);
		assert_int_equal(privs_drop("nobody", &err), -1);
		free(err);
		skip();
	}
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_drop("54321", 54321));
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
