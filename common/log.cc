#include "common/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "nlohmann/json.hpp"

namespace cv {
namespace {

struct Logger {
  std::mutex mu;
  int fd = STDERR_FILENO;
  bool json = false;
  std::atomic<bool> debug{false};
  std::string component;
};

Logger& TheLogger() {
  static Logger* logger = new Logger;
  return *logger;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string Timestamp() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  char out[80];
  snprintf(out, sizeof out, "%s.%06ldZ", buf, static_cast<long>(tv.tv_usec));
  return out;
}

}  // namespace

void InitLogging(const LogOptions& options) {
  Logger& l = TheLogger();
  std::lock_guard<std::mutex> lock(l.mu);
  if (!options.path.empty()) {
    int fd = open(options.path.c_str(),
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (l.fd != STDERR_FILENO) close(l.fd);
      l.fd = fd;
    }
  }
  l.json = options.json;
  l.debug = options.debug;
  l.component = options.component;
}

void SetLogFd(int fd) {
  Logger& l = TheLogger();
  std::lock_guard<std::mutex> lock(l.mu);
  if (l.fd != STDERR_FILENO && l.fd != fd) close(l.fd);
  l.fd = fd;
}

int LogFd() { return TheLogger().fd; }

bool DebugEnabled() {
  return TheLogger().debug.load(std::memory_order_relaxed);
}

void LogMessage(LogLevel level, std::string_view message) {
  Logger& l = TheLogger();
  std::string line;
  if (l.json) {
    nlohmann::json j;
    j["level"] = LevelName(level);
    j["msg"] = std::string(message);
    j["time"] = Timestamp();
    if (!l.component.empty()) j["component"] = l.component;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = absl::StrCat(Timestamp(), " ", LevelName(level), " ",
                        l.component.empty() ? "" : l.component + ": ",
                        std::string(message));
  }
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(l.mu);
  // One write per line so concurrent writers (sentry threads, several
  // processes sharing a log file with O_APPEND) never interleave a line.
  (void)!write(l.fd, line.data(), line.size());
}

}  // namespace cv
