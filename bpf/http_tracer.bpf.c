// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Every HTTP/1.x exchange on the host, from syscall tracepoints only (this
 * kernel has no kprobes and refuses fentry). See DESIGN.md, "Capture".
 *
 *   sys_exit_{read,readv,recvfrom,recvmsg,write,writev,sendto,sendmsg,sendfile64}
 *       --> arguments from the saved user registers --> connection (tgid, fd)
 *       in ht_conns, created when the first bytes look like HTTP --> feed()
 *       framing --> ht_exchange into ht_events
 *   uprobes on the TLS library's SSL_read/SSL_write (tracer/tls.h) --> the
 *       same framing, for the socket the SSL object talks over
 *   sys_enter_close, sys_exit_accept*, sys_enter_connect, sched_process_exit,
 *   and the `sweep` program (run by the agent): outstanding exchanges are
 *       emitted as aborted, never dropped silently.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "http_tracer.h"
#include "tracer/config.h"
#include "tracer/maps.h"
#include "tracer/emit.h"
#include "tracer/parser.h"
#include "tracer/socket.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* iovec segments parsed per call; Node corks chunked responses into a dozen or more. */
#define MAX_IOV 64
#define ECONNRESET 104
#define EPIPE 32
#define ETIMEDOUT 110

/* The syscalls framed here, by number (the exit tracepoint's __syscall_nr):
 * one framing program serves them all. */
#if defined(__TARGET_ARCH_x86)
enum { NR_READ = 0, NR_WRITE = 1, NR_READV = 19, NR_WRITEV = 20, NR_SENDFILE = 40,
       NR_SENDTO = 44, NR_RECVFROM = 45, NR_SENDMSG = 46, NR_RECVMSG = 47 };
#elif defined(__TARGET_ARCH_arm64)
enum { NR_READ = 63, NR_WRITE = 64, NR_READV = 65, NR_WRITEV = 66, NR_SENDFILE = 71,
       NR_SENDTO = 206, NR_RECVFROM = 207, NR_SENDMSG = 211, NR_RECVMSG = 212 };
#else
#error "syscall numbers: add this architecture"
#endif

/* syscalls:sys_enter_* and sys_exit_* as in their tracefs format files
 * (/sys/kernel/tracing/events/syscalls/sys_enter_read/format): 8 bytes of
 * common fields, __syscall_nr, then each argument (or ret) in 8 bytes.
 * Declared here instead of vmlinux.h's trace_event_raw_*: clang 14 turns
 * those into "dereference of modified ctx ptr" at load. */
struct sys_enter_ctx {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__u64 args[6];
};

struct sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__s64 ret;
};

static __always_inline int listed(void *map, void *key, __u8 mode)
{
	if (mode == HT_FILTER_OFF)
		return 1;
	int found = bpf_map_lookup_elem(map, key) != NULL;
	return mode == HT_FILTER_ALLOW ? found : !found;
}

static __always_inline int traced_tgid(__u32 tgid)
{
	return capture_enabled && tgid != cfg_self_tgid && listed(&ht_pid_filter, &tgid, cfg_pid_filter);
}

/* TCP connection events: they share the filters above. */
#include "tracer/tcp.h"

/* ht_process_conns bookkeeping; a process is only ever handled on its own
 * threads, and its exit sweep runs after they are gone. */
static __always_inline void process_conns_add(__u32 tgid, int delta)
{
	__u32 *n = bpf_map_lookup_elem(&ht_process_conns, &tgid);

	if (n) {
		__sync_fetch_and_add(n, delta);
	} else if (delta > 0) {
		__u32 one = 1;
		bpf_map_update_elem(&ht_process_conns, &tgid, &one, BPF_NOEXIST);
	}
}

/* ---- the call's arguments, at its exit ---------------------------------- */

enum io_kind {
	IO_BUF = 0,   /* read, write, recvfrom, sendto */
	IO_IOV,       /* readv, writev, and recvmsg/sendmsg through their msghdr */
	IO_SENDFILE,  /* sendfile: body bytes we cannot see */
};

