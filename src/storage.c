#include "chorus/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "chorus/log.h"
#include "chorus/util.h"

static const char *const subdirs[] = {"uploads", "incoming", "originals",
                                      "media", "campaigns"};

int storage_init(const char *data_dir)
{
    char path[PATH_MAX];

    for (size_t i = 0; i < ARRAY_LEN(subdirs); i++) {
        if (util_fmt(path, sizeof(path), "%s/%s", data_dir, subdirs[i]) != 0 ||
            util_mkdirs(path, 0700) != 0)
            return -1;
    }
    return 0;
}

int storage_path(const char *data_dir, enum storage_kind kind, const char *id,
                 char *out, size_t outlen)
{
    int rc = -1;

    if (!util_is_id(id)) {
        errno = EINVAL;
        return -1;
    }
    switch (kind) {
    case STORAGE_PART:
        rc = util_fmt(out, outlen, "%s/uploads/%s.part", data_dir, id);
        break;
    case STORAGE_INCOMING:
        rc = util_fmt(out, outlen, "%s/incoming/%s", data_dir, id);
        break;
    case STORAGE_ORIGINAL:
        rc = util_fmt(out, outlen, "%s/originals/%s", data_dir, id);
        break;
    case STORAGE_MEDIA_DIR:
        rc = util_fmt(out, outlen, "%s/media/%s", data_dir, id);
        break;
    case STORAGE_VIDEO:
        rc = util_fmt(out, outlen, "%s/media/%s/video.mp4", data_dir, id);
        break;
    case STORAGE_THUMB:
        rc = util_fmt(out, outlen, "%s/media/%s/thumb.jpg", data_dir, id);
        break;
    case STORAGE_SHEET:
        rc = util_fmt(out, outlen, "%s/media/%s/sheet.jpg", data_dir, id);
        break;
    }
    if (rc != 0)
        errno = EINVAL;
    return rc;
}

int storage_commit_upload(const char *data_dir, const char *id)
{
    char part[PATH_MAX], incoming[PATH_MAX], dir[PATH_MAX];
    int fd, rc;

    if (storage_path(data_dir, STORAGE_PART, id, part, sizeof(part)) != 0 ||
        storage_path(data_dir, STORAGE_INCOMING, id, incoming,
                     sizeof(incoming)) != 0)
        return -1;
    fd = open(part, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fdatasync(fd);
    close(fd);
    if (rc != 0 || rename(part, incoming) != 0)
        return -1;
    if (util_fmt(dir, sizeof(dir), "%s/incoming", data_dir) != 0 ||
        util_fsync_dir(dir) != 0)
        return -1;
    if (util_fmt(dir, sizeof(dir), "%s/uploads", data_dir) != 0 ||
        util_fsync_dir(dir) != 0)
        return -1;
    return 0;
}

int storage_has_room(const char *data_dir, int64_t need, int64_t reserve)
{
    struct statvfs vfs;

    if (statvfs(data_dir, &vfs) != 0)
        return 1; /* unknown: let the write itself tell */
    return (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize >= need + reserve;
}

int64_t storage_size(const char *data_dir, enum storage_kind kind,
                     const char *id)
{
    char path[PATH_MAX];
    struct stat st;

    if (storage_path(data_dir, kind, id, path, sizeof(path)) != 0 ||
        stat(path, &st) != 0)
        return -1;
    return (int64_t)st.st_size;
}

/* unlink(2) that counts a missing file as done. */
static int remove_file(const char *path)
{
    if (unlink(path) == 0 || errno == ENOENT)
        return 0;
    log_warn("cannot delete %s", path);
    return -1;
}

/* Deletes the files in dir (temp files of an interrupted transcode). */
static int clear_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int rc = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
            rc = -1;
    }
    closedir(d);
    return rc;
}

int storage_delete_all(const char *data_dir, const char *id)
{
    static const enum storage_kind files[] = {
        STORAGE_PART,  STORAGE_INCOMING, STORAGE_ORIGINAL,
        STORAGE_VIDEO, STORAGE_THUMB,    STORAGE_SHEET};
    char path[PATH_MAX];
    int rc = 0;

    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        if (storage_path(data_dir, files[i], id, path, sizeof(path)) != 0)
            return -1;
        if (remove_file(path) != 0)
            rc = -1;
    }
    if (storage_path(data_dir, STORAGE_MEDIA_DIR, id, path, sizeof(path)) != 0)
        return -1;
    if (clear_dir(path) != 0 || (rmdir(path) != 0 && errno != ENOENT)) {
        log_warn("cannot remove %s", path);
        rc = -1;
    }
    return rc;
}

int storage_version_path(const char *data_dir, const char *id, const char *name,
                         const char *ext, int tmp, char *out, size_t outlen)
{
    size_t n = name != NULL ? strlen(name) : 0;
    int rc;

    if (!util_is_id(id) || n == 0 || n > 48 || ext == NULL ||
        (strcmp(ext, "mp4") != 0 && strcmp(ext, "jpg") != 0)) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '-')) {
            errno = EINVAL;
            return -1;
        }
    rc = tmp > 0 ? util_fmt(out, outlen, "%s/media/%s/v-%s.%s.%d.tmp", data_dir,
                            id, name, ext, tmp)
                 : util_fmt(out, outlen, "%s/media/%s/v-%s.%s", data_dir, id,
                            name, ext);
    if (rc != 0)
        errno = EINVAL;
    return rc;
}

int storage_campaign_path(const char *data_dir, int64_t campaign_id,
                          const char *name, char *out, size_t outlen)
{
    size_t n = name != NULL ? strlen(name) : 0;
    int rc;

    if (campaign_id <= 0 || (name != NULL && (n == 0 || name[0] == '.'))) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            errno = EINVAL;
            return -1;
        }
    }
    rc = name != NULL ? util_fmt(out, outlen, "%s/campaigns/%lld/%s", data_dir,
                                 (long long)campaign_id, name)
                      : util_fmt(out, outlen, "%s/campaigns/%lld", data_dir,
                                 (long long)campaign_id);
    if (rc != 0)
        errno = EINVAL;
    return rc;
}

int storage_parts(const char *data_dir, void (*fn)(const char *id, void *),
                  void *opaque)
{
    char path[PATH_MAX], id[UTIL_ID_LEN + 1];
    struct dirent *e;
    DIR *d;

    if (util_fmt(path, sizeof(path), "%s/uploads", data_dir) != 0 ||
        (d = opendir(path)) == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);

        if (len != UTIL_ID_LEN + 5 || strcmp(e->d_name + UTIL_ID_LEN, ".part"))
            continue;
        memcpy(id, e->d_name, UTIL_ID_LEN);
        id[UTIL_ID_LEN] = '\0';
        if (util_is_id(id))
            fn(id, opaque);
    }
    closedir(d);
    return 0;
}
