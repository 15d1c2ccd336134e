#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/om-error.h"

enum log_level log_min_level = LOG_LEVEL_INFO;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;
static char *log_path;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int log_open(const char *path)
{
	free(log_path);
	log_path = (path != NULL && path[0] != '\0') ? strdup(path) : NULL;
	return log_reopen();
}

int log_reopen(void)
{
	if (log_path == NULL)
		return 0;
	int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&log_lock);
	int old = log_fd;
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	if (old != STDERR_FILENO)
		close(old);
	return 0;
}

void log_set_level(enum log_level level)
{
	log_min_level = level;
}

static void log_write(const char *level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level);
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2; /* truncated; still one line */
	for (size_t i = (size_t)n; i < len; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	line[len++] = '\n';
	pthread_mutex_lock(&log_lock);
	ssize_t w = write(log_fd, line, len);
	(void)w;
	pthread_mutex_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < log_min_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_write(level_names[level], fmt, ap);
	va_end(ap);
}

void fatal_at(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_LEVEL_ERROR, "fatal: %s (%s:%d)", msg, file, line);
	abort();
}

const char *om_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case OM_OK: return "OK";
	case OM_ENOTFOUND: return "ENOTFOUND";
	case OM_EEXISTS: return "EEXISTS";
	case OM_ETEMP: return "ETEMP";
	case OM_EQUOTA: return "EQUOTA";
	case OM_EINVAL: return "EINVAL";
	case OM_ENOMEM: return "ENOMEM";
	case OM_EIO: return "EIO";
	case OM_EPERM: return "EPERM";
	case OM_ELIMIT: return "ELIMIT";
	case OM_ENOTEMPTY: return "ENOTEMPTY";
	case OM_EAUTH: return "EAUTH";
	}
	return "EUNKNOWN";
}
