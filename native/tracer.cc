#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "http_tracer.h"
#include "http_tracer.skel.h"
#include "libbpf-log.h"

namespace ht {
namespace {

constexpr size_t kBatchFlushBytes = 1u << 20;  // a batch is handed over once it holds this much
// Batches handed to JavaScript and not yet released, at most: enough that the
// poll thread fills the next batch while JavaScript works on one; the burst
// itself waits in the kernel ring buffer.
constexpr uint32_t kBatchesInFlight = 4;
// OnRecord's answer once the batch is full: libbpf stops its loop after this
// record (which it counts as consumed: it is in the batch).
constexpr int kBatchFull = -ENOBUFS;

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", code);
  return e;
}

std::string Errno(int err) { return std::string(strerror(err < 0 ? -err : err)); }

uint32_t U32(const Napi::Object& o, const char* key, uint32_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : fallback;
}

template <typename T>
std::vector<T> List(const Napi::Object& o, const char* key) {
  std::vector<T> out;
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(static_cast<T>(a.Get(i).As<Napi::Number>().Uint32Value()));
  return out;
}

}  // namespace

Napi::Function Tracer::Define(Napi::Env env) {
  return DefineClass(env, "Tracer",
                     {InstanceMethod<&Tracer::Start>("start"), InstanceMethod<&Tracer::Stop>("stop"),
                      InstanceMethod<&Tracer::Stats>("stats"), InstanceMethod<&Tracer::Release>("release"),
                      InstanceMethod<&Tracer::AttachTls>("attachTls"), InstanceMethod<&Tracer::DetachTls>("detachTls"),
                      InstanceMethod<&Tracer::TlsNotices>("tlsNotices"), InstanceMethod<&Tracer::TlsForget>("tlsForget")});
}

// Main thread. new Tracer(options, onBatch). Options are validated in
// TypeScript (src/capture/capture.ts); here they are only read.
Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw MakeError(env, "HT_ERR_ARGUMENTS", "new Tracer(options, onBatch): expected an object and a function");
  Napi::Object o = info[0].As<Napi::Object>();
  options_.ring_buffer_bytes = U32(o, "ringBufferBytes", options_.ring_buffer_bytes);
  options_.head_bytes = U32(o, "headBytes", options_.head_bytes);
  options_.wakeup_bytes = U32(o, "wakeupBytes", options_.wakeup_bytes);
  options_.exchange_timeout_ns = static_cast<uint64_t>(U32(o, "exchangeTimeoutMs", 0)) * 1000000ull;
  options_.self_tgid = U32(o, "selfTgid", getpid());
  options_.drain_interval_ms = U32(o, "drainIntervalMs", options_.drain_interval_ms);
  options_.sweep_interval_ms = U32(o, "sweepIntervalMs", options_.sweep_interval_ms);
  options_.port_filter_mode = U32(o, "portFilterMode", 0);
  options_.ports = List<uint16_t>(o, "ports");
  options_.pid_filter_mode = U32(o, "pidFilterMode", 0);
  options_.pids = List<uint32_t>(o, "pids");
  options_.tls = o.Get("tls").ToBoolean().Value();
  on_batch_ = Napi::Persistent(info[1].As<Napi::Function>());
}

Tracer::~Tracer() { Teardown(); }

