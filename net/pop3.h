/* pop3.h - one POP3 client session (RFC 1939, CAPA and response codes of
 * RFC 2449 and 3206, STLS of RFC 2595, AUTH of RFC 5034), used
 * synchronously by one thread at a time.
 *
 * Return values: 0, or a negative errno:
 *   - transport: -EIO, -ETIMEDOUT, -ECONNRESET (the session is then broken);
 *   - malformed server data, a violated limit: -EPROTO (broken);
 *   - the server said -ERR: -EAGAIN for [IN-USE], [LOGIN-DELAY] and
 *     [SYS/TEMP] (try again later), -EACCES for [AUTH] and failed logins,
 *     -EIO otherwise; the session stays usable unless it was a login;
 *   - a command that would carry a CR or LF in its text is not sent at all:
 *     -EINVAL, POP3_FAIL_ARG (usable).
 * pop3_error() describes the last failure in one line, pop3_resp_code() the
 * response code of the last -ERR ("IN-USE", "LOGIN-DELAY", ...).
 *
 * Ownership: all memory belongs to the caller unless stated otherwise;
 * strings handed to callbacks are borrowed until the callback returns.
 */
#ifndef MAILFS_POP3_H
#define MAILFS_POP3_H

#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"

enum pop3_fail {
	POP3_OK = 0,
	POP3_FAIL_CONN,          /* transport; see pop3_conn_fail() */
	POP3_FAIL_TLS_REQUIRED,  /* STLS not offered or refused, or data injected
	                            after the STLS reply */
	POP3_FAIL_AUTH,          /* credentials refused */
	POP3_FAIL_PROTO,         /* malformed or unexpected server data */
	POP3_FAIL_ERR,           /* a command got -ERR */
	POP3_FAIL_ARG,           /* a command was refused before sending (CR or
	                            LF in it); the session is still usable */
};

enum pop3_cap {
	POP3_CAP_STLS       = 1u << 0,
	POP3_CAP_UIDL       = 1u << 1,
	POP3_CAP_USER       = 1u << 2,
	POP3_CAP_SASL_PLAIN = 1u << 3,
	POP3_CAP_SASL_XOAUTH2 = 1u << 4,
	POP3_CAP_SASL_OAUTHBEARER = 1u << 5,
	POP3_CAP_RESP_CODES = 1u << 6,
	POP3_CAP_PIPELINING = 1u << 7,
	POP3_CAP_TOP        = 1u << 8,
	POP3_CAP_LOGIN_DELAY = 1u << 9,
	POP3_CAP_AUTH_RESP_CODE = 1u << 10,
};

enum pop3_auth {
	POP3_AUTH_PASSWORD = 0,  /* AUTH PLAIN when offered, else USER/PASS */
	/* The secret is an OAuth2 access token (both values alike, as in
	 * imap.h): AUTH OAUTHBEARER (RFC 7628) when CAPA's SASL line lists it,
	 * else AUTH XOAUTH2. */
	POP3_AUTH_XOAUTH2,
	POP3_AUTH_OAUTHBEARER,
};

struct pop3_params {
	struct conn_params conn;
	int require_tls;         /* 1: a plain connection must do STLS first */
	const char *user;        /* borrowed for the life of the session */
	const char *secret;      /* borrowed; never logged */
	enum pop3_auth auth;
	/* Optional protocol trace (-d); secrets replaced. DIR is 'C' or 'S'. */
	void (*trace)(void *ctx, char dir, const char *line, size_t len);
	void *trace_ctx;
};

/* Where a RETR body goes, chunk by chunk, byte-stuffing undone. */
struct pop3_sink {
	/* Return 0, or a negative errno to stop (the rest is read and
	 * discarded, and pop3_retr returns that errno). */
	int (*write)(struct pop3_sink *sk, const char *data, size_t len);
};

struct pop3_session;

struct pop3_session *pop3_session_new(const struct pop3_params *params);
void pop3_session_free(struct pop3_session *s);

/* Connect, read the greeting, CAPA, STLS where required (then CAPA again),
 * authenticate. */
int pop3_connect(struct pop3_session *s);
/* QUIT: the server commits DELEs (RFC 1939 §6). Returns its answer. */
int pop3_quit(struct pop3_session *s);
void pop3_abort(struct pop3_session *s);

unsigned pop3_caps(const struct pop3_session *s);
/* The lines of the last CAPA response (after STLS, only those), as the
 * server sent them, joined with ", "; at most POP3_CAPS_TEXT_MAX bytes
 * (longer is cut, ending in "..."); "" before CAPA or when the server has
 * none. Server text: controls are left for the caller to make visible.
 * Borrowed until the next pop3_connect() or pop3_session_free(). */
#define POP3_CAPS_TEXT_MAX 1024
const char *pop3_caps_text(const struct pop3_session *s);
int pop3_broken(const struct pop3_session *s);
enum pop3_fail pop3_fail_class(const struct pop3_session *s);
enum conn_fail pop3_conn_fail(const struct pop3_session *s);
const char *pop3_error(const struct pop3_session *s);
const char *pop3_resp_code(const struct pop3_session *s);

/* STAT: number of messages and their total size. */
int pop3_stat(struct pop3_session *s, uint32_t *count_r, uint64_t *size_r);
/* UIDL (RFC 1939 §7): cb for every message, in order. Checked: message
 * numbers ascend from 1 to the STAT count with none missing or repeated, a
 * UIDL is 1 to 70 characters 0x21-0x7E, and no UIDL is listed twice; any
 * violation is -EPROTO. cb returns 0 or a negative errno that stops the
 * listing (the response is still read to its end). */
int pop3_uidl(struct pop3_session *s, int (*cb)(void *ctx, uint32_t n, const char *uidl),
              void *ctx);
/* LIST: sizes, same checks on numbers. */
int pop3_list(struct pop3_session *s, int (*cb)(void *ctx, uint32_t n, uint64_t size),
              void *ctx);
/* RETR N, the message streamed to SINK; *size_r the bytes delivered. */
int pop3_retr(struct pop3_session *s, uint32_t n, struct pop3_sink *sink, uint64_t *size_r);
/* DELE N: marked for deletion at QUIT. */
int pop3_dele(struct pop3_session *s, uint32_t n);
int pop3_noop(struct pop3_session *s);

#endif
