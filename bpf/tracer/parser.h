#pragma once
/*
 * HTTP/1.x framing in the kernel, one incremental state machine per direction
 * of a connection. Start lines and header fields are scanned through a
 * window (in the connection) copied from user memory, a word at a time where the bytes do not
 * matter; bodies are skipped arithmetically (content-length, chunk sizes), so
 * cost follows header bytes, not payload bytes. Request starts push onto the connection's FIFO, response
 * ends pop it: pipelined requests stay in order. A request counts once its
 * line ends in " HTTP/1.x": "GET foo" of a Redis inline command is taken back.
 *
 *   read/write chunk --> feed() --bpf_loop--> feed_step() per header byte / body skip
 *                                   |-- message start: push request / match response
 *                                   `-- message end:   emit exchange (response side)
 */

#define MAX_FEED_STEPS 4096

struct feed_ctx {
	struct conn *c;
	struct msg_parser *p;
	struct scan_window *win;
	__u64 ubuf;       /* user address of this chunk */
	__u64 ts;
	__u32 len;        /* bytes in this chunk */
	__u32 pos;        /* parse position in this chunk */
	__u32 win_base;   /* chunk offset of the window */
	__u32 win_len;    /* valid bytes in the window */
	__u8 is_request;  /* this direction carries requests */
};

/* Globals, not statics: clang 14 gives static .rodata arrays a BTF offset of 0,
 * which the kernel's BTF check rejects. */
const char content_length_name[16] = "content-length:";
const char transfer_encoding_name[32] = "transfer-encoding:";
const char chunked_token[8] = "chunked";

static __always_inline __u8 lower(__u8 b)
{
	return (b >= 'A' && b <= 'Z') ? b | 0x20 : b;
}

/* Makes [pos, pos + want) readable from the window when the chunk has it. */
static __always_inline int window_at(struct feed_ctx *x, __u32 want)
{
	if (x->pos >= x->win_base && x->pos + want <= x->win_base + x->win_len)
		return 0;
	__u64 n = clamp_len(x->len - x->pos, SCAN_WINDOW);
	if (n == 0 || bpf_probe_read_user(x->win->bytes, n, (void *)(x->ubuf + x->pos)) < 0)
		return -1;
	x->win_base = x->pos;
	x->win_len = n;
	return 0;
}

static __always_inline __u8 window_byte(struct feed_ctx *x, __u32 at)
{
	return x->win->bytes[(at - x->win_base) & (SCAN_WINDOW - 1)];
}

/* 8 bytes at pos + skip (little-endian), when window_at() made them readable. */
static __always_inline __u64 window_u64_at(struct feed_ctx *x, __u32 skip)
{
	__u64 v = 0;
	__u32 off = (x->pos + skip - x->win_base) & (SCAN_WINDOW - 1);
	if (off > SCAN_WINDOW - 8)
		return 0;
	__builtin_memcpy(&v, &x->win->bytes[off], 8);
	return v;
}

static __always_inline __u64 window_u64(struct feed_ctx *x)
{
	return window_u64_at(x, 0);
}

#define U64_LE(a, b, c, d, e, f, g, h)                                                        \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 | \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define MASK(n) ((n) == 8 ? ~0ULL : ((1ULL << ((n) * 8)) - 1))

/* A method token and its space, as a word and its length. */
struct token {
	__u64 word;
	__u32 len;
};