struct io_call {
	__u64 buf;            /* buffer or iovec array */
	__u32 fd;
	__u32 iovcnt;
	__u8 kind;            /* enum io_kind */
	__u8 out;             /* 1: data leaves the process (write side) */
};

/*
 * No enter program: at a syscall's exit the user registers saved on entry
 * still hold its arguments (the _SYSCALL accessors know where, e.g. orig_x0
 * on arm64). So a call already blocked when capture starts (a thread waiting
 * in recv() on an idle keep-alive connection) is framed like any other, and
 * each call costs one program run instead of two.
 */
static __always_inline int call_args(__s32 nr, struct io_call *a)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	struct user_msghdr m;

	switch (nr) {
	case NR_READ:
	case NR_RECVFROM:
		a->kind = IO_BUF;
		a->out = 0;
		break;
	case NR_WRITE:
	case NR_SENDTO:
		a->kind = IO_BUF;
		a->out = 1;
		break;
	case NR_READV:
	case NR_RECVMSG:
		a->kind = IO_IOV;
		a->out = 0;
		break;
	case NR_WRITEV:
	case NR_SENDMSG:
		a->kind = IO_IOV;
		a->out = 1;
		break;
	case NR_SENDFILE: /* sendfile64(out_fd, in_fd, offset, count) */
		a->kind = IO_SENDFILE;
		a->out = 1;
		a->fd = PT_REGS_PARM1_SYSCALL(regs);
		return 0;
	default:
		return -1;
	}
	a->fd = PT_REGS_PARM1_SYSCALL(regs);
	a->buf = PT_REGS_PARM2_SYSCALL(regs);
	if (nr == NR_RECVMSG || nr == NR_SENDMSG) {
		if (bpf_probe_read_user(&m, sizeof(m), (void *)a->buf) < 0)
			return -1;
		a->buf = (__u64)m.msg_iov;
		a->iovcnt = m.msg_iovlen;
	} else if (a->kind == IO_IOV) {
		a->iovcnt = PT_REGS_PARM3_SYSCALL(regs);
	}
	return 0;
}

/* ---- exit: frame the bytes that moved ---------------------------------- */

/* A connection seen for the first time: tracked only if its first bytes
 * look like HTTP/1.x and the fd is a TCP socket that passes the port filter. */
static __noinline struct conn *conn_create(__u64 key, __u32 fd, __u8 out, __u64 buf, __u32 len)
{
	__u64 head[2] = {};
	__u8 is_head, is_request = 1;
	__u16 status;
	__u64 n = clamp_len(len, sizeof(head));

	if (!n || bpf_probe_read_user(head, n, (void *)buf) < 0)
		return NULL;
	/* A start, or the beginning of one ("GE"): the parser holds what it cannot decide yet. */
	if (decide_start(1, head[0], head[1], n, &is_head, &status) == START_NO) {
		is_request = 0;
		if (decide_start(0, head[0], head[1], n, &is_head, &status) == START_NO)
			return NULL;
	}
	struct sock *sk = tcp_sock_of_fd(fd);
	struct endpoints ep = {};
	if (!sk || read_endpoints(sk, &ep))
		return NULL;
	__u8 role = is_request == out ? HT_DIRECTION_CLIENT : HT_DIRECTION_SERVER;
	if (!listed(&ht_port_filter, role == HT_DIRECTION_SERVER ? &ep.local_port : &ep.peer_port, cfg_port_filter))
		return NULL;
	__u32 zero = 0;
	const struct conn *blank = bpf_map_lookup_elem(&ht_conn_zero, &zero);
	if (!blank)
		return NULL;
	if (bpf_map_update_elem(&ht_conns, &key, blank, BPF_NOEXIST)) {
		count(HT_LOST_CONN_MAP_FULL);
		return NULL;
	}
	struct conn *c = bpf_map_lookup_elem(&ht_conns, &key);
	if (!c)
		return NULL;
	c->role = role;
	c->tgid = key >> 32;
	c->fd = fd;
	c->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(c->comm, sizeof(c->comm));
	c->ep = ep;
	process_conns_add(c->tgid, 1);
	return c;
}

/* The TLS programs (uprobes): they frame through conn_create and feed too. */
#include "tracer/tls.h"