// Main thread.
void Tracer::Load(Napi::Env env) {
  LibbpfLogReset();
  skel_ = http_tracer_bpf__open();
  if (!skel_) throw MakeError(env, "HT_ERR_BPF_OPEN", "opening the BPF object failed: " + Errno(errno) + "\n" + LibbpfLogTail());

  skel_->rodata->cfg_self_tgid = options_.self_tgid;
  skel_->rodata->cfg_head_bytes = options_.head_bytes;
  skel_->rodata->cfg_wakeup_bytes = options_.wakeup_bytes;
  skel_->rodata->cfg_exchange_timeout_ns = options_.exchange_timeout_ns;
  skel_->rodata->cfg_port_filter = options_.port_filter_mode;
  skel_->rodata->cfg_pid_filter = options_.pid_filter_mode;
  skel_->rodata->cfg_tls = options_.tls;
  int err = bpf_map__set_max_entries(skel_->maps.ht_events, options_.ring_buffer_bytes);
  if (err) throw MakeError(env, "HT_ERR_BPF_CONFIG", "ring buffer size " + std::to_string(options_.ring_buffer_bytes) + ": " + Errno(err));

  err = http_tracer_bpf__load(skel_);
  if (err) {
    const char* code = (err == -EPERM || err == -EACCES) ? "HT_ERR_PERMISSION" : "HT_ERR_BPF_LOAD";
    std::string hint = (err == -EPERM || err == -EACCES)
                           ? " (run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)"
                           : "";
    throw MakeError(env, code, "loading the BPF programs failed: " + Errno(err) + hint + "\n" + LibbpfLogTail());
  }

  // Every sys_exit_* program tail-calls the one framing program.
  uint32_t slot = 0;
  int parser_fd = bpf_program__fd(skel_->progs.exit_parse);
  err = bpf_map__update_elem(skel_->maps.ht_exit_parsers, &slot, sizeof(slot), &parser_fd, sizeof(parser_fd), BPF_ANY);
  if (err) throw MakeError(env, "HT_ERR_BPF_CONFIG", "installing the framing program for tail calls: " + Errno(err));
  // Every TLS return probe tail-calls the TLS framing program (a kprobe-type program).
  parser_fd = bpf_program__fd(skel_->progs.tls_parse);
  err = bpf_map__update_elem(skel_->maps.ht_tls_parsers, &slot, sizeof(slot), &parser_fd, sizeof(parser_fd), BPF_ANY);
  if (err) throw MakeError(env, "HT_ERR_BPF_CONFIG", "installing the TLS framing program for tail calls: " + Errno(err));

  uint8_t one = 1;
  for (uint16_t port : options_.ports)
    if ((err = bpf_map__update_elem(skel_->maps.ht_port_filter, &port, sizeof(port), &one, sizeof(one), BPF_ANY)))
      throw MakeError(env, "HT_ERR_BPF_CONFIG", "port filter " + std::to_string(port) + ": " + Errno(err));
  for (uint32_t pid : options_.pids)
    if ((err = bpf_map__update_elem(skel_->maps.ht_pid_filter, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY)))
      throw MakeError(env, "HT_ERR_BPF_CONFIG", "pid filter " + std::to_string(pid) + ": " + Errno(err));
}

// Main thread. One row per program: which tracepoint, whether it attached, and why not.
Napi::Array Tracer::Attach(Napi::Env env) {
  Napi::Array report = Napi::Array::New(env);
  bpf_program* prog;
  uint32_t i = 0;
  bpf_object__for_each_program(prog, skel_->obj) {
    std::string section = bpf_program__section_name(prog);
    // Not attached: the sweep runs on demand, exit_parse is reached by tail
    // calls; uprobes are attached per object by attachTls(); the TLS notices
    // only with tls on.
    if (section == "raw_tp" || section == "tracepoint" || section == "uprobe" || section == "uretprobe") continue;
    std::string name = bpf_program__name(prog);
    bool tls_notice = name == "tls_exec" || name == "tls_mmap";
    if (tls_notice && !options_.tls) continue;
    LibbpfLogReset();
    bpf_link* link = bpf_program__attach(prog);
    int err = link ? 0 : -errno;
    // The TLS notices belong to the TLS probes, not to the syscall capture the
    // report describes: they show in it only when they fail (the TLS probes
    // then find new objects at their rescans only).
    if (tls_notice && link) {
      tls_notice_links_.push_back(link);
      continue;
    }
    Napi::Object row = Napi::Object::New(env);
    row.Set("program", bpf_program__name(prog));
    row.Set("target", section.substr(section.find('/') + 1));
    row.Set("attached", link != nullptr);
    if (link) {
      links_.push_back(link);
    } else {
      std::string why = Errno(err);
      if (err == -ENOENT) why = "tracepoint not found on this kernel (" + why + ")";
      row.Set("error", why);
    }
    report.Set(i++, row);
  }
  return report;
}

