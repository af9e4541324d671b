/* mime.c - header fields (RFC 5322), encoded words (RFC 2047, RFC 2231 §5)
 * and dates (RFC 5322 §3.3, §4.3; RFC 3501 INTERNALDATE).
 *
 * Everything here reads hostile bytes from a server or from the sender of a
 * message. Nothing is cached between calls: the iconv descriptors are opened
 * and closed within one call, so the functions are safe from any thread
 * (beside them, one converter per charset is kept open: mime_charset_keep).
 */
#include "net/mime.h"
#include "net/utf8.h"

#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- growable buffer ------------------------------------------------------ */


/* --- small character helpers (ASCII only, independent of the locale) ------ */

static int is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Linear white space between encoded words: RFC 2047 §6.2 speaks of
 * "linear-white-space", which includes a fold (CRLF followed by WSP). */
static int is_lwsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

static unsigned char to_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* strncasecmp() follows the locale (Turkish "I"); header names are ASCII. */
static int ascii_casecmp(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char x = to_lower((unsigned char)a[i]);
		unsigned char y = to_lower((unsigned char)b[i]);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}


/* Windows-1252 0x80-0x9f; the five bytes it leaves undefined map to the C1
 * control of the same value, as in the WHATWG Encoding Standard. 0xa0-0xff
 * are Latin-1. */
static const uint16_t cp1252_high[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

/* Append bytes that should be UTF-8. Valid sequences are kept; a NUL,
 * which a C string cannot carry, becomes U+FFFD. Invalid sequences become
 * U+FFFD when LATIN1 is 0 (output of iconv, which should never produce
 * them), or are read byte by byte as Windows-1252 when LATIN1 is 1: raw
 * 8-bit header bytes in the wild are nearly always Latin-1 or its Windows
 * superset, which is what Thunderbird assumes too. */
static void put_text(struct utf8_buf *out, const char *s, size_t n, int latin1)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	while (i < n) {
		uint32_t cp;
		long k = utf8_next(p + i, n - i, &cp);

		if (k > 0 && cp != 0) {
			i += (size_t)k;
			continue;
		}
		utf8_buf_add(out, p + run, i - run);
		if (k > 0) {                    /* NUL */
			utf8_buf_put(out, UTF8_REPLACEMENT);
			i += 1;
		} else if (!latin1) {
			utf8_buf_put(out, UTF8_REPLACEMENT);
			i += (size_t)-k;
		} else {
			long j;

			for (j = 0; j < -k; j++, i++)
				utf8_buf_put(out, p[i] < 0xa0 ? cp1252_high[p[i] - 0x80]
					     : p[i]);
		}
		run = i;
	}
	utf8_buf_add(out, p + run, i - run);
}

/* --- mime_header ---------------------------------------------------------- */

/* The bytes of one line starting at HDR[*POS], without its CRLF or LF;
 * advances *POS past the line break. */
static size_t header_line(const char *hdr, size_t len, size_t *pos)
{
	const char *line = hdr + *pos;
	const char *nl = memchr(line, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - line) : len - *pos;

	*pos += n + (nl ? 1 : 0);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	return n;
}

/* Collects the value that starts at VALUE (N bytes, after the colon) and
 * its continuation lines from HDR[*POS] on. */
static char *header_value(const char *value, size_t n, const char *hdr,
			  size_t len, size_t pos)
{
	struct utf8_buf v = { 0 };
	size_t i, start, end;
	char *res;

	utf8_buf_add(&v, value, n);
	/* RFC 5322 §2.2.3 unfolding: a line break followed by WSP is
	 * removed, the WSP stays. */
	while (pos < len && is_wsp((unsigned char)hdr[pos])) {
		const char *line = hdr + pos;

		n = header_line(hdr, len, &pos);
		utf8_buf_add(&v, line, n);
	}
	res = utf8_buf_finish(&v);
	if (res == NULL)
		return NULL;
	/* A C string cannot carry NUL: a stray one becomes a space rather
	 * than silently cutting the value short. */
	for (i = 0; i < v.len; i++)
		if (res[i] == '\0')
			res[i] = ' ';
	for (start = 0; start < v.len && is_lwsp((unsigned char)res[start]); start++)
		;
	for (end = v.len; end > start && is_lwsp((unsigned char)res[end - 1]); end--)
		;
	memmove(res, res + start, end - start);
	res[end - start] = '\0';
	return res;
}

