#include "layout.h"

#include <cstddef>
#include <initializer_list>

#include "http_tracer.h"

namespace ht {

struct Named {
  const char* name;
  uint32_t value;
};

Napi::Object Table(Napi::Env env, std::initializer_list<Named> entries) {
  Napi::Object table = Napi::Object::New(env);
  for (const Named& e : entries) table.Set(e.name, Napi::Number::New(env, e.value));
  return table;
}

#define FIELD(name) fields.Set(#name, Napi::Number::New(env, offsetof(struct ht_exchange, name)))
#define TCP_FIELD(name) tcpFields.Set(#name, Napi::Number::New(env, offsetof(struct ht_tcp_event, name)))

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

  Napi::Object tcp = Napi::Object::New(env);
  tcp.Set("size", Napi::Number::New(env, sizeof(struct ht_tcp_event)));
  Napi::Object tcpFields = Napi::Object::New(env);
  TCP_FIELD(type);
  TCP_FIELD(size);
  TCP_FIELD(kind);
  TCP_FIELD(direction);
  TCP_FIELD(family);
  TCP_FIELD(abi_version);
  TCP_FIELD(pid);
  TCP_FIELD(tgid);
  TCP_FIELD(cgroup_id);
  TCP_FIELD(monotime_ns);
  TCP_FIELD(duration_ns);
  TCP_FIELD(bytes_acked);
  TCP_FIELD(bytes_received);
  TCP_FIELD(srtt_us);
  TCP_FIELD(segments);
  TCP_FIELD(error);
  TCP_FIELD(local_port);
  TCP_FIELD(peer_port);
  TCP_FIELD(local_addr);
  TCP_FIELD(peer_addr);
  TCP_FIELD(comm);
  tcp.Set("fields", tcpFields);
  tcp.Set("recordType", static_cast<uint32_t>(HT_RECORD_TCP));
  tcp.Set("kinds", Table(env, {
                           {"connect", HT_TCP_CONNECT},
                           {"connectFailed", HT_TCP_CONNECT_FAILED},
                           {"accept", HT_TCP_ACCEPT},
                           {"close", HT_TCP_CLOSE},
                           {"retransmit", HT_TCP_RETRANSMIT},
                           {"resetSent", HT_TCP_RESET_SENT},
                           {"resetReceived", HT_TCP_RESET_RECEIVED},
                       }));
  layout.Set("tcp", tcp);

  layout.Set("flags", Table(env, {
                              {"aborted", HT_FLAG_ABORTED},
                              {"closed", HT_FLAG_CLOSED},
                              {"reset", HT_FLAG_RESET},
                              {"processExit", HT_FLAG_PROCESS_EXIT},
                              {"chunked", HT_FLAG_CHUNKED},
                              {"headTruncated", HT_FLAG_HEAD_TRUNCATED},
                              {"pipelined", HT_FLAG_PIPELINED},
                              {"noResponseHead", HT_FLAG_NO_RESPONSE_HEAD},
                              {"timeout", HT_FLAG_TIMEOUT},
                              {"newConnection", HT_FLAG_NEW_CONNECTION},
                              {"headMissing", HT_FLAG_HEAD_MISSING},
                              {"interim", HT_FLAG_INTERIM},
                              {"tls", HT_FLAG_TLS},
                          }));
  layout.Set("counters", Table(env, {
                                 {"lostRingbufFull", HT_LOST_RINGBUF_FULL},
                                 {"lostConnMapFull", HT_LOST_CONN_MAP_FULL},
                                 {"lostResponseNoRequest", HT_LOST_RESPONSE_NO_REQUEST},
                                 {"lostPipelineOverflow", HT_LOST_PIPELINE_OVERFLOW},
                                 {"lostUnparsed", HT_LOST_UNPARSED},
                                 {"lostScanLimit", HT_LOST_SCAN_LIMIT},
                                 {"exchanges", HT_COUNT_EXCHANGES},
                                 {"aborted", HT_COUNT_ABORTED},
                                 {"headless", HT_COUNT_HEADLESS},
                                 {"wakeups", HT_COUNT_WAKEUPS},
                                 {"notHttp", HT_COUNT_NOT_HTTP},
                                 {"tcpEvents", HT_COUNT_TCP_EVENTS},
                                 {"lostTcpSockMapFull", HT_LOST_TCP_SOCK_MAP_FULL},
                                 {"lostTcpRingbufFull", HT_LOST_TCP_RINGBUF_FULL},
                                 {"count", HT_COUNTER_MAX},
                             }));
  return layout;
}

}  // namespace ht
