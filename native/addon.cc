// The http_tracer addon: Tracer (capture session), layout() (the ABI the
// TypeScript decoder checks itself against), mountTracefs(), monotonicNs().
#include <napi.h>

#include "layout.h"
#include "libbpf-log.h"
#include "system.h"
#include "tracer.h"

namespace {

Napi::Value LayoutFn(const Napi::CallbackInfo& info) { return ht::Layout(info.Env()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ht::LibbpfLogInstall();
  exports.Set("Tracer", ht::Tracer::Define(env));
  exports.Set("layout", Napi::Function::New(env, LayoutFn, "layout"));
  exports.Set("mountTracefs", Napi::Function::New(env, ht::MountTracefs, "mountTracefs"));
  exports.Set("monotonicNs", Napi::Function::New(env, ht::MonotonicNs, "monotonicNs"));
  return exports;
}

}  // namespace

NODE_API_MODULE(http_tracer, Init)