char *mime_header(const char *hdr, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	size_t pos = 0;

	while (pos < len && nlen > 0) {
		const char *line = hdr + pos;
		size_t llen = header_line(hdr, len, &pos);
		size_t i;

		if (llen == 0)
			break;          /* the empty line ends the header */
		/* RFC 5322 §3.6.8 field-name, and the obsolete syntax of §4.5: WSP
		 * may stand between the name and the colon. A continuation
		 * line starts with WSP and so never matches. */
		if (llen <= nlen || ascii_casecmp(line, name, nlen) != 0)
			continue;
		for (i = nlen; i < llen && is_wsp((unsigned char)line[i]); i++)
			;
		if (i < llen && line[i] == ':')
			return header_value(line + i + 1, llen - i - 1, hdr, len, pos);
	}
	errno = ENOENT;
	return NULL;
}

/* --- RFC 2047 encoded words ---------------------------------------------- */

#define CHARSET_MAX 40        /* longer names are not charsets anyone uses */

struct mime_word {
	const char *charset;  /* without the RFC 2231 language */
	size_t charset_len;
	char encoding;        /* 'b' or 'q' */
	const char *text;
	size_t text_len;
	size_t total;         /* bytes from "=?" to "?=" inclusive */
};

/* RFC 2047 §2 token: any CHAR except SPACE, CTLs and especials. "*" is
 * RFC 2231's language separator, not part of the charset. */
static int is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\"/[]?.=*", c) == NULL;
}

/* Recognise "=?charset[*lang]?B|Q?encoded-text?=" at P (N bytes). Returns
 * 1 and fills W, or 0 when the bytes are not an encoded word. */
static int word_parse(const char *p, size_t n, struct mime_word *w)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 2, j;

	if (n < 2 || s[0] != '=' || s[1] != '?')
		return 0;
	for (j = i; j < n && is_token_char(s[j]); j++)
		if (j - i >= CHARSET_MAX)
			return 0;
	if (j == i || j >= n)
		return 0;
	w->charset = p + i;
	w->charset_len = j - i;
	if (s[j] == '*') {      /* RFC 2231 §5 language, dropped */
		for (j++; j < n && (is_alnum(s[j]) || s[j] == '-'); j++)
			;
		if (j >= n)
			return 0;
	}
	if (s[j] != '?' || j + 3 > n)
		return 0;
	w->encoding = (char)to_lower(s[j + 1]);
	if ((w->encoding != 'b' && w->encoding != 'q') || s[j + 2] != '?')
		return 0;
	i = j + 3;
	/* encoded-text: printable ASCII except "?" and SPACE; the first "?"
	 * must be that of the closing "?=". */
	for (j = i; j < n && s[j] > 0x20 && s[j] < 0x7f && s[j] != '?'; j++)
		;
	if (j + 1 >= n || s[j] != '?' || s[j + 1] != '=')
		return 0;
	w->text = p + i;
	w->text_len = j - i;
	w->total = j + 2;
	return 1;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	c = to_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* RFC 2047 §4.1 "B": RFC 2045 base64. Missing padding and non-zero pad bits
 * are tolerated (common in the wild, harmless); characters outside the
 * alphabet, data after "=", or a dangling sixth of a byte are not. Returns
 * 0 or -EINVAL. */
