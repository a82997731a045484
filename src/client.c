#include "chorus/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest hop we look at ("[v6%zone]:port" fits). */
#define HOP_MAX 80
/* The most hops of a forwarded chain we walk: a longer one is junk. */
#define HOPS_MAX 64

struct net {
    int af;
    unsigned char addr[16];
    unsigned bits;
};

struct client_nets {
    struct net *nets;
    size_t n;
};

void client_nets_free(struct client_nets *nets)
{
    if (nets == NULL)
        return;
    free(nets->nets);
    free(nets);
}

/* Parses "addr[/bits]" (len bytes at s) into *n; 0, or -1. */
static int parse_net(const char *s, size_t len, struct net *n)
{
    char buf[64], *slash, *end;
    long bits;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    memset(n, 0, sizeof(*n));
    if (inet_pton(AF_INET, buf, n->addr) == 1)
        n->af = AF_INET;
    else if (inet_pton(AF_INET6, buf, n->addr) == 1)
        n->af = AF_INET6;
    else
        return -1;
    bits = n->af == AF_INET ? 32 : 128;
    if (slash != NULL) {
        long max = bits;

        errno = 0;
        bits = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || errno != 0 || bits < 0 ||
            bits > max)
            return -1;
    }
    n->bits = (unsigned)bits;
    return 0;
}

int client_nets_parse(const char *list, struct client_nets **out, char *err,
                      size_t errlen)
{
    struct client_nets *nets = calloc(1, sizeof(*nets));
    const char *p = list != NULL ? list : "";
    size_t cap = 0;

    *out = NULL;
    if (nets == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    while (*p != '\0') {
        size_t len;

        while (*p == ' ' || *p == ',')
            p++;
        len = strcspn(p, ", ");
        if (len == 0)
            break;
        if (nets->n == cap) {
            size_t ncap = cap == 0 ? 4 : cap * 2;
            struct net *q = realloc(nets->nets, ncap * sizeof(*q));

            if (q == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            nets->nets = q;
            cap = ncap;
        }
        if (parse_net(p, len, &nets->nets[nets->n]) != 0) {
            snprintf(err, errlen,
                     "--trusted-proxy: \"%.*s\" is not an address or "
                     "CIDR network",
                     (int)(len > 64 ? 64 : len), p);
            goto fail;
        }
        nets->n++;
        p += len;
    }
    *out = nets;
    return 0;
fail:
    client_nets_free(nets);
    return -1;
}

/* True if the first bits of a and b agree. */
static bool prefix_equal(const unsigned char *a, const unsigned char *b,
                         unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a[whole] ^ b[whole]) & (0xff << (8 - rest))) == 0;
}

bool client_nets_contain(const struct client_nets *nets, int af,
                         const void *addr)
{
    unsigned char v4[4];

    if (nets == NULL)
        return false;
    /* ::ffff:a.b.c.d is a.b.c.d */
    if (af == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr)) {
        memcpy(v4, (const unsigned char *)addr + 12, 4);
        addr = v4;
        af = AF_INET;
    }
    for (size_t i = 0; i < nets->n; i++)
        if (nets->nets[i].af == af &&
            prefix_equal(nets->nets[i].addr, addr, nets->nets[i].bits))
            return true;
    return false;
}

/* An address as a client: af and its 4 or 16 bytes. */
struct hop {
    int af;
    unsigned char addr[16];
};

/* Sets out's key from hop h. */
static void set_key(struct client *out, const struct hop *h)
{
    if (h->af == AF_INET6 &&
        IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)h->addr)) {
        memcpy(out->key, h->addr + 12, 4);
        out->len = 4;
    } else if (h->af == AF_INET6) {
        memcpy(out->key, h->addr, 8);
        out->len = 8;
    } else {
        memcpy(out->key, h->addr, 4);
        out->len = 4;
    }
}

