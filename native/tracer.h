// The capture session: open, configure, load and attach the BPF object, then
// a poll thread of our own drains the ring buffer and hands whole batches of
// raw records to JavaScript.
//
//   kernel ring buffer --(poll thread: ring_buffer__poll + consume, every
//   drainIntervalMs or on a forced wake-up)--> Batch (records back to back)
//   --ThreadSafeFunction--> onBatch(buffer, records) on the JS thread
//                  ^                                   |
//                  `------ credit: release() ----------'
//
// Back-pressure, not drops: at most kBatchesInFlight batches are handed over
// and not yet released. Without a credit the poll thread stops consuming, so
// records wait in the kernel ring buffer, the one place sized to absorb a
// burst; if it overflows the kernel counts ringbuf_full. On stop the poll
// thread drains the ring without waiting for credits (the JS thread is
// blocked joining it).
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct http_tracer_bpf;
struct ring_buffer;
struct bpf_link;

namespace ht {

struct Batch {
  std::vector<uint8_t> bytes;
  uint32_t records = 0;
};

struct TracerOptions {
  uint32_t ring_buffer_bytes = 8u << 20;
  uint32_t head_bytes = 256;
  uint64_t wakeup_bytes = 64 * 1024;
  uint64_t exchange_timeout_ns = 0;
  uint32_t self_tgid = 0;
  uint32_t drain_interval_ms = 20;
  uint32_t sweep_interval_ms = 1000;
  uint8_t port_filter_mode = 0;
  std::vector<uint16_t> ports;
  uint8_t pid_filter_mode = 0;
  std::vector<uint32_t> pids;
  bool tls = false;  // the TLS uprobe programs and their exec/mmap notices
};

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  // All on the main thread.
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value AttachTls(const Napi::CallbackInfo& info);
  Napi::Value DetachTls(const Napi::CallbackInfo& info);
  Napi::Value TlsNotices(const Napi::CallbackInfo& info);
  Napi::Value TlsForget(const Napi::CallbackInfo& info);
  void Load(Napi::Env env);
  Napi::Array Attach(Napi::Env env);
  void Teardown();
  void DestroyTlsLinks();
  void JoinPoller();
  void ReadKernelCounters();

  // Poll thread.
  void PollLoop();
  bool WaitForCredit();
  void Flush();
  void Sweep();
  static int OnRecord(void* ctx, void* data, size_t size);
  static int OnTlsNotice(void* ctx, void* data, size_t size);

  TracerOptions options_;
  Napi::FunctionReference on_batch_;
  Napi::ThreadSafeFunction tsfn_;
  Napi::Promise::Deferred* stopped_ = nullptr;

  http_tracer_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  std::vector<bpf_link*> links_;
  // TLS uprobes (main thread): per probed object, by the handle AttachTls returned.
  std::map<uint32_t, std::vector<bpf_link*>> tls_links_;
  uint32_t next_tls_handle_ = 1;
  std::vector<bpf_link*> tls_notice_links_;  // tls_exec, tls_mmap
  ring_buffer* tls_notices_ = nullptr;  // consumed on the main thread by TlsNotices
  std::vector<uint32_t> notice_tgids_;
  std::thread poller_;
  bool started_ = false;

  // Guard stopping_ and in_flight_; credit_ wakes the poll thread on a
  // release() or on stop.
  std::mutex mutex_;
  std::condition_variable credit_;
  bool stopping_ = false;
  uint32_t in_flight_ = 0;  // batches handed to JavaScript, not yet released

  // Owned by the poll thread while it runs.
  std::unique_ptr<Batch> batch_;

  // Written by the poll thread, read by Stats().
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> stalls_{0};      // waits for a credit, counted as they begin
  std::atomic<uint64_t> stalled_ns_{0};  // their time, added as they end
  std::atomic<uint64_t> sweeps_{0};
  // Main thread: last values read from the kernel, kept after stop().
  std::vector<uint64_t> kernel_counters_;
};

}  // namespace ht
