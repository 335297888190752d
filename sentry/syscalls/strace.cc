#include "sentry/syscalls/strace.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "sentry/kernel/task.h"

namespace sentry {
namespace {

constexpr size_t kMaxShown = 64;

std::string Quote(const std::string& s, bool truncated) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += absl::StrCat("\\x", absl::Hex(c, absl::kZeroPad2));
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  if (truncated) out += "...";
  return out;
}

std::string Buffer(Task& task, uint64_t addr, int64_t len) {
  if (addr == 0) return "NULL";
  if (len < 0) len = 0;
  size_t n = std::min<size_t>(len, kMaxShown);
  std::string data(n, '\0');
  if (task.CopyIn(addr, data.data(), n) != 0) {
    return absl::StrCat("0x", absl::Hex(addr));
  }
  return Quote(data, static_cast<size_t>(len) > n);
}

std::string Path(Task& task, uint64_t addr) {
  if (addr == 0) return "NULL";
  std::string s;
  if (task.CopyInString(addr, 4096, &s) != 0) {
    return absl::StrCat("0x", absl::Hex(addr));
  }
  return Quote(s, false);
}

struct FlagName {
  uint64_t bit;
  const char* name;
};

std::string Flags(uint64_t v, const FlagName* names, size_t n) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < n; i++) {
    if (names[i].bit != 0 && (v & names[i].bit) == names[i].bit) {
      parts.push_back(names[i].name);
      v &= ~names[i].bit;
    }
  }
  if (v != 0 || parts.empty())
    parts.push_back(absl::StrCat("0x", absl::Hex(v)));
  return absl::StrJoin(parts, "|");
}

std::string OpenFlags(uint64_t v) {
  static constexpr FlagName kNames[] = {
      {O_CREAT, "O_CREAT"},       {O_EXCL, "O_EXCL"},
      {O_NOCTTY, "O_NOCTTY"},     {O_TRUNC, "O_TRUNC"},
      {O_APPEND, "O_APPEND"},     {O_NONBLOCK, "O_NONBLOCK"},
      {O_DSYNC, "O_DSYNC"},       {O_DIRECT, "O_DIRECT"},
      {0100000, "O_LARGEFILE"},   {O_DIRECTORY, "O_DIRECTORY"},
      {O_NOFOLLOW, "O_NOFOLLOW"}, {O_NOATIME, "O_NOATIME"},
      {O_CLOEXEC, "O_CLOEXEC"},   {O_PATH, "O_PATH"},
  };
  static constexpr const char* kAccess[] = {"O_RDONLY", "O_WRONLY", "O_RDWR",
                                            "O_ACCMODE"};
  std::string access = kAccess[v & O_ACCMODE];
  v &= ~static_cast<uint64_t>(O_ACCMODE);
  if (v == 0) return access;
  return absl::StrCat(access, "|", Flags(v, kNames, std::size(kNames)));
}

std::string Prot(uint64_t v) {
  if (v == 0) return "PROT_NONE";
  static constexpr FlagName kNames[] = {{PROT_READ, "PROT_READ"},
                                        {PROT_WRITE, "PROT_WRITE"},
                                        {PROT_EXEC, "PROT_EXEC"},
                                        {PROT_GROWSDOWN, "PROT_GROWSDOWN"},
                                        {PROT_GROWSUP, "PROT_GROWSUP"}};
  return Flags(v, kNames, std::size(kNames));
}

