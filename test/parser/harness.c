/*
 * The kernel's HTTP/1.x framing (bpf/tracer/parser.h and emit.h) built as a
 * userspace program, so its state logic is tested without root or eBPF. The
 * BPF helpers it calls are replaced by plain C; the parser code is the same
 * file the BPF object is built from.
 *
 * Reads commands on stdin, one per line, for one connection:
 *   role server|client     start a new connection (the previous one is dropped)
 *   time NS                timestamp of the following events
 *   in HEX                 bytes the process read; out HEX: bytes it wrote
 *   sendfile N             N body bytes written by sendfile (not visible)
 *   close | reset | exit   the connection ends that way
 *   fuzz SEED ROUNDS       random chunks, flips and splits over valid and invalid traffic
 * Prints one JSON line per emitted exchange, and the counters at the end.
 */
#include <linux/types.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#define __noinline __attribute__((noinline))

#include "http_tracer.h"
#include "tracer/state.h"

/* ---- what the BPF object gets from .rodata, maps and helpers ---- */
static const __u32 cfg_head_bytes = HT_HEAD_DEFAULT;
static const __u64 cfg_wakeup_bytes = 64 * 1024;

static __u64 counters[HT_COUNTER_MAX];
static int ht_events; /* a stand-in: only its address is used */
static __u64 now_ns;
static __u32 invariant_failures;

#define BPF_RB_AVAIL_DATA 0
#define BPF_RB_NO_WAKEUP 1
#define BPF_RB_FORCE_WAKEUP 2

static void count(__u32 counter) { counters[counter]++; }

/* ht_heads and ht_overflow: a few slots each, searched by key. */
#define BPF_ANY 0
#define MAP_SLOTS 64
static int ht_heads, ht_overflow; /* stand-ins: only their addresses are used */
static struct { void *map; struct head_key key; struct deep_head value; } slots[MAP_SLOTS];

static __u32 map_live(void *map)
{
	__u32 n = 0;
	for (int i = 0; i < MAP_SLOTS; i++) n += slots[i].map == map;
	return n;
}
static int map_slot(void *map, const struct head_key *k)
{
	for (int i = 0; i < MAP_SLOTS; i++)
		if (slots[i].map == map && slots[i].key.conn == k->conn && slots[i].key.seq == k->seq) return i;
	return -1;
}
static __u32 value_size(void *map) { return map == &ht_heads ? sizeof(struct deep_head) : sizeof(struct overflow_request); }
static void *bpf_map_lookup_elem(void *map, const void *key)
{
	int i = map_slot(map, key);
	return i < 0 ? NULL : &slots[i].value;
}
static long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags)
{
	(void)flags;
	int i = map_slot(map, key);
	for (int j = 0; i < 0 && j < MAP_SLOTS; j++)
		if (!slots[j].map) i = j;
	if (i < 0) return -1;
	slots[i].map = map;
	memcpy(&slots[i].key, key, sizeof(struct head_key));
	memcpy(&slots[i].value, value, value_size(map));
	return 0;
}
static long bpf_map_delete_elem(void *map, const void *key)
{
	int i = map_slot(map, key);
	if (i < 0) return -1;
	slots[i].map = NULL;
	return 0;
}
static long bpf_probe_read_user(void *dst, __u32 size, const void *src) { memcpy(dst, src, size); return 0; }
static long bpf_probe_read_kernel(void *dst, __u32 size, const void *src) { memcpy(dst, src, size); return 0; }
static __u64 bpf_get_current_pid_tgid(void) { return (__u64)4242 << 32 | 4243; }
static __u64 bpf_ringbuf_query(void *rb, __u64 flags) { (void)rb; (void)flags; return 0; }
static void *bpf_ringbuf_reserve(void *rb, __u64 size, __u64 flags) { (void)rb; (void)flags; return calloc(1, size); }
static long bpf_loop(__u32 n, void *fn, void *ctx, __u64 flags)
{
	(void)flags;
	for (__u32 i = 0; i < n; i++)
		if (((long (*)(__u32, void *))fn)(i, ctx))
			return i + 1;
	return n;
}

static void print_json_string(const __u8 *s, unsigned len)
{
	putchar('"');
	for (unsigned i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\') printf("\\%c", s[i]);
		else if (s[i] < 0x20 || s[i] >= 0x7f) printf("\\u%04x", s[i]);
		else putchar(s[i]);
	}
	putchar('"');
}

static int quiet; /* fuzzing: count exchanges, do not print them */
static __u64 emitted;

static void bpf_ringbuf_submit(void *data, __u64 flags)
{
	struct ht_exchange *e = data;
	(void)flags;
	emitted++;
	if (e->head_len > cfg_head_bytes || e->start_monotime_ns > e->end_monotime_ns) {
		fprintf(stderr, "harness: invariant: head_len %u, start %llu > end %llu, flags %u status %u\n", e->head_len,
			(unsigned long long)e->start_monotime_ns, (unsigned long long)e->end_monotime_ns, e->flags, e->status);
		invariant_failures++;
	}
	if (!quiet) {
		printf("{\"direction\":%u,\"status\":%u,\"flags\":%u,\"start\":%llu,\"end\":%llu,\"request_bytes\":%llu,"
		       "\"response_bytes\":%llu,\"head\":",
		       e->direction, e->status, e->flags, (unsigned long long)e->start_monotime_ns,
		       (unsigned long long)e->end_monotime_ns, (unsigned long long)e->request_bytes,
		       (unsigned long long)e->response_bytes);
		print_json_string(e->head, e->head_len);
		printf("}\n");
	}
	free(data);
}

