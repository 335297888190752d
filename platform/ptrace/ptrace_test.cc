#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "platform/platform.h"
#include "platform/ptrace/ptrace_platform.h"
#include "platform/ptrace/test_code.h"

namespace platform {
namespace {

using ::platform::testing::Code;
using ::platform::testing::kCodeAddr;
using ::platform::testing::kDataAddr;
using ::platform::testing::kStackAddr;
using ::platform::testing::LoadProgram;
using ::platform::testing::UserRegisters;
using ::testing::HasSubstr;

// Offsets of xmm0 and xmm1 in the FXSAVE/XSAVE legacy area.
constexpr size_t kXmm0Offset = 160;
constexpr size_t kXmm1Offset = 176;

bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

bool ThreadExists(pid_t pid, pid_t tid) {
  struct stat st;
  return stat(absl::StrCat("/proc/", pid, "/task/", tid).c_str(), &st) == 0;
}

struct MapLine {
  uint64_t start, end;
  std::string perms, name;
};

std::vector<MapLine> ReadMaps(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/maps"));
  std::vector<MapLine> out;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    std::vector<std::string> r = absl::StrSplit(f[0], '-');
    MapLine m;
    EXPECT_TRUE(absl::SimpleHexAtoi(r[0], &m.start));
    EXPECT_TRUE(absl::SimpleHexAtoi(r[1], &m.end));
    m.perms = f[1];
    m.name = f.size() >= 6 ? f[5] : "";
    out.push_back(m);
  }
  return out;
}

// The value of "Name:" in a /proc status file.
std::string StatusField(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      return std::string(
          absl::StripAsciiWhitespace(line.substr(name.size() + 1)));
    }
  }
  return "";
}

class PtraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = Platform::Create("ptrace");
    ASSERT_TRUE(p.ok()) << p.status();
    platform_ = std::move(*p);
  }

  std::unique_ptr<Context> NewContext() {
    auto c = platform_->NewAddressSpace();
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // A context running `code` from kCodeAddr, with regs set up for it.
  std::unique_ptr<Context> Run(const Code& code, Registers& regs) {
    auto ctx = NewContext();
    if (ctx == nullptr) return nullptr;
    EXPECT_TRUE(LoadProgram(*ctx, code));
    regs = UserRegisters(kCodeAddr, kStackAddr + 4096);
    return ctx;
  }

  std::unique_ptr<Platform> platform_;
};

TEST(PlatformCreateTest, UnknownName) {
  auto p = Platform::Create("kvm");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(p.status().message(),
            "unknown platform \"kvm\" (supported: ptrace)");
}

TEST_F(PtraceTest, LayoutIsSane) {
  const Layout& l = platform_->layout();
  EXPECT_EQ(platform_->name(), "ptrace");
  EXPECT_GE(l.min_addr, 4096u);
  EXPECT_EQ(l.max_addr, l.stub_base);
  EXPECT_GT(l.stub_size, 0u);
  EXPECT_LE(l.stub_base + l.stub_size, uint64_t{1} << 47);
  EXPECT_NE(l.vdso_base, 0u);
  EXPECT_NE(l.vdso_size, 0u);
  EXPECT_LT(l.vdso_base, l.max_addr);
  EXPECT_NE(l.vvar_base, 0u);
  EXPECT_EQ(l.vvar_base + l.vvar_size, l.vdso_base);
}