std::string MmapFlags(uint64_t v) {
  static constexpr FlagName kNames[] = {
      {MAP_SHARED_VALIDATE, "MAP_SHARED_VALIDATE"},
      {MAP_SHARED, "MAP_SHARED"},
      {MAP_PRIVATE, "MAP_PRIVATE"},
      {MAP_FIXED, "MAP_FIXED"},
      {MAP_ANONYMOUS, "MAP_ANONYMOUS"},
      {MAP_GROWSDOWN, "MAP_GROWSDOWN"},
      {MAP_DENYWRITE, "MAP_DENYWRITE"},
      {MAP_EXECUTABLE, "MAP_EXECUTABLE"},
      {MAP_LOCKED, "MAP_LOCKED"},
      {MAP_NORESERVE, "MAP_NORESERVE"},
      {MAP_POPULATE, "MAP_POPULATE"},
      {MAP_NONBLOCK, "MAP_NONBLOCK"},
      {MAP_STACK, "MAP_STACK"},
      {MAP_HUGETLB, "MAP_HUGETLB"},
      {MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
  };
  return Flags(v, kNames, std::size(kNames));
}

std::string Arg(Task& task, ArgKind kind, const SyscallArgs& args, int i,
                bool at_exit, int64_t result) {
  uint64_t v = args[i];
  switch (kind) {
    case ArgKind::kNone:
      return "";
    case ArgKind::kInt:
      return absl::StrCat(static_cast<int64_t>(v));
    case ArgKind::kFd:
      if (static_cast<int>(v) == AT_FDCWD) return "AT_FDCWD";
      return absl::StrCat(static_cast<int>(v));
    case ArgKind::kPath:
      return Path(task, v);
    case ArgKind::kInBuf:
      return Buffer(task, v, i + 1 < 6 ? static_cast<int64_t>(args[i + 1]) : 0);
    case ArgKind::kOutBuf:
      if (!at_exit || result < 0) return absl::StrCat("0x", absl::Hex(v));
      return Buffer(task, v, result);
    case ArgKind::kOct:
      return v == 0 ? "0" : absl::StrFormat("0%o", v);
    case ArgKind::kOpenFlags:
      return OpenFlags(v);
    case ArgKind::kMmapProt:
      return Prot(v);
    case ArgKind::kMmapFlags:
      return MmapFlags(v);
    case ArgKind::kSignal: {
      const char* abbrev = sigabbrev_np(static_cast<int>(v));
      return abbrev ? absl::StrCat("SIG", abbrev) : absl::StrCat(v);
    }
    case ArgKind::kHex:
      break;
  }
  return absl::StrCat("0x", absl::Hex(v));
}

std::string FormatArgs(Task& task, uint64_t nr, const SyscallArgs& args,
                       bool at_exit, int64_t result) {
  const SyscallInfo* info = SyscallTable::Get().Lookup(nr);
  std::vector<std::string> parts;
  // A registered handler describes its arguments (possibly none).
  bool described = info != nullptr && info->handler != nullptr;
  for (int i = 0; i < 6; i++) {
    ArgKind kind = described ? info->args[i] : ArgKind::kHex;
    if (kind == ArgKind::kNone) break;
    // Output buffers are only meaningful after the call.
    if (!at_exit && kind == ArgKind::kOutBuf) {
      parts.push_back("\x01");  // placeholder filled at exit
      continue;
    }
    parts.push_back(Arg(task, kind, args, i, at_exit, result));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

std::string StraceEntry(Task& task, uint64_t nr, const SyscallArgs& args) {
  const char* name = SyscallName(nr);
  std::string n = name ? name : absl::StrCat("syscall_", nr);
  return absl::StrCat(n, "(", FormatArgs(task, nr, args, false, 0), ")");
}

void StraceExit(Task& task, uint64_t nr, const SyscallArgs& args,
                int64_t result, const std::string& entry) {
  std::string line = entry;
  size_t hole = line.find('\x01');
  if (hole != std::string::npos) {
    // Fill in the output buffers, now that the call has written them.
    const SyscallInfo* info = SyscallTable::Get().Lookup(nr);
    std::string rebuilt;
    int i = 0;
    for (char c : line) {
      if (c != '\x01') {
        rebuilt.push_back(c);
        continue;
      }
      while (i < 6 && info->args[i] != ArgKind::kOutBuf) i++;
      if (i < 6)
        rebuilt += Arg(task, ArgKind::kOutBuf, args, i++, true, result);
    }
    line = std::move(rebuilt);
  }
  std::string res;
  if (result < 0 && result >= -4095) {
    res = absl::StrCat("-1 ", ErrnoName(static_cast<int>(-result)), " (",
                       strerror(static_cast<int>(-result)), ")");
  } else if (result > 0xffff || result < 0) {
    res = absl::StrCat("0x", absl::Hex(result));
  } else {
    res = absl::StrCat(result);
  }
  cv::LogInfo("[", absl::StrFormat("%5d", task.tid()), "] ", line, " = ", res);
}

}  // namespace sentry
