/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TCP connection health from sock and tcp tracepoints only (issue 15): one
 * ht_tcp_event per connect, failed connect, accept, close, retransmission
 * and reset, attributed to the process that connected or accepted.
 *
 *   inet_sock_set_state CLOSE -> SYN_SENT      process context (connect()): owner recorded by socket
 *                       SYN_SENT -> ESTABLISHED  softirq: HT_TCP_CONNECT (handshake time)
 *                       SYN_SENT -> CLOSE        HT_TCP_CONNECT_FAILED with sk_err, owner forgotten
 *                       SYN_RECV -> ESTABLISHED  softirq: socket kept, owner not known yet
 *   sys_exit_accept{,4}                          process context: the owner of the accepted socket; HT_TCP_ACCEPT
 *   inet_sock_set_state -> CLOSE (established)  HT_TCP_CLOSE with srtt, bytes, retransmits not yet reported, from tcp_sock
 *   tcp_destroy_sock                             owner forgotten (not at CLOSE: the reset a close with
 *                                                SO_LINGER 0 sends comes after it)
 *   tcp_retransmit_skb, tcp_send_reset, tcp_receive_reset: by socket to its owner
 *
 * Why accept's exit and not sock_recv_length/sock_send_length: those run on
 * every send and receive of every socket (the hot path this tracer pays
 * for), accept's exit once per connection. A second program on the same
 * tracepoint as the framing's exit_accept4 keeps this file self-contained.
 * Connections opened before capture started are not followed (no owner).
 * Retransmissions are one record each: they are rare on a healthy network
 * and their count must be exact and timely on a connection that lives for
 * hours. Each carries what tcp_sock.total_retrans (the kernel's own count,
 * TcpRetransSegs per socket) gained since the last record, and the close
 * record what is left: so the records add up to total_retrans exactly, with
 * the kernel's rules (a retransmission counted before it is handed to the
 * device, a SYN-ACK retransmitted before accept() inherited by the socket),
 * and a retransmission that fails before it is counted (-EBUSY) adds nothing.
 */
#pragma once

#define TCP_EEXIST 17 /* bpf_map_update_elem's -EEXIST: followed already */

/* Who a followed socket belongs to. */
struct tcp_owner {
	__u64 cgroup_id;
	__u64 start_ns;       /* client: SYN sent, then established; server: established */
	__u32 tgid;           /* 0: accepted by the kernel, not yet taken by accept() */
	__u32 pid;
	__u32 retrans_reported; /* of tcp_sock.total_retrans, the segments already in records */
	__u32 _pad0;
	char comm[HT_COMM_LEN];
	__u8 direction;       /* enum ht_direction */
	__u8 closed;          /* entered CLOSE (its record is out); forgotten when destroyed */
	__u8 _pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);   /* struct sock * */
	__type(value, struct tcp_owner);
} ht_tcp_socks SEC(".maps");

/* Tracepoint contexts as in their tracefs format files (plain structs: see
 * DESIGN.md on clang 14 and trace_event_raw_*). */
struct tcp_set_state_ctx {
	__u64 common;
	__u64 skaddr;
	__s32 oldstate;
	__s32 newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
};

/* tcp_retransmit_skb and tcp_send_reset begin alike; only the socket is read. */
struct tcp_sk_skb_ctx {
	__u64 common;
	__u64 skbaddr;
	__u64 skaddr;
};

struct tcp_receive_reset_ctx {
	__u64 common;
	__u64 skaddr;
};

struct tcp_destroy_sock_ctx {
	__u64 common;
	__u64 skaddr;
};

/* sys_exit_ctx, listed() and traced_tgid(): http_tracer.bpf.c, which includes this file after them. */

static __always_inline int tcp_port_listed(__u16 port)
{
	return listed(&ht_port_filter, &port, cfg_port_filter);
}

/* The current task as the owner. */
static __always_inline void tcp_own(struct tcp_owner *o, __u8 direction)
{
	__u64 id = bpf_get_current_pid_tgid();

	o->tgid = id >> 32;
	o->pid = (__u32)id;
	o->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	o->direction = direction;
}

/* What an event adds to the socket's owner and endpoints. */
struct tcp_note {
	__u64 duration_ns;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 srtt_us;
	__u32 segments;
	__s32 error;
	__u8 kind;            /* enum ht_tcp_kind */
};