// Main thread. start(): loads and attaches; returns the attach report. Throws with a
// stable code when nothing can be captured.
Napi::Value Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) throw MakeError(env, "HT_ERR_STARTED", "tracer already started");
  try {
    Load(env);
    Napi::Array report = Attach(env);
    if (links_.empty()) throw MakeError(env, "HT_ERR_ATTACH", "no program attached\n" + LibbpfLogTail());
    skel_->bss->capture_enabled = 1;  // all attached: start together
    ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.ht_events), &Tracer::OnRecord, this, nullptr);
    if (!ring_) throw MakeError(env, "HT_ERR_RINGBUF", "ring_buffer__new: " + Errno(errno));
    if (options_.tls) {
      tls_notices_ = ring_buffer__new(bpf_map__fd(skel_->maps.ht_tls_notices), &Tracer::OnTlsNotice, this, nullptr);
      if (!tls_notices_) throw MakeError(env, "HT_ERR_RINGBUF", "ring_buffer__new (TLS notices): " + Errno(errno));
    }

    // An unbounded queue: credits bound it while running; on stop the last
    // batches are queued without waiting for credits.
    tsfn_ = Napi::ThreadSafeFunction::New(env, on_batch_.Value(), "http-tracer-batches", 0, 1,
                                          [this](Napi::Env) {
                                            if (stopped_) {
                                              stopped_->Resolve(Value());
                                              delete stopped_;
                                              stopped_ = nullptr;
                                            }
                                          });
    batch_ = std::make_unique<Batch>();
    stopping_ = false;  // the poll thread does not run yet
    started_ = true;
    Ref();  // alive until stop() has delivered the last batch
    poller_ = std::thread(&Tracer::PollLoop, this);
    return report;
  } catch (...) {
    Teardown();
    throw;
  }
}

// Main thread. stop(): detaches, drains what the kernel still holds, and
// resolves once the last batch has been delivered to onBatch (delivered, not
// released: release() may still follow). Safe to call twice or before start().
Napi::Value Tracer::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (!started_) {
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  started_ = false;
  // Capture off first, in every program at once: links destroyed one by one
  // while capturing would let reads be framed after the writes' probes are
  // gone, and report false losses (responses without requests, aborts).
  skel_->bss->capture_enabled = 0;
  for (bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
  DestroyTlsLinks();
  JoinPoller();
  ReadKernelCounters();
  stopped_ = new Napi::Promise::Deferred(deferred);
  tsfn_.Release();
  Teardown();
  Unref();
  return deferred.Promise();
}

// Main thread.
void Tracer::Teardown() {
  JoinPoller();
  for (bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
  DestroyTlsLinks();
  if (ring_) ring_buffer__free(ring_);
  ring_ = nullptr;
  if (tls_notices_) ring_buffer__free(tls_notices_);
  tls_notices_ = nullptr;
  if (skel_) http_tracer_bpf__destroy(skel_);
  skel_ = nullptr;
}

// Main thread: the poll thread sees stopping_ even while it waits for a
// credit, drains the ring without waiting for credits, and exits.
void Tracer::JoinPoller() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  credit_.notify_one();
  if (poller_.joinable()) poller_.join();
}

// Sums the per-CPU kernel counters into kernel_counters_ (main thread).
void Tracer::ReadKernelCounters() {
  kernel_counters_.resize(HT_COUNTER_MAX);
  if (!skel_) return;
  int cpus = libbpf_num_possible_cpus();
  std::vector<uint64_t> values(cpus > 0 ? cpus : 1);
  for (uint32_t k = 0; k < HT_COUNTER_MAX; k++) {
    if (bpf_map__lookup_elem(skel_->maps.ht_counters, &k, sizeof(k), values.data(),
                             values.size() * sizeof(uint64_t), 0) != 0)
      continue;
    uint64_t sum = 0;
    for (uint64_t v : values) sum += v;
    kernel_counters_[k] = sum;
  }
}

// Main thread. stats(): delivery counters of the poll thread and the kernel's counters
// (indexed by enum ht_counter); after stop() the values at stop.
Napi::Value Tracer::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadKernelCounters();
  Napi::Object out = Napi::Object::New(env);
  out.Set("records", Napi::Number::New(env, records_));
  out.Set("bytes", Napi::Number::New(env, bytes_));
  out.Set("batches", Napi::Number::New(env, batches_));
  out.Set("stalls", Napi::Number::New(env, stalls_));
  out.Set("stalledMs", Napi::Number::New(env, static_cast<double>(stalled_ns_) / 1e6));
  out.Set("sweeps", Napi::Number::New(env, sweeps_));
  Napi::Array kernel = Napi::Array::New(env, HT_COUNTER_MAX);
  for (uint32_t k = 0; k < HT_COUNTER_MAX; k++) kernel.Set(k, Napi::Number::New(env, static_cast<double>(kernel_counters_[k])));
  out.Set("kernel", kernel);
  return out;
}

// Main thread. release(): the consumer is done with one batch; its credit
// goes back to the poll thread.
Napi::Value Tracer::Release(const Napi::CallbackInfo& info) {
  bool outstanding;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    outstanding = in_flight_ > 0;
    if (outstanding) in_flight_--;
  }
  if (!outstanding) throw MakeError(info.Env(), "HT_ERR_ARGUMENTS", "release(): no batch is outstanding");
  credit_.notify_one();
  return info.Env().Undefined();
}

