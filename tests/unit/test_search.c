/* The search: the MATCH expression built from a user's query (escaping,
 * prefixes, limits in characters) and the real list statements over a
 * migrated database, in Cyrillic, Latin with diacritics, Greek and
 * Arabic; the query's folding against the index's view; a withdrawn
 * message's words leaving the index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "chorus/db.h"
#include "chorus/migrate.h"
#include "chorus/search.h"
#include "chorus/util.h"
#include "test.h"

static struct db *db;

static void must(const char *sql)
{
    char err[512];

    if (db_exec_script(db, sql, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", sql, err);
        exit(1);
    }
}

/* The MATCH expression of each query, and what is refused. */
static void test_builder(void)
{
    static const struct {
        const char *q, *match;
        int rc;
    } cases[] = {
        {"свабоду", "\"свабоду\"*", SEARCH_OK},
        {"Свабоду ", "\"Свабоду\"", SEARCH_OK}, /* a space: whole words */
        {"  Ivan   Pet", "\"Ivan\" \"Pet\"*", SEARCH_OK},
        {"a", "\"a\"", SEARCH_OK}, /* one letter is no prefix */
        {"свабоду!", "\"свабоду!\"", SEARCH_OK},
        /* Syntax is only text: quotes doubled, the rest inside quotes. */
        {"foo\"bar", "\"foo\"\"bar\"*", SEARCH_OK},
        {"\"", "\"\"\"\"", SEARCH_OK},
        {"*", "\"*\"", SEARCH_OK},
        {"ivan*", "\"ivan*\"", SEARCH_OK},
        {"NEAR(a b)", "\"NEAR(a\" \"b)\"", SEARCH_OK},
        {"name:ivan", "\"name:ivan\"*", SEARCH_OK},
        {"{name organization}:x", "\"{name\" \"organization}:x\"", SEARCH_OK},
        {"a OR b NOT c", "\"a\" \"OR\" \"b\" \"NOT\" \"c\"", SEARCH_OK},
        {"-foo ^bar +baz", "\"-foo\" \"^bar\" \"+baz\"*", SEARCH_OK},
        {"(x) AND", "\"(x)\" \"AND\"*", SEARCH_OK},
        {"x\ty\nz", "\"x\" \"y\" \"z\"", SEARCH_OK},
        {"a\xc2\xa0"
         "b",
         "\"a\" \"b\"", SEARCH_OK}, /* no-break space */
        /* Folded as the index's view folds. */
        {"Ελευθερία", "\"Ελευθερια\"*", SEARCH_OK},
        {"ΟΔΥΣΣΕΎΣ", "\"ΟΔΥΣΣΕΥΣ\"*", SEARCH_OK},
        {"Łódź", "\"Lódź\"*", SEARCH_OK},
        {"كَتَبَ", "\"كتب\"*", SEARCH_OK},
        {"أحمد", "\"احمد\"*", SEARCH_OK},
        {"", "", SEARCH_EMPTY},
        {"   ", "", SEARCH_EMPTY},
        {"\x01", "", SEARCH_BAD_TEXT},
        {"\xff\xfe", "", SEARCH_BAD_TEXT},
        {"a\xe2\x80\xae"
         "b",
         "", SEARCH_BAD_TEXT}, /* a bidi override */
    };
    char out[SEARCH_MATCH_MAX];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int rc = search_match(cases[i].q, out);
        if (rc != cases[i].rc || strcmp(out, cases[i].match) != 0)
            fprintf(stderr, "query %zu \"%s\": %d \"%s\"\n", i, cases[i].q, rc,
                    out);
        CHECK_INT(rc, cases[i].rc);
        CHECK_STR(out, cases[i].match);
    }
}

