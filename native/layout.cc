#include "layout.h"

#include <cstddef>

#include "http_tracer.h"

namespace ht {

#define FIELD(name) fields.Set(#name, Napi::Number::New(env, offsetof(struct ht_exchange, name)))

Napi::Object Layout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("abiVersion", static_cast<uint32_t>(HT_ABI_VERSION));
  layout.Set("headMax", static_cast<uint32_t>(HT_HEAD_MAX));
  layout.Set("headDefault", static_cast<uint32_t>(HT_HEAD_DEFAULT));
  layout.Set("commLength", static_cast<uint32_t>(HT_COMM_LEN));
  layout.Set("filterMax", static_cast<uint32_t>(HT_FILTER_MAX));

  Napi::Object exchange = Napi::Object::New(env);
  exchange.Set("size", Napi::Number::New(env, sizeof(struct ht_exchange)));
  Napi::Object fields = Napi::Object::New(env);
  FIELD(type);
  FIELD(size);
  FIELD(direction);
  FIELD(family);
  FIELD(flags);
  FIELD(pid);
  FIELD(tgid);
  FIELD(fd);
  FIELD(status);
  FIELD(head_len);
  FIELD(cgroup_id);
  FIELD(start_monotime_ns);
  FIELD(end_monotime_ns);
  FIELD(request_bytes);
  FIELD(response_bytes);
  FIELD(local_addr);
  FIELD(peer_addr);
  FIELD(local_port);
  FIELD(peer_port);
  FIELD(abi_version);
  FIELD(comm);
  FIELD(head);
  exchange.Set("fields", fields);
  exchange.Set("recordType", static_cast<uint32_t>(HT_RECORD_EXCHANGE));
  layout.Set("exchange", exchange);

  Napi::Object flags = Napi::Object::New(env);
  flags.Set("aborted", static_cast<uint32_t>(HT_FLAG_ABORTED));
  flags.Set("closed", static_cast<uint32_t>(HT_FLAG_CLOSED));
  flags.Set("reset", static_cast<uint32_t>(HT_FLAG_RESET));
  flags.Set("processExit", static_cast<uint32_t>(HT_FLAG_PROCESS_EXIT));
  flags.Set("chunked", static_cast<uint32_t>(HT_FLAG_CHUNKED));
  flags.Set("headTruncated", static_cast<uint32_t>(HT_FLAG_HEAD_TRUNCATED));
  flags.Set("pipelined", static_cast<uint32_t>(HT_FLAG_PIPELINED));
  flags.Set("noResponseHead", static_cast<uint32_t>(HT_FLAG_NO_RESPONSE_HEAD));
  flags.Set("timeout", static_cast<uint32_t>(HT_FLAG_TIMEOUT));
  layout.Set("flags", flags);

  Napi::Object counters = Napi::Object::New(env);
  counters.Set("lostRingbufFull", static_cast<uint32_t>(HT_LOST_RINGBUF_FULL));
  counters.Set("lostConnMapFull", static_cast<uint32_t>(HT_LOST_CONN_MAP_FULL));
  counters.Set("lostArgsMapFull", static_cast<uint32_t>(HT_LOST_ARGS_MAP_FULL));
  counters.Set("lostResponseNoRequest", static_cast<uint32_t>(HT_LOST_RESPONSE_NO_REQUEST));
  counters.Set("lostPipelineOverflow", static_cast<uint32_t>(HT_LOST_PIPELINE_OVERFLOW));
  counters.Set("lostUnparsed", static_cast<uint32_t>(HT_LOST_UNPARSED));
  counters.Set("lostScanLimit", static_cast<uint32_t>(HT_LOST_SCAN_LIMIT));
  counters.Set("exchanges", static_cast<uint32_t>(HT_COUNT_EXCHANGES));
  counters.Set("aborted", static_cast<uint32_t>(HT_COUNT_ABORTED));
  counters.Set("wakeups", static_cast<uint32_t>(HT_COUNT_WAKEUPS));
  counters.Set("count", static_cast<uint32_t>(HT_COUNTER_MAX));
  layout.Set("counters", counters);
  return layout;
}

}  // namespace ht