/*
 * Parses one hop of X-Forwarded-For ("192.0.2.1", "2001:db8::1",
 * "[2001:db8::1]:443", "192.0.2.1:80") or of Forwarded's for=
 * (quoted, with the same forms). Returns 0 with *h, or -1 if it is not
 * an address.
 */
static int parse_hop(const char *s, size_t len, struct hop *h)
{
    char buf[HOP_MAX];
    char *p = buf, *q;

    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] == '[') {
        if ((q = strchr(buf, ']')) == NULL)
            return -1;
        *q = '\0';
        p = buf + 1;
    } else if ((q = strchr(buf, ':')) != NULL && strchr(q + 1, ':') == NULL) {
        *q = '\0'; /* "a.b.c.d:port" */
    }
    if (inet_pton(AF_INET, p, h->addr) == 1) {
        h->af = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, p, h->addr) == 1) {
        h->af = AF_INET6;
        return 0;
    }
    return -1;
}

/*
 * Splits a Forwarded value's element at s (len bytes: "for=x;proto=y")
 * and returns its for= value in *v, *vlen; false if it has none.
 */
static bool forwarded_for(const char *s, size_t len, const char **v,
                          size_t *vlen)
{
    while (len > 0) {
        size_t k = 0;

        while (k < len && s[k] != ';')
            k++;
        {
            const char *pair = s;
            size_t plen = k;

            while (plen > 0 && (*pair == ' ' || *pair == '\t')) {
                pair++;
                plen--;
            }
            if (plen > 4 && strncasecmp(pair, "for=", 4) == 0) {
                *v = pair + 4;
                *vlen = plen - 4;
                return true;
            }
        }
        if (k == len)
            break;
        s += k + 1;
        len -= k + 1;
    }
    return false;
}

/*
 * Walks the list (comma-separated hops, each parsed by parse_hop, or a
 * Forwarded element when is_forwarded) from the right. Returns 1 with
 * *found the client, 0 if every hop was trusted (*found the left-most),
 * or -1 if a hop that is not an address ends the walk.
 */
static int walk(const struct client_nets *nets, const char *list,
                bool is_forwarded, struct hop *found)
{
    size_t end = strlen(list);
    int hops = 0, rc = -1;
    bool any = false;

    while (end > 0 && hops++ < HOPS_MAX) {
        size_t start = end;
        const char *v;
        size_t vlen;
        struct hop h;

        while (start > 0 && list[start - 1] != ',')
            start--;
        v = list + start;
        vlen = end - start;
        end = start > 0 ? start - 1 : 0;
        if (is_forwarded && !forwarded_for(v, vlen, &v, &vlen))
            return any ? 0 : -1;
        if (parse_hop(v, vlen, &h) != 0)
            return any ? rc : -1;
        *found = h;
        any = true;
        if (!client_nets_contain(nets, h.af, h.addr))
            return 1;
        rc = 0;
        if (start == 0)
            break;
    }
    return any ? 0 : -1;
}

void client_identify(const struct client_nets *nets,
                     const struct sockaddr *peer, const char *xff,
                     const char *forwarded, struct client *out)
{
    struct hop h;
    const char *list = xff != NULL ? xff : forwarded;

    memset(out, 0, sizeof(*out));
    out->forwarded = xff != NULL || forwarded != NULL;
    if (peer == NULL)
        return;
    if (peer->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)peer;

        h.af = AF_INET;
        memcpy(h.addr, &s4->sin_addr, 4);
        out->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    } else if (peer->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)peer;

        h.af = AF_INET6;
        memcpy(h.addr, &s6->sin6_addr, 16);
        out->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
                        (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
                         s6->sin6_addr.s6_addr[12] == 127);
    } else {
        return;
    }
    if (list != NULL && client_nets_contain(nets, h.af, h.addr)) {
        struct hop fwd;

        /* The last trusted hop stays the client if the chain is junk. */
        if (walk(nets, list, xff == NULL, &fwd) >= 0)
            h = fwd;
    }
    set_key(out, &h);
}
