/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of everything that crosses the ring buffer and the
 * configuration the agent writes into the BPF object before load.
 * The addon exports sizeof/offsetof of these records and the TypeScript
 * decoder (src/capture/abi.ts) checks itself against them at start-up and in
 * test/capture/abi.test.ts. Change a field here and bump HT_ABI_VERSION.
 */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifdef __cplusplus
#define HT_STATIC_ASSERT static_assert
#else
#define HT_STATIC_ASSERT _Static_assert
#endif

#define HT_ABI_VERSION 4

/* Bytes of the request head kept per exchange: configurable up to this bound. */
#define HT_HEAD_MAX 512
#define HT_HEAD_DEFAULT 256
#define HT_COMM_LEN 16

/* Port and pid allow/deny lists hold at most this many entries each. */
#define HT_FILTER_MAX 64

enum ht_filter_mode {
	HT_FILTER_OFF = 0,
	HT_FILTER_ALLOW = 1, /* trace only what is listed */
	HT_FILTER_DENY = 2,  /* trace all but what is listed */
};

enum ht_record_type {
	HT_RECORD_EXCHANGE = 1,
	HT_RECORD_TCP = 2,
};

enum ht_direction {
	HT_DIRECTION_SERVER = 1, /* this process accepted the connection and answered */
	HT_DIRECTION_CLIENT = 2, /* this process connected and asked */
};

enum ht_exchange_flags {
	HT_FLAG_ABORTED = 1 << 0,        /* never completed: see the reason flags below */
	HT_FLAG_CLOSED = 1 << 1,         /* connection closed mid-exchange */
	HT_FLAG_RESET = 1 << 2,          /* read/write failed (ECONNRESET, EPIPE, ...) */
	HT_FLAG_PROCESS_EXIT = 1 << 3,   /* the process exited with the exchange open */
	HT_FLAG_CHUNKED = 1 << 4,        /* response used chunked transfer coding */
	HT_FLAG_HEAD_TRUNCATED = 1 << 5, /* request head longer than the captured bytes */
	HT_FLAG_PIPELINED = 1 << 6,      /* request arrived while another was outstanding */
	HT_FLAG_NO_RESPONSE_HEAD = 1 << 7, /* aborted before any response byte */
	HT_FLAG_TIMEOUT = 1 << 8,        /* outstanding longer than the exchange timeout */
	HT_FLAG_NEW_CONNECTION = 1 << 9, /* first exchange the tracer saw on this connection */
	HT_FLAG_HEAD_MISSING = 1 << 10,  /* request seen, its head not kept (pipelined past the head store) */
	HT_FLAG_INTERIM = 1 << 11,       /* 1xx interim response(s) came first; their bytes are in response_bytes */
	HT_FLAG_TLS = 1 << 12,           /* plaintext taken from the TLS library (uprobes), not the socket */
};

/* Indexes of the per-CPU counter array `ht_counters`. Losses first. */
enum ht_counter {
	HT_LOST_RINGBUF_FULL = 0,     /* exchange complete but ring buffer had no room */
	HT_LOST_CONN_MAP_FULL = 1,    /* connection could not be tracked: map full */
	HT_LOST_RESPONSE_NO_REQUEST = 2, /* response seen with no outstanding request */
	HT_LOST_PIPELINE_OVERFLOW = 3,/* requests past the FIFO beyond OVERFLOW_MAX (state.h) */
	HT_LOST_UNPARSED = 4,         /* bytes that did not frame as HTTP/1.x (garbage) */
	HT_LOST_SCAN_LIMIT = 5,       /* header section beyond the per-call scan budget */
	HT_COUNT_EXCHANGES = 6,       /* exchange records submitted */
	HT_COUNT_ABORTED = 7,         /* of which aborted */
	HT_COUNT_HEADLESS = 8,        /* of which without their head (HT_FLAG_HEAD_MISSING) */
	HT_COUNT_WAKEUPS = 9,         /* forced ring-buffer wake-ups */
	HT_COUNT_NOT_HTTP = 10,       /* request lines refused: a method but no HTTP/1.x version (look-alike protocols) */
	HT_COUNT_TCP_EVENTS = 11,     /* ht_tcp_event records submitted */
	HT_LOST_TCP_SOCK_MAP_FULL = 12, /* connection not followed (no owner kept): ht_tcp_socks full */
	HT_LOST_TCP_RINGBUF_FULL = 13,  /* TCP event with no room in the ring buffer */
	HT_COUNTER_MAX = 14,
};

