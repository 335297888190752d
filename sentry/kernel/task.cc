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

namespace {

// Whether the instruction at the start of `code` stores to memory, for the
// page-fault error code's write bit: the host's ptrace interface reports a
// fault's signal, si_code and address but not the error code, so the common
// store forms (mov, stos, SSE stores, call and push) are recognised here.
// Anything else is reported as a read.
bool LooksLikeStore(const uint8_t* code, size_t n) {
  size_t i = 0;
  auto is_prefix = [](uint8_t b) {
    return b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3 ||
           b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 ||
           b == 0x65;
  };
  while (i < n && is_prefix(code[i])) i++;
  if (i < n && (code[i] & 0xf0) == 0x40) i++;  // REX
  if (i >= n) return false;
  const uint8_t op = code[i];
  if (op == 0x88 || op == 0x89 || op == 0xc6 || op == 0xc7) return true;
  if (op == 0xaa || op == 0xab || op == 0xe8) return true;  // stos, call
  if (op >= 0x50 && op <= 0x57) return true;                // push reg
  if (op == 0xff && i + 1 < n) {
    int reg = (code[i + 1] >> 3) & 7;
    return reg == 2 || reg == 6;  // call r/m, push r/m
  }
  if (op == 0x0f && i + 1 < n) {
    switch (code[i + 1]) {
      case 0x11:  // movups/movupd/movss/movsd store
      case 0x29:  // movaps/movapd store
      case 0x2b:  // movntps
      case 0x7f:  // movdqa/movdqu store
      case 0xc3:  // movnti
      case 0xd6:  // movq store
      case 0xe7:  // movntdq
        return true;
    }
  }
  return false;
}

}  // namespace

// The x86 trap number and page-fault error code a fault most likely had,
// for the signal frame (the host reports only the signal and si_code).
void Task::FaultTrap(const platform::SwitchResult& r) {
  constexpr uint64_t kPfProt = 1, kPfWrite = 2, kPfUser = 4, kPfInstr = 16;
  uint64_t* trapno = &fault_trapno;
  uint64_t* err = &fault_err;
  *err = 0;
  switch (r.signo) {
    case SIGSEGV:
      if (r.code == SEGV_MAPERR || r.code == SEGV_ACCERR) {
        *trapno = 14;  // #PF
        *err = kPfUser | (r.code == SEGV_ACCERR ? kPfProt : 0);
        if (r.fault_addr == regs_.rip) {
          *err |= kPfInstr;
        } else {
          uint8_t code[15];
          ssize_t n =
              mm_->address_space().ReadMemory(regs_.rip, code, sizeof code);
          if (n > 0 && LooksLikeStore(code, n)) *err |= kPfWrite;
        }
      } else {
        *trapno = 13;  // #GP
      }
      return;
    case SIGBUS:
      *trapno = r.code == BUS_ADRALN ? 17 : 14;
      return;
    case SIGFPE:
      *trapno = r.code == FPE_INTDIV ? 0 : 19;  // #DE, or #XM for SSE
      return;
    case SIGILL:
      *trapno = 6;  // #UD
      return;
    case SIGTRAP:
      *trapno = r.code == SI_KERNEL ? 3 : 1;  // int3, else #DB
      return;
    default:
      *trapno = 0;
  }
}

void Task::Run() {
  const SyscallTable& table = SyscallTable::Get();
  const bool strace = kernel_.options().strace;
  vfs::SetThreadInterruptor(this);
  while (!exiting) {
    in_app_.store(true, std::memory_order_seq_cst);
    if (interrupt_pending_.load(std::memory_order_seq_cst)) {
      in_app_.store(false, std::memory_order_relaxed);
      HandleSignals(0);
      continue;
    }
    platform::SwitchResult r = context_->Switch(regs_);
    in_app_.store(false, std::memory_order_relaxed);
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
        if (regs_replaced) {
          regs_replaced = false;
        } else {
          regs_.rax = static_cast<uint64_t>(ret);
          // A restart code always goes through delivery, which turns it
          // into EINTR or a restart; it never reaches the application.
          if (ret <= -kERestartSys && ret >= -kERestartBlock) {
            HandleSignals(ret);
          }
        }
        break;
      }
      case platform::StopReason::kFault: {
        siginfo_t info = MakeSigInfo(r.signo, r.code, 0, 0);
        info.si_addr = reinterpret_cast<void*>(r.fault_addr);
        FaultTrap(r);
        cv::LogDebug("task ", tid_, ": ", strsignal(r.signo), " code ", r.code,
                     " at rip 0x", absl::Hex(regs_.rip), " addr 0x",
                     absl::Hex(r.fault_addr));
        kernel_.ForceSignal(*this, info);
        break;
      }
      case platform::StopReason::kSignal:
      case platform::StopReason::kInterrupted:
        break;
      case platform::StopReason::kExited:
        exiting = true;
        exit_status = SignaledStatus(SIGKILL);
        break;
    }
  }
  vfs::SetThreadInterruptor(nullptr);
}

}  // namespace sentry
