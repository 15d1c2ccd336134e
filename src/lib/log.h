/* Logging: to stderr (foreground) or a log file; thread-safe; SIGHUP reopens.
 * log_debug costs one branch when debug is off. */
#ifndef OM_LOG_H
#define OM_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

extern enum log_level log_min_level;

/* path NULL or "" = stderr. Returns 0 or -errno. */
int log_open(const char *path);
int log_reopen(void);
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fatal_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#define log_debug(...) do { if (log_min_level <= LOG_LEVEL_DEBUG) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define fatal(...) fatal_at(__FILE__, __LINE__, __VA_ARGS__)
#define om_assert(expr) do { if (!(expr)) fatal_at(__FILE__, __LINE__, "assertion failed: %s", #expr); } while (0)

#endif
