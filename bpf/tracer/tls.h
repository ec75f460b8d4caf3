/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * HTTPS: the plaintext, taken from the TLS library with uprobes on SSL_read,
 * SSL_read_ex, SSL_write, SSL_write_ex (and SSL_do_handshake, SSL_free), fed
 * to the same framing as the syscall path, for the connection (tgid, fd) the
 * SSL object talks over. Exchanges of such a connection carry HT_FLAG_TLS.
 *
 *   entry uprobe: the call's (ssl, buf, byte-count pointer) per thread
 *   tls_return (uretprobe) --> SSL object's fd (below) --tail call-->
 *       tls_parse: conn_create / feed, as exit_parse does for a syscall
 *
 * Which fd an SSL object talks over (ht_tls_fds, learnt once per object):
 * - Socket BIO (Python, curl, openssl): the library reads and writes the
 *   socket inside SSL_read/SSL_write/SSL_do_handshake, on the calling thread.
 *   A socket read or write while the thread is inside an SSL call names the
 *   object's fd (tls_syscall(), from the syscall path).
 * - Memory BIO (Node's TLSWrap): the library never touches the socket; the
 *   event-loop thread reads ciphertext from the socket and then, in the same
 *   callback, calls SSL_read; and writes the ciphertext out right after
 *   SSL_write / SSL_do_handshake. So an object without an fd takes, at the
 *   return of an SSL_read, the socket this thread read last if that read
 *   began with a TLS record header and no SSL_read came in between;
 *   otherwise the next socket this thread writes a TLS record to names it.
 *   Never a socket that carries HTTP in the clear. Wrong when the loop thread
 *   reads another TLS socket between the ciphertext read and SSL_read, or
 *   writes another TLS socket before this object's queued ciphertext (libuv
 *   writes at once unless the socket's queue is busy): the object's plaintext
 *   then goes to that other connection. Plaintext moved before the object
 *   has an fd is not framed (in practice only handshake calls come first).
 * The syscall path never frames a TLS connection's ciphertext: a connection
 * created from TLS plaintext is marked `tls`, and bytes moved inside an SSL
 * call are skipped.
 *
 * New objects to probe (a process started after the agent, a library loaded
 * later): the programs on sched_process_exec and sys_exit_mmap report each
 * executable file mapped for the first time (ht_tls_mapped) into
 * ht_tls_notices; the agent reads the process's maps and attaches.
 */
#pragma once

#define PROT_EXEC 0x4

enum tls_op {
	TLS_NONE = 0,
	TLS_READ,        /* SSL_read(ssl, buf, num): returns the bytes */
	TLS_READ_EX,     /* SSL_read_ex(ssl, buf, num, *readbytes): returns 1 */
	TLS_WRITE,
	TLS_WRITE_EX,
	TLS_HANDSHAKE,   /* SSL_do_handshake(ssl): only its syscalls matter */
};

struct tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 count_ptr;  /* _ex: where the library stores the byte count */
	__u32 len;        /* set at return: plaintext bytes moved */
	__u32 fd;         /* set at return: the object's socket */
	__u8 op;          /* enum tls_op; TLS_NONE outside a call */
	__u8 _pad[7];
};

/* Per thread that has called into the TLS library. */
struct tls_thread {
	struct tls_call call;
	__u64 unmapped_ssl;   /* memory BIO: the next socket this thread writes is this object's */
	__u32 last_read_fd;   /* memory BIO: the socket this thread read last, since the last SSL_read */
	__u8 has_last_read;
	__u8 _pad[3];
};

struct tls_object_key {
	__u64 ssl;
	__u32 tgid;
	__u32 _pad;
};

struct tls_file_key {
	__u64 ino;
	__u32 dev;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);              /* pid_tgid */
	__type(value, struct tls_thread);
} ht_tls_threads SEC(".maps");

/* SSL object -> socket fd; SSL_free forgets it (LRU for objects never freed). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tls_object_key);
	__type(value, __u32);
} ht_tls_fds SEC(".maps");

/* Executable files already reported to the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tls_file_key);
	__type(value, __u8);
} ht_tls_mapped SEC(".maps");

/* tgids of processes that mapped an executable file not seen before. Its own
 * small ring: exchanges stay the only record type of ht_events. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} ht_tls_notices SEC(".maps");

/* The framing program every tls_return tail-calls (kprobe type, so not exit_parse). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ht_tls_parsers SEC(".maps");

static __always_inline void tls_map_fd(__u32 tgid, __u64 ssl, __u32 fd)
{
	struct tls_object_key k = { .ssl = ssl, .tgid = tgid };

	bpf_map_update_elem(&ht_tls_fds, &k, &fd, BPF_ANY);
}

/* The bytes at buf (or at the first iovec's base) begin a TLS record:
 * content type 20..23 (handshake, alert, data, ...), version major 3. */
