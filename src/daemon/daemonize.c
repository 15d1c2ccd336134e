/* Going to the background without losing startup errors: the parent waits
 * on a pipe until the child says it is serving (or dies). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"

static int ready_fd = -1;

int daemonize_start(void)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		fprintf(stderr, "objmaild: pipe: %s\n", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "objmaild: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		char c = 0;
		ssize_t n;
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1 && c == '0')
			_exit(0);
		int status = 0;
		waitpid(pid, &status, 0);
		_exit(1);
	}
	close(fds[0]);
	ready_fd = fds[1];
	if (setsid() < 0) {
		fprintf(stderr, "objmaild: setsid: %s\n", strerror(errno));
		return -1;
	}
	if (chdir("/") != 0) {
		fprintf(stderr, "objmaild: chdir /: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

void daemonize_ready(void)
{
	if (ready_fd < 0)
		return;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	ssize_t w = write(ready_fd, "0", 1);
	(void)w;
	close(ready_fd);
	ready_fd = -1;
}