static int decode_b(const struct mime_word *w, struct utf8_buf *out)
{
	const unsigned char *s = (const unsigned char *)w->text;
	uint32_t acc = 0;
	unsigned nbits = 0;
	size_t i, data = 0, pad = 0;

	for (i = 0; i < w->text_len; i++) {
		int v;

		if (s[i] == '=') {
			pad++;
			continue;
		}
		v = b64_value(s[i]);
		if (v < 0 || pad > 0)
			return -EINVAL;
		data++;
		acc = acc << 6 | (uint32_t)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			utf8_buf_addc(out, (char)(acc >> nbits & 0xff));
			acc &= (1u << nbits) - 1;
		}
	}
	if (data % 4 == 1 || pad > 2)
		return -EINVAL;
	return 0;
}

/* RFC 2047 §4.2 "Q": "_" is a space (rule 2), "=XX" a byte. A "=" without
 * two hex digits is kept as it is: losing one character is better than
 * showing the whole word undecoded. */
static void decode_q(const struct mime_word *w, struct utf8_buf *out)
{
	const unsigned char *s = (const unsigned char *)w->text;
	size_t i;

	for (i = 0; i < w->text_len; i++) {
		if (s[i] == '_') {
			utf8_buf_addc(out, ' ');
		} else if (s[i] == '=' && i + 2 < w->text_len
			   && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
			utf8_buf_addc(out, (char)(hex_value(s[i + 1]) << 4 | hex_value(s[i + 2])));
			i += 2;
		} else {
			utf8_buf_addc(out, (char)s[i]);
		}
	}
}

/* Labels that mail software sends but that mean something else in
 * practice, mapped as in the WHATWG Encoding Standard: ISO-8859-1 and
 * US-ASCII text is really Windows-1252, GB2312 is GBK, which GB18030
 * contains. The others are names glibc does not know. */
static const struct {
	const char *label;
	const char *iconv_name;
} charset_aliases[] = {
	{ "iso-8859-1", "WINDOWS-1252" },
	{ "iso8859-1", "WINDOWS-1252" },
	{ "latin1", "WINDOWS-1252" },
	{ "us-ascii", "WINDOWS-1252" },
	{ "ascii", "WINDOWS-1252" },
	{ "gb2312", "GB18030" },
	{ "gbk", "GB18030" },
	{ "x-gbk", "GB18030" },
	{ "ks_c_5601-1987", "CP949" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "x-sjis", "SHIFT_JIS" },
	{ "x-mac-roman", "MACINTOSH" },
};

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static char *kept_names[MIME_KEPT_MAX];      /* protected by kept_lock */
static iconv_t kept_cds[MIME_KEPT_MAX];      /* protected by kept_lock; never
                                                closed, but held (not leaked) */
static size_t nkept;                         /* protected by kept_lock */

void mime_charset_keep(const char *name)
{
	pthread_mutex_lock(&kept_lock);
	for (size_t i = 0; i < nkept; i++)
		if (strcmp(kept_names[i], name) == 0) {
			pthread_mutex_unlock(&kept_lock);
			return;
		}
	if (nkept < MIME_KEPT_MAX) {
		iconv_t cd = iconv_open("UTF-8", name);

		if (cd != (iconv_t)-1 && !(kept_names[nkept] = strdup(name)))
			iconv_close(cd);
		else if (cd != (iconv_t)-1)
			kept_cds[nkept++] = cd;
	}
	pthread_mutex_unlock(&kept_lock);
}

/* Opens a converter from the word's charset to UTF-8, or returns
 * (iconv_t)-1 when the charset is unknown. */
static iconv_t charset_open(const char *cs, size_t len)
{
	char name[CHARSET_MAX + 1];
	const char *iconv_name = name;
	iconv_t cd;
	size_t i;

	memcpy(name, cs, len);
	name[len] = '\0';
	for (i = 0; i < sizeof(charset_aliases) / sizeof(charset_aliases[0]); i++)
		if (strlen(charset_aliases[i].label) == len
		    && ascii_casecmp(name, charset_aliases[i].label, len) == 0)
			iconv_name = charset_aliases[i].iconv_name;
	cd = iconv_open("UTF-8", iconv_name);
	if (cd != (iconv_t)-1)
		mime_charset_keep(iconv_name);
	return cd;
}