/* 100 characters are taken whatever their bytes; 101 are not. */
static void test_limits(void)
{
    char q[1024], out[SEARCH_MATCH_MAX];
    size_t o = 0;

    for (int i = 0; i < SEARCH_CHARS_MAX; i++, o += 2)
        memcpy(q + o, "ж", 2);
    q[o] = '\0';
    CHECK_INT(search_match(q, out), SEARCH_OK); /* 200 bytes */
    memcpy(q + o, "ж", 3);
    CHECK_INT(search_match(q, out), SEARCH_TOO_LONG);
    CHECK_STR(out, "");
    /* 100 four-byte characters, and 100 quotes (each doubled). */
    o = 0;
    for (int i = 0; i < SEARCH_CHARS_MAX; i++, o += 4)
        memcpy(q + o, "\xf0\x9f\x98\x80", 4);
    q[o] = '\0';
    CHECK_INT(search_match(q, out), SEARCH_OK);
    memset(q, '"', SEARCH_CHARS_MAX);
    q[SEARCH_CHARS_MAX] = '\0';
    CHECK_INT(search_match(q, out), SEARCH_OK);
    CHECK_INT((long long)strlen(out), 2 * SEARCH_CHARS_MAX + 2);
    for (int i = 0; i < SEARCH_CHARS_MAX; i++)
        q[i] = i % 2 ? ' ' : '"';
    CHECK_INT(search_match(q, out), SEARCH_OK);
}

static int64_t next_time = 1000;

/* Adds a pending message; returns its id (static storage per call). */
static const char *add(const char *name, const char *org, const char *text)
{
    static char ids[32][UTIL_ID_LEN + 1];
    static int n;
    char *id = ids[n++ % 32];
    char *sql;

    snprintf(id, UTIL_ID_LEN + 1, "search%016d", n);
    sql = sqlite3_mprintf(
        "INSERT INTO messages (id, status, name, organization, message,"
        " country, language, consent_scope, created_at, updated_at,"
        " upload_length, upload_offset) VALUES (%Q, 'pending', %Q, %Q, %Q,"
        " 'BY', 'be', 'public', %lld, %lld, 10, 10)",
        id, name, org, text, (long long)next_time, (long long)next_time);
    next_time++;
    must(sql);
    sqlite3_free(sql);
    return id;
}

/*
 * The ids the list finds for q (status ?1 NULL: every state), in the
 * order of the statement, comma-separated into out; "!" if SQLite
 * refused the expression (a syntax error would show here).
 */
static const char *found(const char *q, enum stmt which, char *out, size_t len)
{
    char match[SEARCH_MATCH_MAX];
    struct db_stmt *st;
    size_t o = 0;
    int rc;

    out[0] = '\0';
    if (search_match(q, match) != SEARCH_OK)
        return "?";
    st = db_stmt(db, which);
    if (st == NULL)
        return "!";
    db_bind_text(st, 4, match);
    db_bind_int(st, 9, which == STMT_MSG_SEARCH_DESC ? INT64_MAX : 0);
    db_bind_int(st, 11, 100);
    db_bind_int(st, 17, 0);
    while ((rc = db_step(st)) == DB_ROW) {
        int n = snprintf(out + o, len - o, "%s%s", o ? "," : "",
                         db_col_text(st, 0) + 6);
        if (n > 0 && (size_t)n < len - o)
            o += (size_t)n;
    }
    return rc == DB_DONE ? out : "!";
}

