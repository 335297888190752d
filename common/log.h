// Process-wide logging for runsc, the sentry and the gofer: one line per
// message, as text or JSON lines (the form containerd reads back), to stderr
// or to a file chosen with --log / --debug-log.
#ifndef CVISOR_COMMON_LOG_H_
#define CVISOR_COMMON_LOG_H_

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace cv {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

struct LogOptions {
  std::string path;       // empty: stderr
  bool json = false;      // --log-format json
  bool debug = false;     // --debug: also kDebug lines
  std::string component;  // "runsc", "sentry", "gofer"
};

// Configures the process-wide logger. Safe to call again (e.g. after fork).
void InitLogging(const LogOptions& options);
// Points the logger at an already-open fd (takes ownership).
void SetLogFd(int fd);
int LogFd();
bool DebugEnabled();
void LogMessage(LogLevel level, std::string_view message);

template <typename... Args>
void LogDebug(const Args&... args) {
  if (DebugEnabled()) LogMessage(LogLevel::kDebug, absl::StrCat(args...));
}
template <typename... Args>
void LogInfo(const Args&... args) {
  LogMessage(LogLevel::kInfo, absl::StrCat(args...));
}
template <typename... Args>
void LogWarning(const Args&... args) {
  LogMessage(LogLevel::kWarning, absl::StrCat(args...));
}
template <typename... Args>
void LogError(const Args&... args) {
  LogMessage(LogLevel::kError, absl::StrCat(args...));
}

}  // namespace cv

#endif  // CVISOR_COMMON_LOG_H_