// Main thread.
void Tracer::DestroyTlsLinks() {
  for (auto& [handle, links] : tls_links_)
    for (bpf_link* link : links) bpf_link__destroy(link);
  tls_links_.clear();
  for (bpf_link* link : tls_notice_links_) bpf_link__destroy(link);
  tls_notice_links_.clear();
}

// Main thread. attachTls(path, offsets): uprobes on the TLS functions of one
// object file (a libssl, or an executable that exports them), for every
// process that maps it. offsets: { SSL_read: fileOffset, ... }, the symbols
// found (at least SSL_read and SSL_write). Returns a handle for detachTls();
// throws naming the symbol that did not attach (nothing stays attached then).
Napi::Value Tracer::AttachTls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!started_ || !options_.tls) throw MakeError(env, "HT_ERR_STARTED", "attachTls(): the tracer is not running with tls on");
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject())
    throw MakeError(env, "HT_ERR_ARGUMENTS", "attachTls(path, offsets): expected a string and an object");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Object offsets = info[1].As<Napi::Object>();
  struct Probe {
    const char* symbol;
    bpf_program* entry;
    bool returns;
  };
  const Probe probes[] = {
      {"SSL_read", skel_->progs.tls_read_enter, true},      {"SSL_read_ex", skel_->progs.tls_read_ex_enter, true},
      {"SSL_write", skel_->progs.tls_write_enter, true},    {"SSL_write_ex", skel_->progs.tls_write_ex_enter, true},
      {"SSL_do_handshake", skel_->progs.tls_handshake_enter, true}, {"SSL_free", skel_->progs.tls_free_enter, false},
  };
  std::vector<bpf_link*> links;
  auto attach = [&](bpf_program* prog, const char* symbol, size_t offset, bool retprobe) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);
    LibbpfLogReset();
    bpf_link* link = bpf_program__attach_uprobe_opts(prog, -1, path.c_str(), offset, &opts);
    if (!link) {
      int err = -errno;
      for (bpf_link* l : links) bpf_link__destroy(l);
      throw MakeError(env, "HT_ERR_ATTACH", std::string(retprobe ? "uretprobe " : "uprobe ") + path + ":" + symbol + ": " + Errno(err) + "\n" + LibbpfLogTail());
    }
    links.push_back(link);
  };
  for (const Probe& p : probes) {
    Napi::Value v = offsets.Get(p.symbol);
    if (!v.IsNumber()) continue;
    size_t offset = static_cast<size_t>(v.As<Napi::Number>().Int64Value());
    attach(p.entry, p.symbol, offset, false);
    if (p.returns) attach(skel_->progs.tls_return, p.symbol, offset, true);
  }
  if (links.empty()) throw MakeError(env, "HT_ERR_ARGUMENTS", "attachTls(" + path + "): no TLS function offsets given");
  uint32_t handle = next_tls_handle_++;
  tls_links_[handle] = std::move(links);
  return Napi::Number::New(env, handle);
}

// Main thread. detachTls(handle): removes one object's uprobes; unknown handles are ignored.
Napi::Value Tracer::DetachTls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw MakeError(env, "HT_ERR_ARGUMENTS", "detachTls(handle): expected a number");
  auto it = tls_links_.find(info[0].As<Napi::Number>().Uint32Value());
  if (it != tls_links_.end()) {
    for (bpf_link* link : it->second) bpf_link__destroy(link);
    tls_links_.erase(it);
  }
  return env.Undefined();
}

// Main thread. tlsNotices(): tgids of processes that mapped an executable
// file the kernel had not reported before, since the last call (repeats removed).
Napi::Value Tracer::TlsNotices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  notice_tgids_.clear();
  if (tls_notices_) ring_buffer__consume(tls_notices_);
  std::sort(notice_tgids_.begin(), notice_tgids_.end());
  notice_tgids_.erase(std::unique(notice_tgids_.begin(), notice_tgids_.end()), notice_tgids_.end());
  Napi::Array out = Napi::Array::New(env, notice_tgids_.size());
  for (uint32_t i = 0; i < notice_tgids_.size(); i++) out.Set(i, Napi::Number::New(env, notice_tgids_[i]));
  return out;
}

