/*
 * Campaigns with a clock the test moves: the migration from the schema
 * of before campaigns, with its data (every message keeps to the default
 * campaign, the counts follow, the old consent versions keep the text
 * the page showed) and the adoption of the old settings; creating and
 * changing campaigns (a consent edit makes a new version and the old
 * text survives, word for word); what an upload is admitted to (open,
 * closed, not yet open, a consent version within its grace or past it);
 * dates; languages; and the campaign limits of users, which a decision
 * outside them cannot cross.
 */
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "chorus/campaign.h"
#include "chorus/config.h"
#include "chorus/db.h"
#include "chorus/message.h"
#include "chorus/meta.h"
#include "chorus/migrate.h"
#include "chorus/util.h"
#include "test.h"

static int64_t now = 1800000000;
static sqlite3 *peek;

static int64_t fake_clock(void)
{
    return now;
}

/* The first column of the first row of sql, as text ("" if none). */
static const char *q(const char *sql)
{
    static char buf[4096];
    sqlite3_stmt *st = NULL;

    buf[0] = '\0';
    if (sqlite3_prepare_v2(peek, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        snprintf(buf, sizeof(buf), "%s",
                 (const char *)sqlite3_column_text(st, 0));
    else if (st == NULL)
        fprintf(stderr, "peek: %s: %s\n", sql, sqlite3_errmsg(peek));
    sqlite3_finalize(st);
    return buf;
}

static struct db *open_db(const char *dir, const char *name)
{
    char path[512], err[256];
    struct db *db = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CHECK_INT(db_open(path, &db, err, sizeof(err)), 0);
    sqlite3_close(peek);
    CHECK_INT(sqlite3_open(path, &peek), SQLITE_OK);
    sqlite3_busy_timeout(peek, 5000);
    return db;
}

static void exec(struct db *db, const char *sql)
{
    char err[512];

    if (db_exec_script(db, sql, err, sizeof(err)) != 0) {
        fprintf(stderr, "exec: %s\n", err);
        CHECK(0);
    }
}

/* A configuration with the old settings. */
static void legacy_cfg(struct config *cfg, const char *dir, const char *title,
                       const char *version)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->cmd = CMD_SERVE;
    cfg->data_dir = dir;
    cfg->campaign_title = title;
    cfg->campaign_intro = "";
    cfg->consent_version = version;
}

/* Today's schema with data, migrated: the messages keep their place. */
static void test_migration(const char *dir)
{
    struct config cfg;
    char err[512];
    struct db *db = open_db(dir, "old.db");

    CHECK_INT(migrate_apply(db, chorus_migrations, 2, err, sizeof(err)), 2);
    exec(db, "INSERT INTO users (id, username, password_hash, role, created_at,"
             " updated_at) VALUES (1, 'mod', '$argon2id$x', 'moderator', 0, 0);"
             "INSERT INTO messages (id, status, name, country, language,"
             " consent_version, consent_scope, created_at, updated_at) VALUES"
             " ('aaaaaaaaaaaaaaaaaaaaaa', 'pending', 'Алеся', 'BY', 'be',"
             "  '2026-04', 'public', 10, 10),"
             " ('cccccccccccccccccccccc', 'withdrawn', NULL, 'BY', 'be',"
             "  '2026-11', 'public', 30, 30);"
             "INSERT INTO messages (id, status, name, country, language,"
             " consent_version, consent_scope, created_at, updated_at,"
             " decided_by, decided_at) VALUES ('bbbbbbbbbbbbbbbbbbbbbb',"
             " 'approved', 'Ivan', 'UA', 'uk', '2026-11', 'union', 20, 20, 1,"
             " 21);"
             "INSERT INTO jobs (message_id, state, run_after, created_at,"
             " updated_at) VALUES ('aaaaaaaaaaaaaaaaaaaaaa', 'done', 0, 0, 0);"
             "INSERT INTO reshares (message_id, channel, user_id, at) VALUES"
             " ('bbbbbbbbbbbbbbbbbbbbbb', 'Telegram', 1, 22);");
    CHECK_INT(migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                            sizeof(err)),
              (long long)chorus_migrations_count - 2);

    /* Every message is the default campaign's, and nothing else moved. */
    CHECK_STR(q("SELECT count(*) FROM messages WHERE campaign_id = 1"), "3");
    CHECK_STR(q("SELECT name || status || consent_scope FROM messages"
                " WHERE id = 'bbbbbbbbbbbbbbbbbbbbbb'"),
              "Ivanapprovedunion");
    CHECK_STR(q("SELECT slug || ' ' || languages FROM campaigns WHERE id = 1"),
              "default en,ru,uk,be");
    CHECK_STR(q("SELECT count(*) FROM reshares"), "1");
    /* The counts, per campaign and in total (the view of before). */
    CHECK_STR(q("SELECT n FROM message_counts WHERE campaign_id = 1"
                " AND status = 'approved'"),
              "1");
    CHECK_STR(q("SELECT n FROM status_counts WHERE status = 'pending'"), "1");
    CHECK_STR(q("SELECT count(*) FROM status_counts"), "7");
    /* The consent versions the messages name, with the page's text; the
     * newest is current. */
    CHECK_STR(q("SELECT consent_version FROM campaigns WHERE id = 1"),
              "2026-11");
    CHECK_STR(q("SELECT group_concat(version || ':' ||"
                " (superseded_at IS NULL), ',') FROM (SELECT * FROM"
                " consent_versions ORDER BY rowid)"),
              "2026-04:0,2026-11:1");
    CHECK_STR(q("SELECT count(*) FROM consent_texts"), "8");
    CHECK(strstr(q("SELECT text FROM consent_texts WHERE version = '2026-04'"
                   " AND lang = 'be'"),
                 "Мадэратары кампаніі") != NULL);
    CHECK(strstr(q("SELECT title FROM campaign_texts WHERE lang = 'be'"),
                 "салідарнасці") != NULL);
    /* The history cannot be rewritten. */
    CHECK(db_exec_script(db,
                         "UPDATE consent_texts SET text = 'x' WHERE lang = "
                         "'en'",
                         err, sizeof(err)) != 0);
    CHECK(db_exec_script(db, "DELETE FROM consent_versions", err,
                         sizeof(err)) != 0);
    /* A message of no campaign is refused; counts follow an insert. */
    CHECK(db_exec_script(db,
                         "INSERT INTO messages (id, status, created_at,"
                         " updated_at, campaign_id) VALUES"
                         " ('dddddddddddddddddddddd', 'processing', 0, 0, 9)",
                         err, sizeof(err)) != 0);
    CHECK_STR(q("SELECT adopted FROM campaigns WHERE id = 1"), "0");

    /* The old flags, adopted once: the title in every language, the
     * consent version current with the text it always had. */
    legacy_cfg(&cfg, dir, "Free them all", "2027-01");
    CHECK_INT(campaign_adopt_settings(db, &cfg), 0);
    CHECK_STR(q("SELECT group_concat(title, '|') FROM campaign_texts"),
              "Free them all|Free them all|Free them all|Free them all");
    CHECK(strstr(q("SELECT intro FROM campaign_texts WHERE lang = 'ru'"),
                 "Запишите") != NULL);
    CHECK_STR(q("SELECT consent_version || adopted FROM campaigns"),
              "2027-011");
    CHECK_STR(q("SELECT superseded_at FROM consent_versions"
                " WHERE version = '2026-11'"),
              "1800000000");
    CHECK_STR(q("SELECT count(*) FROM consent_texts a JOIN consent_texts b"
                " ON a.lang = b.lang AND a.text = b.text"
                " WHERE a.version = '2027-01' AND b.version = '2026-11'"),
              "4");
    /* A second start changes nothing, whatever the flags say now. */
    legacy_cfg(&cfg, dir, "Another title", "2028-01");
    CHECK_INT(campaign_adopt_settings(db, &cfg), 0);
    CHECK_STR(q("SELECT consent_version || title FROM campaigns c"
                " JOIN campaign_texts t ON t.campaign_id = c.id"
                " WHERE t.lang = 'en'"),
              "2027-01Free them all");
    db_close(db);

    /* Without flags, data/campaign.json's title is taken. */
    {
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/campaign.json", dir);
        f = fopen(path, "w");
        CHECK(f != NULL);
        fputs("{\"title\": \"Свабоду!\", \"intro\": \"Дзень салідарнасці\"}",
              f);
        fclose(f);
        db = open_db(dir, "json.db");
        CHECK(migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                            sizeof(err)) > 0);
        legacy_cfg(&cfg, dir, "", "2026-11");
        CHECK_INT(campaign_adopt_settings(db, &cfg), 0);
        CHECK_STR(q("SELECT title || '/' || intro FROM campaign_texts"
                    " WHERE lang = 'en'"),
                  "Свабоду!/Дзень салідарнасці");
        CHECK_STR(q("SELECT consent_version FROM campaigns"), "2026-11");
        unlink(path);
        db_close(db);
    }
}