#define TOKEN(w, n) { w, n }
static const struct token request_tokens[] = {
	TOKEN(U64_LE('G', 'E', 'T', ' ', 0, 0, 0, 0), 4),
	TOKEN(U64_LE('P', 'U', 'T', ' ', 0, 0, 0, 0), 4),
	TOKEN(U64_LE('P', 'O', 'S', 'T', ' ', 0, 0, 0), 5),
	TOKEN(U64_LE('H', 'E', 'A', 'D', ' ', 0, 0, 0), 5),
	TOKEN(U64_LE('P', 'A', 'T', 'C', 'H', ' ', 0, 0), 6),
	TOKEN(U64_LE('T', 'R', 'A', 'C', 'E', ' ', 0, 0), 6),
	TOKEN(U64_LE('D', 'E', 'L', 'E', 'T', 'E', ' ', 0), 7),
	TOKEN(U64_LE('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '), 8),
	TOKEN(U64_LE('C', 'O', 'N', 'N', 'E', 'C', 'T', ' '), 8),
};
#define HEAD_TOKEN 3 /* index of "HEAD " */

enum start_decision {
	START_NO = 0,    /* these bytes start no message */
	START_YES = 1,
	START_MAYBE = 2, /* a start so far, but too short to tell */
};

/*
 * Does a message start here? v0, v1: the next 16 bytes (little-endian),
 * of which `avail` are real. Requests start with a method token; responses
 * with "HTTP/1.0 " or "HTTP/1.1 " and three digits (*status).
 */
static __always_inline int decide_start(__u8 is_request, __u64 v0, __u64 v1, __u32 avail, __u8 *is_head,
					__u16 *status)
{
	if (is_request) {
		for (int i = 0; i < sizeof(request_tokens) / sizeof(request_tokens[0]); i++) {
			__u32 n = request_tokens[i].len;
			__u32 have = avail < n ? avail : n;
			if ((v0 & MASK(have)) != (request_tokens[i].word & MASK(have)))
				continue;
			if (have < n)
				return START_MAYBE;
			*is_head = i == HEAD_TOKEN;
			return START_YES;
		}
		return START_NO;
	}
	/* bytes 0-6 "HTTP/1.", 7 the minor version, 8 a space, 9-11 digits */
	__u64 fixed = U64_LE('H', 'T', 'T', 'P', '/', '1', '.', 0);
	__u32 have = avail < 7 ? avail : 7;
	if ((v0 & MASK(have)) != (fixed & MASK(have)))
		return START_NO;
	__u8 minor = v0 >> 56;
	if (avail > 7 && minor != '0' && minor != '1')
		return START_NO;
	if (avail > 8 && (v1 & 0xff) != ' ')
		return START_NO;
	__u16 s = 0;
	for (int i = 1; i < 4; i++) {
		__u8 d = v1 >> (i * 8);
		if (avail <= 8 + i)
			return START_MAYBE;
		if (d < '0' || d > '9')
			return START_NO;
		s = s * 10 + (d - '0');
	}
	*status = s;
	return START_YES;
}

/* A request starts: a FIFO slot with its head, or past a full FIFO a count. */
static __always_inline void request_start(struct feed_ctx *x, __u8 is_head, __u32 held, __u8 *prefix)
{
	struct conn *c = x->c;
	struct msg_parser *p = x->p;
	__u8 depth = c->fifo_tail - c->fifo_head;

	p->unconfirmed = 1;
	if (depth >= PIPELINE_DEPTH) {
		struct head_key k = overflow_key(c, c->overflow_tail);
		struct overflow_request o = { .start_ns = x->ts };
		if (c->overflow_tail - c->overflow_head >= OVERFLOW_MAX ||
		    bpf_map_update_elem(&ht_overflow, &k, &o, BPF_ANY)) {
			count(HT_LOST_PIPELINE_OVERFLOW);
			return;
		}
		c->overflow_tail++;
		p->tracked = TRACK_OVERFLOW;
		return;
	}
	__u8 seq = c->fifo_tail;
	struct pending_request *r = &c->fifo[seq & (PIPELINE_DEPTH - 1)];
	r->start_ns = x->ts;
	r->request_bytes = 0;
	r->is_head = is_head;
	r->flags = depth ? HT_FLAG_PIPELINED : 0;
	r->head_len = 0;
	r->head_in_map = depth >= HEAD_SLOTS;
	c->fifo_tail++;
	p->tracked = TRACK_FIFO;

	__u8 *head;
	if (r->head_in_map) {
		struct head_key k = deep_head_key(c, seq);
		/* Any 1 KiB will do as the value to start from: only head_len bytes are read. */
		head = bpf_map_update_elem(&ht_heads, &k, c, BPF_ANY) ? NULL : bpf_map_lookup_elem(&ht_heads, &k);
	} else {
		head = c->heads[seq & (HEAD_SLOTS - 1)];
	}
	if (!head) {
		r->head_in_map = 0;
		r->flags |= HT_FLAG_HEAD_MISSING;
		return;
	}
	__builtin_memcpy(head, prefix, 16);
	held &= 15;
	__u64 n = clamp_len(x->len - x->pos, cfg_head_bytes - held);
	if (bpf_probe_read_user(&head[held], n, (void *)(x->ubuf + x->pos)) < 0)
		n = 0;
	r->head_len = held + n;
}

