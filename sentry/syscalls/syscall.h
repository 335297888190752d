// The syscall table: every handler is a plain function of (task, args) that
// returns the Linux result, a value or a negative errno. Each family file
// (fs.cc, mm.cc, process.cc, ...) registers its handlers with
// RegisterXxxSyscalls(); the table names every x86-64 syscall so that
// unimplemented ones are logged by name and --strace can print them.
#ifndef CVISOR_SENTRY_SYSCALLS_SYSCALL_H_
#define CVISOR_SENTRY_SYSCALLS_SYSCALL_H_

#include <array>
#include <cstdint>

namespace sentry {

class Task;

using SyscallArgs = std::array<uint64_t, 6>;
using SyscallHandler = int64_t (*)(Task& task, const SyscallArgs& args);

// How --strace prints an argument.
enum class ArgKind : uint8_t {
  kNone,    // not printed (the syscall takes fewer arguments)
  kInt,     // signed decimal
  kHex,     // 0x...
  kFd,      // decimal, AT_FDCWD by name
  kPath,    // NUL-terminated string read from application memory
  kInBuf,   // buffer the application passes in; length is the next arg
  kOutBuf,  // buffer the kernel fills; printed after the call, length = result
  kOct,     // 0644
  kOpenFlags,
  kMmapProt,
  kMmapFlags,
  kSignal,
};

struct SyscallInfo {
  const char* name = nullptr;
  SyscallHandler handler = nullptr;
  std::array<ArgKind, 6> args{};
};

constexpr int kMaxSyscall = 512;

class SyscallTable {
 public:
  // Registers `handler` for `nr`. `args` describes the arguments for
  // --strace; leave it empty to print them all as hex.
  void Register(int nr, SyscallHandler handler,
                std::array<ArgKind, 6> args = {});
  const SyscallInfo* Lookup(uint64_t nr) const {
    return nr < kMaxSyscall ? &table_[nr] : nullptr;
  }
  SyscallInfo* Mutable(int nr) { return &table_[nr]; }

  // The table with every family registered.
  static const SyscallTable& Get();

 private:
  std::array<SyscallInfo, kMaxSyscall> table_{};
};

// The name of x86-64 syscall `nr`, or nullptr.
const char* SyscallName(uint64_t nr);

void RegisterFsSyscalls(SyscallTable& table);
void RegisterMmSyscalls(SyscallTable& table);
void RegisterProcessSyscalls(SyscallTable& table);
void RegisterTimeSyscalls(SyscallTable& table);
void RegisterSignalSyscalls(SyscallTable& table);
void RegisterInfoSyscalls(SyscallTable& table);
void RegisterPollSyscalls(SyscallTable& table);
void RegisterFutexSyscalls(SyscallTable& table);
void RegisterPipeSyscalls(SyscallTable& table);
void RegisterCredsSyscalls(SyscallTable& table);
void RegisterTimerSyscalls(SyscallTable& table);
void RegisterLockSyscalls(SyscallTable& table);
void RegisterSpliceSyscalls(SyscallTable& table);
void RegisterXattrSyscalls(SyscallTable& table);
void RegisterStatfsSyscalls(SyscallTable& table);
void RegisterOpenat2Syscalls(SyscallTable& table);
void RegisterMountSyscalls(SyscallTable& table);
void RegisterMemfdSyscalls(SyscallTable& table);
void RegisterShmSyscalls(SyscallTable& table);
void RegisterInotifySyscalls(SyscallTable& table);

}  // namespace sentry

#endif  // CVISOR_SENTRY_SYSCALLS_SYSCALL_H_
