#include "libbpf-log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace ht {
namespace {

constexpr size_t kKeepBytes = 16 * 1024;
std::mutex log_mutex;
std::string log_text;

int Print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), format, args);
  std::lock_guard<std::mutex> lock(log_mutex);
  log_text.append(line, n < 0 ? 0 : std::min<size_t>(n, sizeof(line) - 1));
  if (log_text.size() > kKeepBytes) log_text.erase(0, log_text.size() - kKeepBytes);
  return n;
}

}  // namespace

void LibbpfLogInstall() { libbpf_set_print(Print); }

void LibbpfLogReset() {
  std::lock_guard<std::mutex> lock(log_mutex);
  log_text.clear();
}

std::string LibbpfLogTail() {
  std::lock_guard<std::mutex> lock(log_mutex);
  return log_text;
}

}  // namespace ht
