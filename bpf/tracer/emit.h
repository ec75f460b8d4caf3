#pragma once

/* Ring-buffer bytes one exchange takes at most: its 8-byte header and the record, 8-aligned. */
#define RECORD_SLOT_BYTES (8 + sizeof(struct ht_exchange) + cfg_head_bytes)
/* Head capacities of the shorter records (bytes, multiples of 8). */
#define HEAD_CLASS_SMALL 64
#define HEAD_CLASS_MEDIUM 128

static __always_inline struct head_key deep_head_key(struct conn *c, __u8 seq)
{
	struct head_key k = { .conn = conn_key(c->tgid, c->fd), .seq = seq };
	return k;
}

/* Where the head of the request with FIFO sequence number seq is kept; NULL
 * when it is not (HT_FLAG_HEAD_MISSING). */
static __always_inline __u8 *request_head(struct conn *c, __u8 seq)
{
	struct pending_request *r = &c->fifo[seq & (PIPELINE_DEPTH - 1)];

	if (r->flags & HT_FLAG_HEAD_MISSING)
		return NULL;
	if (!r->head_in_map)
		return c->heads[seq & (HEAD_SLOTS - 1)];
	struct head_key k = deep_head_key(c, seq);
	return bpf_map_lookup_elem(&ht_heads, &k);
}

static __always_inline void free_deep_head(struct conn *c, __u8 seq)
{
	if (c->fifo[seq & (PIPELINE_DEPTH - 1)].head_in_map) {
		struct head_key k = deep_head_key(c, seq);
		bpf_map_delete_elem(&ht_heads, &k);
	}
}

static __always_inline struct head_key overflow_key(struct conn *c, __u32 seq)
{
	struct head_key k = { .conn = conn_key(c->tgid, c->fd), .seq = seq };
	return k;
}

/* A slot freed in the FIFO goes to the oldest request waiting past it, with
 * its own start and bytes; its head was never kept. */
static __always_inline void admit_overflow(struct conn *c)
{
	struct pending_request *r = &c->fifo[c->fifo_tail & (PIPELINE_DEPTH - 1)];
	struct head_key k = overflow_key(c, c->overflow_head);
	struct overflow_request *o = bpf_map_lookup_elem(&ht_overflow, &k);

	r->start_ns = o ? o->start_ns : 0;
	r->request_bytes = o ? o->request_bytes : 0;
	r->head_len = 0;
	r->flags = HT_FLAG_PIPELINED | HT_FLAG_HEAD_MISSING;
	r->is_head = 0;
	r->head_in_map = 0;
	bpf_map_delete_elem(&ht_overflow, &k);
	c->fifo_tail++;
	c->overflow_head++;
	/* The last of them may still be arriving: it is now the FIFO's newest. */
	if (c->overflow_head == c->overflow_tail && c->req.tracked == TRACK_OVERFLOW)
		c->req.tracked = TRACK_FIFO;
}

/*
 * One record per exchange: the oldest outstanding request with the response
 * so far; reserve, fill, submit, then pop it. Wake-ups are batched: the
 * consumer drains on a timer and is only woken when cfg_wakeup_bytes are queued.
 */
