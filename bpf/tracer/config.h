/* Load-time settings: written by the addon into .rodata before load, so the
 * verifier treats them as constants and prunes the branches they disable. */
#pragma once

const volatile __u32 cfg_self_tgid = 0;               /* the agent: never traced */
const volatile __u32 cfg_head_bytes = HT_HEAD_DEFAULT; /* multiple of 8, <= HT_HEAD_MAX */
const volatile __u64 cfg_wakeup_bytes = 64 * 1024;     /* queued bytes that force a wake-up */
const volatile __u64 cfg_exchange_timeout_ns = 0;      /* 0: never time out (sweep program) */
const volatile __u8 cfg_port_filter = 0;               /* enum ht_filter_mode */
const volatile __u8 cfg_pid_filter = 0;                /* enum ht_filter_mode */
const volatile __u8 cfg_tls = 0;                       /* 1: the TLS uprobes are in use (tracer/tls.h) */

/* Set by the addon once every program is attached: before that, programs
 * attached early would see requests whose responses go to programs not yet
 * attached, and report them as aborted. */
volatile __u32 capture_enabled = 0;