static int save(struct db *db, const char *slug, const char *json, bool create,
                struct campaign *c, struct campaign_error *err)
{
    json_error_t jerr;
    json_t *spec = json_loads(json, 0, &jerr);
    int rc;

    if (spec == NULL) {
        fprintf(stderr, "bad test JSON: %s\n", jerr.text);
        CHECK(0);
        return -100;
    }
    rc = campaign_save(db, "admin", slug, spec, create, c, err);
    json_decref(spec);
    return rc;
}

static void test_save_and_consent(struct db *db)
{
    struct campaign c, d;
    struct campaign_error err;
    json_t *texts, *hist;
    static const struct {
        const char *slug, *json, *field;
    } bad[] = {
        {"Bad_Slug", "{\"languages\": [\"en\"]}", "slug"},
        {"-x", "{\"languages\": [\"en\"]}", "slug"},
        {"ok1", "{\"languages\": [\"en\"]}", "texts"},
        {"ok1", "{\"languages\": [\"xx\"]}", "languages"},
        {"ok1", "{\"languages\": [\"en\", \"en\"]}", "languages"},
        {"ok1", "{\"languages\": []}", "languages"},
        {"ok1", "{\"colour\": 1}", "body"},
        {"ok1",
         "{\"languages\": [\"en\"], \"texts\": {\"en\": {\"title\": \"T\"}},"
         " \"accent_color\": \"red\"}",
         "accent_color"},
        {"ok1",
         "{\"languages\": [\"en\"], \"texts\": {\"en\": {\"title\": \"T\"}},"
         " \"opens_at\": \"2026-05-02T00:00:00Z\","
         " \"closes_at\": \"2026-05-01T00:00:00Z\"}",
         "closes_at"},
        {"ok1",
         "{\"languages\": [\"en\"], \"texts\": {\"ru\": {\"title\": \"T\"}}}",
         "texts"},
        {"ok1",
         "{\"languages\": [\"en\"], \"texts\": {\"en\": {\"title\": "
         "\"a\\nb\"}}}",
         "texts.en.title"},
        {"ok1",
         "{\"languages\": [\"en\"], \"texts\": {\"en\": {\"title\": \"T\","
         " \"motto\": \"x\"}}}",
         "texts.en.motto"},
        {"ok1",
         "{\"languages\": [\"en\"], \"texts\": {\"en\": {\"title\": \"T\"}},"
         " \"closes_at\": \"tomorrow\"}",
         "closes_at"},
    };

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        memset(&err, 0, sizeof(err));
        CHECK_INT(save(db, bad[i].slug, bad[i].json, true, &c, &err),
                  CAMPAIGN_INVALID);
        if (strcmp(err.field, bad[i].field) != 0)
            fprintf(stderr, "case %zu: field %s (%s), want %s\n", i, err.field,
                    err.message, bad[i].field);
        CHECK_STR(err.field, bad[i].field);
    }
    CHECK_STR(q("SELECT count(*) FROM campaigns WHERE slug = 'ok1'"), "0");

    /* A campaign in two languages: consent v1 holds the one text. */
    CHECK_INT(save(db, "may-day",
                   "{\"languages\": [\"be\", \"en\"], \"texts\": {"
                   " \"be\": {\"title\": \"Першамай\", \"consent\":"
                   " \"Я згодны.\\nДругі радок.\"},"
                   " \"en\": {\"title\": \"May Day\", \"cta\": \"Send it\"}},"
                   " \"accent_color\": \"#C8102E\", \"hashtag\": \"#MayDay\","
                   " \"closes_at\": \"2030-05-01T12:00:00+03:00\"}",
                   true, &c, &err),
              1);
    CHECK_STR(c.consent_version, "v1");
    CHECK_STR(c.accent_color, "#c8102e");
    CHECK_INT(c.closes_at, 1903856400);
    CHECK_INT(c.nlangs, 2);
    CHECK_INT(save(db, "may-day", "{\"languages\": [\"en\"]}", true, &c, &err),
              CAMPAIGN_TAKEN);
    CHECK_INT(save(db, "nope", "{}", false, &c, &err), CAMPAIGN_NOT_FOUND);
    CHECK_STR(q("SELECT text FROM consent_texts c JOIN campaigns k"
                " ON k.id = c.campaign_id WHERE k.slug = 'may-day'"
                " AND version = 'v1'"),
              "Я згодны.\nДругі радок.");

    /* A title alone: the same consent version. */
    now += 60;
    CHECK_INT(save(db, "may-day",
                   "{\"texts\": {\"en\": {\"title\": \"May Day 2030\"}}}",
                   false, &c, &err),
              1);
    CHECK_STR(c.consent_version, "v1");
    /* The consent text changes: v2, and v1's words stay as they were. */
    now += 60;
    CHECK_INT(save(db, "may-day",
                   "{\"texts\": {\"be\": {\"consent\": \"Я згодны і ведаю.\"},"
                   " \"en\": {\"consent\": \"I agree.\"}}}",
                   false, &c, &err),
              1);
    CHECK_STR(c.consent_version, "v2");
    hist = campaign_consent_history(db, &c);
    CHECK_INT(json_array_size(hist), 2);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_array_get(hist, 0), "texts"), "be")),
              "Я згодны.\nДругі радок.");
    CHECK(json_object_get(json_object_get(json_array_get(hist, 0), "texts"),
                          "en") == NULL);
    CHECK_STR(json_string_value(json_object_get(
                  json_object_get(json_array_get(hist, 1), "texts"), "en")),
              "I agree.");
    CHECK(json_is_string(
        json_object_get(json_array_get(hist, 0), "superseded_at")));
    CHECK(json_is_null(
              json_object_get(json_array_get(hist, 1), "superseded_at")) ||
          json_object_get(json_array_get(hist, 1), "superseded_at") == NULL);
    json_decref(hist);
    /* Texts in a language, each falling back to the first language. */
    texts = campaign_texts_in(db, &c, "en-GB");
    CHECK_STR(json_string_value(json_object_get(texts, "lang")), "en");
    CHECK_STR(json_string_value(json_object_get(texts, "title")),
              "May Day 2030");
    CHECK_STR(json_string_value(json_object_get(texts, "consent_language")),
              "en");
    json_decref(texts);
    texts = campaign_texts_in(db, &c, "ru");
    CHECK_STR(json_string_value(json_object_get(texts, "lang")), "be");
    CHECK_STR(json_string_value(json_object_get(texts, "title")), "Першамай");
    json_decref(texts);
    /* Dropping a language with a consent text is a consent change too;
     * the first language without a title is refused. */
    now += 60;
    CHECK_INT(save(db, "may-day", "{\"languages\": [\"be\"]}", false, &d, &err),
              1);
    CHECK_STR(d.consent_version, "v3");
    CHECK_INT(save(db, "may-day", "{\"languages\": [\"ru\", \"be\"]}", false,
                   &d, &err),
              CAMPAIGN_INVALID);
    CHECK_STR(err.field, "texts");
    CHECK_STR(q("SELECT count(*) FROM campaign_texts t JOIN campaigns c"
                " ON c.id = t.campaign_id WHERE c.slug = 'may-day'"),
              "1");
}