// 1. A new stub maps nothing but the stub region and the vDSO.
TEST_F(PtraceTest, NewStubMapsOnlyStubAndVdso) {
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  const Layout& l = platform_->layout();
  std::vector<MapLine> maps = ReadMaps(ctx->address_space().pid());
  ASSERT_FALSE(maps.empty());
  bool saw_code = false, saw_vdso = false;
  for (const MapLine& m : maps) {
    if (m.start >= l.stub_base && m.end <= l.stub_base + l.stub_size) {
      if (m.perms.find('x') != std::string::npos) saw_code = true;
      continue;
    }
    if (m.name == "[vdso]") {
      saw_vdso = true;
      EXPECT_EQ(m.start, l.vdso_base);
      EXPECT_EQ(m.end - m.start, l.vdso_size);
      continue;
    }
    if (m.name == "[vvar]" || m.name == "[vvar_vclock]") {
      EXPECT_GE(m.start, l.vvar_base);
      EXPECT_LE(m.end, l.vvar_base + l.vvar_size);
      continue;
    }
    EXPECT_EQ(m.name, "[vsyscall]")
        << "unexpected mapping " << std::hex << m.start << "-" << m.end;
  }
  EXPECT_TRUE(saw_code);
  EXPECT_TRUE(saw_vdso);
  // The thread we run is not the process leader, which sleeps untraced in
  // the stub's pause loop; ours is traced by this thread.
  const pid_t pid = ctx->address_space().pid();
  EXPECT_NE(ctx->tid(), pid);
  EXPECT_TRUE(ThreadExists(pid, ctx->tid()));
  EXPECT_EQ(StatusField(absl::StrCat("/proc/", pid, "/status"), "TracerPid"),
            "0");
  EXPECT_EQ(
      StatusField(absl::StrCat("/proc/", pid, "/task/", ctx->tid(), "/status"),
                  "TracerPid"),
      absl::StrCat(syscall(SYS_gettid)));
  std::string leader_syscall;
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/syscall"));
    std::getline(in, leader_syscall);
    if (leader_syscall.rfind(absl::StrCat(SYS_pause, " "), 0) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(leader_syscall.rfind(absl::StrCat(SYS_pause, " "), 0), 0u)
      << leader_syscall;
}

// 2. Syscalls stop at entry with their number and arguments, are not
// executed, and the result the sentry sets is what the code sees.
TEST_F(PtraceTest, SyscallStopsAndResult) {
  Code code;
  code.MovRdi(0x1111)
      .MovRsi(0x2222)
      .MovRdx(0x3333)
      .MovR10(0x4444)
      .MovR8(0x5555)
      .MovR9(0x6666)
      .MovEax(SYS_getpid)
      .Syscall();
  const size_t after_first = code.size();
  code.MovRaxToRdi().MovEax(SYS_exit).Syscall().JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);

  SwitchResult r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.orig_rax, static_cast<uint64_t>(SYS_getpid));
  EXPECT_EQ(regs.rdi, 0x1111u);
  EXPECT_EQ(regs.rsi, 0x2222u);
  EXPECT_EQ(regs.rdx, 0x3333u);
  EXPECT_EQ(regs.r10, 0x4444u);
  EXPECT_EQ(regs.r8, 0x5555u);
  EXPECT_EQ(regs.r9, 0x6666u);
  EXPECT_EQ(regs.rip, kCodeAddr + after_first);

  regs.rax = 0xabcdef;
  r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.orig_rax, static_cast<uint64_t>(SYS_exit));
  EXPECT_EQ(regs.rdi, 0xabcdefu);

  // exit was not executed by the host: the thread is still there and can
  // run more code.
  EXPECT_TRUE(ThreadExists(ctx->address_space().pid(), ctx->tid()));
  regs.rip = kCodeAddr;
  r = ctx->Switch(regs);
  EXPECT_EQ(r.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.orig_rax, static_cast<uint64_t>(SYS_getpid));
}

// A syscall loop keeps working across many round trips, and injections
// between them leave the application's registers alone.
TEST_F(PtraceTest, SyscallLoopWithInjections) {
  Code code;
  code.MovEax(SYS_getppid).Syscall().MovRaxToRdi().JmpTo(0);
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  for (int i = 0; i < 200; ++i) {
    SwitchResult r = ctx->Switch(regs);
    ASSERT_EQ(r.reason, StopReason::kSyscall);
    ASSERT_EQ(regs.orig_rax, static_cast<uint64_t>(SYS_getppid));
    if (i > 0) {
      ASSERT_EQ(regs.rdi, static_cast<uint64_t>(i - 1));
    }
    if (i % 10 == 0) {
      Registers before = regs;
      ASSERT_EQ(ctx->InjectSyscall(SYS_getpid), ctx->address_space().pid());
      ASSERT_EQ(memcmp(&before, &regs, sizeof(regs)), 0);
    }
    regs.rax = i;
  }
}

// Calls into the legacy vsyscall page come back as ordinary syscalls.
TEST_F(PtraceTest, VsyscallPageIsASyscall) {
  Code code;
  code.MovRdi(kDataAddr).MovRsi(0).MovRax(0xffffffffff600000).CallRax();
  const size_t after_call = code.size();
  code.MovRaxToRdi().MovEax(SYS_getpid).Syscall().JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  SwitchResult r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.orig_rax, static_cast<uint64_t>(SYS_gettimeofday));
  EXPECT_EQ(regs.rdi, kDataAddr);
  EXPECT_EQ(regs.rip, kCodeAddr + after_call);  // already returned
  EXPECT_EQ(regs.rsp, kStackAddr + 4096);
  regs.rax = 4242;
  r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.orig_rax, static_cast<uint64_t>(SYS_getpid));
  EXPECT_EQ(regs.rdi, 4242u);
  // Nothing was written by the host.
  uint64_t tv[2] = {1, 1};
  ASSERT_EQ(ctx->address_space().ReadMemory(kDataAddr, tv, sizeof(tv)), 16);
  EXPECT_EQ(tv[0], 0u);
  EXPECT_EQ(tv[1], 0u);
}

TEST_F(PtraceTest, BadSelectorsFault) {
  Code code;
  code.JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  Registers bad = regs;
  bad.cs = 0;
  SwitchResult r = ctx->Switch(bad);
  EXPECT_EQ(r.reason, StopReason::kFault);
  EXPECT_EQ(r.signo, SIGSEGV);
  EXPECT_EQ(r.code, SI_KERNEL);
  // The context is still usable.
  Code sc;
  sc.MovEax(SYS_getpid).Syscall();
  ASSERT_EQ(
      ctx->address_space().WriteMemory(kCodeAddr, sc.bytes().data(), sc.size()),
      static_cast<ssize_t>(sc.size()));
  r = ctx->Switch(regs);
  EXPECT_EQ(r.reason, StopReason::kSyscall);
}

