/*
 * Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
 * Cookies"): a browser that logged in as an account carries a cookie the
 * server signed, naming that account; a login that shows one is not
 * subject to the account's lockout of strangers, so nobody can keep the
 * owner out by failing on purpose. A stranger's attempts (no valid
 * cookie for the account) are throttled per account and per client; a
 * device's own failures lock out that one cookie.
 *
 * One cookie per account a browser has logged in as, named
 * chorus_device_<16 hex> after a keyed hash of the account's name key
 * (so a cookie header does not list the names), valued
 * NONCE.MAC: 128 random bits and HMAC-SHA-256 over the name key and the
 * nonce, both base64url. The key is 32 random bytes in
 * data/device.key (0600), made on first start, never in the database or
 * a log; deleting it voids every device cookie.
 */
#ifndef CHORUS_DEVICE_H
#define CHORUS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#define DEVICE_KEY_LEN 32
#define DEVICE_NONCE_LEN 16
/* "chorus_device_" and 16 hex digits. */
#define DEVICE_NAME_LEN 30
/* base64url of the nonce (22), '.', base64url of the MAC (43). */
#define DEVICE_VALUE_LEN 66
/* How long a browser keeps it: a year. */
#define DEVICE_COOKIE_MAX_AGE (365 * 86400)

/*
 * Reads data_dir/device.key, making it (0600) if there is none. Returns
 * 0 with key filled, or -1 (logged).
 */
int device_key_load(const char *data_dir, unsigned char key[DEVICE_KEY_LEN]);

/* The cookie's name for the account whose name key is name_key. */
void device_cookie_name(const unsigned char key[DEVICE_KEY_LEN],
                        const char *name_key, char out[DEVICE_NAME_LEN + 1]);
/* A new cookie value for that account. */
void device_cookie_new(const unsigned char key[DEVICE_KEY_LEN],
                       const char *name_key, char out[DEVICE_VALUE_LEN + 1]);
/*
 * True if value is a cookie this server made for name_key (checked in
 * constant time); nonce then receives its nonce, the key of its own
 * lockout. value may be NULL.
 */
bool device_cookie_check(const unsigned char key[DEVICE_KEY_LEN],
                         const char *name_key, const char *value,
                         unsigned char nonce[DEVICE_NONCE_LEN]);

#endif