// Main thread. tlsForget(dev, ino): the kernel reports the file again the
// next time a process maps it (dev as the kernel encodes it: major << 20 | minor).
Napi::Value Tracer::TlsForget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw MakeError(env, "HT_ERR_ARGUMENTS", "tlsForget(dev, ino): expected two numbers");
  if (!skel_) return env.Undefined();
  struct tls_file_key {
    uint64_t ino;
    uint32_t dev;
    uint32_t pad;
  } key = {static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value()), info[0].As<Napi::Number>().Uint32Value(), 0};
  static_assert(sizeof(key) == 16, "struct tls_file_key in bpf/tracer/tls.h");
  bpf_map__delete_elem(skel_->maps.ht_tls_mapped, &key, sizeof(key), 0);
  return env.Undefined();
}

// Main thread (from TlsNotices): one notice, a tgid.
int Tracer::OnTlsNotice(void* ctx, void* data, size_t size) {
  if (size >= sizeof(uint32_t)) {
    uint32_t tgid;
    memcpy(&tgid, data, sizeof(tgid));
    static_cast<Tracer*>(ctx)->notice_tgids_.push_back(tgid);
  }
  return 0;
}

// Poll thread: ring buffer callback, one record at a time into the batch.
int Tracer::OnRecord(void* ctx, void* data, size_t size) {
  Batch& b = *static_cast<Tracer*>(ctx)->batch_;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  b.bytes.insert(b.bytes.end(), p, p + size);
  b.records++;
  return b.bytes.size() >= kBatchFlushBytes ? kBatchFull : 0;
}

// Poll thread: true when a batch may be handed over, after waiting for a
// credit if none is left; false once stopping.
bool Tracer::WaitForCredit() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (in_flight_ >= kBatchesInFlight && !stopping_) {
    stalls_++;
    auto since = std::chrono::steady_clock::now();
    credit_.wait(lock, [this] { return in_flight_ < kBatchesInFlight || stopping_; });
    stalled_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since).count();
  }
  return !stopping_;
}

// Poll thread: hands the current batch to JavaScript; it holds a credit until
// release().
void Tracer::Flush() {
  if (batch_->records == 0) return;
  Batch* b = batch_.release();
  batch_ = std::make_unique<Batch>();
  batch_->bytes.reserve(b->bytes.size());
  uint32_t records = b->records;
  size_t bytes = b->bytes.size();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_++;
  }
  // The queue is unbounded, so this fails only once the environment is
  // shutting down (napi_closing), when no JavaScript is left to deliver to.
  napi_status status = tsfn_.NonBlockingCall(b, [](Napi::Env env, Napi::Function fn, Batch* batch) {
    // Main thread.
    std::unique_ptr<Batch> owned(batch);
    if (env == nullptr) return;  // shutting down
    fn.Call({Napi::Buffer<uint8_t>::Copy(env, owned->bytes.data(), owned->bytes.size()),
             Napi::Number::New(env, owned->records)});
  });
  if (status != napi_ok) {
    delete b;
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_--;  // never handed over: its credit is back
    return;
  }
  records_ += records;
  bytes_ += bytes;
  batches_++;
}

// Poll thread: exchanges outstanding past the timeout are emitted as aborted
// by the sweep program, run in the kernel through BPF_PROG_TEST_RUN.
void Tracer::Sweep() {
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.sweep_timeouts), &opts) == 0) sweeps_++;
}

// Poll thread: one batch per turn, each taken from the ring only with a
// credit in hand. Errors of ring_buffer__poll/consume are not fatal here: the
// next turn retries (EINTR), and kBatchFull is ours.
void Tracer::PollLoop() {
  using Clock = std::chrono::steady_clock;
  auto next_sweep = Clock::now();
  while (WaitForCredit()) {
    // Returns on a forced wake-up (wakeupBytes queued) or after drainIntervalMs.
    bool full = ring_buffer__poll(ring_, options_.drain_interval_ms) == kBatchFull;
    // Records submitted with BPF_RB_NO_WAKEUP raise no epoll event: take them too.
    if (!full) ring_buffer__consume(ring_);
    Flush();
    if (options_.exchange_timeout_ns && Clock::now() >= next_sweep) {
      Sweep();
      next_sweep = Clock::now() + std::chrono::milliseconds(options_.sweep_interval_ms);
    }
  }
  // Stopping: the JS thread is blocked joining this thread and can return no
  // credit, so everything left in the ring is handed over without one.
  for (;;) {
    bool full = ring_buffer__consume(ring_) == kBatchFull;
    Flush();
    if (!full) break;
  }
}

}  // namespace ht
