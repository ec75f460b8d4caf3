#include "system.h"

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

namespace ht {

Napi::Value MountTracefs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  if (mount("tracefs", path.c_str(), "tracefs", 0, nullptr) != 0) {
    int err = errno;
    Napi::Error e = Napi::Error::New(env, "mount(tracefs, " + path + "): " + strerror(err));
    e.Set("code", "HT_ERR_TRACEFS_MOUNT");
    e.Set("errno", Napi::Number::New(env, err));
    throw e;
  }
  return env.Undefined();
}

Napi::Value MonotonicNs(const Napi::CallbackInfo& info) {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec)));
}

}  // namespace ht
