#pragma once
/* The maps, and the loss/activity counters. */
#include "state.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* set by the addon before load */
} ht_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* entries are ~3.5 KiB: pay only for live ones */
	__type(key, __u64);                   /* tgid << 32 | fd */
	__type(value, struct conn);
} ht_conns SEC(".maps");

/* Heads of requests HEAD_SLOTS and more deep in a connection's FIFO: only
 * deeply pipelined connections use it, so the connection stays small. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct head_key);
	__type(value, struct deep_head);
} ht_heads SEC(".maps");

/* Requests past a connection's FIFO (at most OVERFLOW_MAX per connection):
 * their start and bytes, exact; only their heads are not kept. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct head_key);
	__type(value, struct overflow_request);
} ht_overflow SEC(".maps");

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

/* The framing program that every sys_exit_* program tail-calls. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ht_exit_parsers SEC(".maps");

/* What a new connection starts from (too big for the stack): never written,
 * so always zero. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conn);
} ht_conn_zero SEC(".maps");

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

/* Atomic even though per-CPU: syscall tracepoints can be preempted here, and
 * a plain increment then loses counts to the program that ran in between. */
static __always_inline void count(__u32 counter)
{
	__u64 *v = bpf_map_lookup_elem(&ht_counters, &counter);
	if (v)
		__sync_fetch_and_add(v, 1);
}
