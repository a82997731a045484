#include "chorus/device.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chorus/log.h"
#include "chorus/util.h"

/* Reads exactly len bytes of fd; 0, or -1. */
static int read_all(int fd, unsigned char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int device_key_load(const char *data_dir, unsigned char key[DEVICE_KEY_LEN])
{
    char path[PATH_MAX], tmp[PATH_MAX];
    unsigned char fresh[DEVICE_KEY_LEN];
    struct stat st;
    int fd = -1, rc = -1;

    if (util_fmt(path, sizeof(path), "%s/device.key", data_dir) != 0 ||
        util_fmt(tmp, sizeof(tmp), "%s/device.key.tmp", data_dir) != 0)
        goto out;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        /* Made whole under another name, then moved: a kill never
         * leaves a short key behind. */
        randombytes_buf(fresh, sizeof(fresh));
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  0600);
        if (fd < 0 || write(fd, fresh, sizeof(fresh)) != sizeof(fresh) ||
            fsync(fd) != 0)
            goto out;
        rc = close(fd);
        fd = -1;
        if (rc != 0)
            goto out;
        rc = -1;
        if (link(tmp, path) != 0 && errno != EEXIST) /* another won: fine */
            goto out;
        unlink(tmp);
        util_fsync_dir(data_dir);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size != DEVICE_KEY_LEN || read_all(fd, key, DEVICE_KEY_LEN) != 0)
        goto out;
    if ((st.st_mode & 077) != 0 && fchmod(fd, 0600) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        log_warn("cannot read or make the device cookie key %s/device.key",
                 data_dir);
    if (fd >= 0)
        close(fd);
    sodium_memzero(fresh, sizeof(fresh));
    return rc;
}

/* HMAC-SHA-256 under key of a label, the name key and extra bytes. */
static void mac(const unsigned char key[DEVICE_KEY_LEN], const char *label,
                const char *name_key, const unsigned char *extra,
                size_t extra_len, unsigned char out[32])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, DEVICE_KEY_LEN);
    /* Each part with its NUL: no two inputs run together alike. */
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label,
                                  strlen(label) + 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)name_key,
                                  strlen(name_key) + 1);
    if (extra_len > 0)
        crypto_auth_hmacsha256_update(&st, extra, extra_len);
    crypto_auth_hmacsha256_final(&st, out);
}

void device_cookie_name(const unsigned char key[DEVICE_KEY_LEN],
                        const char *name_key, char out[DEVICE_NAME_LEN + 1])
{
    unsigned char h[32];

    mac(key, "chorus device cookie name", name_key, NULL, 0, h);
    memcpy(out, "chorus_device_", 14);
    sodium_bin2hex(out + 14, DEVICE_NAME_LEN + 1 - 14, h, 8);
}

/* NONCE.MAC for nonce into out. */
static void value_of(const unsigned char key[DEVICE_KEY_LEN],
                     const char *name_key,
                     const unsigned char nonce[DEVICE_NONCE_LEN],
                     char out[DEVICE_VALUE_LEN + 1])
{
    unsigned char h[32];
    size_t n;

    mac(key, "chorus device cookie", name_key, nonce, DEVICE_NONCE_LEN, h);
    sodium_bin2base64(out, DEVICE_VALUE_LEN + 1, nonce, DEVICE_NONCE_LEN,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    n = strlen(out);
    out[n++] = '.';
    sodium_bin2base64(out + n, DEVICE_VALUE_LEN + 1 - n, h, sizeof(h),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void device_cookie_new(const unsigned char key[DEVICE_KEY_LEN],
                       const char *name_key, char out[DEVICE_VALUE_LEN + 1])
{
    unsigned char nonce[DEVICE_NONCE_LEN];

    randombytes_buf(nonce, sizeof(nonce));
    value_of(key, name_key, nonce, out);
}

bool device_cookie_check(const unsigned char key[DEVICE_KEY_LEN],
                         const char *name_key, const char *value,
                         unsigned char nonce[DEVICE_NONCE_LEN])
{
    char want[DEVICE_VALUE_LEN + 1];
    size_t bin_len = 0;

    if (value == NULL || strlen(value) != DEVICE_VALUE_LEN ||
        sodium_base642bin(nonce, DEVICE_NONCE_LEN, value, 22, NULL, &bin_len,
                          NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        bin_len != DEVICE_NONCE_LEN)
        return false;
    value_of(key, name_key, nonce, want);
    return sodium_memcmp(want, value, DEVICE_VALUE_LEN) == 0;
}