/* A message starts at pos; `held` bytes of its start line came in earlier
 * syscalls and sit in p->prefix. */
static __always_inline void message_start(struct feed_ctx *x, __u8 is_head, __u16 status, __u32 held)
{
	struct conn *c = x->c;
	struct msg_parser *p = x->p;
	__u8 prefix[16];

	__builtin_memcpy(prefix, p->prefix, sizeof(prefix));
	__builtin_memset(p, 0, sizeof(*p));
	p->state = P_HEADERS;
	p->msg_bytes = held;
	p->line_len = held;
	p->hname = held ? HN_SKIP : HN_NONE; /* the start line */
	if (x->is_request) {
		request_start(x, is_head, held, prefix);
		return;
	}
	if (c->fifo_head == c->fifo_tail) {
		count(HT_LOST_RESPONSE_NO_REQUEST);
		return;
	}
	/* An answer to a request whose line has not ended (a 414 to a long URL) proves it HTTP. */
	if ((__u8)(c->fifo_tail - c->fifo_head) == 1)
		c->req.unconfirmed = 0;
	c->status = status;
	c->resp_flags = 0;
	p->tracked = TRACK_FIFO;
}

static __always_inline struct pending_request *newest_request(struct conn *c)
{
	return &c->fifo[(__u8)(c->fifo_tail - 1) & (PIPELINE_DEPTH - 1)];
}

/* The bytes of the request being read so far, wherever it is kept. */
static __always_inline void set_request_bytes(struct feed_ctx *x)
{
	struct conn *c = x->c;

	if (x->p->tracked == TRACK_FIFO) {
		newest_request(c)->request_bytes = x->p->msg_bytes;
	} else if (x->p->tracked == TRACK_OVERFLOW) {
		struct head_key k = overflow_key(c, c->overflow_tail - 1);
		struct overflow_request *o = bpf_map_lookup_elem(&ht_overflow, &k);
		if (o)
			o->request_bytes = x->p->msg_bytes;
	}
}

static __always_inline struct pending_request *oldest_request(struct conn *c)
{
	return &c->fifo[c->fifo_head & (PIPELINE_DEPTH - 1)];
}

static __always_inline void message_end(struct feed_ctx *x)
{
	struct conn *c = x->c;
	struct msg_parser *p = x->p;

	p->state = P_IDLE;
	if (x->is_request) {
		set_request_bytes(x);
		return;
	}
	if (!p->tracked)
		return;
	/* 1xx other than 101 is interim: the final response follows; its bytes
	 * go with the exchange. */
	if (c->status >= 100 && c->status < 200 && c->status != 101) {
		c->interim_bytes += p->msg_bytes;
		return;
	}
	emit_oldest(c, x->ts, p->msg_bytes, c->resp_flags);
	c->status = 0;
}