/* Convert one run of decoded bytes to UTF-8. What the charset cannot
 * convert becomes U+FFFD, one per skipped byte, and conversion goes on. */
static void convert(struct utf8_buf *out, iconv_t cd, const char *in, size_t len)
{
	char tmp[1024];
	char *ip = (char *)in;
	size_t il = len;
	char *op;
	size_t ol;

	iconv(cd, NULL, NULL, NULL, NULL);
	while (il > 0) {
		size_t r;

		op = tmp;
		ol = sizeof(tmp);
		r = iconv(cd, &ip, &il, &op, &ol);
		put_text(out, tmp, (size_t)(op - tmp), 0);
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		utf8_buf_put(out, UTF8_REPLACEMENT);
		if (errno != EILSEQ)
			break;      /* EINVAL: a character cut off at the end */
		ip++;
		il--;
	}
	/* Let the converter write out whatever it still holds at the end of
	 * the run. */
	op = tmp;
	ol = sizeof(tmp);
	iconv(cd, NULL, NULL, &op, &ol);
	put_text(out, tmp, (size_t)(op - tmp), 0);
}

/* A run of adjacent encoded words in one charset, decoded but not yet
 * converted: a multi-byte character split between two words (which
 * RFC 2047 §5 forbids, and which mailers do anyway) converts correctly once
 * the bytes are joined. */
struct mime_run {
	iconv_t cd;             /* (iconv_t)-1: none open */
	const char *charset;    /* points into the input */
	size_t charset_len;
	struct utf8_buf bytes;
	int active;             /* the last token was an encoded word */
};

static void run_flush(struct mime_run *run, struct utf8_buf *out)
{
	if (run->bytes.len > 0 && !run->bytes.failed)
		convert(out, run->cd, run->bytes.data, run->bytes.len);
	if (run->bytes.failed)
		out->failed = 1;
	run->bytes.len = 0;
	run->active = 0;
}

char *mime_decode_words(const char *in, size_t len)
{
	struct utf8_buf out = { 0 };
	struct utf8_buf word = { 0 };
	struct mime_run run = { .cd = (iconv_t)-1 };
	const char *bad_cs = NULL;      /* last unknown charset, not retried */
	size_t bad_cs_len = 0;
	size_t lit = 0;                 /* start of literal text not yet output */
	int lit_blank = 1;              /* it is only linear white space */
	size_t i = 0;

	while (i < len) {
		struct mime_word w;
		int same, adjacent;

		/* Encoded words are recognised anywhere, also glued to text
		 * ("Re:=?utf-8?..."): RFC 2047 §5 asks for white space around
		 * them, which many mailers omit, and readers decode them
		 * anyway. */
		if (in[i] != '=' || !word_parse(in + i, len - i, &w)) {
			if (!is_lwsp((unsigned char)in[i]))
				lit_blank = 0;
			i++;
			continue;
		}
		word.len = 0;
		if (w.encoding == 'b') {
			if (decode_b(&w, &word) < 0)
				goto literal;
		} else {
			decode_q(&w, &word);
		}
		/* RFC 2047 §6.2: white space between adjacent encoded words
		 * is not displayed. Anything else between them ends the run. */
		adjacent = run.active && lit_blank;
		same = run.cd != (iconv_t)-1 && run.charset_len == w.charset_len
		       && ascii_casecmp(run.charset, w.charset, w.charset_len) == 0;
		if (!same) {
			iconv_t cd;

			if (bad_cs != NULL && bad_cs_len == w.charset_len
			    && ascii_casecmp(bad_cs, w.charset, w.charset_len) == 0)
				goto literal;
			cd = charset_open(w.charset, w.charset_len);
			if (cd == (iconv_t)-1) {
				bad_cs = w.charset;
				bad_cs_len = w.charset_len;
				goto literal;
			}
			run_flush(&run, &out);
			if (run.cd != (iconv_t)-1)
				iconv_close(run.cd);
			run.cd = cd;
			run.charset = w.charset;
			run.charset_len = w.charset_len;
		} else if (!adjacent) {
			run_flush(&run, &out);
		}
		if (!adjacent)
			put_text(&out, in + lit, i - lit, 1);
		utf8_buf_add(&run.bytes, word.data, word.len);
		run.active = 1;
		i += w.total;
		lit = i;
		lit_blank = 1;
		continue;
literal:
		/* Not decodable: the word stays as it was, as literal text. */
		lit_blank = 0;
		i++;
	}
	if (run.cd != (iconv_t)-1) {
		run_flush(&run, &out);
		iconv_close(run.cd);
	}
	put_text(&out, in + lit, len - lit, 1);
	free(run.bytes.data);
	if (word.failed)
		out.failed = 1;
	free(word.data);
	return utf8_buf_finish(&out);
}