static __always_inline int tls_record_at(__u64 buf, __u8 iov)
{
	__u8 h[2];

	if (iov) {
		struct iovec v;
		if (bpf_probe_read_user(&v, sizeof(v), (void *)buf) < 0)
			return 0;
		buf = (__u64)v.iov_base;
	}
	if (!buf || bpf_probe_read_user(h, sizeof(h), (void *)buf) < 0)
		return 0;
	return h[0] >= 20 && h[0] <= 23 && h[1] == 3;
}

/*
 * From the syscall path (io_exit), for a read or write on fd of bytes at buf
 * (an iovec array when iov; plain: a connection framed in the clear is on
 * fd): returns 1 when the bytes are a TLS object's ciphertext (moved inside
 * an SSL call, or the first write after a memory-BIO object's call), which
 * the caller must not frame. The memory-BIO rules only take bytes that begin
 * a TLS record. A global function: the verifier checks it once, on its own,
 * and exit_parse's state count does not grow with it.
 */
__noinline int tls_syscall(__u32 fd, __u8 out, __u8 plain, __u64 buf, __u8 iov)
{
	if (!cfg_tls)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_thread *t = bpf_map_lookup_elem(&ht_tls_threads, &id);
	if (!t)
		return 0;
	if (t->call.op != TLS_NONE) {
		struct tls_object_key k = { .ssl = t->call.ssl, .tgid = id >> 32 };
		__u32 *known = bpf_map_lookup_elem(&ht_tls_fds, &k);
		/* Not a socket: a key log or a file read by a callback. */
		if ((!known || *known != fd) && tcp_sock_of_fd(fd))
			tls_map_fd(id >> 32, t->call.ssl, fd);
		return 1;
	}
	/* A connection in the clear is never an SSL object's socket. */
	if (!out) {
		t->last_read_fd = fd;
		t->has_last_read = !plain && tls_record_at(buf, iov);
		return 0;
	}
	if (t->unmapped_ssl && !plain && tls_record_at(buf, iov) && tcp_sock_of_fd(fd)) {
		tls_map_fd(id >> 32, t->unmapped_ssl, fd);
		t->unmapped_ssl = 0;
		return 1;
	}
	return 0;
}

static __always_inline int tls_enter(struct pt_regs *ctx, __u8 op)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!traced_tgid(id >> 32))
		return 0;
	struct tls_thread *t = bpf_map_lookup_elem(&ht_tls_threads, &id);
	if (!t) {
		struct tls_thread blank = {};
		bpf_map_update_elem(&ht_tls_threads, &id, &blank, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&ht_tls_threads, &id);
		if (!t)
			return 0;
	}
	t->call.ssl = PT_REGS_PARM1(ctx);
	t->call.buf = PT_REGS_PARM2(ctx);
	t->call.count_ptr = op == TLS_READ_EX || op == TLS_WRITE_EX ? PT_REGS_PARM4(ctx) : 0;
	t->call.op = op;
	return 0;
}

SEC("uprobe")
int tls_read_enter(struct pt_regs *ctx) { return tls_enter(ctx, TLS_READ); }
SEC("uprobe")
int tls_read_ex_enter(struct pt_regs *ctx) { return tls_enter(ctx, TLS_READ_EX); }
SEC("uprobe")
int tls_write_enter(struct pt_regs *ctx) { return tls_enter(ctx, TLS_WRITE); }
SEC("uprobe")
int tls_write_ex_enter(struct pt_regs *ctx) { return tls_enter(ctx, TLS_WRITE_EX); }
SEC("uprobe")
int tls_handshake_enter(struct pt_regs *ctx) { return tls_enter(ctx, TLS_HANDSHAKE); }

/* SSL_free: the object's address may come back for another connection. */
SEC("uprobe")
int tls_free_enter(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_object_key k = { .ssl = PT_REGS_PARM1(ctx), .tgid = id >> 32 };
	struct tls_thread *t = bpf_map_lookup_elem(&ht_tls_threads, &id);

	if (t && t->unmapped_ssl == k.ssl)
		t->unmapped_ssl = 0;
	bpf_map_delete_elem(&ht_tls_fds, &k);
	return 0;
}

