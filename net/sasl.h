/* sasl.h - the SASL mechanisms mailfs speaks (RFC 4422), for IMAP's
 * AUTHENTICATE and POP3's AUTH alike: the initial response of each
 * mechanism, base64-encoded; the answer to a challenge that follows it;
 * and the text of an OAuth2 error challenge. No I/O.
 *
 * Ownership: returned strings are malloc'd and belong to the caller, who
 * frees a response with sasl_free() (it holds the secret).
 */
#ifndef MAILFS_SASL_H
#define MAILFS_SASL_H

#include <stddef.h>

enum sasl_mech {
	SASL_PLAIN,          /* RFC 4616: password */
	SASL_XOAUTH2,        /* the providers' documented OAuth2 variant */
	SASL_OAUTHBEARER,    /* RFC 7628: OAuth2 */
};

/* "PLAIN", "XOAUTH2", "OAUTHBEARER". */
const char *sasl_name(enum sasl_mech mech);

/* The initial response of MECH for USER and SECRET, base64 (RFC 4648).
 * NULL with errno ENOMEM. */
char *sasl_initial(enum sasl_mech mech, const char *user, const char *secret);

/* The line that answers a challenge after the initial response: an
 * OAuth2 error challenge gets OAUTHBEARER's dummy "AQ==" (RFC 7628
 * §3.2.3) or XOAUTH2's empty line (as Google and Microsoft document it);
 * any other is cancelled with "*" (RFC 3501 §6.2.2, RFC 5034 §4). The
 * server then refuses the login. */
const char *sasl_answer(enum sasl_mech mech);

/* The decoded text of a base64 challenge (the JSON of an OAuth2 error,
 * RFC 7628 §3.2.2), with anything unprintable as '?', into OUT; "" when it
 * is not base64 or too long. */
void sasl_challenge_text(const char *b64, char *out, size_t size);

/* Wipe and free a response. */
void sasl_free(char *resp);

#endif