/* --- dates ----------------------------------------------------------------- */

static const char month_names[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static const char *const day_names[7][2] = {
	{ "Mon", "Monday" }, { "Tue", "Tuesday" }, { "Wed", "Wednesday" },
	{ "Thu", "Thursday" }, { "Fri", "Friday" }, { "Sat", "Saturday" },
	{ "Sun", "Sunday" },
};

/* Returns 0-11, or -1. */
static int month_index(const char *s, size_t n)
{
	int m;

	if (n != 3)
		return -1;
	for (m = 0; m < 12; m++)
		if (ascii_casecmp(s, month_names[m], 3) == 0)
			return m;
	return -1;
}

static int is_day_name(const char *s, size_t n)
{
	int d, k;

	for (d = 0; d < 7; d++)
		for (k = 0; k < 2; k++)
			if (strlen(day_names[d][k]) == n
			    && ascii_casecmp(s, day_names[d][k], n) == 0)
				return 1;
	return 0;
}

static int days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 1 && leap ? 29 : days[mon];
}

/* Validates the fields and turns them into UTC seconds. OFFSET is the
 * zone's offset from UTC in seconds ("+0200" is 7200). */
static int make_time(int year, int mon, int day, int hour, int min, int sec,
		     long offset, time_t *t_r)
{
	struct tm tm = { 0 };

	if (mon < 0 || mon > 11 || day < 1 || day > days_in_month(year, mon)
	    || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;        /* a leap second 60 rolls into the next minute */
	*t_r = timegm(&tm) - offset;
	return 0;
}

enum date_tok {
	DATE_END,
	DATE_NUM,       /* digits */
	DATE_WORD,      /* letters */
	DATE_ZONE,      /* "+" or "-" immediately followed by digits */
	DATE_CHAR,      /* "," or ":" */
	DATE_BAD,
};

struct mime_date_lex {
	const char *p;
	const char *s;  /* the token */
	size_t n;
	long val;       /* DATE_NUM, DATE_ZONE: the digits' value */
	size_t ndigits;
};

/* Skips CFWS (RFC 5322 §3.2.2): white space and comments, which nest and
 * may contain quoted pairs. Returns -1 on an unclosed comment. */
static int skip_cfws(const char **pp)
{
	const char *p = *pp;

	for (;;) {
		int depth = 0;

		while (is_lwsp((unsigned char)*p))
			p++;
		if (*p != '(')
			break;
		do {
			if (*p == '\0')
				return -1;
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			p++;
		} while (depth > 0);
	}
	*pp = p;
	return 0;
}

static enum date_tok date_next(struct mime_date_lex *lx)
{
	const char *p;

	if (skip_cfws(&lx->p) < 0)
		return DATE_BAD;
	p = lx->p;
	lx->s = p;
	if (*p == '\0')
		return DATE_END;
	if (is_digit((unsigned char)*p) || ((*p == '+' || *p == '-')
					    && is_digit((unsigned char)p[1]))) {
		enum date_tok t = is_digit((unsigned char)*p) ? DATE_NUM : DATE_ZONE;

		if (t == DATE_ZONE)
			p++;
		lx->val = 0;
		lx->ndigits = 0;
		for (; is_digit((unsigned char)*p); p++) {
			if (++lx->ndigits > 9)
				return DATE_BAD;
			lx->val = lx->val * 10 + (*p - '0');
		}
		lx->n = (size_t)(p - lx->s);
		lx->p = p;
		return t;
	}
	if (is_alpha((unsigned char)*p)) {
		while (is_alpha((unsigned char)*p))
			p++;
		lx->n = (size_t)(p - lx->s);
		lx->p = p;
		return DATE_WORD;
	}
	if (*p == ',' || *p == ':') {
		lx->n = 1;
		lx->p = p + 1;
		return DATE_CHAR;
	}
	return DATE_BAD;
}

/* Offset of an alphabetic zone (RFC 5322 §4.3 obs-zone). The military
 * letters and unknown 3-5 letter zones are taken as "-0000", i.e. UTC, as
 * §4.3 says: their sign was used both ways, and nobody agrees on the rest.
 * Returns -1 for something that is no zone. */
static int named_zone(const char *s, size_t n, long *offset_r)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "UTC", 0 }, { "Z", 0 },
		{ "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 },
		{ "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};
	size_t i;

	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strlen(zones[i].name) == n && ascii_casecmp(s, zones[i].name, n) == 0) {
			*offset_r = zones[i].hours * 3600L;
			return 0;
		}
	if ((n == 1 && to_lower((unsigned char)*s) != 'j') || (n >= 3 && n <= 5)) {
		*offset_r = 0;
		return 0;
	}
	return -1;
}