// 3. Faults come back with the host's siginfo.
TEST_F(PtraceTest, Faults) {
  constexpr uint64_t kUnmapped = 0x20000000;
  constexpr uint64_t kReadOnly = 0x20010000;
  Code code;
  const size_t read_at = code.size();
  code.LoadRax(kUnmapped).JmpSelf();
  const size_t write_at = code.size();
  code.StoreRax(kReadOnly).JmpSelf();
  const size_t int3_at = code.size();
  code.Int3().JmpSelf();
  const size_t ud2_at = code.size();
  code.Ud2().JmpSelf();
  const size_t div_at = code.size();
  code.MovEax(1).DivideByZero().JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  ASSERT_EQ(ctx->InjectSyscall(SYS_mmap, kReadOnly, 4096, PROT_READ,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                               static_cast<uint64_t>(-1), 0),
            static_cast<int64_t>(kReadOnly));
  const Registers start = regs;

  regs = start;
  regs.rip = kCodeAddr + read_at;
  SwitchResult r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kFault);
  EXPECT_EQ(r.signo, SIGSEGV);
  EXPECT_EQ(r.code, SEGV_MAPERR);
  EXPECT_EQ(r.fault_addr, kUnmapped);
  EXPECT_EQ(regs.rip, kCodeAddr + read_at);

  regs = start;
  regs.rip = kCodeAddr + write_at;
  r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kFault);
  EXPECT_EQ(r.signo, SIGSEGV);
  EXPECT_EQ(r.code, SEGV_ACCERR);
  EXPECT_EQ(r.fault_addr, kReadOnly);

  regs = start;
  regs.rip = kCodeAddr + int3_at;
  r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kFault);
  EXPECT_EQ(r.signo, SIGTRAP);
  EXPECT_EQ(r.code, SI_KERNEL);
  EXPECT_EQ(regs.rip, kCodeAddr + int3_at + 1);

  regs = start;
  regs.rip = kCodeAddr + ud2_at;
  r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kFault);
  EXPECT_EQ(r.signo, SIGILL);
  EXPECT_EQ(r.code, ILL_ILLOPN);
  EXPECT_EQ(r.fault_addr, kCodeAddr + ud2_at);

  regs = start;
  regs.rip = kCodeAddr + div_at;
  r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kFault);
  EXPECT_EQ(r.signo, SIGFPE);
  EXPECT_EQ(r.code, FPE_INTDIV);

  // The stub survived all of that (the signals were suppressed).
  EXPECT_TRUE(ThreadExists(ctx->address_space().pid(), ctx->tid()));
}

// An asynchronous signal from outside is reported, not delivered.
TEST_F(PtraceTest, AsyncSignal) {
  Code code;
  code.JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  // Queued while stopped; reported by the next Switch.
  ASSERT_EQ(
      syscall(SYS_tgkill, ctx->address_space().pid(), ctx->tid(), SIGUSR1), 0);
  SwitchResult r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kSignal);
  EXPECT_EQ(r.signo, SIGUSR1);
  EXPECT_EQ(r.code, SI_TKILL);
  // Even a "fault" signal, when sent by kill, is a signal, not a fault.
  ASSERT_EQ(
      syscall(SYS_tgkill, ctx->address_space().pid(), ctx->tid(), SIGSEGV), 0);
  r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kSignal);
  EXPECT_EQ(r.signo, SIGSEGV);
  EXPECT_TRUE(ThreadExists(ctx->address_space().pid(), ctx->tid()));
}

// 4. Memory access: EFAULT for unmapped memory, short counts at the edge.
TEST_F(PtraceTest, ReadWriteMemory) {
  Code code;
  code.JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  AddressSpace& as = ctx->address_space();
  char buf[8192];
  memset(buf, 'x', sizeof(buf));

  EXPECT_EQ(as.ReadMemory(0x30000000, buf, 16), -EFAULT);
  EXPECT_EQ(as.WriteMemory(0x30000000, buf, 16), -EFAULT);
  EXPECT_EQ(as.ReadMemory(0, buf, 16), -EFAULT);
  EXPECT_EQ(as.ReadMemory(~uint64_t{0} - 8, buf, 16), -EFAULT);
  EXPECT_EQ(as.ReadMemory(0x30000000, buf, 0), 0);

  // kDataAddr is one mapped page with nothing after it.
  EXPECT_EQ(as.WriteMemory(kDataAddr, buf, 4096), 4096);
  EXPECT_EQ(as.ReadMemory(kDataAddr + 4000, buf, 200), 96);
  EXPECT_EQ(as.WriteMemory(kDataAddr + 4000, buf, 200), 96);
  EXPECT_EQ(as.ReadMemory(kDataAddr + 4096, buf, 200), -EFAULT);

  // Round trip.
  const char msg[] = "hello from the sentry";
  ASSERT_EQ(as.WriteMemory(kDataAddr + 100, msg, sizeof(msg)),
            static_cast<ssize_t>(sizeof(msg)));
  char back[sizeof(msg)] = {};
  ASSERT_EQ(as.ReadMemory(kDataAddr + 100, back, sizeof(back)),
            static_cast<ssize_t>(sizeof(back)));
  EXPECT_STREQ(back, msg);

  // Read-only memory can be read but not written (as for the app's own
  // syscalls: EFAULT).
  ASSERT_EQ(ctx->InjectSyscall(SYS_mprotect, kDataAddr, 4096, PROT_READ), 0);
  EXPECT_EQ(as.WriteMemory(kDataAddr, msg, 4), -EFAULT);
  EXPECT_EQ(as.ReadMemory(kDataAddr + 100, back, 4), 4);
}

