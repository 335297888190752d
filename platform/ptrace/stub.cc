#include "platform/ptrace/stub.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errno_status.h"

extern "C" {
extern const char cv_stub_begin[];
extern const char cv_stub_inject[];
extern const char cv_stub_inject_done[];
extern const char cv_stub_clone[];
extern const char cv_stub_clone_done[];
extern const char cv_stub_pause[];
extern const char cv_stub_end[];
}

namespace platform::ptrace_internal {
namespace {

constexpr uint64_t kPreferredBase = 0x7fffffff0000;
constexpr uint64_t kStep = 0x10000;
constexpr int kMaxTries = 4096;

uint64_t Offset(const char* sym) {
  return static_cast<uint64_t>(sym - cv_stub_begin);
}

// The lowest address the main thread's stack may grow down to, or 0 if it
// has no [stack] mapping.
uint64_t StackFloor() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("[stack]") == std::string::npos) continue;
    std::string range = line.substr(0, line.find(' '));
    std::pair<std::string, std::string> ends = absl::StrSplit(range, '-');
    uint64_t end;
    if (!absl::SimpleHexAtoi(ends.second, &end)) return 0;
    struct rlimit rl;
    uint64_t limit = 8 << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      limit = rl.rlim_cur;
    }
    if (limit > (uint64_t{1} << 30)) limit = uint64_t{1} << 30;
    // Leave the kernel's stack guard gap (256 pages by default) free too.
    uint64_t floor = end - limit - (uint64_t{1} << 20);
    return floor > end ? 0 : floor;
  }
  return 0;
}

}  // namespace

absl::StatusOr<StubAddresses> MapStubRegion() {
  const uint64_t code_size = Offset(cv_stub_end);
  if (code_size > 4096) return absl::InternalError("stub code too large");
  uint64_t candidate = kPreferredBase;
  bool skipped_stack = false;
  void* region = MAP_FAILED;
  for (int i = 0; i < kMaxTries; ++i, candidate -= kStep) {
    if ((candidate >> 32) != ((candidate + kStubRegionSize - 1) >> 32)) {
      continue;
    }
    region = mmap(reinterpret_cast<void*>(candidate), kStubRegionSize,
                  PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (region != MAP_FAILED &&
        reinterpret_cast<uint64_t>(region) != candidate) {
      // Kernels before 4.17 treat MAP_FIXED_NOREPLACE as a hint.
      munmap(region, kStubRegionSize);
      region = MAP_FAILED;
      errno = EEXIST;
    }
    if (region != MAP_FAILED) break;
    if (errno != EEXIST) {
      return cv::ErrnoStatus(errno, "mapping the stub region");
    }
    // Something sits at the top: most likely the main stack (ASLR off).
    // Go below the lowest point it may grow to instead of blocking it.
    if (!skipped_stack) {
      skipped_stack = true;
      uint64_t floor = StackFloor();
      // The loop's step then puts the region a step below the floor.
      if (floor != 0 && floor < candidate) candidate = floor & ~(kStep - 1);
    }
  }
  if (region == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        "no free address for the stub region near the top of the address "
        "space");
  }
  memcpy(region, cv_stub_begin, code_size);
  // Fill the rest of the code page with int3 so a stray jump traps.
  memset(static_cast<char*>(region) + code_size, 0xcc, 4096 - code_size);
  if (mprotect(region, 4096, PROT_READ | PROT_EXEC) != 0) {
    int err = errno;
    munmap(region, kStubRegionSize);
    return cv::ErrnoStatus(err, "mprotect of the stub code");
  }
  StubAddresses a;
  a.base = reinterpret_cast<uint64_t>(region);
  a.size = kStubRegionSize;
  a.inject = a.base + Offset(cv_stub_inject);
  a.inject_done = a.base + Offset(cv_stub_inject_done);
  a.clone = a.base + Offset(cv_stub_clone);
  a.clone_done = a.base + Offset(cv_stub_clone_done);
  a.pause = a.base + Offset(cv_stub_pause);
  a.sentry_pid = getpid();
  return a;
}

void UnmapStubRegion(const StubAddresses& addrs) {
  if (addrs.base != 0) munmap(reinterpret_cast<void*>(addrs.base), addrs.size);
}

std::vector<sock_filter> StubSeccompFilter(uint64_t base, uint64_t size) {
  const uint32_t base_hi = static_cast<uint32_t>(base >> 32);
  const uint32_t base_lo = static_cast<uint32_t>(base);
  constexpr uint32_t kArch = offsetof(struct seccomp_data, arch);
  constexpr uint32_t kIpLo = offsetof(struct seccomp_data, instruction_pointer);
  constexpr uint32_t kIpHi = kIpLo + 4;
  // Jump offsets count instructions to skip; the layout is fixed:
  //  0 ld arch;  1 jeq x86-64 ? 2 : kill
  //  2 ld ip_hi; 3 jeq base_hi ? 4 : 7
  //  4 ld ip_lo; 5 sub base_lo; 6 jge size ? kill : allow
  //  7 jeq 0xffffffff (vsyscall page's high half) ? 8 : kill
  //  8 ld ip_lo; 9 and page mask; 10 jeq 0xff600000 ? trap : kill
  // 11 allow; 12 trap; 13 kill
  return {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kArch),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 11),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kIpHi),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, base_hi, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kIpLo),
      BPF_STMT(BPF_ALU | BPF_SUB | BPF_K, base_lo),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, static_cast<uint32_t>(size), 6, 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kIpLo),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xfffff000),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xff600000, 1, 2),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
  };
}

}  // namespace platform::ptrace_internal