/* hhmm of a numeric zone, without its sign; -1 when out of range. */
static long zone_seconds(const struct mime_date_lex *lx)
{
	long hh = lx->val / 100, mm = lx->val % 100;

	if (lx->ndigits != 4 || hh > 23 || mm > 59)
		return -1;
	return hh * 3600 + mm * 60;
}

int mime_parse_date(const char *in, time_t *t_r)
{
	struct mime_date_lex lx = { .p = in };
	enum date_tok t = date_next(&lx);
	int day, mon, year, hour, min, sec = 0;
	long offset = 0;

	/* [ day-of-week "," ]; the comma is optional in practice. */
	if (t == DATE_WORD) {
		if (!is_day_name(lx.s, lx.n))
			return -EINVAL;
		t = date_next(&lx);
		if (t == DATE_CHAR && *lx.s == ',')
			t = date_next(&lx);
	}
	if (t != DATE_NUM || lx.ndigits > 2)
		return -EINVAL;
	day = (int)lx.val;
	if (date_next(&lx) != DATE_WORD || (mon = month_index(lx.s, lx.n)) < 0)
		return -EINVAL;
	if (date_next(&lx) != DATE_NUM)
		return -EINVAL;
	/* RFC 5322 §4.3 obs-year: two digits are 1950-2049, three digits
	 * are added to 1900. §3.3: four-digit years are 1900 or later. */
	if (lx.ndigits == 2)
		year = (int)lx.val + (lx.val < 50 ? 2000 : 1900);
	else if (lx.ndigits == 3)
		year = (int)lx.val + 1900;
	else if (lx.ndigits == 4 && lx.val >= 1900)
		year = (int)lx.val;
	else
		return -EINVAL;
	/* time-of-day = hour ":" minute [ ":" second ] */
	if (date_next(&lx) != DATE_NUM || lx.ndigits > 2)
		return -EINVAL;
	hour = (int)lx.val;
	if (date_next(&lx) != DATE_CHAR || *lx.s != ':')
		return -EINVAL;
	if (date_next(&lx) != DATE_NUM || lx.ndigits > 2)
		return -EINVAL;
	min = (int)lx.val;
	t = date_next(&lx);
	if (t == DATE_CHAR && *lx.s == ':') {
		if (date_next(&lx) != DATE_NUM || lx.ndigits > 2)
			return -EINVAL;
		sec = (int)lx.val;
		t = date_next(&lx);
	}
	if (t == DATE_ZONE) {
		long z = zone_seconds(&lx);

		if (z < 0)
			return -EINVAL;
		offset = *lx.s == '-' ? -z : z;
		t = date_next(&lx);
		/* "+0200 CEST" without the parentheses: the name adds
		 * nothing to the number. */
		if (t == DATE_WORD && lx.n >= 3 && lx.n <= 5)
			t = date_next(&lx);
	} else if (t == DATE_WORD) {
		if (named_zone(lx.s, lx.n, &offset) < 0)
			return -EINVAL;
		t = date_next(&lx);
	}
	/* A missing zone (not RFC 5322, but seen) is taken as UTC. */
	if (t != DATE_END)
		return -EINVAL;
	return make_time(year, mon, day, hour, min, sec, offset, t_r);
}

