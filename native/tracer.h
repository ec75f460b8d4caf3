// The capture session: open, configure, load and attach the BPF object, then
// a poll thread of our own drains the ring buffer and hands whole batches of
// raw records to JavaScript.
//
//   kernel ring buffer --(poll thread: ring_buffer__poll + consume, every
//   drainIntervalMs or on a forced wake-up)--> Batch (records back to back)
//   --ThreadSafeFunction, bounded queue--> onBatch(buffer, records) on the JS thread
//
// Batches that find the queue full are dropped and counted, never waited on:
// the poll thread must keep draining the kernel.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
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
  void Load(Napi::Env env);
  Napi::Array Attach(Napi::Env env);
  void Teardown();
  void ReadKernelCounters();

  // Poll thread.
  void PollLoop();
  void Flush();
  void Sweep();
  static int OnRecord(void* ctx, void* data, size_t size);

  TracerOptions options_;
  Napi::FunctionReference on_batch_;
  Napi::ThreadSafeFunction tsfn_;
  Napi::Promise::Deferred* stopped_ = nullptr;

  http_tracer_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  std::vector<bpf_link*> links_;
  std::thread poller_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  // Owned by the poll thread while it runs.
  std::unique_ptr<Batch> batch_;

  // Written by the poll thread, read by Stats().
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> dropped_batches_{0};
  std::atomic<uint64_t> dropped_records_{0};
  std::atomic<uint64_t> sweeps_{0};
  // Main thread: last values read from the kernel, kept after stop().
  std::vector<uint64_t> kernel_counters_;
};

}  // namespace ht