static __noinline int tcp_emit(struct sock *sk, struct tcp_owner *o, struct tcp_note *n)
{
	struct endpoints ep = {};
	struct ht_tcp_event *e;

	if (read_endpoints(sk, &ep))
		return 0;
	/* Entering CLOSE gave the local port back (inet_num is 0); inet_sport still holds it. */
	if (!ep.local_port)
		ep.local_port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e = bpf_ringbuf_reserve(&ht_events, sizeof(*e), 0);
	if (!e) {
		count(HT_LOST_TCP_RINGBUF_FULL);
		return 0;
	}
	e->type = HT_RECORD_TCP;
	e->size = sizeof(*e);
	e->kind = n->kind;
	e->direction = o->direction;
	e->family = ep.family;
	e->abi_version = HT_ABI_VERSION;
	e->pid = o->pid;
	e->tgid = o->tgid;
	e->cgroup_id = o->cgroup_id;
	e->monotime_ns = bpf_ktime_get_ns();
	e->duration_ns = n->duration_ns;
	e->bytes_acked = n->bytes_acked;
	e->bytes_received = n->bytes_received;
	e->srtt_us = n->srtt_us;
	e->segments = n->segments;
	e->error = n->error;
	e->local_port = ep.local_port;
	e->peer_port = ep.peer_port;
	__builtin_memcpy(e->local_addr, ep.local_addr, 16);
	__builtin_memcpy(e->peer_addr, ep.peer_addr, 16);
	__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	count(HT_COUNT_TCP_EVENTS);
	/* Wake-ups batched as for exchanges (emit.h). */
	__u64 queued = bpf_ringbuf_query(&ht_events, BPF_RB_AVAIL_DATA);
	if (queued >= cfg_wakeup_bytes && queued < cfg_wakeup_bytes + 8 + sizeof(*e)) {
		count(HT_COUNT_WAKEUPS);
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	} else {
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
	return 0;
}

static __always_inline void tcp_follow(__u64 sk, struct tcp_owner *o)
{
	if (bpf_map_update_elem(&ht_tcp_socks, &sk, o, BPF_ANY))
		count(HT_LOST_TCP_SOCK_MAP_FULL);
}

/* connect(): the calling task owns the socket from its SYN on. */
static __always_inline int tcp_connecting(struct tcp_set_state_ctx *ctx)
{
	struct tcp_owner o = {};

	if (!traced_tgid(bpf_get_current_pid_tgid() >> 32) || !tcp_port_listed(ctx->dport))
		return 0;
	tcp_own(&o, HT_DIRECTION_CLIENT);
	o.start_ns = bpf_ktime_get_ns();
	tcp_follow(ctx->skaddr, &o);
	return 0;
}

static __always_inline int tcp_connect_done(struct tcp_set_state_ctx *ctx, int failed)
{
	__u64 sk = ctx->skaddr;
	struct tcp_owner *o = bpf_map_lookup_elem(&ht_tcp_socks, &sk);
	struct tcp_note n = {};
	__u64 now = bpf_ktime_get_ns();

	if (!o)
		return 0;
	n.duration_ns = now - o->start_ns;
	if (!failed) {
		n.kind = HT_TCP_CONNECT;
		tcp_emit((struct sock *)sk, o, &n);
		o->start_ns = now;
		return 0;
	}
	n.kind = HT_TCP_CONNECT_FAILED;
	n.error = BPF_CORE_READ((struct sock *)sk, sk_err);
	tcp_emit((struct sock *)sk, o, &n);
	bpf_map_delete_elem(&ht_tcp_socks, &sk);
	return 0;
}

/* The handshake of an incoming connection completed: followed until accept() names its owner. */
static __always_inline int tcp_established_incoming(struct tcp_set_state_ctx *ctx)
{
	struct tcp_owner o = { .direction = HT_DIRECTION_SERVER };
	__u64 sk = ctx->skaddr;

	asm volatile("" : "+r"(sk)); /* a key on the stack: clang would pass the ctx field itself, which helpers refuse */
	if (!capture_enabled || !tcp_port_listed(ctx->sport))
		return 0;
	o.start_ns = bpf_ktime_get_ns();
	long err = bpf_map_update_elem(&ht_tcp_socks, &sk, &o, BPF_NOEXIST);
	if (err && err != -TCP_EEXIST)
		count(HT_LOST_TCP_SOCK_MAP_FULL);
	return 0;
}

/* The close record, with the numbers tcp_sock holds at the CLOSE state. */
static __always_inline int tcp_close_record(__u64 sk, struct tcp_owner *o)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct tcp_note n = {
		.kind = HT_TCP_CLOSE,
		.duration_ns = bpf_ktime_get_ns() - o->start_ns,
		.bytes_acked = BPF_CORE_READ(tp, bytes_acked),
		.bytes_received = BPF_CORE_READ(tp, bytes_received),
		.srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3, /* kept as 8 x the smoothed RTT */
		.segments = BPF_CORE_READ(tp, total_retrans) - o->retrans_reported,
	};
	return tcp_emit((struct sock *)sk, o, &n);
}

