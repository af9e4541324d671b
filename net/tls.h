/* tls.h - the OpenSSL client context shared by every connection of a mount.
 *
 * Certificates are verified against the system trust store plus an optional
 * CA file; the host name is checked (SSL_set1_host, or the IP address for an
 * IP literal) and sent as SNI (SPEC §5, RFC 8314).
 */
#ifndef MAILFS_TLS_H
#define MAILFS_TLS_H

#include <stddef.h>

struct tls_ctx;

/* Create a client context trusting the system store and CAFILE (may be
 * NULL). Returns NULL and a reason in err (of errlen bytes) on failure. */
struct tls_ctx *tls_ctx_new(const char *cafile, char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *t);

/* The OpenSSL SSL_CTX, for conn.c. */
void *tls_ctx_ssl(struct tls_ctx *t);

/* Describe why a handshake on SSL (an SSL *) failed, in err: a verification
 * failure names the reason ("certificate has expired", "hostname mismatch",
 * ...); returns 1 if it was a certificate problem, 0 otherwise. */
int tls_explain(void *ssl, char *err, size_t errlen);

/* 1 when HOST is an IPv4 or IPv6 literal (then SNI is not sent, RFC 6066 §3,
 * and the certificate is checked for the IP address). */
int tls_host_is_ip(const char *host);

#endif