// 5. Interrupt() from another thread stops a spinning application promptly.
TEST_F(PtraceTest, InterruptSpinningCode) {
  Code code;
  code.JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  for (int round = 0; round < 3; ++round) {
    auto start = std::chrono::steady_clock::now();
    std::thread t([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ctx->Interrupt();
    });
    SwitchResult r = ctx->Switch(regs);
    t.join();
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(r.reason, StopReason::kInterrupted);
    EXPECT_EQ(regs.rip, kCodeAddr);  // still in the loop
    EXPECT_LT(elapsed, std::chrono::seconds(2));
  }
  // An interrupt while not running is reported by the next Switch.
  ctx->Interrupt();
  SwitchResult r = ctx->Switch(regs);
  EXPECT_EQ(r.reason, StopReason::kInterrupted);
}

// Interrupts racing with a syscall loop never corrupt its registers.
TEST_F(PtraceTest, InterruptStormKeepsRegisters) {
  Code code;
  code.MovEax(SYS_getppid).Syscall().MovRaxToRdi().JmpTo(0);
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  std::atomic<bool> stop{false};
  std::thread storm([&] {
    while (!stop.load()) {
      ctx->Interrupt();
      std::this_thread::yield();
    }
  });
  uint64_t next = 1;
  int interrupts = 0;
  for (int syscalls = 0; syscalls < 300;) {
    SwitchResult r = ctx->Switch(regs);
    if (r.reason == StopReason::kInterrupted) {
      ++interrupts;
      continue;
    }
    ASSERT_EQ(r.reason, StopReason::kSyscall);
    ASSERT_EQ(regs.orig_rax, static_cast<uint64_t>(SYS_getppid));
    if (syscalls > 0) {
      ASSERT_EQ(regs.rdi, next - 1);
    }
    regs.rax = next++;
    ++syscalls;
  }
  stop = true;
  storm.join();
  EXPECT_GT(interrupts, 0);
}

// An interrupt that lands during an injected syscall is not lost.
TEST_F(PtraceTest, InterruptDuringInjection) {
  Code code;
  code.JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  ctx->Interrupt();
  EXPECT_EQ(ctx->InjectSyscall(SYS_getpid), ctx->address_space().pid());
  SwitchResult r = ctx->Switch(regs);
  EXPECT_EQ(r.reason, StopReason::kInterrupted);
}

// 6. FP state moves both ways.
TEST_F(PtraceTest, FpStateRoundTrip) {
  constexpr uint64_t kIn = 0x0123456789abcdef;
  constexpr uint64_t kOut = 0xfedcba9876543210;
  Code code;
  code.MovqXmm0ToRdi().MovEax(SYS_getpid).Syscall();
  const size_t second = code.size();
  code.MovRax(kOut).MovqRaxToXmm1().MovEax(SYS_getpid).Syscall().JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);

  // A new address space starts with the initial FP state.
  FpState fp;
  ASSERT_TRUE(ctx->GetFpState(fp).ok());
  const FpState& init = platform_->initial_fp_state();
  ASSERT_EQ(fp.size, init.size);
  EXPECT_GE(fp.size, 512u);
  uint16_t fcw;
  uint32_t mxcsr;
  memcpy(&fcw, fp.data, 2);
  memcpy(&mxcsr, fp.data + 24, 4);
  EXPECT_EQ(fcw, 0x37f);
  EXPECT_EQ(mxcsr, 0x1f80u);
  for (size_t i = 160; i < 416; ++i) ASSERT_EQ(fp.data[i], 0) << i;

  memcpy(fp.data + kXmm0Offset, &kIn, sizeof(kIn));
  ASSERT_TRUE(ctx->SetFpState(fp).ok());
  SwitchResult r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.rdi, kIn);
  EXPECT_EQ(regs.rip, kCodeAddr + second);

  r = ctx->Switch(regs);
  ASSERT_EQ(r.reason, StopReason::kSyscall);
  ASSERT_TRUE(ctx->GetFpState(fp).ok());
  uint64_t xmm1;
  memcpy(&xmm1, fp.data + kXmm1Offset, sizeof(xmm1));
  EXPECT_EQ(xmm1, kOut);

  // Back to the initial state, as signal delivery would.
  ASSERT_TRUE(ctx->SetFpState(init).ok());
  ASSERT_TRUE(ctx->GetFpState(fp).ok());
  memcpy(&xmm1, fp.data + kXmm1Offset, sizeof(xmm1));
  EXPECT_EQ(xmm1, 0u);

  // A state of the wrong size is refused.
  FpState bad = fp;
  bad.size = 100;
  EXPECT_EQ(ctx->SetFpState(bad).code(), absl::StatusCode::kInvalidArgument);
}

