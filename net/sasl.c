/* sasl.c - SASL initial responses and challenges (RFC 4422, 4616, 7628). */
#include "net/sasl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

const char *sasl_name(enum sasl_mech mech)
{
	switch (mech) {
	case SASL_XOAUTH2:
		return "XOAUTH2";
	case SASL_OAUTHBEARER:
		return "OAUTHBEARER";
	default:
		return "PLAIN";
	}
}

/* The user name in a GS2 header: "," and "=" escaped (RFC 5801 §4). */
static char *gs2_name(const char *user)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = user; *p; p++)
		n += (*p == ',' || *p == '=') ? 3 : 1;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	for (o = out; *user; user++) {
		if (*user == ',' || *user == '=') {
			memcpy(o, *user == ',' ? "=2C" : "=3D", 3);
			o += 3;
		} else {
			*o++ = *user;
		}
	}
	*o = '\0';
	return out;
}

/* The response before base64; *len_r its length (PLAIN holds NULs). */
static char *raw_response(enum sasl_mech mech, const char *user, const char *secret,
                          size_t *len_r)
{
	char *resp = NULL, *name;
	size_t ul, pl;
	int n;

	switch (mech) {
	case SASL_XOAUTH2:
		n = asprintf(&resp, "user=%s\001auth=Bearer %s\001\001", user, secret);
		break;
	case SASL_OAUTHBEARER:
		/* RFC 7628 §3.1: a GS2 header, then key/value pairs. */
		name = gs2_name(user);
		n = name ? asprintf(&resp, "n,a=%s,\001auth=Bearer %s\001\001", name, secret) : -1;
		free(name);
		break;
	default:
		/* RFC 4616: authzid NUL authcid NUL passwd */
		ul = strlen(user);
		pl = strlen(secret);
		resp = malloc(ul + pl + 2);
		if (!resp)
			return NULL;
		resp[0] = '\0';
		memcpy(resp + 1, user, ul);
		resp[ul + 1] = '\0';
		memcpy(resp + ul + 2, secret, pl);
		*len_r = ul + pl + 2;
		return resp;
	}
	if (n < 0)
		return NULL;
	*len_r = (size_t)n;
	return resp;
}

char *sasl_initial(enum sasl_mech mech, const char *user, const char *secret)
{
	size_t len = 0;
	char *raw = raw_response(mech, user, secret, &len), *b64 = NULL;

	if (raw) {
		b64 = malloc(4 * ((len + 2) / 3) + 1);
		if (b64)
			EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)raw, (int)len);
		explicit_bzero(raw, len);
		free(raw);
	}
	if (!b64)
		errno = ENOMEM;
	return b64;
}

const char *sasl_answer(enum sasl_mech mech)
{
	switch (mech) {
	case SASL_OAUTHBEARER:
		return "AQ==";
	case SASL_XOAUTH2:
		return "";
	default:
		return "*";
	}
}

void sasl_challenge_text(const char *b64, char *out, size_t size)
{
	unsigned char buf[768];
	size_t len = strlen(b64), o = 0;
	int n;

	if (size)
		out[0] = '\0';
	if (len == 0 || len % 4 || len / 4 * 3 > sizeof(buf) || size == 0)
		return;
	n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return;
	while (n > 0 && buf[n - 1] == '\0')   /* EVP_DecodeBlock keeps the padding */
		n--;
	for (int i = 0; i < n && o + 1 < size; i++)
		out[o++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? (char)buf[i] : '?';
	out[o] = '\0';
}

void sasl_free(char *resp)
{
	if (resp) {
		explicit_bzero(resp, strlen(resp));
		free(resp);
	}
}