static __always_inline int read_iovec(__u64 iov, __u32 i, __u64 *base, __u64 *len)
{
	struct iovec v;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(v))) < 0)
		return -1;
	*base = (__u64)v.iov_base;
	*len = v.iov_len;
	return 0;
}

struct iov_walk {
	struct conn *c;
	__u64 iov;        /* user address of the iovec array */
	__u64 left;       /* bytes the syscall moved, not yet fed */
	__u64 ts;
	__u32 iovcnt;
	__u8 is_request;
};

/* bpf_loop callback: feed one iovec segment. */
static int iov_step(__u32 i, struct iov_walk *w)
{
	__u64 base, len;

	if (i >= w->iovcnt || w->left == 0 || read_iovec(w->iov, i, &base, &len) < 0)
		return 1;
	if (len > w->left)
		len = w->left;
	if (len)
		feed(w->c, w->is_request, base, len, w->ts);
	w->left -= len;
	return 0;
}

static __always_inline int feed_io(struct conn *c, struct io_call *a, __u64 ret, __u64 ts)
{
	__u8 is_request = carries_requests(c, a->out);

	if (a->kind == IO_BUF)
		return feed(c, is_request, a->buf, ret, ts);
	struct iov_walk w = { .c = c, .iov = a->buf, .left = ret, .ts = ts, .iovcnt = a->iovcnt, .is_request = is_request };
	bpf_loop(MAX_IOV, iov_step, &w, 0);
	/* Beyond MAX_IOV segments: body bytes as far as the framing knows. */
	if (w.left > 0)
		feed_opaque(c, is_request, w.left, ts);
	return 0;
}

static __always_inline int io_exit(struct sys_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct io_call a = {};
	__s64 ret = ctx->ret;

	if (!traced_tgid(id >> 32) || call_args(ctx->nr, &a) < 0)
		return 0;
	__u64 key = conn_key(id >> 32, a.fd);
	__u64 ts = bpf_ktime_get_ns();
	struct conn *c = bpf_map_lookup_elem(&ht_conns, &key);
	if (ret <= 0) {
		if (c && (ret == -ECONNRESET || ret == -EPIPE || ret == -ETIMEDOUT))
			abort_pending(c, ts, HT_FLAG_RESET);
		return 0;
	}
	/* A TLS connection's ciphertext: its plaintext comes from the uprobes. */
	if ((c && c->tls) || tls_syscall(a.fd, a.out, c != NULL, a.buf, a.kind == IO_IOV))
		return 0;
	if (a.kind == IO_SENDFILE) {
		if (c)
			feed_opaque(c, carries_requests(c, a.out), ret, ts);
		return 0;
	}
	if (!c) {
		__u64 buf = a.buf, len = ret;
		if (a.kind == IO_IOV && (a.iovcnt == 0 || read_iovec(a.buf, 0, &buf, &len) < 0))
			return 0;
		c = conn_create(key, a.fd, a.out, buf, len < ret ? len : ret);
		if (!c)
			return 0;
	}
	return feed_io(c, &a, ret, ts);
}

/* The exit programs only tail-call this one: the verifier then checks the
 * framing code once instead of once per syscall, which keeps loading fast.
 * The addon puts it in ht_exit_parsers[0] before attaching. */
SEC("tracepoint")
int exit_parse(struct sys_exit_ctx *ctx)
{
	return io_exit(ctx);
}

/* Calls that moved no bytes and failed for a reason that ends nothing
 * (EAGAIN on a non-blocking socket, EOF, EINTR) need no framing: they stop
 * here, before the tail call and the connection lookup. */
static __always_inline int moved_or_failed(__s64 ret)
{
	return ret > 0 || ret == -ECONNRESET || ret == -EPIPE || ret == -ETIMEDOUT;
}