/* The empty line after the header fields: decide how the body is framed. */
static __always_inline void headers_end(struct feed_ctx *x)
{
	struct conn *c = x->c;
	struct msg_parser *p = x->p;

	if (p->tracked == TRACK_FIFO && x->is_request) {
		struct pending_request *r = newest_request(c);
		if (p->msg_bytes > r->head_len)
			r->flags |= HT_FLAG_HEAD_TRUNCATED;
	}
	if (x->is_request && p->chunked && p->has_length)
		c->requests_end = 1;
	if (!x->is_request) {
		__u16 s = c->status;
		int head = p->tracked && oldest_request(c)->is_head;
		if ((s >= 100 && s < 200) || s == 204 || s == 304 || head) {
			if (s == 101)
				c->opaque = 1;
			message_end(x);
			return;
		}
	}
	if (p->chunked) {
		if (!x->is_request)
			c->resp_flags |= HT_FLAG_CHUNKED;
		p->state = P_CHUNK_SIZE;
		p->body_left = 0;
	} else if (p->has_length && p->content_length > 0) {
		p->state = P_BODY;
		p->body_left = p->content_length;
	} else if (p->has_length || x->is_request) {
		message_end(x);
	} else {
		p->state = P_UNTIL_CLOSE;
	}
}

/* (w0, w1): 16 bytes; appends the first n (1..15) bytes of (c0, c1), keeping the last 16. */
static __always_inline void shift_in(__u64 *w0, __u64 *w1, __u64 c0, __u64 c1, __u32 n)
{
	if (n < 8) {
		__u32 s = n * 8;
		*w0 = (*w0 >> s) | (*w1 << (64 - s));
		*w1 = (*w1 >> s) | (c0 << (64 - s));
	} else if (n == 8) {
		*w0 = *w1;
		*w1 = c0;
	} else {
		__u32 s = (n - 8) * 8;
		*w0 = (*w1 >> s) | (c0 << (64 - s));
		*w1 = (c0 >> s) | (c1 << (64 - s));
	}
}

/* The 16 bytes of the request line before chunk offset `end`: from this
 * chunk, and from p->prefix for the part that came in earlier syscalls. */
static __always_inline int line_bytes_before(struct feed_ctx *x, __u32 end, __u64 *w0, __u64 *w1)
{
	__u64 chunk[2] = {};

	/* Usually still in the window the line was scanned through: no copy. */
	if (end >= 16 && end - 16 >= x->win_base && end <= x->win_base + x->win_len) {
		__u32 off = (end - 16 - x->win_base) & (SCAN_WINDOW - 1);
		if (off <= SCAN_WINDOW - 16) {
			__builtin_memcpy(w0, &x->win->bytes[off], 8);
			__builtin_memcpy(w1, &x->win->bytes[off + 8], 8);
			return 0;
		}
	}
	if (end >= 16) {
		if (bpf_probe_read_user(chunk, 16, (void *)(x->ubuf + end - 16)) < 0)
			return -1;
		*w0 = chunk[0];
		*w1 = chunk[1];
		return 0;
	}
	__builtin_memcpy(w0, x->p->prefix, 8);
	__builtin_memcpy(w1, x->p->prefix + 8, 8);
	__u64 n = clamp_len(end, 15);
	if (n == 0)
		return 0;
	if (bpf_probe_read_user(chunk, n, (void *)x->ubuf) < 0)
		return -1;
	shift_in(w0, w1, chunk[0], chunk[1], n);
	return 0;
}

/* The request line ends at chunk offset lf (its LF): it is HTTP/1.x only if
 * it ends in " HTTP/1.0" or " HTTP/1.1" (then CR, optional). */
static __always_inline int request_line_is_http(struct feed_ctx *x, __u32 lf)
{
	__u64 w0, w1;

	if (line_bytes_before(x, lf, &w0, &w1) < 0)
		return 0;
	if ((w1 >> 56) == '\r') { /* drop the CR: everything one byte up */
		w1 = (w1 << 8) | (w0 >> 56);
		w0 <<= 8;
	}
	__u8 minor = w1 >> 56;
	return (w0 >> 56) == ' ' && (w1 & MASK(7)) == U64_LE('H', 'T', 'T', 'P', '/', '1', '.', 0) &&
	       (minor == '0' || minor == '1');
}