#include "tracer/emit.h"
#include "tracer/parser.h"

/* ---- driving one connection ---- */
static struct conn *conn;

static void new_conn(__u8 role)
{
	free(conn);
	memset(slots, 0, sizeof(slots));
	conn = calloc(1, sizeof(*conn));
	conn->role = role;
	conn->ep.family = 2;
	conn->tgid = 4242;
}

static void check_invariants(void)
{
	__u8 depth = conn->fifo_tail - conn->fifo_head;
	__u32 past = conn->overflow_tail - conn->overflow_head;
	if (depth > PIPELINE_DEPTH || (past && depth != PIPELINE_DEPTH) || past != map_live(&ht_overflow)) {
		fprintf(stderr, "harness: invariant: %u outstanding requests, %u past the FIFO, %u in ht_overflow\n", depth, past,
			map_live(&ht_overflow));
		invariant_failures++;
	}
	__u32 deep = 0; /* every head kept in ht_heads belongs to an outstanding request */
	for (__u8 i = 0; i < depth; i++)
		deep += conn->fifo[(__u8)(conn->fifo_head + i) & (PIPELINE_DEPTH - 1)].head_in_map;
	if (deep != map_live(&ht_heads)) {
		fprintf(stderr, "harness: invariant: %u heads in ht_heads, %u outstanding requests keep one\n", map_live(&ht_heads), deep);
		invariant_failures++;
	}
}

static void io(__u8 out, const __u8 *bytes, __u32 len)
{
	if (!conn->opaque)
		feed(conn, carries_requests(conn, out), (__u64)(uintptr_t)bytes, len, now_ns);
	check_invariants();
}

static void end(__u16 reason)
{
	conn_end(conn, now_ns, reason);
	check_invariants();
}

static __u8 *unhex(const char *hex, __u32 *len)
{
	size_t n = strlen(hex) / 2;
	__u8 *out = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
	*len = n;
	return out;
}

/* Random traffic: valid exchanges, cut and flipped, in random chunk sizes. */
static void fuzz(unsigned seed, unsigned rounds)
{
	static const char *pieces[] = {
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
		"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nhi\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"\r\n\r\n", "GE", "HTTP/1.1 2", "Content-Length: 99999999999999999999\r\n",
		"GET foo\r\n", "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n",
	};
	__u8 buf[4096];
	srand(seed);
	quiet = 1;
	for (unsigned r = 0; r < rounds; r++) {
		new_conn(rand() % 2 ? HT_DIRECTION_SERVER : HT_DIRECTION_CLIENT);
		for (int step = rand() % 20; step >= 0; step--) {
			__u32 len = 0;
			for (int k = rand() % 4; k >= 0 && len < sizeof(buf) - 128; k--) {
				const char *p = pieces[rand() % (sizeof(pieces) / sizeof(pieces[0]))];
				size_t n = strlen(p);
				memcpy(buf + len, p, n);
				len += n;
			}
			if (rand() % 4 == 0) /* random bytes */
				for (int k = rand() % 64; k > 0 && len < sizeof(buf); k--) buf[len++] = rand();
			if (len && rand() % 3 == 0) /* a flipped byte */
				buf[rand() % len] ^= 1 << (rand() % 8);
			__u8 out = rand() % 2;
			for (__u32 at = 0; at < len;) { /* random splits, each its own syscall */
				__u32 n = 1 + rand() % (len - at);
				now_ns += 1 + rand() % 1000;
				io(out, buf + at, n);
				at += n;
			}
		}
		now_ns += 1000;
		end(rand() % 2 ? HT_FLAG_CLOSED : HT_FLAG_RESET);
	}
	quiet = 0;
}

int main(void)
{
	char line[1 << 16];
	new_conn(HT_DIRECTION_SERVER);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		char *arg = strchr(line, ' ');
		if (arg) *arg++ = 0;
		if (!strcmp(line, "role")) {
			new_conn(!strcmp(arg, "client") ? HT_DIRECTION_CLIENT : HT_DIRECTION_SERVER);
		} else if (!strcmp(line, "time")) {
			now_ns = strtoull(arg, NULL, 10);
		} else if (!strcmp(line, "in") || !strcmp(line, "out")) {
			__u32 len;
			__u8 *bytes = unhex(arg ? arg : "", &len);
			io(line[0] == 'o', bytes, len);
			free(bytes);
		} else if (!strcmp(line, "sendfile")) {
			feed_opaque(conn, carries_requests(conn, 1), strtoull(arg, NULL, 10), now_ns);
		} else if (!strcmp(line, "close")) {
			end(HT_FLAG_CLOSED);
		} else if (!strcmp(line, "reset")) {
			abort_pending(conn, now_ns, HT_FLAG_RESET);
		} else if (!strcmp(line, "exit")) {
			end(HT_FLAG_PROCESS_EXIT);
		} else if (!strcmp(line, "fuzz")) {
			unsigned seed = 0, rounds = 0;
			sscanf(arg, "%u %u", &seed, &rounds);
			fuzz(seed, rounds);
		} else if (line[0]) {
			fprintf(stderr, "harness: unknown command %s\n", line);
			return 2;
		}
	}
	printf("{\"counters\":[");
	for (int i = 0; i < HT_COUNTER_MAX; i++) printf("%s%llu", i ? "," : "", (unsigned long long)counters[i]);
	printf("],\"emitted\":%llu,\"invariant_failures\":%u}\n", (unsigned long long)emitted, invariant_failures);
	free(conn);
	return 0;
}