/* Reads exactly N digits. Returns the value or -1. */
static long fixed_digits(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int mime_parse_internaldate(const char *in, time_t *t_r)
{
	/* RFC 3501 §9: date-time = DQUOTE date-day-fixed "-" date-month "-"
	 * date-year SP time SP zone DQUOTE (the quotes are the parser's),
	 * date-day-fixed = (SP DIGIT) / 2DIGIT. A single digit without the
	 * space is accepted as well. */
	const char *p = in;
	long day, year, hour, min, sec, zone, z;
	int mon;

	if (p[0] == ' ' && is_digit((unsigned char)p[1])) {
		day = p[1] - '0';
		p += 2;
	} else if (is_digit((unsigned char)p[0]) && p[1] == '-') {
		day = p[0] - '0';
		p += 1;
	} else if ((day = fixed_digits(p, 2)) >= 0) {
		p += 2;
	} else {
		return -EINVAL;
	}
	if (p[0] != '-' || strnlen(p + 1, 3) < 3 || (mon = month_index(p + 1, 3)) < 0
	    || p[4] != '-')
		return -EINVAL;
	p += 5;
	if ((year = fixed_digits(p, 4)) < 0 || p[4] != ' ')
		return -EINVAL;
	p += 5;
	if ((hour = fixed_digits(p, 2)) < 0 || p[2] != ':'
	    || (min = fixed_digits(p + 3, 2)) < 0 || p[5] != ':'
	    || (sec = fixed_digits(p + 6, 2)) < 0 || p[8] != ' ')
		return -EINVAL;
	p += 9;
	if ((p[0] != '+' && p[0] != '-') || (zone = fixed_digits(p + 1, 4)) < 0
	    || p[5] != '\0')
		return -EINVAL;
	if (zone / 100 > 23 || zone % 100 > 59)
		return -EINVAL;
	z = zone / 100 * 3600 + zone % 100 * 60;
	return make_time((int)year, mon, (int)day, (int)hour, (int)min, (int)sec,
			 p[0] == '-' ? -z : z, t_r);
}

void mime_format_internaldate(time_t t, char *buf, size_t size)
{
	/* date-year is 4DIGIT: keep T within years 0000-9999. */
	const time_t lo = -62167219200;   /* 0000-01-01 00:00:00 UTC */
	const time_t hi = 253402300799;   /* 9999-12-31 23:59:59 UTC */
	struct tm tm;

	if (size == 0)
		return;
	if (t < lo)
		t = lo;
	if (t > hi)
		t = hi;
	if (gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return;
	}
	/* Not strftime: "%b" follows the locale, IMAP wants English. */
	snprintf(buf, size, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday,
		 month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}