static void test_admit(struct db *db)
{
    struct message_meta m;
    struct campaign c;
    struct campaign_error err;

    /* Consent v3 is current; v2 was superseded a minute ago. */
    meta_init(&m);
    snprintf(m.campaign, sizeof(m.campaign), "may-day");
    snprintf(m.consent_version, sizeof(m.consent_version), "v2");
    CHECK_INT(campaign_admit(db, &m, now, &c), CAMPAIGN_ADMIT_OK);
    CHECK_STR(m.consent_version, "v2"); /* what they saw, kept */
    CHECK_STR(m.consent_language, "be");
    CHECK_INT(m.campaign_id, c.id);
    CHECK_INT(campaign_admit(db, &m, now + CAMPAIGN_CONSENT_GRACE_S + 120, &c),
              CAMPAIGN_ADMIT_CONSENT);
    snprintf(m.consent_version, sizeof(m.consent_version), "v9");
    CHECK_INT(campaign_admit(db, &m, now, &c), CAMPAIGN_ADMIT_CONSENT);
    m.consent_version[0] = '\0';
    CHECK_INT(campaign_admit(db, &m, now, &c), CAMPAIGN_ADMIT_OK);
    CHECK_STR(m.consent_version, "v3");
    snprintf(m.consent_language, sizeof(m.consent_language), "uk");
    CHECK_INT(campaign_admit(db, &m, now, &c), CAMPAIGN_ADMIT_LANGUAGE);
    m.consent_language[0] = '\0';
    /* Closed at closes_at; not yet open before opens_at. */
    CHECK_INT(campaign_admit(db, &m, 1903856400, &c), CAMPAIGN_ADMIT_CLOSED);
    CHECK_INT(campaign_state_at(&c, 1903856400), CAMPAIGN_CLOSED);
    CHECK_INT(campaign_state_at(&c, 1903856399), CAMPAIGN_OPEN);
    CHECK_INT(save(db, "may-day", "{\"opens_at\": \"2030-04-30T00:00:00Z\"}",
                   false, &c, &err),
              1);
    CHECK_INT(campaign_admit(db, &m, now, &c), CAMPAIGN_ADMIT_CLOSED);
    CHECK_STR(campaign_state_name(campaign_state_at(&c, now)), "not_yet_open");
    CHECK_INT(save(db, "may-day", "{\"opens_at\": null}", false, &c, &err), 1);
    CHECK_INT(campaign_admit(db, &m, now, &c), CAMPAIGN_ADMIT_OK);
    /* Another name, or none (the default). */
    snprintf(m.campaign, sizeof(m.campaign), "no-such");
    CHECK_INT(campaign_admit(db, &m, now, &c), CAMPAIGN_ADMIT_UNKNOWN);
    meta_init(&m);
    CHECK_INT(campaign_admit(db, &m, now, &c), CAMPAIGN_ADMIT_OK);
    CHECK_INT(m.campaign_id, CAMPAIGN_DEFAULT_ID);
    CHECK_STR(m.campaign, "default");
    CHECK_STR(m.consent_language, "en");
}

