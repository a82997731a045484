/*
 * Who a request comes from, for the per-client limits (uploads, parked
 * bytes, login failures) and nothing else: a client is never stored or
 * logged, only counted in memory.
 *
 * The client is the socket's peer, unless that peer is one of the
 * --trusted-proxy networks (a CIDR list): then it is the right-most
 * address in X-Forwarded-For (every such header, in order, as one list)
 * that is not itself a trusted proxy; without X-Forwarded-For, the
 * right-most for= of Forwarded (RFC 7239) the same way. Addresses to the
 * left of the first untrusted one were written by the client itself and
 * mean nothing. If every hop is trusted the left-most is the client; if
 * the hop found is not an address ("unknown", an obfuscated name, junk)
 * the client is the last trusted hop.
 *
 * A client's key is its IPv4 address, or the /64 prefix of its IPv6
 * address (one household or phone gets a whole /64: counting single
 * addresses would give it 2^64 clients). An IPv4-mapped IPv6 address
 * counts as its IPv4 address.
 */
#ifndef CHORUS_CLIENT_H
#define CHORUS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CLIENT_KEY_MAX 16

struct client {
    unsigned char key[CLIENT_KEY_MAX];
    size_t len;     /* 4 or 8; 0: unknown (no address at all) */
    bool forwarded; /* the request carried X-Forwarded-For or Forwarded */
    bool loopback;  /* the socket's peer is a loopback address */
};

/* A parsed --trusted-proxy list. */
struct client_nets;

/*
 * Parses a comma-separated list of CIDR networks ("127.0.0.1/32,
 * 10.0.0.0/8, ::1/128"; a bare address is a /32 or /128). An empty list
 * is fine (no proxy is trusted). Returns 0 with *out set (the caller
 * frees it with client_nets_free), or -1 with a reason in err.
 */
int client_nets_parse(const char *list, struct client_nets **out, char *err,
                      size_t errlen);
void client_nets_free(struct client_nets *nets);

/* True if the address (struct in_addr or in6_addr of family af) is in
 * one of nets; NULL nets hold nothing. */
bool client_nets_contain(const struct client_nets *nets, int af,
                         const void *addr);

/*
 * Who sent a request that came from peer (may be NULL) through nets
 * (may be NULL), with its X-Forwarded-For and Forwarded values (each the
 * comma-joined list of every such header, or NULL). Fills *out.
 */
void client_identify(const struct client_nets *nets,
                     const struct sockaddr *peer, const char *xff,
                     const char *forwarded, struct client *out);

#endif
