#include "sentry/kernel/task.h"

#include <errno.h>
#include <signal.h>

#include <cstring>

#include "common/log.h"
#include "sentry/kernel/kernel.h"
#include "sentry/mm/mm.h"
#include "sentry/syscalls/strace.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {

Task::Task(Kernel& kernel, std::shared_ptr<ThreadGroup> tg, int tid)
    : kernel_(kernel), tg_(std::move(tg)), tid_(tid) {}

Task::~Task() = default;

int Task::CopyIn(uint64_t addr, void* buf, size_t len) {
  if (len == 0) return 0;
  ssize_t n = mm_->address_space().ReadMemory(addr, buf, len);
  return n == static_cast<ssize_t>(len) ? 0 : -EFAULT;
}

int Task::CopyOut(uint64_t addr, const void* buf, size_t len) {
  if (len == 0) return 0;
  ssize_t n = mm_->address_space().WriteMemory(addr, buf, len);
  return n == static_cast<ssize_t>(len) ? 0 : -EFAULT;
}

int Task::CopyInString(uint64_t addr, size_t max, std::string* out) {
  out->clear();
  // Read page by page: a string may end just before an unmapped page, so a
  // large read that crosses into it must not fail the whole copy.
  constexpr size_t kPage = 4096;
  char chunk[kPage];
  while (out->size() < max) {
    uint64_t at = addr + out->size();
    size_t want = kPage - (at % kPage);
    if (want > max - out->size()) want = max - out->size();
    ssize_t n = mm_->address_space().ReadMemory(at, chunk, want);
    if (n <= 0) return -EFAULT;
    const void* nul = memchr(chunk, 0, n);
    if (nul != nullptr) {
      out->append(chunk, static_cast<const char*>(nul) - chunk);
      return 0;
    }
    out->append(chunk, n);
  }
  return -ENAMETOOLONG;
}

int Task::CopyInStringVector(uint64_t addr, std::vector<std::string>* out) {
  out->clear();
  if (addr == 0) return 0;
  // Linux caps argv+envp at MAX_ARG_STRINGS pointers and strings at
  // MAX_ARG_STRLEN bytes.
  constexpr size_t kMaxStrings = 0x7fffffff;
  constexpr size_t kMaxStrlen = 32 * 4096;
  size_t total = 0;
  for (size_t i = 0; i < kMaxStrings; i++) {
    uint64_t ptr;
    if (int err = CopyInObj(addr + i * 8, &ptr); err != 0) return err;
    if (ptr == 0) return 0;
    std::string s;
    int err = CopyInString(ptr, kMaxStrlen, &s);
    if (err == -ENAMETOOLONG) return -E2BIG;
    if (err != 0) return err;
    total += s.size() + 1 + 8;
    if (total > 2 * 1024 * 1024) return -E2BIG;
    out->push_back(std::move(s));
  }
  return -E2BIG;
}

namespace {

void LogUnimplementedOnce(uint64_t nr) {
  static std::mutex mu;
  static std::array<bool, kMaxSyscall + 1> logged{};
  size_t slot = nr < kMaxSyscall ? nr : kMaxSyscall;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (logged[slot]) return;
    logged[slot] = true;
  }
  const char* name = SyscallName(nr);
  cv::LogWarning("unimplemented syscall ", name ? name : "unknown", " (", nr,
                 "): returning ENOSYS");
}

}  // namespace

void Task::Run() {
  const SyscallTable& table = SyscallTable::Get();
  const bool strace = kernel_.options().strace;
  while (!exiting) {
    platform::SwitchResult r = context_->Switch(regs_);
    switch (r.reason) {
      case platform::StopReason::kSyscall: {
        uint64_t nr = regs_.orig_rax;
        SyscallArgs args = {regs_.rdi, regs_.rsi, regs_.rdx,
                            regs_.r10, regs_.r8,  regs_.r9};
        const SyscallInfo* info = table.Lookup(nr);
        std::string entry;
        if (strace) entry = StraceEntry(*this, nr, args);
        int64_t ret;
        if (info == nullptr || info->handler == nullptr) {
          LogUnimplementedOnce(nr);
          ret = -ENOSYS;
        } else {
          ret = info->handler(*this, args);
        }
        if (strace) StraceExit(*this, nr, args, ret, entry);
        regs_.rax = static_cast<uint64_t>(ret);
        break;
      }
      case platform::StopReason::kFault:
        // Signal delivery to handlers comes with the process model; until
        // then a fault takes the default action: the process dies by it.
        cv::LogInfo("task ", tid_, ": fatal signal ", strsignal(r.signo),
                    " at rip 0x", absl::Hex(regs_.rip), " addr 0x",
                    absl::Hex(r.fault_addr));
        exit_status = SignaledStatus(r.signo);
        kernel_.ExitGroup(*this, exit_status);
        exiting = true;
        break;
      case platform::StopReason::kSignal:
      case platform::StopReason::kInterrupted:
        break;
      case platform::StopReason::kExited:
        exiting = true;
        exit_status = SignaledStatus(SIGKILL);
        break;
    }
  }
}

}  // namespace sentry
