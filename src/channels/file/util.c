/*
 * Flume's FileChannel, small helpers: log file paths, event
 * sizes, whole writes, directories. The design, the on-disk formats' use and the lock order are in
 * fc.h.
 */
#include "fc.h"

/* ---------- small helpers ---------- */

void fc_log_path(const struct file_ctx *fc, int dir, uint32_t id, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/log-%u", fc->dirs[dir], id);
}

/* Bytes an event occupies, for the cache bound. */
size_t fc_ev_bytes(const struct sf_event *ev)
{
    return sf_event_size(ev);
}

int fc_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return SF_ERR_IO;
        }
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return SF_OK;
}

/* "~/x" -> "$HOME/x"; a malloc'd copy. */
char *fc_expand_home(const char *path)
{
    if (path[0] != '~' || (path[1] != '/' && path[1] != '\0')) {
        return strdup(path);
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : "/";
    }
    size_t n = strlen(home) + strlen(path);
    char *s = malloc(n + 1);
    if (s) {
        snprintf(s, n + 1, "%s%s", home, path + 1);
    }
    return s;
}

/* mkdir -p */
int fc_mkdirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return SF_ERR_IO;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return SF_ERR_IO;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return SF_ERR_IO;
    }
    return SF_OK;
}