static void test_queries(void)
{
    const char *be = add("Алеся", "БНП", "Свабоду палітвязням!");
    const char *fr = add("Élodie Müller", "CGT", "La liberté, l'été");
    const char *pl = add("Łukasz", "NSZZ Solidarność", "Pozdrowienia z Łodzi");
    const char *gr = add("Οδυσσέας", "ΓΣΕΕ", "Ελευθερία στους απεργούς");
    const char *ar = add("أحمد", "نقابة", "كَتَبَ الحرية");
    const char *ru = add("Иван", NULL, "СВОБОДУ политзаключённым");
    char long_word[256] = "", q[256];
    static const struct {
        const char *q;
        int which[6]; /* be fr pl gr ar ru: 1 if found */
    } cases[] = {
        {"свабоду", {1, 0, 0, 0, 0, 0}},
        {"СВАБОДУ", {1, 0, 0, 0, 0, 0}},
        {"Свабоду", {1, 0, 0, 0, 0, 0}},
        {"свабо", {1, 0, 0, 0, 0, 0}},     /* a prefix, while typing */
        {"свабо ", {0, 0, 0, 0, 0, 0}},    /* a whole word: none */
        {"палітвязн", {1, 0, 0, 0, 0, 0}}, /* і is Belarusian's */
        {"алеся бнп", {1, 0, 0, 0, 0, 0}}, /* name and organization */
        {"алеся cgt", {0, 0, 0, 0, 0, 0}}, /* every word is needed */
        {"elodie", {0, 1, 0, 0, 0, 0}},
        {"ÉLODIE MULLER", {0, 1, 0, 0, 0, 0}},
        {"liberte ete", {0, 1, 0, 0, 0, 0}},
        {"lukasz lodzi", {0, 0, 1, 0, 0, 0}},
        {"solidarnosc", {0, 0, 1, 0, 0, 0}},
        {"ελευθερια", {0, 0, 0, 1, 0, 0}},
        {"ΟΔΥΣΣΕΑΣ", {0, 0, 0, 1, 0, 0}},
        {"απεργους", {0, 0, 0, 1, 0, 0}},
        {"كتب", {0, 0, 0, 0, 1, 0}},
        {"احمد", {0, 0, 0, 0, 1, 0}},
        {"الحرية", {0, 0, 0, 0, 1, 0}},
        {"свободу иван", {0, 0, 0, 0, 0, 1}},
        {"политзаключенным", {0, 0, 0, 0, 0, 1}}, /* ё as е */
        {"св", {1, 0, 0, 0, 0, 1}},
        /* Hostile queries are only words, and no error. */
        {"\"", {0, 0, 0, 0, 0, 0}},
        {"*", {0, 0, 0, 0, 0, 0}},
        {"NEAR(алеся", {0, 0, 0, 0, 0, 0}},
        {"name:алеся", {0, 0, 0, 0, 0, 0}},
        {"message:свабоду", {0, 0, 0, 0, 0, 0}},
        {"алеся OR иван", {0, 0, 0, 0, 0, 0}},
        {"-алеся", {1, 0, 0, 0, 0, 0}},
        {"^алеся", {1, 0, 0, 0, 0, 0}},
        {"алеся\"*", {1, 0, 0, 0, 0, 0}},
        {"(свабоду)", {1, 0, 0, 0, 0, 0}},
    };
    const char *ids[6] = {be, fr, pl, gr, ar, ru};
    char out[1024], want[1024];

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t o = 0;
        want[0] = '\0';
        for (int k = 0; k < 6; k++)
            if (cases[i].which[k])
                o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%s",
                                      o ? "," : "", ids[k] + 6);
        found(cases[i].q, STMT_MSG_SEARCH_ASC, out, sizeof(out));
        if (strcmp(out, want) != 0)
            fprintf(stderr, "search \"%s\"\n", cases[i].q);
        CHECK_STR(out, want);
    }
    /* Newest first the other way round. */
    CHECK_STR(found("св", STMT_MSG_SEARCH_DESC, out, sizeof(out)),
              "0000000000000006,0000000000000001");
    /* A 60-letter Cyrillic word (120 bytes), found by itself. */
    for (int i = 0; i < 60; i++)
        strcat(long_word, i % 2 ? "ў" : "ы");
    add(NULL, NULL, long_word);
    CHECK_STR(found(long_word, STMT_MSG_SEARCH_ASC, out, sizeof(out)),
              "0000000000000007");
    snprintf(q, sizeof(q), "%.100s", long_word); /* 50 letters */
    CHECK_STR(found(q, STMT_MSG_SEARCH_ASC, out, sizeof(out)),
              "0000000000000007");
}