// 7. The seccomp filter: code that runs untraced (as if it had escaped
// PTRACE_SYSEMU) cannot make a host syscall; the stub dies by SIGSYS.
TEST_F(PtraceTest, EscapedSyscallIsKilledBySeccomp) {
  pid_t victim = fork();
  ASSERT_GE(victim, 0);
  if (victim == 0) {
    for (;;) pause();
  }
  Code code;
  code.MovRdi(static_cast<uint64_t>(victim))
      .MovRsi(SIGKILL)
      .MovEax(SYS_kill)
      .Syscall()
      .JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  const pid_t stub = ctx->address_space().pid();

  // Traced normally, the kill is stopped and never executed.
  Registers traced = regs;
  SwitchResult r = ctx->Switch(traced);
  ASSERT_EQ(r.reason, StopReason::kSyscall);
  EXPECT_EQ(traced.orig_rax, static_cast<uint64_t>(SYS_kill));

  auto* pctx = dynamic_cast<ptrace_internal::PtraceContext*>(ctx.get());
  ASSERT_NE(pctx, nullptr);
  r = pctx->SwitchWithoutSysemuForTesting(regs);
  ASSERT_EQ(r.reason, StopReason::kExited);
  ASSERT_TRUE(WIFSIGNALED(r.exit_status)) << r.exit_status;
  EXPECT_EQ(WTERMSIG(r.exit_status), SIGSYS);

  // The victim lives.
  int status;
  EXPECT_EQ(waitpid(victim, &status, WNOHANG), 0);
  EXPECT_EQ(kill(victim, 0), 0);
  kill(victim, SIGKILL);
  waitpid(victim, &status, 0);

  // The whole stub process is gone once the context is.
  EXPECT_EQ(ctx->Switch(regs).reason, StopReason::kExited);
  EXPECT_EQ(ctx->InjectSyscall(SYS_getpid), -ESRCH);
  ctx.reset();
  EXPECT_FALSE(ProcessExists(stub));
}

// Even a harmless syscall is fatal when it does not come from the stub code.
TEST_F(PtraceTest, EscapedGetppidIsKilledToo) {
  Code code;
  code.MovEax(SYS_getppid).Syscall().JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  auto* pctx = dynamic_cast<ptrace_internal::PtraceContext*>(ctx.get());
  SwitchResult r = pctx->SwitchWithoutSysemuForTesting(regs);
  ASSERT_EQ(r.reason, StopReason::kExited);
  ASSERT_TRUE(WIFSIGNALED(r.exit_status));
  EXPECT_EQ(WTERMSIG(r.exit_status), SIGSYS);
}

// 8. Teardown leaves no process behind.
TEST_F(PtraceTest, DestroyingLastContextKillsStub) {
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  const pid_t pid = ctx->address_space().pid();
  const pid_t tid = ctx->tid();
  ASSERT_TRUE(ProcessExists(pid));
  ctx.reset();
  EXPECT_FALSE(ProcessExists(pid));  // killed and reaped: not even a zombie
  EXPECT_FALSE(ProcessExists(tid));
}

TEST_F(PtraceTest, ReleaseKillsStubUnderLiveContext) {
  Code code;
  code.JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  std::shared_ptr<AddressSpace> as = ctx->shared_address_space();
  const pid_t pid = as->pid();
  as->Release();
  EXPECT_FALSE(ProcessExists(pid));
  as->Release();  // idempotent
  EXPECT_EQ(ctx->Switch(regs).reason, StopReason::kExited);
  EXPECT_EQ(ctx->InjectSyscall(SYS_getpid), -ESRCH);
  char c;
  EXPECT_EQ(as->ReadMemory(kDataAddr, &c, 1), -EFAULT);
  ctx.reset();
  EXPECT_EQ(as->ReadMemory(kDataAddr, &c, 1), -EFAULT);
}

TEST_F(PtraceTest, ReleaseFromAnotherThreadWhileRunning) {
  Code code;
  code.JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  std::shared_ptr<AddressSpace> as = ctx->shared_address_space();
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    as->Release();
  });
  SwitchResult r = ctx->Switch(regs);
  t.join();
  EXPECT_EQ(r.reason, StopReason::kExited);
  EXPECT_FALSE(ProcessExists(as->pid()));
}

TEST_F(PtraceTest, PlatformDestructionKillsTemplate) {
  auto* p = dynamic_cast<ptrace_internal::PtracePlatform*>(platform_.get());
  ASSERT_NE(p, nullptr);
  const pid_t tmpl = p->template_pid();
  ASSERT_GT(tmpl, 0);
  ASSERT_TRUE(ProcessExists(tmpl));
  platform_.reset();
  EXPECT_FALSE(ProcessExists(tmpl));
}

