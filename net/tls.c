/* tls.c - OpenSSL client context and error explanations. */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct tls_ctx {
	SSL_CTX *ctx;
};

struct tls_ctx *tls_ctx_new(const char *cafile, char *err, size_t errlen)
{
	struct tls_ctx *t = calloc(1, sizeof(*t));

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ctx) {
		snprintf(err, errlen, "cannot create a TLS context");
		goto fail;
	}
	/* RFC 8314 §4.1 asks for TLS 1.2 or later; never go on without. */
	if (SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "cannot require TLS 1.2 or later");
		goto fail;
	}
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
		snprintf(err, errlen, "cannot load the system's trusted certificates");
		goto fail;
	}
	if (cafile && SSL_CTX_load_verify_locations(t->ctx, cafile, NULL) != 1) {
		snprintf(err, errlen, "cannot load CA certificates from %s", cafile);
		goto fail;
	}
	/* A mail session is long-lived; renegotiation and compression only
	 * add attack surface. */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                         SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return t;
fail:
	ERR_clear_error();
	tls_ctx_free(t);
	return NULL;
}

void tls_ctx_free(struct tls_ctx *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

void *tls_ctx_ssl(struct tls_ctx *t)
{
	return t->ctx;
}

int tls_host_is_ip(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int tls_explain(void *ssl, char *err, size_t errlen)
{
	long v = SSL_get_verify_result(ssl);
	unsigned long e;
	char buf[256];

	if (v != X509_V_OK) {
		const char *why = X509_verify_cert_error_string(v);

		if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
			why = "the certificate is issued for another host name";
		snprintf(err, errlen, "certificate rejected: %s", why);
		ERR_clear_error();
		return 1;
	}
	e = ERR_peek_last_error();
	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		/* Keep only OpenSSL's reason, the last colon-separated field. */
		const char *r = strrchr(buf, ':');
		snprintf(err, errlen, "TLS handshake failed: %s", r ? r + 1 : buf);
	} else {
		snprintf(err, errlen, "TLS handshake failed");
	}
	ERR_clear_error();
	return 0;
}