/* A request line that is not HTTP (Redis inline commands, SIP, a binary
 * protocol that starts like a method): take the request back. A connection
 * that never carried HTTP is then left alone. */
static __always_inline void refuse_request_line(struct feed_ctx *x)
{
	struct conn *c = x->c;

	drop_unconfirmed(c);
	if (!c->emitted && c->fifo_head == c->fifo_tail)
		c->opaque = 1;
	x->p->state = P_IDLE;
	x->pos = x->len;
}

/* The LF at chunk offset lf ends a header line: the request line is checked.
 * Returns 0 when the request was refused. */
static __always_inline int line_end(struct feed_ctx *x, __u32 lf)
{
	if (!x->p->unconfirmed)
		return 1;
	if (!request_line_is_http(x, lf)) {
		refuse_request_line(x);
		return 0;
	}
	x->p->unconfirmed = 0;
	return 1;
}

/* One byte of a header (or trailer) line. */
static __always_inline void header_byte(struct feed_ctx *x, __u8 b)
{
	struct msg_parser *p = x->p;

	if (b == '\n') {
		if (p->line_len == 0) {
			if (p->state == P_TRAILERS)
				message_end(x);
			else
				headers_end(x);
			return;
		}
		if (!line_end(x, x->pos - 1))
			return;
		p->line_len = 0;
		p->hname = HN_NONE;
		p->hpos = 0;
		p->hval = 0;
		return;
	}
	if (b == '\r')
		return;
	b = lower(b);
	if (p->line_len == 0) {
		p->hname = b == 'c' ? HN_CONTENT_LENGTH : b == 't' ? HN_TRANSFER_ENCODING : HN_SKIP;
		p->hpos = 1;
	} else if (p->hname == HN_CONTENT_LENGTH) {
		if (p->hpos < 15) {
			if (b == content_length_name[p->hpos & 15]) {
				if (++p->hpos == 15)
					p->content_length = 0; /* a repeated header counts once */
			} else {
				p->hname = HN_SKIP;
			}
		} else if (b >= '0' && b <= '9') {
			p->content_length = p->content_length * 10 + (b - '0');
			p->has_length = 1;
			if (p->content_length > (1ULL << 50)) { /* not a length any peer sends */
				p->hname = HN_SKIP;
				p->has_length = 0;
			}
		}
	} else if (p->hname == HN_TRANSFER_ENCODING) {
		if (p->hpos < 18) {
			if (b == transfer_encoding_name[p->hpos & 31])
				p->hpos++;
			else
				p->hname = HN_SKIP;
		} else if (p->hval < 7) {
			if (b == chunked_token[p->hval & 7])
				p->hval++;
			else
				p->hval = b == 'c';
			if (p->hval == 7)
				p->chunked = 1;
		}
	}
	p->line_len++;
}

#define LOWER_ASCII 0x2020202020202020ULL
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define LFS 0x0a0a0a0a0a0a0a0aULL

/* Index (0-7) of the lowest byte flagged in a has-zero-byte mask. */
static __always_inline __u32 first_flagged_byte(__u64 m)
{
	__u32 n = 0;
	if (!(m & 0xffffffffULL)) {
		n += 4;
		m >>= 32;
	}
	if (!(m & 0xffff)) {
		n += 2;
		m >>= 16;
	}
	if (!(m & 0xff))
		n += 1;
	return n;
}

static __always_inline void advance_line(struct feed_ctx *x, __u32 n)
{
	x->pos += n;
	x->p->msg_bytes += n;
	x->p->line_len += n;
}

#define SKIP_WORDS 4 /* words examined per step when skipping a header line */

