#pragma once

/* One record per exchange: reserve, fill, submit. Wake-ups are batched: the
 * consumer drains on a timer and is only woken when cfg_wakeup_bytes are queued. */
static __noinline int emit_exchange(struct conn *c, struct pending_request *r, __u64 end_ns,
				    __u64 response_bytes, __u16 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ht_exchange *e;
	/* From the process-exit and timeout sweeps the current task may be another. */
	__u32 pid = (id >> 32) == c->tgid ? (__u32)id : 0;

	e = bpf_ringbuf_reserve(&ht_events, sizeof(*e) + cfg_head_bytes, 0);
	if (!e) {
		count(HT_LOST_RINGBUF_FULL);
		return 0;
	}
	e->type = HT_RECORD_EXCHANGE;
	e->size = sizeof(*e) + cfg_head_bytes;
	e->direction = c->role;
	e->family = c->ep.family;
	e->flags = r->flags | flags | (c->emitted ? 0 : HT_FLAG_NEW_CONNECTION);
	c->emitted = 1;
	e->pid = pid;
	e->tgid = c->tgid;
	e->fd = c->fd;
	e->status = c->status;
	e->head_len = r->head_len;
	e->cgroup_id = c->cgroup_id;
	e->start_monotime_ns = r->start_ns;
	e->end_monotime_ns = end_ns;
	e->request_bytes = r->request_bytes;
	e->response_bytes = response_bytes;
	__builtin_memcpy(e->local_addr, c->ep.local_addr, 16);
	__builtin_memcpy(e->peer_addr, c->ep.peer_addr, 16);
	e->local_port = c->ep.local_port;
	e->peer_port = c->ep.peer_port;
	e->abi_version = HT_ABI_VERSION;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));
	bpf_probe_read_kernel(e->head, cfg_head_bytes, r->head);

	count(HT_COUNT_EXCHANGES);
	if (e->flags & HT_FLAG_ABORTED)
		count(HT_COUNT_ABORTED);
	if (bpf_ringbuf_query(&ht_events, BPF_RB_AVAIL_DATA) >= cfg_wakeup_bytes) {
		count(HT_COUNT_WAKEUPS);
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	} else {
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
	return 0;
}

/* Emit every outstanding request of a connection as aborted, oldest first. */
static __noinline int abort_pending(struct conn *c, __u64 now_ns, __u16 reason)
{
	for (int i = 0; i < PIPELINE_DEPTH; i++) {
		if (c->fifo_head == c->fifo_tail)
			break;
		struct pending_request *r = &c->fifo[c->fifo_head & (PIPELINE_DEPTH - 1)];
		__u16 flags = HT_FLAG_ABORTED | reason;
		__u64 response_bytes = 0;

		if (i == 0 && c->resp.tracked && c->resp.state != P_IDLE) {
			response_bytes = c->resp.msg_bytes;
			flags |= c->resp_flags;
		} else {
			flags |= HT_FLAG_NO_RESPONSE_HEAD;
			c->status = 0;
		}
		emit_exchange(c, r, now_ns, response_bytes, flags);
		c->status = 0;
		c->fifo_head++;
	}
	__builtin_memset(&c->req, 0, sizeof(c->req));
	__builtin_memset(&c->resp, 0, sizeof(c->resp));
	c->resp_flags = 0;
	return 0;
}

/* A response framed by connection close completes; anything else is aborted. */
static __noinline int conn_end(struct conn *c, __u64 now_ns, __u16 reason)
{
	if (c->resp.state == P_UNTIL_CLOSE && c->resp.tracked && c->fifo_head != c->fifo_tail) {
		emit_exchange(c, &c->fifo[c->fifo_head & (PIPELINE_DEPTH - 1)], c->resp.last_ns,
			      c->resp.msg_bytes, c->resp_flags);
		c->fifo_head++;
		c->resp.state = P_IDLE;
	}
	return abort_pending(c, now_ns, reason);
}