/* search_fold() and the index's view fold alike, character by character. */
static void test_fold_agrees(void)
{
    static const char every[] =
        "Ł ł Ø ø Đ đ Ħ ħ Ŧ ŧ ß ё Ё ά έ ή ί ό ύ ώ ϊ ϋ ΐ ΰ Ά Έ Ή Ί Ό Ύ Ώ Ϊ Ϋ ς "
        "\xd8\xa2 \xd8\xa3 \xd8\xa5 \xd9\xb1 \xd9\x8b \xd9\x8c \xd9\x8d "
        "\xd9\x8e \xd9\x8f \xd9\x90 \xd9\x91 \xd9\x92 \xd9\xb0 \xd9\x80 "
        "Ваня é";
    char c_fold[512], view[512] = "", sql[256];
    const char *id = add(every, NULL, NULL);
    sqlite3_stmt *st = NULL;
    sqlite3 *peek = NULL;

    search_fold(every, c_fold, sizeof(c_fold));
    snprintf(sql, sizeof(sql),
             "SELECT s.text FROM message_search_source s JOIN messages m"
             " ON m.rowid = s.doc WHERE m.id = '%s'",
             id);
    if (sqlite3_open_v2(db_filename(db), &peek, SQLITE_OPEN_READONLY, NULL) ==
            SQLITE_OK &&
        sqlite3_prepare_v2(peek, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(view, sizeof(view), "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(peek);
    /* The view adds the separators of the empty organization and
     * message. */
    strcat(c_fold, "  ");
    CHECK_STR(view, c_fold);
    CHECK(strstr(view, "L l O o D d H h T t ss е Е α ε η ι ο υ ω ι υ ι υ "
                       "Α Ε Η Ι Ο Υ Ω Ι Υ σ") == view);
}

/* Withdrawn: none of its words is found, and the index agrees with
 * its content, after the optimize that retention_checkpoint() runs. */
static void test_withdrawn(void)
{
    const char *id = add("Ігнат Шчыглюк", "Профсаюз РЭП", "Жыве вечна");
    char out[256], sql[512];

    CHECK_STR(found("шчыглюк", STMT_MSG_SEARCH_ASC, out, sizeof(out)), id + 6);
    snprintf(sql, sizeof(sql),
             "UPDATE messages SET status = 'withdrawn', name = NULL,"
             " organization = NULL, message = NULL WHERE id = '%s'",
             id);
    must(sql);
    CHECK_STR(found("шчыглюк", STMT_MSG_SEARCH_ASC, out, sizeof(out)), "");
    CHECK_STR(found("жыве", STMT_MSG_SEARCH_ASC, out, sizeof(out)), "");
    must("INSERT INTO message_search (message_search, rank)"
         " VALUES ('integrity-check', 1)");
    must("INSERT INTO message_search (message_search) VALUES ('optimize')");
    must("INSERT INTO message_search (message_search, rank)"
         " VALUES ('integrity-check', 1)");
    /* And a message deleted (an expired upload) leaves it too. */
    id = add("Expired", NULL, "unfinished");
    snprintf(sql, sizeof(sql), "DELETE FROM messages WHERE id = '%s'", id);
    must(sql);
    CHECK_STR(found("unfinished", STMT_MSG_SEARCH_ASC, out, sizeof(out)), "");
    must("INSERT INTO message_search (message_search, rank)"
         " VALUES ('integrity-check', 1)");
}

/* A transcript's words are folded as the message's are (0011's view),
 * and a transcript deleted with its message (ON DELETE CASCADE) leaves
 * the index consistent. */
static void test_transcripts(void)
{
    const char *id = add("Ala", NULL, NULL);
    char out[256], sql[512];

    snprintf(sql, sizeof(sql),
             "INSERT INTO transcripts (message_id, lang, cues, text, timed_by,"
             " updated_at) VALUES ('%s', 'pl', '[]', 'Świętokrzyskie ŻYJE', "
             "'chorus', 0)",
             id);
    must(sql);
    CHECK_STR(found("swietokrzyskie", STMT_MSG_SEARCH_ASC, out, sizeof(out)),
              id + 6);
    CHECK_STR(found("żyje", STMT_MSG_SEARCH_ASC, out, sizeof(out)), id + 6);
    CHECK_STR(found("ala", STMT_MSG_SEARCH_ASC, out, sizeof(out)), id + 6);
    must("INSERT INTO message_search (message_search, rank)"
         " VALUES ('integrity-check', 1)");
    snprintf(sql, sizeof(sql), "DELETE FROM messages WHERE id = '%s'", id);
    must(sql);
    CHECK_STR(found("swietokrzyskie", STMT_MSG_SEARCH_ASC, out, sizeof(out)),
              "");
    must("INSERT INTO message_search (message_search, rank)"
         " VALUES ('integrity-check', 1)");
}

int main(void)
{
    char dir[] = "/tmp/chorus-test-search-XXXXXX", path[256], err[512];

    CHECK_INT(util_init(), 0);
    test_builder();
    test_limits();
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/chorus.db", dir);
    if (db_open(path, &db, err, sizeof(err)) != 0 ||
        migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                      sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    test_queries();
    test_fold_agrees();
    test_withdrawn();
    test_transcripts();
    db_close(db);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    if (system(path) != 0)
        return 1;
    return TEST_RESULT();
}
