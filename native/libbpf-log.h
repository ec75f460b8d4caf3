// Captures libbpf's own messages (verifier log, attach errors) so that a failed
// load reports why, instead of printing to the agent's stderr.
#pragma once
#include <string>

namespace ht {

// Any thread. Starts a fresh capture; libbpf's warnings and the verifier log
// are kept until the next call (last 16 KiB).
void LibbpfLogReset();
// Any thread. What libbpf printed since LibbpfLogReset().
std::string LibbpfLogTail();
void LibbpfLogInstall();

}  // namespace ht