/* Ring-buffer record: one completed (or aborted) HTTP exchange. Followed by
 * `size - sizeof(struct ht_exchange)` bytes of request head (at most the
 * configured head bytes; shorter heads travel in shorter records), of which
 * `head_len` are valid. Consumers step from record to record by `size`. */
struct ht_exchange {
	__u16 type;          /* HT_RECORD_EXCHANGE; first field of every record */
	__u16 size;          /* whole record in bytes, 8-aligned, head included */
	__u8 direction;      /* enum ht_direction */
	__u8 family;         /* AF_INET (2) or AF_INET6 (10) */
	__u16 flags;         /* enum ht_exchange_flags */
	__u32 pid;           /* thread that completed the exchange */
	__u32 tgid;          /* process */
	__u32 fd;
	__u16 status;        /* 0 when no status line was seen */
	__u16 head_len;      /* valid bytes in head[] */
	__u64 cgroup_id;
	__u64 start_monotime_ns; /* server: first request byte read; client: first written */
	__u64 end_monotime_ns;   /* server: last response byte written; client: read */
	__u64 request_bytes;
	__u64 response_bytes;
	__u8 local_addr[16];  /* IPv4 in the first 4 bytes, network order */
	__u8 peer_addr[16];
	__u16 local_port;     /* host order */
	__u16 peer_port;      /* host order */
	__u8 abi_version;
	__u8 _pad[3];
	char comm[HT_COMM_LEN];
	__u8 head[];
};

HT_STATIC_ASSERT(sizeof(struct ht_exchange) == 120, "ht_exchange layout changed: bump HT_ABI_VERSION");

/* What an ht_tcp_event reports (sock:inet_sock_set_state and tcp:* tracepoints). */
enum ht_tcp_kind {
	HT_TCP_CONNECT = 1,        /* SYN_SENT -> ESTABLISHED; duration_ns: the handshake */
	HT_TCP_CONNECT_FAILED = 2, /* SYN_SENT -> CLOSE; error: sk_err (ECONNREFUSED, ETIMEDOUT, ...; 0: closed by the caller) */
	HT_TCP_ACCEPT = 3,         /* accept() took an established connection; duration_ns: its wait in the accept queue */
	HT_TCP_CLOSE = 4,          /* an established connection -> CLOSE; duration_ns: since established; srtt, bytes, retransmits not yet reported */
	HT_TCP_RETRANSMIT = 5,     /* tcp_retransmit_skb; segments: what tcp_sock.total_retrans gained since the last record */
	HT_TCP_RESET_SENT = 6,     /* tcp_send_reset on the connection (e.g. close with SO_LINGER 0) */
	HT_TCP_RESET_RECEIVED = 7, /* tcp_receive_reset */
};

/* Ring-buffer record: one TCP connection event, attributed to the process
 * that connected or accepted (recorded in process context: softirq events
 * find it by socket). Steps by `size` like every record. */
struct ht_tcp_event {
	__u16 type;          /* HT_RECORD_TCP */
	__u16 size;          /* sizeof(struct ht_tcp_event) */
	__u8 kind;           /* enum ht_tcp_kind */
	__u8 direction;      /* enum ht_direction: client (connected) or server (accepted) */
	__u8 family;         /* AF_INET (2) or AF_INET6 (10) */
	__u8 abi_version;
	__u32 pid;           /* thread that connected or accepted */
	__u32 tgid;          /* its process */
	__u64 cgroup_id;
	__u64 monotime_ns;   /* when it happened (CLOCK_MONOTONIC) */
	__u64 duration_ns;   /* see enum ht_tcp_kind; 0 otherwise */
	__u64 bytes_acked;   /* close: bytes sent and acknowledged by the peer (tcp_sock; sequence space: SYN and FIN count one) */
	__u64 bytes_received; /* close: bytes received (sequence space: a FIN counts one) */
	__u32 srtt_us;       /* close: smoothed round-trip time, microseconds */
	__u32 segments;      /* retransmitted segments not in an earlier record (retransmit, close); the records of a connection add up to its total_retrans */
	__s32 error;         /* connect failed: the socket error (positive errno) */
	__u16 local_port;    /* host order */
	__u16 peer_port;     /* host order */
	__u8 local_addr[16]; /* IPv4 in the first 4 bytes, network order */
	__u8 peer_addr[16];
	char comm[HT_COMM_LEN];
	__u8 _pad[8];
};

HT_STATIC_ASSERT(sizeof(struct ht_tcp_event) == 128, "ht_tcp_event layout changed: bump HT_ABI_VERSION");
