/* Passwords: argon2id round trip, wrong passwords refused, old
 * parameters flagged for rehash; users: add, duplicate, passwd. */
#include <stdbool.h>
#include <stdlib.h>

#include <sodium.h>

#include "chorus/auth.h"
#include "chorus/db.h"
#include "chorus/migrate.h"
#include "chorus/util.h"
#include "test.h"

int main(void)
{
    char hash[AUTH_HASH_MAX], old[crypto_pwhash_STRBYTES];
    char dir[] = "/tmp/chorus-test-auth-XXXXXX", path[256], err[512];
    struct db *db = NULL;

    CHECK_INT(util_init(), 0);

    CHECK_INT(auth_password_hash("correct horse battery", hash), 0);
    CHECK(strncmp(hash, "$argon2id$", 10) == 0);
    CHECK_INT(auth_password_verify(hash, "correct horse battery"), 1);
    CHECK_INT(auth_password_verify(hash, "correct horse batterY"), 0);
    CHECK_INT(auth_password_verify(hash, ""), 0);
    CHECK_INT(auth_password_verify("garbage", "correct horse battery"), 0);

    /* Two hashes of one password differ (random salt). */
    {
        char again[AUTH_HASH_MAX];
        CHECK_INT(auth_password_hash("correct horse battery", again), 0);
        CHECK(strcmp(hash, again) != 0);
    }
    /* A hash made with weaker parameters verifies but asks for a rehash. */
    CHECK_INT(crypto_pwhash_str_alg(old, "secret password", 15, 1,
                                    8u * 1024 * 1024,
                                    crypto_pwhash_ALG_ARGON2ID13),
              0);
    CHECK_INT(auth_password_verify(old, "secret password"), 2);

    CHECK(auth_password_weak("short") != NULL);
    CHECK(auth_password_weak("long enough pw") == NULL);
    CHECK(auth_username_invalid("") != NULL);
    CHECK(auth_username_invalid("a b") != NULL);
    CHECK(auth_username_invalid("<script>") != NULL);
    CHECK(auth_username_invalid("anna.k_2-x") == NULL);
    /* Any script; no spaces, symbols, invisible or decomposed letters. */
    {
        static const struct {
            const char *name;
            bool ok;
        } names[] = {
            {"Алесь", true},
            {"Σωκράτης", true},
            {"Łukasz-Żółć", true},
            {"Nguyễn_Văn", true},
            {"علی", true},
            {"李雷", true},
            {"Հայկ", true},
            {"ab\xc2\xa0"
             "cd",
             false}, /* no-break space */
            {"ab\xe2\x80\x8b"
             "cd",
             false}, /* zero-width space */
            {"ab\xe2\x80\xae"
             "cd",
             false},              /* right-to-left override */
            {"e\xcc\x81", false}, /* e + combining acute */
            {"a\xc3\x97"
             "b",
             false}, /* multiplication sign */
            {"\xef\xbb\xbf"
             "admin",
             false},                 /* byte order mark */
            {"\xee\x80\x80", false}, /* private use */
            {"ab\xc3", false},       /* cut UTF-8 */
            {"\xc0\xaf"
             "ab",
             false}, /* overlong '/' */
            {"a/b", false},
        };

        for (size_t i = 0; i < ARRAY_LEN(names); i++)
            if ((auth_username_invalid(names[i].name) == NULL) != names[i].ok) {
                fprintf(stderr, "name %zu: want %s\n", i,
                        names[i].ok ? "valid" : "invalid");
                test_failures++;
            }
    }
    /* 64 characters in any script, not 64 bytes. */
    {
        char name[AUTH_USERNAME_BYTES + 8] = "";

        for (int i = 0; i < 64; i++)
            strcat(name, "Ж");
        CHECK(auth_username_invalid(name) == NULL);
        strcat(name, "Ж");
        CHECK(auth_username_invalid(name) != NULL);
    }
    CHECK_INT(auth_role_parse("moderator"), ROLE_MODERATOR);
    CHECK_INT(auth_role_parse("root"), ROLE_NONE);
    CHECK_STR(auth_role_name(ROLE_COMMS), "comms");

    /* Users in a real database. */
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/chorus.db", dir);
    CHECK_INT(db_open(path, &db, err, sizeof(err)), 0);
    CHECK(migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                        sizeof(err)) >= 0);
    CHECK_INT(auth_user_count(db), 0);
    CHECK(auth_user_add(db, "test", "anna", "first password", ROLE_ADMIN) > 0);
    CHECK_INT(auth_user_add(db, "test", "ANNA", "other password", ROLE_COMMS),
              0); /* usernames are case-insensitive */
    CHECK_INT(auth_user_count(db), 1);
    /* ... in every script: one account for every way of casing it. */
    CHECK(auth_user_add(db, "test", "Модератор", "first password",
                        ROLE_MODERATOR) > 0);
    CHECK_INT(
        auth_user_add(db, "test", "МОДЕРАТОР", "other password", ROLE_COMMS),
        0);
    CHECK_INT(
        auth_user_add(db, "test", "мОдЕрАтОр", "other password", ROLE_COMMS),
        0);
    CHECK(auth_user_add(db, "test", "ΣΟΦΙΑ", "first password", ROLE_COMMS) > 0);
    CHECK_INT(auth_user_add(db, "test", "σοφια", "other password", ROLE_COMMS),
              0);
    CHECK_INT(auth_user_count(db), 3);
    {
        char token[UTIL_TOKEN_LEN + 1];
        struct session s;

        CHECK_INT(auth_login(db, "МОДЕРАТОР", "first password", 60, token, &s),
                  1);
        CHECK_STR(s.username, "Модератор");
        CHECK_INT(auth_login(db, "σοφιΑ", "first password", 60, token, &s), 1);
        CHECK_STR(s.username, "ΣΟΦΙΑ");
        CHECK_INT(auth_login(db, "модератор", "wrong password", 60, token, &s),
                  0);
    }
    CHECK_INT(auth_user_passwd(db, "test", "anna", "second password"), 1);
    CHECK_INT(auth_user_passwd(db, "test", "nobody", "second password"), 0);
    {
        struct db_stmt *st = db_stmt(db, STMT_USER_BY_NAME);
        db_bind_text(st, 1, "anna"); /* the name key */
        CHECK_INT(db_step(st), DB_ROW);
        CHECK_INT(auth_password_verify(db_col_text(st, 2), "second password"),
                  1);
        CHECK_INT(auth_password_verify(db_col_text(st, 2), "first password"),
                  0);
        CHECK_STR(db_col_text(st, 3), "admin");
        db_reset(st);
    }
    db_close(db);
    snprintf(err, sizeof(err), "rm -rf '%s'", dir);
    CHECK_INT(system(err), 0);
    return TEST_RESULT();
}
