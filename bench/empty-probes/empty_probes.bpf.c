// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor of bench:capture: the tracepoints http-tracer attaches
 * (bpf/http_tracer.bpf.c), each with an empty program that only bumps a
 * per-CPU counter. What a host pays for these tracepoints being on at all;
 * the tracer's own cost is what it adds above this.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

static __always_inline int bump(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&runs, &zero);

	if (n)
		*n += 1;
	return 0;
}

#define EMPTY(group, name, fn) \
	SEC("tracepoint/" #group "/" #name) int fn(void *ctx) { return bump(); }

EMPTY(syscalls, sys_exit_read, exit_read)
EMPTY(syscalls, sys_exit_recvfrom, exit_recvfrom)
EMPTY(syscalls, sys_exit_readv, exit_readv)
EMPTY(syscalls, sys_exit_recvmsg, exit_recvmsg)
EMPTY(syscalls, sys_exit_write, exit_write)
EMPTY(syscalls, sys_exit_sendto, exit_sendto)
EMPTY(syscalls, sys_exit_writev, exit_writev)
EMPTY(syscalls, sys_exit_sendmsg, exit_sendmsg)
EMPTY(syscalls, sys_exit_sendfile64, exit_sendfile)
EMPTY(syscalls, sys_enter_close, enter_close)
EMPTY(syscalls, sys_exit_accept, exit_accept)
EMPTY(syscalls, sys_exit_accept4, exit_accept4)
EMPTY(syscalls, sys_enter_connect, enter_connect)
EMPTY(sched, sched_process_exit, process_exit)
