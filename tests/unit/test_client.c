/*
 * Who a request comes from (client.c): --trusted-proxy lists, and the
 * right-most untrusted hop of X-Forwarded-For or Forwarded, as a table
 * of peers, headers and the client each must give; junk in the chain
 * never lets a client pick its own key.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "chorus/client.h"
#include "chorus/util.h"
#include "test.h"

/* The key a client of address text should get. */
static struct client want_of(const char *text)
{
    struct client c;
    unsigned char a[16];

    memset(&c, 0, sizeof(c));
    if (inet_pton(AF_INET, text, a) == 1) {
        memcpy(c.key, a, 4);
        c.len = 4;
    } else if (inet_pton(AF_INET6, text, a) == 1) {
        memcpy(c.key, a, 8);
        c.len = 8;
    }
    return c;
}

static void identify(const struct client_nets *nets, const char *peer,
                     const char *xff, const char *fwd, struct client *out)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(peer, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, peer, &s6->sin6_addr);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, peer, &s4->sin_addr);
    }
    client_identify(nets, (const struct sockaddr *)&ss, xff, fwd, out);
}

static void test_parse(void)
{
    static const struct {
        const char *list;
        bool ok;
    } lists[] = {
        {"", true},
        {"127.0.0.1", true},
        {"127.0.0.1/32, 10.0.0.0/8,::1/128", true},
        {"2001:db8::/32", true},
        {"10.0.0.0/33", false},
        {"::1/129", false},
        {"10.0.0.0/", false},
        {"localhost", false},
        {"10.0.0.0/8x", false},
    };
    char err[128];

    for (size_t i = 0; i < ARRAY_LEN(lists); i++) {
        struct client_nets *n = NULL;
        int rc = client_nets_parse(lists[i].list, &n, err, sizeof(err));

        if ((rc == 0) != lists[i].ok) {
            fprintf(stderr, "list \"%s\": want %s\n", lists[i].list,
                    lists[i].ok ? "accepted" : "refused");
            test_failures++;
        }
        client_nets_free(n);
    }
}

static void test_identify(void)
{
    static const struct {
        const char *peer, *xff, *fwd, *client;
        bool forwarded, loopback;
    } cases[] = {
        /* Not through a trusted proxy: the peer, whatever it claims. */
        {"203.0.113.5", NULL, NULL, "203.0.113.5", false, false},
        {"203.0.113.5", "198.51.100.1", NULL, "203.0.113.5", true, false},
        {"127.0.0.1", NULL, NULL, "127.0.0.1", false, true},
        /* nginx on loopback appends the real peer: the right-most. */
        {"127.0.0.1", "198.51.100.7", NULL, "198.51.100.7", true, true},
        /* What the client wrote itself, to the left, means nothing. */
        {"127.0.0.1", "1.2.3.4, 198.51.100.7", NULL, "198.51.100.7", true,
         true},
        {"127.0.0.1", "1.2.3.4,198.51.100.7", NULL, "198.51.100.7", true, true},
        /* Trusted hops are skipped from the right. */
        {"127.0.0.1", "198.51.100.7, 10.1.2.3", NULL, "198.51.100.7", true,
         true},
        /* Every hop trusted: the left-most. */
        {"127.0.0.1", "10.9.9.9, 10.1.2.3", NULL, "10.9.9.9", true, true},
        /* Junk where the client should be: the last trusted hop. */
        {"127.0.0.1", "unknown", NULL, "127.0.0.1", true, true},
        {"127.0.0.1", "198.51.100.7, junk", NULL, "127.0.0.1", true, true},
        {"127.0.0.1", "198.51.100.7, junk, 10.1.2.3", NULL, "10.1.2.3", true,
         true},
        {"127.0.0.1", "", NULL, "127.0.0.1", true, true},
        /* Ports and brackets. */
        {"127.0.0.1", "198.51.100.7:4711", NULL, "198.51.100.7", true, true},
        {"127.0.0.1", "[2001:db8:cafe::17]:4711", NULL, "2001:db8:cafe::", true,
         true},
        /* IPv6 clients count by /64; mapped IPv4 as IPv4. */
        {"127.0.0.1", "2001:db8:1:2:aaaa::1", NULL, "2001:db8:1:2::", true,
         true},
        {"127.0.0.1", "::ffff:198.51.100.7", NULL, "198.51.100.7", true, true},
        {"2001:db8:1:2:3:4:5:6", NULL, NULL, "2001:db8:1:2::", false, false},
        /* Forwarded (RFC 7239), when there is no X-Forwarded-For. */
        {"127.0.0.1", NULL, "for=198.51.100.7;proto=https", "198.51.100.7",
         true, true},
        {"127.0.0.1", NULL, "for=1.2.3.4, for=\"[2001:db8::1]:80\"",
         "2001:db8::", true, true},
        {"127.0.0.1", NULL, "for=_hidden", "127.0.0.1", true, true},
        {"127.0.0.1", NULL, "proto=https", "127.0.0.1", true, true},
        /* X-Forwarded-For wins over Forwarded. */
        {"127.0.0.1", "198.51.100.7", "for=1.2.3.4", "198.51.100.7", true,
         true},
    };
    struct client_nets *nets = NULL;
    char err[128];

    CHECK_INT(client_nets_parse("127.0.0.1/32, 10.0.0.0/8, ::1", &nets, err,
                                sizeof(err)),
              0);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct client got, want = want_of(cases[i].client);

        identify(nets, cases[i].peer, cases[i].xff, cases[i].fwd, &got);
        if (got.len != want.len || memcmp(got.key, want.key, want.len) != 0 ||
            got.forwarded != cases[i].forwarded ||
            got.loopback != cases[i].loopback) {
            fprintf(stderr, "case %zu (%s, %s, %s): wrong client\n", i,
                    cases[i].peer, cases[i].xff ? cases[i].xff : "-",
                    cases[i].fwd ? cases[i].fwd : "-");
            test_failures++;
        }
    }
    CHECK(client_nets_contain(nets, AF_INET, "\x0a\x01\x02\x03"));
    CHECK(!client_nets_contain(nets, AF_INET, "\x0b\x01\x02\x03"));
    CHECK(!client_nets_contain(NULL, AF_INET, "\x7f\x00\x00\x01"));
    client_nets_free(nets);
}

int main(void)
{
    test_parse();
    test_identify();
    return TEST_RESULT();
}
