#pragma once
/* The state the programs keep: connections, their parsers, stashed syscall
 * arguments. Plain types only, so test/parser/harness.c can build the parser
 * in userspace against the same definitions. */

#define PIPELINE_DEPTH 4 /* outstanding requests kept per connection, power of 2 */
#define SCAN_WINDOW 256  /* bytes copied from user memory per parse window, power of 2 */

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

enum io_kind {
	IO_BUF = 0,   /* read, write, recvfrom, sendto */
	IO_IOV,       /* readv, writev, and recvmsg/sendmsg through their msghdr */
	IO_SENDFILE,  /* sendfile: body bytes we cannot see */
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
	__u8 tracked;         /* this message has a pending-request slot */
	__u8 prefix_len;      /* bytes of an undecided message start held in prefix */
	__u8 start_is_head;   /* P_STARTING: the request is a HEAD */
	__u8 _pad[1];
	__u16 start_status;   /* P_STARTING: the response's status */
	__u8 prefix[16];      /* a message start split over syscalls ("GE" + "T /") */
};

struct pending_request {
	__u64 start_ns;
	__u64 request_bytes;
	__u16 head_len;
	__u16 flags;          /* enum ht_exchange_flags gathered so far */
	__u8 is_head;         /* HEAD: the response has no body */
	__u8 _pad[3];
	__u8 head[HT_HEAD_MAX];
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
	__u8 upgraded;        /* 101 Switching Protocols: no more HTTP/1.x here */
	__u8 fifo_head;       /* oldest outstanding request */
	__u8 fifo_tail;       /* next free slot */
	__u16 status;         /* status of the response in progress */
	__u16 resp_flags;
	__u8 emitted;         /* an exchange of this connection was emitted */
	__u8 _pad[7];
	struct msg_parser req;
	struct msg_parser resp;
	struct pending_request fifo[PIPELINE_DEPTH];
	/* Parse windows, one per direction (index: carries requests), in the
	 * connection rather than per-CPU scratch, so a preempted program never
	 * shares one. After the FIFO on purpose: they give the verifier room for
	 * the variable-offset, variable-size append into the last slot's head (it
	 * bounds offset and size separately); no head append writes past its head. */
	struct scan_window windows[2];
};

/* What a syscall's enter stashes for its exit, in the thread's task storage. */
struct io_args {
	__u64 buf;            /* buffer, iovec array or msghdr */
	__u32 fd;
	__u32 iovcnt;
	__u8 kind;            /* enum io_kind */
	__u8 out;             /* 1: data leaves the process (write side) */
	__u8 pending;         /* set by enter, cleared by exit */
	__u8 _pad[5];
};

/* server: reads carry requests; client: writes do. */
static __always_inline __u8 carries_requests(struct conn *c, __u8 out)
{
	return (c->role == HT_DIRECTION_SERVER) != out;
}