static void test_times(void)
{
    static const struct {
        const char *s;
        int64_t want; /* -1: refused */
    } cases[] = {
        {"2026-05-01T09:00:00Z", 1777626000},
        {"2026-05-01t09:00:00z", 1777626000},
        {"2026-05-01 09:00:00Z", 1777626000},
        {"2026-05-01T12:00:00+03:00", 1777626000},
        {"2026-05-01T04:30:00-04:30", 1777626000},
        {"2026-05-01T09:00:00.123456Z", 1777626000},
        {"2026-05-01T09:00:00", -1},
        {"2026-05-01", -1},
        {"2026-02-31T00:00:00Z", -1},
        {"2026-13-01T00:00:00Z", -1},
        {"2026-05-01T24:00:00Z", -1},
        {"2026-05-01T09:00:00+3:00", -1},
        {"2026-05-01T09:00:00Z ", -1},
        {"", -1},
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        int64_t t = 0;
        int rc = campaign_parse_time(cases[i].s, &t);

        CHECK_INT(rc == 0 ? t : -1, cases[i].want);
    }
}

static void test_limits(struct db *db)
{
    const char *slugs[] = {"may-day"}, *bad = NULL;
    const char *nope[] = {"no-such"};
    char scope[MSG_SCOPE_MAX], id[UTIL_ID_LEN + 1];
    struct message_meta m;
    struct campaign c;
    unsigned char hash[MESSAGE_HASH_LEN] = {0};
    struct msg_actor mod = {WHO_MODERATOR, "mod2", 2};
    struct msg_args args = {0};
    int64_t may;

    exec(db, "INSERT INTO users (id, username, name_key, password_hash,"
             " role, created_at, updated_at) VALUES"
             " (2, 'mod2', 'mod2', '$argon2id$x', 'moderator', 0, 0),"
             " (3, 'boss', 'boss', '$argon2id$x', 'admin', 0, 0)");
    CHECK_INT(campaign_find(db, "may-day", &c), 1);
    may = c.id;
    CHECK_INT(campaign_limit_user(db, "admin", "mod2", slugs, 1, &bad), 1);
    CHECK_INT(campaign_scope_of(db, 2, scope, sizeof(scope)), 0);
    snprintf(id, sizeof(id), ",%lld,", (long long)may);
    CHECK_STR(scope, id);
    CHECK(message_scope_has(scope, may));
    CHECK(!message_scope_has(scope, CAMPAIGN_DEFAULT_ID));
    CHECK(message_scope_has("", CAMPAIGN_DEFAULT_ID));
    CHECK(message_scope_has(NULL, 7));
    CHECK(!message_scope_has(",11,", 1));
    CHECK_INT(message_sight_in(ROLE_MODERATOR, scope, MSG_PENDING,
                               CAMPAIGN_DEFAULT_ID),
              SIGHT_NONE);
    CHECK_INT(message_sight_in(ROLE_MODERATOR, scope, MSG_PENDING, may),
              SIGHT_MEDIA);
    CHECK_INT(
        message_sight_in(ROLE_ADMIN, scope, MSG_PENDING, CAMPAIGN_DEFAULT_ID),
        SIGHT_MEDIA);
    CHECK_INT(message_sight_in(ROLE_COMMS, scope, MSG_PENDING, may),
              SIGHT_NONE);
    CHECK_INT(campaign_limit_user(db, "admin", "mod2", nope, 1, &bad), -2);
    CHECK_STR(bad, "no-such");
    CHECK_INT(campaign_limit_user(db, "admin", "boss", slugs, 1, &bad), -3);
    CHECK_INT(campaign_limit_user(db, "admin", "nobody", slugs, 1, &bad), 0);
    /* The refused change left the limit as it was. */
    CHECK_INT(campaign_scope_of(db, 2, scope, sizeof(scope)), 0);
    CHECK_STR(scope, id);
    CHECK_STR(q("SELECT reason FROM audit WHERE action = 'user.campaigns'"
                " ORDER BY id DESC LIMIT 1"),
              "may-day");

    /* A message of the default campaign does not exist for mod2. */
    util_random_id(id);
    meta_init(&m);
    snprintf(m.country, sizeof(m.country), "BY");
    snprintf(m.language, sizeof(m.language), "be");
    snprintf(m.consent_version, sizeof(m.consent_version), "2026-11");
    memcpy(hash, id, 16);
    CHECK_INT(message_create(db, id, &m, hash, 10, 10, 0, true), 0);
    exec(db, "UPDATE jobs SET state = 'done'");
    {
        char sql[200];
        snprintf(sql, sizeof(sql),
                 "UPDATE messages SET status = 'pending' WHERE id = '%s'", id);
        exec(db, sql);
    }
    args.scope = scope;
    CHECK_INT(message_apply(db, id, EV_APPROVE, &mod, &args, NULL),
              MSG_NOT_FOUND);
    args.scope = NULL;
    CHECK_INT(message_apply(db, id, EV_APPROVE, &mod, &args, NULL), MSG_OK);
    /* No limits: every campaign. */
    CHECK_INT(campaign_limit_user(db, "admin", "mod2", NULL, 0, &bad), 1);
    CHECK_INT(campaign_scope_of(db, 2, scope, sizeof(scope)), 0);
    CHECK_STR(scope, "");
}

int main(void)
{
    char dir[] = "/tmp/chorus-test-campaign-XXXXXX";
    char err[512], cmd[600];
    struct config cfg;
    struct db *db;

    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(util_init(), 0);
    util_clock_set(fake_clock);
    test_migration(dir);
    test_times();

    db = open_db(dir, "chorus.db");
    CHECK(migrate_apply(db, chorus_migrations, chorus_migrations_count, err,
                        sizeof(err)) > 0);
    legacy_cfg(&cfg, dir, "", "2026-11");
    CHECK_INT(campaign_adopt_settings(db, &cfg), 0);
    test_save_and_consent(db);
    test_admit(db);
    test_limits(db);
    db_close(db);
    sqlite3_close(peek);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    return TEST_RESULT();
}