/*
 * Header bytes a word at a time, which is most of the work on a busy host:
 * a line that is not Content-Length or Transfer-Encoding is skipped up to and
 * including its LF, up to SKIP_WORDS words per step; those two names are
 * matched as whole words. Returns 0 when the byte-by-byte path must take this
 * byte (the empty line, values, too few bytes left in the chunk to decide).
 */
static __always_inline int header_words(struct feed_ctx *x)
{
	struct msg_parser *p = x->p;
	__u32 left = x->len - x->pos;

	if (p->line_len == 0) {
		/* The empty line ending the section: what header_byte() does with its CR and LF. */
		if (left >= 2 && window_at(x, 2) == 0 && window_byte(x, x->pos) == '\r' &&
		    window_byte(x, x->pos + 1) == '\n') {
			x->pos += 2;
			p->msg_bytes += 2;
			if (p->state == P_TRAILERS)
				message_end(x);
			else
				headers_end(x);
			return 1;
		}
		if (left < 18 || window_at(x, 18) < 0)
			return 0;
		__u64 v = window_u64(x);
		__u8 first = v & 0xff;
		if (first == '\r' || first == '\n')
			return 0;
		__u64 lv = v | LOWER_ASCII;
		__u64 lv2 = window_u64_at(x, 8) | LOWER_ASCII;
		if (lv == U64_LE('c', 'o', 'n', 't', 'e', 'n', 't', '-') &&
		    (lv2 & MASK(7)) == U64_LE('l', 'e', 'n', 'g', 't', 'h', ':', 0)) {
			p->hname = HN_CONTENT_LENGTH;
			p->hpos = 15;
			p->content_length = 0; /* a repeated header counts once */
			advance_line(x, 15);
			return 1;
		}
		if (lv == U64_LE('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
		    lv2 == U64_LE('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') &&
		    lower(window_byte(x, x->pos + 16)) == 'g' && window_byte(x, x->pos + 17) == ':') {
			p->hname = HN_TRANSFER_ENCODING;
			p->hpos = 18;
			advance_line(x, 18);
			return 1;
		}
		p->hname = HN_SKIP;
	} else if (p->hname != HN_SKIP) {
		return 0;
	}

	__u32 avail = left < SKIP_WORDS * 8 ? left : SKIP_WORDS * 8;
	if (avail < 8 || window_at(x, avail) < 0)
		return 0;
	for (__u32 k = 0; k < SKIP_WORDS; k++) {
		if ((k + 1) * 8 > avail)
			break;
		__u64 v = window_u64_at(x, k * 8) ^ LFS;
		__u64 lf = (v - ONES) & ~v & HIGHS;
		if (!lf)
			continue;
		__u32 n = k * 8 + first_flagged_byte(lf); /* bytes before the LF */
		if (n == 0 && p->line_len == 0)
			return 0; /* an empty line: the byte path ends the header section */
		if (!line_end(x, x->pos + n))
			return 1;
		x->pos += n + 1;
		p->msg_bytes += n + 1;
		p->line_len = 0;
		p->hname = HN_NONE;
		p->hpos = 0;
		p->hval = 0;
		return 1;
	}
	advance_line(x, avail & ~7U);
	return 1;
}

static __always_inline int hex_value(__u8 b)
{
	if (b >= '0' && b <= '9')
		return b - '0';
	b = lower(b);
	if (b >= 'a' && b <= 'f')
		return b - 'a' + 10;
	return -1;
}

static __always_inline void lose_sync(struct feed_ctx *x, __u32 counter)
{
	count(counter);
	x->p->state = P_IDLE;
	x->pos = x->len;
}

static __always_inline __u32 skip_body(struct feed_ctx *x)
{
	__u64 n = x->len - x->pos;
	if (n > x->p->body_left)
		n = x->p->body_left;
	x->p->body_left -= n;
	return n;
}

/*
 * Between messages: decide from the next 16 bytes (with any held from earlier
 * syscalls) whether a message starts. A start cut short by the end of the
 * chunk is held in p->prefix until the next syscall tells.
 */
static __always_inline int start_step(struct feed_ctx *x)
{
	struct msg_parser *p = x->p;
	__u32 held = p->prefix_len & 15;
	__u32 left = x->len - x->pos;
	__u32 take = left < 16 - held ? left : 16 - held;
	__u8 is_head = 0;
	__u16 status = 0;
	__u64 v0, v1;

	if (x->is_request && x->c->requests_end) {
		x->pos = x->len;
		return 1;
	}
	if (window_at(x, take) < 0) {
		lose_sync(x, HT_LOST_UNPARSED);
		return 1;
	}
	/* The 16 bytes: held ones first, then the window's, joined by shifts
	 * (a byte loop with a variable start is costly to verify). Bytes past
	 * held + take are not looked at. */
	__u64 w0 = window_u64_at(x, 0), w1 = window_u64_at(x, 8);
	__u64 p0, p1;
	__builtin_memcpy(&p0, p->prefix, 8);
	__builtin_memcpy(&p1, p->prefix + 8, 8);
	if (held == 0) {
		v0 = w0;
		v1 = w1;
	} else if (held < 8) {
		__u32 shift = held * 8;
		v0 = (p0 & MASK(held)) | (w0 << shift);
		v1 = (w0 >> (64 - shift)) | (w1 << shift);
	} else {
		__u32 shift = (held - 8) * 8;
		v0 = p0;
		v1 = (p1 & MASK(held - 8)) | (w0 << shift);
	}
	switch (decide_start(x->is_request, v0, v1, held + take, &is_head, &status)) {
	case START_YES:
		/* Set up in the next step: the verifier then checks message_start()
		 * once, not once for every way of deciding. */
		p->state = P_STARTING;
		p->start_is_head = is_head;
		p->start_status = status;
		return 0;
	case START_MAYBE:
		__builtin_memcpy(p->prefix, &v0, 8);
		__builtin_memcpy(p->prefix + 8, &v1, 8);
		p->prefix_len = held + take;
		x->pos = x->len;
		return 1;
	}
	p->prefix_len = 0;
	lose_sync(x, HT_LOST_UNPARSED);
	return 1;
}

/* bpf_loop callback: advance the parse by one header byte or one body skip. */
static int feed_step(__u32 i, struct feed_ctx *x)
{
	struct msg_parser *p = x->p;
	__u32 advance = 1;

	if (x->pos >= x->len)
		return 1;

	switch (p->state) {
	case P_IDLE:
		return start_step(x);
	case P_STARTING:
		message_start(x, p->start_is_head, p->start_status, p->prefix_len);
		return 0; /* the rest of the start line is consumed as a header line */
	case P_HEADERS:
	case P_TRAILERS:
		if (header_words(x))
			return 0;
		/* fall through: one byte */
	case P_CHUNK_SIZE:
	case P_CHUNK_EXT:
	case P_CHUNK_DATA_END: {
		if (window_at(x, 1) < 0) {
			lose_sync(x, HT_LOST_UNPARSED);
			return 1;
		}
		__u8 b = window_byte(x, x->pos);
		p->msg_bytes++;
		x->pos++;
		if (p->state == P_HEADERS || p->state == P_TRAILERS) {
			header_byte(x, b);
		} else if (p->state == P_CHUNK_DATA_END) {
			if (b == '\n')
				p->state = P_CHUNK_SIZE;
			else if (b != '\r')
				lose_sync(x, HT_LOST_UNPARSED);
		} else if (b == '\n') {
			p->state = p->body_left ? P_CHUNK_DATA : P_TRAILERS;
			p->line_len = 0;
		} else if (p->state == P_CHUNK_SIZE) {
			int h = hex_value(b);
			if (h >= 0)
				p->body_left = p->body_left * 16 + h;
			else if (b == ';' || b == ' ' || b == '\t')
				p->state = P_CHUNK_EXT;
			else if (b != '\r')
				lose_sync(x, HT_LOST_UNPARSED);
		}
		return 0;
	}
	case P_BODY:
	case P_CHUNK_DATA:
		advance = skip_body(x);
		p->msg_bytes += advance;
		x->pos += advance;
		if (p->body_left == 0) {
			if (p->state == P_BODY)
				message_end(x);
			else
				p->state = P_CHUNK_DATA_END;
		}
		return 0;
	case P_UNTIL_CLOSE:
		p->msg_bytes += x->len - x->pos;
		x->pos = x->len;
		return 1;
	}
	lose_sync(x, HT_LOST_UNPARSED);
	return 1;
}

/* A request head split over several syscalls: keep appending its bytes until
 * cfg_head_bytes are captured or the header section ends. */
static __always_inline void append_head(struct feed_ctx *x)
{
	struct msg_parser *p = x->p;

	if (!x->is_request || p->tracked != TRACK_FIFO || p->state != P_HEADERS)
		return;
	struct pending_request *r = newest_request(x->c);
	__u32 have = r->head_len;
	if (have >= cfg_head_bytes)
		return;
	__u8 *head = request_head(x->c, x->c->fifo_tail - 1);
	if (!head)
		return;
	__u64 n = clamp_len(x->len, cfg_head_bytes - have);
	have &= HT_HEAD_MAX - 1;
	if (n && bpf_probe_read_user(&head[have], n, (void *)x->ubuf) == 0)
		r->head_len += n;
}

/* Parse one contiguous chunk of a connection's byte stream in one direction. */
static __noinline int feed(struct conn *c, __u8 is_request, __u64 ubuf, __u32 len, __u64 ts)
{
	struct feed_ctx x = {};

	if (c->opaque)
		return 0;
	x.win = &c->windows[is_request & 1];
	x.c = c;
	x.p = is_request ? &c->req : &c->resp;
	x.ubuf = ubuf;
	x.len = len;
	x.ts = ts;
	x.is_request = is_request;
	append_head(&x);
	bpf_loop(MAX_FEED_STEPS, feed_step, &x, 0);
	x.p->last_ns = ts; /* after the loop: a message start clears the parser */
	if (x.pos < x.len) {
		count(HT_LOST_SCAN_LIMIT);
		x.p->state = P_IDLE;
	}
	if (!is_request || x.p->state == P_IDLE)
		return 0;
	set_request_bytes(&x);
	if (x.p->unconfirmed) {
		if (x.p->line_len > START_LINE_MAX) {
			refuse_request_line(&x);
			return 0;
		}
		/* The line goes on in the next syscall: keep its last 16 bytes. */
		__u64 w0, w1;
		if (line_bytes_before(&x, x.len, &w0, &w1) == 0) {
			__builtin_memcpy(x.p->prefix, &w0, 8);
			__builtin_memcpy(x.p->prefix + 8, &w1, 8);
		}
	}
	return 0;
}

/* Body bytes we cannot read (sendfile): only advance the framing. */
static __noinline int feed_opaque(struct conn *c, __u8 is_request, __u64 len, __u64 ts)
{
	struct msg_parser *p = is_request ? &c->req : &c->resp;
	struct feed_ctx x = { .c = c, .p = p, .ts = ts, .is_request = is_request };

	p->last_ns = ts;
	if (p->state == P_UNTIL_CLOSE) {
		p->msg_bytes += len;
		return 0;
	}
	if (p->state != P_BODY && p->state != P_CHUNK_DATA) {
		count(HT_LOST_UNPARSED);
		return 0;
	}
	__u64 n = len < p->body_left ? len : p->body_left;
	p->body_left -= n;
	p->msg_bytes += n;
	if (p->body_left == 0) {
		if (p->state == P_BODY)
			message_end(&x);
		else
			p->state = P_CHUNK_DATA_END;
	}
	return 0;
}
