// Micro-benchmarks of the ptrace platform's hot paths: the syscall round trip
// (Switch -> syscall stop -> Switch) and syscall injection, plus the costs of
// creating and forking address spaces.
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "benchmark/benchmark.h"
#include "platform/platform.h"
#include "platform/ptrace/test_code.h"

namespace platform {
namespace {

using testing::Code;
using testing::kCodeAddr;
using testing::kDataAddr;
using testing::kStackAddr;

std::unique_ptr<Platform> MakePlatform(benchmark::State& state) {
  auto p = Platform::Create("ptrace");
  if (!p.ok()) {
    state.SkipWithError(std::string(p.status().message()).c_str());
    return nullptr;
  }
  return std::move(*p);
}

// For scale: one host syscall made directly by the sentry.
void BM_HostSyscall(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(syscall(SYS_getppid));
}
BENCHMARK(BM_HostSyscall);

// An application that makes getppid() in a loop: each iteration is one
// syscall stop and one resume.
void BM_SyscallRoundTrip(benchmark::State& state) {
  auto platform = MakePlatform(state);
  if (!platform) return;
  auto ctx = platform->NewAddressSpace();
  Code code;
  code.MovEax(SYS_getppid).Syscall().JmpTo(0);
  if (!ctx.ok() || !testing::LoadProgram(**ctx, code)) {
    state.SkipWithError("setup failed");
    return;
  }
  Registers regs = testing::UserRegisters(kCodeAddr, kStackAddr + 4096);
  for (auto _ : state) {
    SwitchResult r = (*ctx)->Switch(regs);
    if (r.reason != StopReason::kSyscall) {
      state.SkipWithError("unexpected stop");
      break;
    }
    regs.rax = 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SyscallRoundTrip);

void BM_InjectSyscall(benchmark::State& state) {
  auto platform = MakePlatform(state);
  if (!platform) return;
  auto ctx = platform->NewAddressSpace();
  if (!ctx.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize((*ctx)->InjectSyscall(SYS_getppid));
  }
}
BENCHMARK(BM_InjectSyscall);

// mmap + munmap of one page, as the sentry's mm would do them.
void BM_InjectMmapMunmap(benchmark::State& state) {
  auto platform = MakePlatform(state);
  if (!platform) return;
  auto ctx = platform->NewAddressSpace();
  if (!ctx.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  for (auto _ : state) {
    (*ctx)->InjectSyscall(SYS_mmap, kDataAddr, 4096, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                          static_cast<uint64_t>(-1), 0);
    (*ctx)->InjectSyscall(SYS_munmap, kDataAddr, 4096);
  }
}
BENCHMARK(BM_InjectMmapMunmap);

void BM_ReadMemory8(benchmark::State& state) {
  auto platform = MakePlatform(state);
  if (!platform) return;
  auto ctx = platform->NewAddressSpace();
  Code code;
  code.JmpSelf();
  if (!ctx.ok() || !testing::LoadProgram(**ctx, code)) {
    state.SkipWithError("setup failed");
    return;
  }
  uint64_t v;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        (*ctx)->address_space().ReadMemory(kDataAddr, &v, sizeof(v)));
  }
}
BENCHMARK(BM_ReadMemory8);

void BM_NewAddressSpace(benchmark::State& state) {
  auto platform = MakePlatform(state);
  if (!platform) return;
  for (auto _ : state) {
    auto ctx = platform->NewAddressSpace();
    if (!ctx.ok()) {
      state.SkipWithError("NewAddressSpace failed");
      break;
    }
  }
}
BENCHMARK(BM_NewAddressSpace)->Unit(benchmark::kMicrosecond);

void BM_ForkAddressSpace(benchmark::State& state) {
  auto platform = MakePlatform(state);
  if (!platform) return;
  auto ctx = platform->NewAddressSpace();
  Code code;
  code.JmpSelf();
  if (!ctx.ok() || !testing::LoadProgram(**ctx, code)) {
    state.SkipWithError("setup failed");
    return;
  }
  for (auto _ : state) {
    auto pending = (*ctx)->ForkAddressSpace();
    if (!pending.ok()) {
      state.SkipWithError("fork failed");
      break;
    }
    auto child = (*pending)->Claim();
    if (!child.ok()) {
      state.SkipWithError("claim failed");
      break;
    }
  }
}
BENCHMARK(BM_ForkAddressSpace)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace platform

BENCHMARK_MAIN();
