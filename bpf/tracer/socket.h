#pragma once

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* The open file behind a file descriptor of the current process, or NULL. */
static __always_inline struct file *file_of_fd(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* The TCP socket behind a file descriptor of the current process, or NULL. */
static __always_inline struct sock *tcp_sock_of_fd(__u32 fd)
{
	struct file *file = file_of_fd(fd);

	if (!file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return NULL;
	return sk;
}

/* Family, addresses and ports; returns 0 for an IPv4/IPv6 socket. */
static __always_inline int read_endpoints(struct sock *sk, struct endpoints *ep)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	ep->family = family;
	ep->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	ep->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* bpf_core_read with explicit sizes: BPF_CORE_READ_INTO on an array copies one element. */
	if (family == AF_INET) {
		bpf_core_read(ep->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(ep->peer_addr, 4, &sk->__sk_common.skc_daddr);
		return 0;
	}
	if (family == AF_INET6) {
		bpf_core_read(ep->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(ep->peer_addr, 16, &sk->__sk_common.skc_v6_daddr);
		return 0;
	}
	return -1;
}
