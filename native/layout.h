#pragma once
#include <napi.h>

namespace ht {
// Main thread. sizeof/offsetof of every ring-buffer record, the counter
// names and the flag bits, from bpf/include/http_tracer.h: the TypeScript
// decoder checks itself against this object.
Napi::Object Layout(Napi::Env env);
}  // namespace ht
