#pragma once
/* The state the programs keep: connections, their parsers, stashed syscall
 * arguments. Plain types only, so test/parser/harness.c can build the parser
 * in userspace against the same definitions. */

#define PIPELINE_DEPTH 32 /* outstanding requests kept exact per connection, in order; power of 2 */
#define HEAD_SLOTS 4      /* of which heads kept in the connection; deeper ones in ht_heads */
#define OVERFLOW_MAX 4096 /* requests past the FIFO (kept in ht_overflow, emitted without heads); more are lost (counted) */
#define SCAN_WINDOW 256   /* bytes copied from user memory per parse window, power of 2 */
#define START_LINE_MAX 65536 /* a longer request line without its HTTP version is not HTTP */

enum parse_state {
	P_IDLE = 0,        /* between messages: the next byte must start one */
	P_HEADERS,         /* start line and header fields, up to the empty line */
	P_BODY,            /* content-length body: body_left bytes to skip */
	P_CHUNK_SIZE,      /* hex size of the next chunk */
	P_CHUNK_EXT,       /* chunk extension, up to LF */
	P_CHUNK_DATA,      /* chunk data: body_left bytes to skip */
	P_CHUNK_DATA_END,  /* CRLF after chunk data */
	P_TRAILERS,        /* trailer fields after the last chunk, up to the empty line */
	P_UNTIL_CLOSE,     /* response body delimited by connection close */
	P_STARTING,        /* a message start was recognised: set it up next step */
};

enum header_name {
	HN_NONE = 0,
	HN_SKIP,
	HN_CONTENT_LENGTH,
	HN_TRANSFER_ENCODING,
};

/* Which outstanding-request record a message parser fills. */
enum tracking {
	TRACK_NONE = 0,     /* not matched to a request (counted as a loss) */
	TRACK_FIFO = 1,     /* the FIFO's newest request (requests) or oldest (responses) */
	TRACK_OVERFLOW = 2, /* a request past the FIFO: the newest in ht_overflow */
};

/* Incremental HTTP/1.x message framing, one per direction of a connection. */
struct msg_parser {
	__u64 body_left;      /* content-length body, or current chunk's data, still to come */
	__u64 msg_bytes;      /* bytes of the current message seen so far */
	__u64 content_length;
	__u64 last_ns;        /* time of the last bytes seen in this direction */
	__u32 line_len;       /* bytes on the current header line, CR excluded */
	__u8 state;           /* enum parse_state */
	__u8 hname;           /* header whose name is being matched: enum header_name */
	__u8 hpos;            /* characters of that name matched so far */
	__u8 hval;            /* progress matching "chunked" in a Transfer-Encoding value */
	__u8 chunked;
	__u8 has_length;
	__u8 tracked;         /* enum tracking */
	__u8 prefix_len;      /* bytes of an undecided message start held in prefix */
	__u8 start_is_head;   /* P_STARTING: the request is a HEAD */
	__u8 unconfirmed;     /* in a request line whose " HTTP/1.x" has not been seen yet */
	__u16 start_status;   /* P_STARTING: the response's status */
	/* P_IDLE: a message start split over syscalls ("GE" + "T /");
	 * unconfirmed: the last 16 bytes of the request line so far. */
	__u8 prefix[16];
};

struct pending_request {
	__u64 start_ns;
	__u64 request_bytes;
	__u16 head_len;
	__u16 flags;          /* enum ht_exchange_flags gathered so far */
	__u8 is_head;         /* HEAD: the response has no body */
	__u8 head_in_map;     /* the head is in ht_heads, not in conn.heads */
	__u8 _pad[2];
};

/* A request head kept in ht_heads (FIFO depth HEAD_SLOTS and beyond). */
struct head_key {
	__u64 conn;           /* tgid << 32 | fd */
	__u32 seq;            /* the request's FIFO sequence number */
	__u32 _pad;
};

/* A request past the FIFO, until a FIFO slot frees up for it (key: head_key). */
struct overflow_request {
	__u64 start_ns;
	__u64 request_bytes;
};

struct deep_head {
	__u8 bytes[HT_HEAD_MAX];
	/* Room the verifier needs for a variable-offset, variable-size append
	 * (it bounds offset and size separately); never written. */
	__u8 slack[HT_HEAD_MAX];
};

struct scan_window {
	__u8 bytes[SCAN_WINDOW];
};

struct endpoints {
	__u8 local_addr[16];  /* IPv4 in the first 4 bytes, network order */
	__u8 peer_addr[16];
	__u16 local_port;     /* host order */
	__u16 peer_port;
	__u8 family;
	__u8 _pad[3];
};

struct conn {
	__u64 cgroup_id;      /* of the process when the connection was first seen */
	__u32 tgid;
	__u32 fd;
	char comm[HT_COMM_LEN];
	struct endpoints ep;
	__u8 role;            /* enum ht_direction */
	__u8 opaque;          /* 101 Switching Protocols, or not HTTP at all: bytes no longer framed */
	__u8 fifo_head;       /* oldest outstanding request */
	__u8 fifo_tail;       /* next free slot */
	__u16 status;         /* status of the response in progress */
	__u16 resp_flags;
	__u8 emitted;         /* an exchange of this connection was emitted */
	/* A request with both Content-Length and Transfer-Encoding: the server
	 * closes after answering it (RFC 9112, 6.1), so bytes after it are no
	 * requests (a smuggling attempt), and are not framed. */
	__u8 requests_end;
	__u8 tls;             /* bytes framed from the TLS library's plaintext; the socket's are ciphertext */
	__u8 _pad;
	__u32 interim_bytes;  /* 1xx interim responses to the oldest request so far */
	__u32 overflow_head;  /* requests past the FIFO, in ht_overflow: the oldest's sequence number */
	__u32 overflow_tail;  /* and the next one's */
	__u32 _pad2;
	struct msg_parser req;
	struct msg_parser resp;
	struct pending_request fifo[PIPELINE_DEPTH];
	__u8 heads[HEAD_SLOTS][HT_HEAD_MAX];
	/* Parse windows, one per direction (index: carries requests), in the
	 * connection rather than per-CPU scratch, so a preempted program never
	 * shares one. After the heads on purpose: they give the verifier room for
	 * the variable-offset, variable-size append into the last head (it
	 * bounds offset and size separately); no head append writes past its head. */
	struct scan_window windows[2];
};

/* min(n, max) in a form the verifier can bound as a helper's size argument:
 * without the barrier clang compares a 32-bit copy and passes the 64-bit one. */
static __always_inline __u64 clamp_len(__u64 n, __u64 max)
{
	if (n > max)
		n = max;
	asm volatile("" : "+r"(n));
	if (n > max)
		n = 0;
	return n;
}

static __always_inline __u64 conn_key(__u32 tgid, __u32 fd)
{
	return (__u64)tgid << 32 | fd;
}

/* server: reads carry requests; client: writes do. */
static __always_inline __u8 carries_requests(struct conn *c, __u8 out)
{
	return (c->role == HT_DIRECTION_SERVER) != out;
}
