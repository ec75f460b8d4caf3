#pragma once

#define PIPELINE_DEPTH 4 /* outstanding requests kept per connection, power of 2 */
#define SCAN_WINDOW 512  /* bytes copied from user memory per parse window, power of 2 */

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
};

enum header_name {
	HN_NONE = 0,
	HN_SKIP,
	HN_CONTENT_LENGTH,
	HN_TRANSFER_ENCODING,
};

enum io_kind {
	IO_BUF = 0,   /* read, write, recvfrom, sendto */
	IO_IOV,       /* readv, writev */
	IO_MSG,       /* recvmsg, sendmsg */
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
	__u8 _pad[5];
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

struct conn {
	__u64 cgroup_id;      /* of the process when the connection was first seen */
	__u32 tgid;
	__u32 fd;
	__u32 _pad0;
	char comm[HT_COMM_LEN];
	__u8 role;            /* enum ht_direction */
	__u8 family;
	__u8 upgraded;        /* 101 Switching Protocols: no more HTTP/1.x here */
	__u8 fifo_head;       /* oldest outstanding request */
	__u8 fifo_tail;       /* next free slot */
	__u8 _pad[1];
	__u16 status;         /* status of the response in progress */
	__u16 local_port;
	__u16 peer_port;
	__u16 resp_flags;
	__u8 _pad2[6];
	__u8 local_addr[16];
	__u8 peer_addr[16];
	struct msg_parser req;
	struct msg_parser resp;
	struct pending_request fifo[PIPELINE_DEPTH];
	/* Never used: lets the verifier accept the variable-offset, variable-size
	 * append into the last slot's head (it bounds offset and size separately). */
	__u8 _head_slack[HT_HEAD_MAX];
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

struct scan_window {
	__u8 bytes[SCAN_WINDOW];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* set by the addon before load */
} ht_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* entries are ~2.3 KiB: pay only for live ones */
	__type(key, __u64);                   /* tgid << 32 | fd */
	__type(value, struct conn);
} ht_conns SEC(".maps");

/* Task storage, not a hash keyed by pid_tgid: no hashing, no bucket lock,
 * no delete on every exit; it goes away with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct io_args);
} ht_args SEC(".maps");

/* Tracked connections per process: a process that exits without any skips
 * the sweep of ht_conns (a walk of every bucket, about a millisecond). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* as many as ht_conns: one connection each at worst */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);   /* tgid */
	__type(value, __u32); /* connections in ht_conns */
} ht_process_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HT_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ht_counters SEC(".maps");

/* Zeroed template for new connections (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conn);
} ht_conn_template SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scan_window);
} ht_scratch SEC(".maps");

/* Filters, filled by the addon after load and before attach. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HT_FILTER_MAX);
	__type(key, __u16);
	__type(value, __u8);
} ht_port_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HT_FILTER_MAX);
	__type(key, __u32);
	__type(value, __u8);
} ht_pid_filter SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *v = bpf_map_lookup_elem(&ht_counters, &counter);
	if (v)
		*v += 1;
}