#define EXIT_PROGRAM(syscall, name)                           \
	SEC("tracepoint/syscalls/" #syscall)                  \
	int name(struct sys_exit_ctx *ctx)                    \
	{                                                     \
		if (moved_or_failed(ctx->ret))                \
			bpf_tail_call(ctx, &ht_exit_parsers, 0); \
		return 0;                                     \
	}

EXIT_PROGRAM(sys_exit_read, exit_read)
EXIT_PROGRAM(sys_exit_recvfrom, exit_recvfrom)
EXIT_PROGRAM(sys_exit_readv, exit_readv)
EXIT_PROGRAM(sys_exit_recvmsg, exit_recvmsg)
EXIT_PROGRAM(sys_exit_write, exit_write)
EXIT_PROGRAM(sys_exit_sendto, exit_sendto)
EXIT_PROGRAM(sys_exit_writev, exit_writev)
EXIT_PROGRAM(sys_exit_sendmsg, exit_sendmsg)
EXIT_PROGRAM(sys_exit_sendfile64, exit_sendfile)

/* ---- connection ends ---------------------------------------------------- */

static __always_inline int forget_fd(__u32 fd)
{
	__u64 key = conn_key(bpf_get_current_pid_tgid() >> 32, fd);
	struct conn *c;

	if (!capture_enabled) /* stopping: what is outstanding was not lost */
		return 0;
	c = bpf_map_lookup_elem(&ht_conns, &key);
	if (!c)
		return 0;
	conn_end(c, bpf_ktime_get_ns(), HT_FLAG_CLOSED);
	if (bpf_map_delete_elem(&ht_conns, &key) == 0)
		process_conns_add(key >> 32, -1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct sys_enter_ctx *ctx) { return forget_fd(ctx->args[0]); }

/* A new socket on an fd we still track means its close went unseen. */
SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct sys_exit_ctx *ctx) { return ctx->ret >= 0 ? forget_fd(ctx->ret) : 0; }
SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct sys_exit_ctx *ctx) { return ctx->ret >= 0 ? forget_fd(ctx->ret) : 0; }
SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct sys_enter_ctx *ctx) { return forget_fd(ctx->args[0]); }

struct sweep_ctx {
	__u64 now_ns;
	__u32 tgid;       /* process-exit sweep: the process that exited */
	__u8 timeouts;    /* timeout sweep */
};

static long sweep_conn(struct bpf_map *map, __u64 *key, struct conn *c, struct sweep_ctx *s)
{
	if (!s->timeouts) {
		if ((*key >> 32) == s->tgid) {
			conn_end(c, s->now_ns, HT_FLAG_PROCESS_EXIT);
			bpf_map_delete_elem(map, key);
		}
		return 0;
	}
	/* Exchanges start on other CPUs while the sweep runs: a start later than
	 * now_ns must not wrap around into "very old". The sweep does not lock the
	 * entry; it only touches exchanges idle for cfg_exchange_timeout_ns. */
	if (c->fifo_head != c->fifo_tail &&
	    c->fifo[c->fifo_head & (PIPELINE_DEPTH - 1)].start_ns + cfg_exchange_timeout_ns < s->now_ns)
		abort_pending(c, s->now_ns, HT_FLAG_TIMEOUT);
	return 0;
}

/* Exit does not go through close(): sweep the process's connections when its
 * last thread leaves. */
SEC("tracepoint/sched/sched_process_exit")
int process_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct sweep_ctx s = { .tgid = bpf_get_current_pid_tgid() >> 32 };

	if (!capture_enabled || BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	__u32 *n = bpf_map_lookup_elem(&ht_process_conns, &s.tgid);
	if (!n)
		return 0;
	if (*n > 0) {
		s.now_ns = bpf_ktime_get_ns();
		bpf_for_each_map_elem(&ht_conns, sweep_conn, &s, 0);
	}
	bpf_map_delete_elem(&ht_process_conns, &s.tgid);
	return 0;
}

/* Not attached: the agent runs it with BPF_PROG_TEST_RUN every few seconds to
 * emit exchanges outstanding longer than cfg_exchange_timeout_ns. */
SEC("raw_tp")
int sweep_timeouts(void *ctx)
{
	struct sweep_ctx s = { .timeouts = 1, .now_ns = bpf_ktime_get_ns() };

	if (cfg_exchange_timeout_ns && capture_enabled)
		bpf_for_each_map_elem(&ht_conns, sweep_conn, &s, 0);
	return 0;
}
