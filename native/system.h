#pragma once
#include <napi.h>

namespace ht {
// Main thread. mountTracefs(path): mounts tracefs at path (root only);
// throws an Error naming mount(2) and errno on failure.
Napi::Value MountTracefs(const Napi::CallbackInfo& info);
// Main thread. Monotonic clock in ns as a BigInt: the clock of every
// *_monotime_ns field, so the agent can turn them into wall time.
Napi::Value MonotonicNs(const Napi::CallbackInfo& info);
}  // namespace ht