/* The connection ended: its record now, while tcp_sock still holds its
 * numbers (tcp_disconnect, e.g. a close with SO_LINGER 0, clears them right
 * after); the owner stays until the socket is destroyed, for the reset that
 * such a close sends next. A connection closed before accept() took it has
 * its record at the accept. */
static __always_inline int tcp_closed(struct tcp_set_state_ctx *ctx)
{
	__u64 sk = ctx->skaddr;
	struct tcp_owner *o = bpf_map_lookup_elem(&ht_tcp_socks, &sk);

	if (!o || o->closed)
		return 0;
	o->closed = 1;
	/* Followed sockets are established (a failed connect is forgotten at once). */
	return o->tgid ? tcp_close_record(sk, o) : 0;
}

SEC("tracepoint/tcp/tcp_destroy_sock")
int tcp_destroyed(struct tcp_destroy_sock_ctx *ctx)
{
	__u64 sk = ctx->skaddr;

	bpf_map_delete_elem(&ht_tcp_socks, &sk);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state_change(struct tcp_set_state_ctx *ctx)
{
	if (ctx->protocol != IPPROTO_TCP || !capture_enabled)
		return 0;
	switch (ctx->newstate) {
	case TCP_SYN_SENT:
		return ctx->oldstate == TCP_CLOSE ? tcp_connecting(ctx) : 0;
	case TCP_ESTABLISHED:
		if (ctx->oldstate == TCP_SYN_SENT)
			return tcp_connect_done(ctx, 0);
		return ctx->oldstate == TCP_SYN_RECV ? tcp_established_incoming(ctx) : 0;
	case TCP_CLOSE:
		if (ctx->oldstate == TCP_SYN_SENT)
			return tcp_connect_done(ctx, 1);
		return tcp_closed(ctx);
	}
	return 0;
}

/* accept() returned a connection: its caller owns it. */
static __always_inline int tcp_accepted(__s64 fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (fd < 0 || !capture_enabled)
		return 0;
	struct sock *sk = tcp_sock_of_fd(fd);
	__u64 key = (__u64)sk;
	struct tcp_owner *o = sk ? bpf_map_lookup_elem(&ht_tcp_socks, &key) : NULL;
	if (!o || o->tgid)
		return 0;
	if (!traced_tgid(tgid)) {
		bpf_map_delete_elem(&ht_tcp_socks, &key);
		return 0;
	}
	__u64 established_ns = o->start_ns;
	tcp_own(o, HT_DIRECTION_SERVER);
	struct tcp_note n = { .kind = HT_TCP_ACCEPT, .duration_ns = bpf_ktime_get_ns() - established_ns };
	tcp_emit(sk, o, &n);
	return o->closed ? tcp_close_record(key, o) : 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tcp_exit_accept4(struct sys_exit_ctx *ctx) { return tcp_accepted(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_accept")
int tcp_exit_accept(struct sys_exit_ctx *ctx) { return tcp_accepted(ctx->ret); }

/* Events on a followed socket whose owner is known. */
static __always_inline int tcp_event(__u64 sk, struct tcp_note *n)
{
	struct tcp_owner *o = bpf_map_lookup_elem(&ht_tcp_socks, &sk);

	if (!o || !o->tgid || !capture_enabled)
		return 0;
	return tcp_emit((struct sock *)sk, o, n);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int tcp_retransmit(struct tcp_sk_skb_ctx *ctx)
{
	__u64 sk = ctx->skaddr;
	struct tcp_owner *o = bpf_map_lookup_elem(&ht_tcp_socks, &sk);

	if (!o || !o->tgid || !capture_enabled)
		return 0;
	__u32 total = BPF_CORE_READ((struct tcp_sock *)sk, total_retrans);
	if (total == o->retrans_reported)
		return 0;
	struct tcp_note n = { .kind = HT_TCP_RETRANSMIT, .segments = total - o->retrans_reported };
	o->retrans_reported = total;
	return tcp_emit((struct sock *)sk, o, &n);
}

SEC("tracepoint/tcp/tcp_send_reset")
int tcp_reset_sent(struct tcp_sk_skb_ctx *ctx)
{
	struct tcp_note n = { .kind = HT_TCP_RESET_SENT };

	/* No socket: a reset for a segment nobody listens for (a refused SYN). */
	return ctx->skaddr ? tcp_event(ctx->skaddr, &n) : 0;
}

SEC("tracepoint/tcp/tcp_receive_reset")
int tcp_reset_received(struct tcp_receive_reset_ctx *ctx)
{
	struct tcp_note n = { .kind = HT_TCP_RESET_RECEIVED };

	return tcp_event(ctx->skaddr, &n);
}