// A sentry that dies without cleaning up takes its stubs with it.
TEST(PtraceTeardownTest, DyingSentryLeavesNoStubs) {
  // Orphaned stubs come back to us, so we can see how they died.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    auto p = Platform::Create("ptrace");
    if (!p.ok()) _exit(1);
    auto ctx = (*p)->NewAddressSpace();
    if (!ctx.ok()) _exit(2);
    auto thread = (*ctx)->NewThread();  // left unclaimed
    if (!thread.ok()) _exit(3);
    auto fork = (*ctx)->ForkAddressSpace();
    if (!fork.ok()) _exit(4);
    auto fctx = (*fork)->Claim();
    if (!fctx.ok()) _exit(5);
    // Only PR_SET_PDEATHSIG guards this one: nothing in it is traced.
    auto unclaimed = (*ctx)->ForkAddressSpace();
    if (!unclaimed.ok()) _exit(7);
    pid_t pids[4] = {
        dynamic_cast<ptrace_internal::PtracePlatform*>(p->get())
            ->template_pid(),
        (*ctx)->address_space().pid(), (*fctx)->address_space().pid(),
        dynamic_cast<ptrace_internal::PtracePendingContext*>(unclaimed->get())
            ->pid()};
    if (write(fds[1], pids, sizeof(pids)) != sizeof(pids)) _exit(6);
    _exit(0);  // no destructors
  }
  close(fds[1]);
  pid_t pids[4];
  ASSERT_EQ(read(fds[0], pids, sizeof(pids)),
            static_cast<ssize_t>(sizeof(pids)));
  close(fds[0]);
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  for (pid_t pid : pids) {
    ASSERT_GT(pid, 0);
    // They were reparented to us (the subreaper) and must die.
    pid_t r = -1;
    for (int i = 0; i < 500; ++i) {
      r = waitpid(pid, &status, __WALL | WNOHANG);
      if (r != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(r, pid) << "stub " << pid << " outlived its sentry";
    // Killed (PR_SET_PDEATHSIG, PTRACE_O_EXITKILL), or, for a stub thread
    // that was still on its way to the pause loop, exit_group(1) when it
    // found its parent gone.
    EXPECT_TRUE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                (WIFEXITED(status) && WEXITSTATUS(status) == 1))
        << "stub " << pid << " wait status " << status;
    EXPECT_FALSE(ProcessExists(pid));
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

// 9. Fork: copy-on-write memory, FP state inherited, run on another thread.
TEST_F(PtraceTest, ForkAddressSpace) {
  constexpr uint64_t kXmm = 0x5a5a5a5a12345678;
  Code code;
  code.LoadRax(kDataAddr).MovRaxToRdi().MovEax(SYS_getpid).Syscall().JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  uint64_t one = 1, two = 2;
  ASSERT_EQ(ctx->address_space().WriteMemory(kDataAddr, &one, 8), 8);
  FpState fp;
  ASSERT_TRUE(ctx->GetFpState(fp).ok());
  memcpy(fp.data + kXmm0Offset, &kXmm, sizeof(kXmm));
  ASSERT_TRUE(ctx->SetFpState(fp).ok());
  // Run a little first, so the fork happens from a syscall stop.
  Registers parent_regs = regs;
  ASSERT_EQ(ctx->Switch(parent_regs).reason, StopReason::kSyscall);

  auto pending = ctx->ForkAddressSpace();
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(ctx->address_space().WriteMemory(kDataAddr, &two, 8), 8);

  const pid_t parent_pid = ctx->address_space().pid();
  pid_t child_pid = 0;
  std::thread t([&] {
    auto child = (*pending)->Claim();
    ASSERT_TRUE(child.ok()) << child.status();
    child_pid = (*child)->address_space().pid();
    EXPECT_NE(child_pid, parent_pid);
    uint64_t v = 0;
    EXPECT_EQ((*child)->address_space().ReadMemory(kDataAddr, &v, 8), 8);
    EXPECT_EQ(v, 1u);
    Registers cregs = regs;
    ASSERT_EQ((*child)->Switch(cregs).reason, StopReason::kSyscall);
    EXPECT_EQ(cregs.rdi, 1u);
    FpState cfp;
    ASSERT_TRUE((*child)->GetFpState(cfp).ok());
    uint64_t xmm0;
    memcpy(&xmm0, cfp.data + kXmm0Offset, 8);
    EXPECT_EQ(xmm0, kXmm);
    // The child's maps are the parent's, not the sentry's.
    std::vector<MapLine> maps = ReadMaps(child_pid);
    bool has_data = false;
    for (const MapLine& m : maps) has_data |= m.start == kDataAddr;
    EXPECT_TRUE(has_data);
    child->reset();  // on its owner thread
    EXPECT_FALSE(ProcessExists(child_pid));
  });
  t.join();
  regs.rip = kCodeAddr;
  ASSERT_EQ(ctx->Switch(regs).reason, StopReason::kSyscall);
  EXPECT_EQ(regs.rdi, 2u);
}

// 10. NewThread: a second stub thread in the same address space, run by
// another host thread; destroying it leaves the first one working.
TEST_F(PtraceTest, NewThreadSharesMemory) {
  constexpr uint64_t kMagic = 0x77665544;
  Code code;
  code.LoadRax(kDataAddr).MovRaxToRdi().MovEax(SYS_getpid).Syscall();
  const size_t writer = code.size();
  code.MovRax(kMagic)
      .StoreRax(kDataAddr)
      .MovEax(SYS_gettid)
      .Syscall()
      .JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  const pid_t pid = ctx->address_space().pid();

  auto pending = ctx->NewThread();
  ASSERT_TRUE(pending.ok()) << pending.status();
  pid_t tid2 = 0;
  const pid_t tid1 = ctx->tid();
  const Registers start = regs;
  std::thread t([&] {
    auto c2 = (*pending)->Claim();
    ASSERT_TRUE(c2.ok()) << c2.status();
    tid2 = (*c2)->tid();
    EXPECT_EQ((*c2)->address_space().pid(), pid);
    EXPECT_NE(tid2, tid1);
    Registers r2 = start;
    r2.rip = kCodeAddr + writer;
    for (int i = 0; i < 50; ++i) {
      r2.rip = kCodeAddr + writer;
      ASSERT_EQ((*c2)->Switch(r2).reason, StopReason::kSyscall);
      ASSERT_EQ(r2.orig_rax, static_cast<uint64_t>(SYS_gettid));
    }
    EXPECT_TRUE(ThreadExists(pid, tid2));
    c2->reset();
  });
  // Both threads run at the same time.
  for (int i = 0; i < 50; ++i) {
    regs.rip = kCodeAddr;
    ASSERT_EQ(ctx->Switch(regs).reason, StopReason::kSyscall);
  }
  t.join();
  EXPECT_FALSE(ThreadExists(pid, tid2));
  EXPECT_TRUE(ProcessExists(pid));
  regs.rip = kCodeAddr;
  ASSERT_EQ(ctx->Switch(regs).reason, StopReason::kSyscall);
  EXPECT_EQ(regs.rdi, kMagic);
  EXPECT_EQ(ctx->InjectSyscall(SYS_getpid), pid);
}

// The first context may go before the second: the process stays.
TEST_F(PtraceTest, FirstThreadExitsFirst) {
  Code code;
  code.MovEax(SYS_getpid).Syscall().JmpSelf();
  Registers regs;
  auto ctx = Run(code, regs);
  ASSERT_NE(ctx, nullptr);
  const pid_t pid = ctx->address_space().pid();
  const pid_t tid1 = ctx->tid();
  auto pending = ctx->NewThread();
  ASSERT_TRUE(pending.ok());
  auto c2 = (*pending)->Claim();  // same host thread owns both
  ASSERT_TRUE(c2.ok());
  ctx.reset();
  EXPECT_TRUE(ProcessExists(pid));
  EXPECT_FALSE(ThreadExists(pid, tid1));
  Registers r2 = regs;
  EXPECT_EQ((*c2)->Switch(r2).reason, StopReason::kSyscall);
  c2->reset();
  EXPECT_FALSE(ProcessExists(pid));
}

TEST_F(PtraceTest, UnclaimedPendingContextsAreCleanedUp) {
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  const pid_t pid = ctx->address_space().pid();
  auto thread = ctx->NewThread();
  ASSERT_TRUE(thread.ok());
  auto fork = ctx->ForkAddressSpace();
  ASSERT_TRUE(fork.ok());
  auto* pt =
      dynamic_cast<ptrace_internal::PtracePendingContext*>(thread->get());
  auto* pf = dynamic_cast<ptrace_internal::PtracePendingContext*>(fork->get());
  ASSERT_TRUE(pt != nullptr && pf != nullptr);
  const pid_t thread_tid = pt->tid();
  const pid_t fork_pid = pf->pid();
  EXPECT_EQ(pt->pid(), pid);
  EXPECT_TRUE(ThreadExists(pid, thread_tid));
  EXPECT_TRUE(ProcessExists(fork_pid));

  thread->reset();
  fork->reset();
  EXPECT_FALSE(ThreadExists(pid, thread_tid));
  EXPECT_FALSE(ProcessExists(fork_pid));
  // Only the manager and our thread remain.
  EXPECT_EQ(StatusField(absl::StrCat("/proc/", pid, "/status"), "Threads"),
            "2");
  EXPECT_EQ(ctx->InjectSyscall(SYS_getpid), pid);
}

// 11. Hostile arguments to injected syscalls return the host's errno.
TEST_F(PtraceTest, HostileInjections) {
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  const Layout& l = platform_->layout();
  EXPECT_EQ(ctx->InjectSyscall(SYS_munmap, 0x1001, 4096), -EINVAL);
  EXPECT_EQ(ctx->InjectSyscall(SYS_munmap, 0, 0), -EINVAL);
  EXPECT_EQ(ctx->InjectSyscall(SYS_munmap, 0xffff800000000000, 4096), -EINVAL);
  EXPECT_EQ(ctx->InjectSyscall(SYS_munmap, 0, ~uint64_t{0}), -EINVAL);
  EXPECT_EQ(ctx->InjectSyscall(SYS_mprotect, 0x40000000, 4096, PROT_READ),
            -ENOMEM);
  EXPECT_EQ(
      ctx->InjectSyscall(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
                         static_cast<uint64_t>(-1), 0),
      -EINVAL);
  EXPECT_EQ(
      ctx->InjectSyscall(SYS_mmap, 0, 4096, PROT_READ, MAP_SHARED, 12345, 0),
      -EBADF);
  EXPECT_EQ(ctx->InjectSyscall(100000), -ENOSYS);
  // The stub region itself cannot be touched.
  EXPECT_EQ(ctx->InjectSyscall(SYS_munmap, l.stub_base, l.stub_size), -EINVAL);
  EXPECT_EQ(ctx->InjectSyscall(SYS_munmap, 0, l.stub_base + 4096), -EINVAL);
  EXPECT_EQ(ctx->InjectSyscall(SYS_mprotect, l.stub_base, 4096,
                               PROT_READ | PROT_WRITE),
            -ENOMEM);
  EXPECT_EQ(ctx->InjectSyscall(SYS_mmap, l.stub_base - 4096, 8192, PROT_READ,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                               static_cast<uint64_t>(-1), 0),
            -ENOMEM);
  // Unmapping everything the application may use is fine.
  EXPECT_EQ(ctx->InjectSyscall(SYS_munmap, l.min_addr, l.max_addr - l.min_addr),
            0);
  // And the stub still works.
  EXPECT_EQ(ctx->InjectSyscall(SYS_getpid), ctx->address_space().pid());
}

// ImportFd: a sentry memfd put into the stub and mapped MAP_SHARED there;
// writes on either side are seen on the other, and a fork child shares it.
TEST_F(PtraceTest, ImportFdMapsSharedFile) {
  auto ctx = NewContext();
  ASSERT_NE(ctx, nullptr);
  int memfd = static_cast<int>(syscall(SYS_memfd_create, "import", 0));
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(ftruncate(memfd, 4096), 0);
  ASSERT_EQ(pwrite(memfd, "hello", 5, 0), 5);

  absl::StatusOr<int> fd = ctx->ImportFd(memfd);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_NE(*fd, 0);  // fd 0 is the import socket itself
  constexpr uint64_t kAt = 0x50000000;
  ASSERT_EQ(ctx->InjectSyscall(SYS_mmap, kAt, 4096, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_FIXED, *fd, 0),
            static_cast<int64_t>(kAt));
  EXPECT_EQ(ctx->InjectSyscall(SYS_close, *fd), 0);
  // The import socket cannot be closed by an injection.
  EXPECT_EQ(ctx->InjectSyscall(SYS_close, 0), -EBADF);

  char buf[6] = {};
  ASSERT_EQ(ctx->address_space().ReadMemory(kAt, buf, 5), 5);
  EXPECT_STREQ(buf, "hello");
  ASSERT_EQ(ctx->address_space().WriteMemory(kAt, "HELLO", 5), 5);
  ASSERT_EQ(pread(memfd, buf, 5, 0), 5);
  EXPECT_STREQ(buf, "HELLO");

  // Imports keep working (and numbers are reused after the close).
  absl::StatusOr<int> again = ctx->ImportFd(memfd);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *fd);
  EXPECT_EQ(ctx->InjectSyscall(SYS_close, *again), 0);
  EXPECT_FALSE(ctx->ImportFd(-1).ok());
  absl::StatusOr<int> third = ctx->ImportFd(memfd);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(ctx->InjectSyscall(SYS_close, *third), 0);

  auto pending = ctx->ForkAddressSpace();
  ASSERT_TRUE(pending.ok()) << pending.status();
  std::thread t([&] {
    auto child = (*pending)->Claim();
    ASSERT_TRUE(child.ok()) << child.status();
    ASSERT_EQ((*child)->address_space().WriteMemory(kAt + 100, "kid", 3), 3);
    // A fork child imports through the same inherited socket.
    absl::StatusOr<int> cfd = (*child)->ImportFd(memfd);
    ASSERT_TRUE(cfd.ok()) << cfd.status();
    EXPECT_EQ((*child)->InjectSyscall(SYS_close, *cfd), 0);
    child->reset();
  });
  t.join();
  char kid[4] = {};
  ASSERT_EQ(ctx->address_space().ReadMemory(kAt + 100, kid, 3), 3);
  EXPECT_STREQ(kid, "kid");
  close(memfd);
}

// Many address spaces at once, created and torn down from several threads.
TEST_F(PtraceTest, ConcurrentAddressSpaces) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 10; ++j) {
        Code code;
        code.MovEax(SYS_getpid).Syscall().JmpSelf();
        auto ctx = platform_->NewAddressSpace();
        if (!ctx.ok()) return;
        if (!LoadProgram(**ctx, code)) return;
        Registers regs = UserRegisters(kCodeAddr, kStackAddr + 4096);
        if ((*ctx)->Switch(regs).reason != StopReason::kSyscall) return;
        ok++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
}

}  // namespace
}  // namespace platform
