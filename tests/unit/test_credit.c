/* The credit line: what was given and nothing more, in a fixed order. */
#include "chorus/credit.h"
#include "chorus/meta.h"
#include "test.h"

static const struct {
    const char *name, *org, *country, *want;
} cases[] = {
    {"Алеся", "БНП", "BY", "Алеся · БНП · Belarus"},
    {NULL, NULL, "BY", "Belarus"},
    {"", "", "UA", "Ukraine"},
    {"Олена", NULL, "UA", "Олена · Ukraine"},
    {NULL, "Ў І Ї Є Ґ", "KZ", "Ў І Ї Є Ґ · Kazakhstan"},
    {"Ann", NULL, NULL, "Ann"},
    {NULL, NULL, NULL, ""},
    {"x", NULL, "ZZ", "x · ZZ"}, /* not one we know: the code */
};

/* The country's name in the captions' language; templates. */
static const struct {
    const char *tmpl, *name, *org, *country, *lang, *want;
} templated[] = {
    {NULL, "Алеся", "БНП", "BY", "be", "Алеся · БНП · Беларусь"},
    {"", NULL, NULL, "BY", "uk", "Білорусь"},
    {NULL, NULL, NULL, "UA", "ru-RU", "Украина"},
    {NULL, NULL, NULL, "UA", "pl", "Ukraine"}, /* no Polish names: English */
    {"{name} · {organization} · {country}", "Алеся", NULL, "BY", "ru",
     "Алеся · Беларусь"},
    {"{name} · {organization} · {country}", NULL, "БНП", "BY", "en",
     "БНП · Belarus"},
    {"Solidarity from {name} in {country}", NULL, NULL, "PL", "en",
     "Solidarity from Poland"},
    {"{name} ({organization})", "Ann", NULL, NULL, "en", "Ann"},
    {"{name} ({organization})", "Ann", "GMB", NULL, "en", "Ann (GMB)"},
    {"{name}, {organization} from {country}", "Ann", NULL, "GB", "en",
     "Ann from United Kingdom"},
    /* Nothing given: no line, whatever the template says. */
    {"Solidarity from {name}", NULL, NULL, NULL, "en", ""},
    {"{name}", NULL, "БНП", "BY", "en", ""},
    /* Text that is not a place is the campaign's own. */
    {"{nom} {name}", "Ann", NULL, NULL, "en", "{nom} Ann"},
};

int main(void)
{
    char out[CREDIT_MAX], small[8];

    for (size_t i = 0; i < sizeof(templated) / sizeof(templated[0]); i++) {
        char line[CREDIT_MAX];
        CHECK_INT(credit_from_template(templated[i].tmpl, templated[i].name,
                                       templated[i].org, templated[i].country,
                                       templated[i].lang, line, sizeof(line)),
                  0);
        CHECK_STR(line, templated[i].want);
    }
    CHECK_INT(credit_lang("be"), 3);
    CHECK_INT(credit_lang("uk-UA"), 2);
    CHECK_INT(credit_lang("bel"), 0);
    CHECK_INT(credit_lang(NULL), 0);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_INT(credit_line(cases[i].name, cases[i].org, cases[i].country,
                              out, sizeof(out)),
                  0);
        CHECK_STR(out, cases[i].want);
    }
    CHECK_INT(credit_line("a long name", NULL, "BY", small, sizeof(small)), -1);
    CHECK_STR(small, "");
    /* Every country the metadata takes has a name. */
    for (char a = 'A'; a <= 'Z'; a++)
        for (char b = 'A'; b <= 'Z'; b++) {
            char code[3] = {a, b, '\0'};
            if (meta_country_known(code) &&
                (credit_country_name(code) == NULL ||
                 credit_country_name_in(code, "ru") == NULL ||
                 credit_country_name_in(code, "uk") == NULL ||
                 credit_country_name_in(code, "be") == NULL)) {
                fprintf(stderr, "no name for %s\n", code);
                test_failures++;
            }
        }
    /* The longest credit fits. */
    {
        char name[META_NAME_MAX * 4 + 1], org[META_ORG_MAX * 4 + 1];
        memset(name, 'x', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        memset(org, 'y', sizeof(org) - 1);
        org[sizeof(org) - 1] = '\0';
        CHECK_INT(credit_line(name, org, "BY", out, sizeof(out)), 0);
    }
    return TEST_RESULT();
}