/* Plaintext bytes the call moved, from its return value (and count pointer). */
static __always_inline __u32 tls_moved(struct pt_regs *ctx, struct tls_call *call)
{
	long rc = PT_REGS_RC(ctx);
	__u64 n = 0;

	if (call->op == TLS_READ || call->op == TLS_WRITE)
		return (int)rc > 0 ? (int)rc : 0;
	if (call->op == TLS_HANDSHAKE || (int)rc != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)call->count_ptr) < 0)
		return 0;
	return n > 0x7fffffff ? 0 : n;
}

/* Shared by every SSL_* return: finds the object's fd, then frames in tls_parse. */
SEC("uretprobe")
int tls_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_thread *t = bpf_map_lookup_elem(&ht_tls_threads, &id);

	if (!t || t->call.op == TLS_NONE)
		return 0;
	__u8 reading = t->call.op == TLS_READ || t->call.op == TLS_READ_EX;
	struct tls_object_key k = { .ssl = t->call.ssl, .tgid = id >> 32 };
	__u32 *fd = bpf_map_lookup_elem(&ht_tls_fds, &k);
	__u8 fresh_read = t->has_last_read;

	if (reading)
		t->has_last_read = 0;
	if (!fd) {
		if (reading && fresh_read && tcp_sock_of_fd(t->last_read_fd)) {
			tls_map_fd(id >> 32, t->call.ssl, t->last_read_fd);
			fd = bpf_map_lookup_elem(&ht_tls_fds, &k);
		} else {
			t->unmapped_ssl = t->call.ssl;
		}
	}
	t->call.len = tls_moved(ctx, &t->call);
	if (!fd || t->call.len == 0) {
		t->call.op = TLS_NONE;
		return 0;
	}
	t->call.fd = *fd;
	bpf_tail_call(ctx, &ht_tls_parsers, 0);
	t->call.op = TLS_NONE;
	return 0;
}

/* Reached only by tail call from tls_return: frames the call's plaintext. */
SEC("uprobe")
int tls_parse(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_thread *t = bpf_map_lookup_elem(&ht_tls_threads, &id);

	if (!t || t->call.op == TLS_NONE)
		return 0;
	struct tls_call call = t->call;
	t->call.op = TLS_NONE;
	__u8 out = call.op == TLS_WRITE || call.op == TLS_WRITE_EX;
	__u64 key = conn_key(id >> 32, call.fd);
	struct conn *c = bpf_map_lookup_elem(&ht_conns, &key);
	if (!c) {
		c = conn_create(key, call.fd, out, call.buf, call.len);
		if (!c)
			return 0;
		c->tls = 1;
	} else if (!c->tls) {
		return 0; /* this socket carries HTTP in the clear: not this object's */
	}
	return feed(c, carries_requests(c, out), call.buf, call.len, bpf_ktime_get_ns());
}

/* An executable file mapped for the first time: tell the agent which process. */
static __always_inline void tls_notice_file(struct inode *inode)
{
	struct tls_file_key k = { .ino = BPF_CORE_READ(inode, i_ino), .dev = BPF_CORE_READ(inode, i_sb, s_dev) };
	__u8 one = 1;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!inode || bpf_map_update_elem(&ht_tls_mapped, &k, &one, BPF_NOEXIST))
		return;
	bpf_ringbuf_output(&ht_tls_notices, &tgid, sizeof(tgid), 0);
}

SEC("tracepoint/sched/sched_process_exec")
int tls_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (traced_tgid(bpf_get_current_pid_tgid() >> 32))
		tls_notice_file(BPF_CORE_READ(task, mm, exe_file, f_inode));
	return 0;
}

/* The dynamic loader (and dlopen) maps a library's code with PROT_EXEC from its fd. */
SEC("tracepoint/syscalls/sys_exit_mmap")
int tls_mmap(struct sys_exit_ctx *ctx)
{
	if (ctx->ret < 0 && ctx->ret > -4096)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	__u64 prot = PT_REGS_PARM3_SYSCALL(regs);
	int fd = PT_REGS_PARM5_SYSCALL(regs);
	if (!(prot & PROT_EXEC) || fd < 0 || !traced_tgid(bpf_get_current_pid_tgid() >> 32))
		return 0;
	struct file *file = file_of_fd(fd);
	if (file)
		tls_notice_file(BPF_CORE_READ(file, f_inode));
	return 0;
}