static __noinline int emit_oldest(struct conn *c, __u64 end_ns, __u64 response_bytes, __u16 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u8 seq = c->fifo_head;
	struct pending_request *r = &c->fifo[seq & (PIPELINE_DEPTH - 1)];
	__u8 *head = request_head(c, seq);
	struct ht_exchange *e;
	/* From the process-exit and timeout sweeps the current task may be another. */
	__u32 pid = (id >> 32) == c->tgid ? (__u32)id : 0;

	flags |= r->flags | (c->emitted ? 0 : HT_FLAG_NEW_CONNECTION) | (c->tls ? HT_FLAG_TLS : 0);
	if (!head)
		flags |= HT_FLAG_HEAD_MISSING;
	if (c->interim_bytes) {
		flags |= HT_FLAG_INTERIM;
		response_bytes += c->interim_bytes;
		c->interim_bytes = 0;
	}
	c->emitted = 1;
	/* The record is as long as its head needs, in a few size classes (the
	 * reservation size must be a constant): most heads are short, and every
	 * byte reserved is a cache line the next record and the consumer miss on.
	 * The decoder steps by e->size. */
	__u32 head_len = head ? r->head_len : 0;
	__u32 capacity;
	if (head_len <= HEAD_CLASS_SMALL && cfg_head_bytes > HEAD_CLASS_SMALL) {
		e = bpf_ringbuf_reserve(&ht_events, sizeof(*e) + HEAD_CLASS_SMALL, 0);
		capacity = HEAD_CLASS_SMALL;
	} else if (head_len <= HEAD_CLASS_MEDIUM && cfg_head_bytes > HEAD_CLASS_MEDIUM) {
		e = bpf_ringbuf_reserve(&ht_events, sizeof(*e) + HEAD_CLASS_MEDIUM, 0);
		capacity = HEAD_CLASS_MEDIUM;
	} else {
		e = bpf_ringbuf_reserve(&ht_events, sizeof(*e) + cfg_head_bytes, 0);
		capacity = cfg_head_bytes;
	}
	if (!e) {
		count(HT_LOST_RINGBUF_FULL);
		goto pop;
	}
	e->type = HT_RECORD_EXCHANGE;
	e->size = sizeof(*e) + capacity;
	e->direction = c->role;
	e->family = c->ep.family;
	e->flags = flags;
	e->pid = pid;
	e->tgid = c->tgid;
	e->fd = c->fd;
	e->status = c->status;
	e->head_len = head_len;
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
	/* Only the valid bytes: what follows them in the record is never read. */
	__u64 copy = clamp_len((head_len + 7) & ~7U, capacity);
	if (copy)
		bpf_probe_read_kernel(e->head, copy, head);

	count(HT_COUNT_EXCHANGES);
	if (flags & HT_FLAG_ABORTED)
		count(HT_COUNT_ABORTED);
	if (flags & HT_FLAG_HEAD_MISSING)
		count(HT_COUNT_HEADLESS);
	/* Wake the consumer when this record takes the queue past cfg_wakeup_bytes,
	 * not on every record after: a consumer that is holding back (no credit
	 * from JavaScript) would otherwise be woken for nothing, record by record.
	 * A crossing missed between CPUs is drained by the consumer's timer. */
	__u64 queued = bpf_ringbuf_query(&ht_events, BPF_RB_AVAIL_DATA);
	if (queued >= cfg_wakeup_bytes && queued < cfg_wakeup_bytes + RECORD_SLOT_BYTES) {
		count(HT_COUNT_WAKEUPS);
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	} else {
		bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	}
pop:
	free_deep_head(c, seq);
	c->fifo_head++;
	if (c->overflow_head != c->overflow_tail)
		admit_overflow(c);
	return 0;
}

/* The request being read has not shown its " HTTP/1.x" yet: take it back
 * (a request line that is not HTTP, or one cut off by the end of the
 * connection). Counted as not HTTP; nothing is emitted for it. */
static __always_inline void drop_unconfirmed(struct conn *c)
{
	if (!c->req.unconfirmed)
		return;
	if (c->req.tracked == TRACK_FIFO) {
		c->fifo_tail--;
		free_deep_head(c, c->fifo_tail);
	} else if (c->req.tracked == TRACK_OVERFLOW) {
		struct head_key k = overflow_key(c, --c->overflow_tail);
		bpf_map_delete_elem(&ht_overflow, &k);
	}
	c->req.tracked = TRACK_NONE;
	c->req.unconfirmed = 0;
	count(HT_COUNT_NOT_HTTP);
}

struct abort_walk {
	struct conn *c;
	__u64 now_ns;
	__u16 reason;
};

/* bpf_loop callback: emit the oldest outstanding request as aborted. */
static int abort_one(__u32 i, struct abort_walk *w)
{
	struct conn *c = w->c;
	__u16 flags = HT_FLAG_ABORTED | w->reason;
	__u64 response_bytes = 0;

	if (c->fifo_head == c->fifo_tail)
		return 1;
	if (i == 0 && c->resp.tracked && c->resp.state != P_IDLE) {
		response_bytes = c->resp.msg_bytes;
		flags |= c->resp_flags;
	} else {
		flags |= HT_FLAG_NO_RESPONSE_HEAD;
		c->status = 0;
	}
	emit_oldest(c, w->now_ns, response_bytes, flags);
	c->status = 0;
	return 0;
}

/* Emit every outstanding request of a connection as aborted, oldest first:
 * the FIFO, and the requests waiting past it as they are admitted. */
static __noinline int abort_pending(struct conn *c, __u64 now_ns, __u16 reason)
{
	struct abort_walk w = { .c = c, .now_ns = now_ns, .reason = reason };

	drop_unconfirmed(c);
	bpf_loop(PIPELINE_DEPTH + OVERFLOW_MAX, abort_one, &w, 0);
	__builtin_memset(&c->req, 0, sizeof(c->req));
	__builtin_memset(&c->resp, 0, sizeof(c->resp));
	c->resp_flags = 0;
	c->interim_bytes = 0;
	return 0;
}

/* A response framed by connection close completes; anything else is aborted. */
static __noinline int conn_end(struct conn *c, __u64 now_ns, __u16 reason)
{
	if (c->resp.state == P_UNTIL_CLOSE && c->resp.tracked && c->fifo_head != c->fifo_tail) {
		emit_oldest(c, c->resp.last_ns, c->resp.msg_bytes, c->resp_flags);
		c->resp.state = P_IDLE;
	}
	return abort_pending(c, now_ns, reason);
}
