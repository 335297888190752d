// The initial process stack (Linux's create_elf_tables): strings at the top,
// then AT_PLATFORM and the AT_RANDOM bytes, then argc, argv, envp and the
// auxiliary vector, with rsp 16-byte aligned as the x86-64 ABI requires.
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "sentry/loader/loader.h"

namespace sentry::loader {
namespace {

using mm::kPageSize;
using mm::PageRoundDown;
using mm::PageRoundUp;

constexpr uint64_t kMaxArgStrlen = 32 * kPageSize;  // MAX_ARG_STRLEN
constexpr uint64_t kArgMax = 32 * kPageSize;        // ARG_MAX
constexpr uint64_t kStkLim = 8 << 20;               // _STK_LIM
constexpr uint64_t kMinStackSize = 128 << 10;
constexpr uint64_t kMaxStackSize = 1ULL << 40;
constexpr uint64_t kClockTicks = 100;  // USER_HZ
#ifndef AT_MINSIGSTKSZ
constexpr uint64_t AT_MINSIGSTKSZ = 51;
#endif

// The host kernel's own AT_HWCAP/AT_HWCAP2, which are what Linux would give
// the application. glibc's getauxval(AT_HWCAP) does not return them on x86
// (it reports glibc's own HWCAP_X86_* bits), so they are read from
// /proc/self/auxv, once, at start-up: later the sentry runs in an empty root
// without /proc.
struct KernelAuxv {
  bool ok = false;
  uint64_t hwcap = 0;
  uint64_t hwcap2 = 0;
};

KernelAuxv ReadKernelAuxv() {
  KernelAuxv k;
  int fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return k;
  uint64_t entry[2];
  while (read(fd, entry, sizeof(entry)) == sizeof(entry)) {
    if (entry[0] == AT_NULL) break;
    if (entry[0] == AT_HWCAP) {
      k.hwcap = entry[1];
      k.ok = true;
    } else if (entry[0] == AT_HWCAP2) {
      k.hwcap2 = entry[1];
    }
  }
  close(fd);
  return k;
}

const KernelAuxv& HostAuxv() {
  static const KernelAuxv auxv = ReadKernelAuxv();
  return auxv;
}
// Reads it during static initialisation, before any pivot_root.
[[maybe_unused]] const KernelAuxv& kHostAuxvAtStartup = HostAuxv();

// AT_HWCAP on x86 is cpuid leaf 1's edx as the kernel sees it (it may clear
// bits, e.g. MTRR in a VM); cpuid itself is the fallback.
uint64_t HostHwcap() {
  if (HostAuxv().ok) return HostAuxv().hwcap;
  unsigned int a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) return d;
  return 0;
}

uint64_t HostHwcap2() {
  return HostAuxv().ok ? HostAuxv().hwcap2 : getauxval(AT_HWCAP2);
}

// The host's signal frame size is the right one: the sentry builds signal
// frames with the host's XSAVE layout. (glibc passes this entry through.)
uint64_t HostMinSigStkSz() {
  if (unsigned long v = getauxval(AT_MINSIGSTKSZ); v != 0) return v;
  return 2048;  // MINSIGSTKSZ
}

std::array<uint8_t, 16> RandomBytes() {
  std::array<uint8_t, 16> r{};
  size_t got = 0;
  while (got < r.size()) {
    ssize_t n = getrandom(r.data() + got, r.size() - got, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    got += n;
  }
  return r;
}

}  // namespace

absl::StatusOr<StackImage> BuildStackImage(uint64_t top, const StackSpec& spec,
                                           const LoadResult& load,
                                           uint64_t vdso_base) {
  // Linux 5.18+ gives a program started with an empty argv one empty string.
  std::vector<std::string> argv = spec.argv;
  if (argv.empty()) argv.emplace_back();
  const std::vector<std::string>& envp = spec.envp;
  const uint64_t argc = argv.size(), envc = envp.size();

  // bprm_stack_limits: the strings and pointers may use a quarter of the
  // stack limit, at most 3/4 of _STK_LIM, at least ARG_MAX.
  uint64_t limit = std::min(kStkLim / 4 * 3, spec.stack_size / 4);
  limit = std::max(limit, kArgMax);
  const uint64_t ptr_bytes = (argc + envc) * sizeof(uint64_t);
  if (limit <= ptr_bytes) return cv::ErrnoStatus(E2BIG, "too many arguments");
  limit -= ptr_bytes;
  uint64_t string_bytes = 0;
  auto count = [&](const std::string& s) {
    string_bytes += s.size() + 1;
    return s.size() + 1 <= kMaxArgStrlen;
  };
  bool each_ok = count(spec.execfn);
  for (const auto& s : envp) each_ok &= count(s);
  for (const auto& s : argv) each_ok &= count(s);
  if (!each_ok) return cv::ErrnoStatus(E2BIG, "argument string too long");
  if (string_bytes > limit) {
    return cv::ErrnoStatus(E2BIG, "argument list too long");
  }

  StackImage img;
  // Strings, downwards from one pointer-sized zero word at the very top:
  // the file name first, then the environment and the arguments, each
  // copied last-to-first so that they read in order upwards.
  uint64_t p = top - sizeof(uint64_t);
  std::vector<std::pair<uint64_t, const std::string*>> strings;
  auto place = [&](const std::string& s) {
    p -= s.size() + 1;
    strings.emplace_back(p, &s);
    return p;
  };
  img.execfn = place(spec.execfn);
  std::vector<uint64_t> env_ptrs(envc), arg_ptrs(argc);
  for (uint64_t i = envc; i-- > 0;) env_ptrs[i] = place(envp[i]);
  for (uint64_t i = argc; i-- > 0;) arg_ptrs[i] = place(argv[i]);
  img.arg_start = arg_ptrs[0];
  img.arg_end = img.env_start = envc > 0 ? env_ptrs[0] : img.execfn;
  img.env_end = img.execfn;

  p &= ~uint64_t{15};
  img.platform = place(spec.platform);
  p -= 16;
  img.random = p;
  const std::array<uint8_t, 16> random =
      spec.random ? *spec.random : RandomBytes();

  auto& aux = img.auxv_entries;
  if (vdso_base != 0) aux.emplace_back(AT_SYSINFO_EHDR, vdso_base);
  aux.emplace_back(AT_MINSIGSTKSZ,
                   spec.minsigstksz ? *spec.minsigstksz : HostMinSigStkSz());
  aux.emplace_back(AT_HWCAP, spec.hwcap ? *spec.hwcap : HostHwcap());
  aux.emplace_back(AT_PAGESZ, kPageSize);
  aux.emplace_back(AT_CLKTCK, kClockTicks);
  aux.emplace_back(AT_PHDR, load.phdr_addr);
  aux.emplace_back(AT_PHENT, load.phent);
  aux.emplace_back(AT_PHNUM, load.phnum);
  aux.emplace_back(AT_BASE, load.interp_base);
  aux.emplace_back(AT_FLAGS, 0);
  aux.emplace_back(AT_ENTRY, load.exec_entry);
  aux.emplace_back(AT_UID, spec.uid);
  aux.emplace_back(AT_EUID, spec.euid);
  aux.emplace_back(AT_GID, spec.gid);
  aux.emplace_back(AT_EGID, spec.egid);
  aux.emplace_back(AT_SECURE, spec.secure ? 1 : 0);
  aux.emplace_back(AT_RANDOM, img.random);
  aux.emplace_back(AT_HWCAP2, spec.hwcap2 ? *spec.hwcap2 : HostHwcap2());
  aux.emplace_back(AT_EXECFN, img.execfn);
  aux.emplace_back(AT_PLATFORM, img.platform);
  aux.emplace_back(AT_NULL, 0);

  // argc, argv[], NULL, envp[], NULL, auxv: rounded down so that rsp (the
  // address of argc) is 16-byte aligned.
  const uint64_t items = (argc + 1) + (envc + 1) + 1;
  uint64_t sp = p - aux.size() * 2 * sizeof(uint64_t);
  sp = (sp - items * sizeof(uint64_t)) & ~uint64_t{15};
  img.sp = sp;
  img.argv = sp + sizeof(uint64_t);
  img.envp = img.argv + (argc + 1) * sizeof(uint64_t);
  img.auxv = img.envp + (envc + 1) * sizeof(uint64_t);

  img.data.assign(top - sp, 0);
  auto put64 = [&](uint64_t addr, uint64_t v) {
    memcpy(img.data.data() + (addr - sp), &v, sizeof(v));
  };
  put64(sp, argc);
  for (uint64_t i = 0; i < argc; i++) put64(img.argv + 8 * i, arg_ptrs[i]);
  for (uint64_t i = 0; i < envc; i++) put64(img.envp + 8 * i, env_ptrs[i]);
  for (size_t i = 0; i < aux.size(); i++) {
    put64(img.auxv + 16 * i, aux[i].first);
    put64(img.auxv + 16 * i + 8, aux[i].second);
  }
  memcpy(img.data.data() + (img.random - sp), random.data(), random.size());
  for (const auto& [addr, s] : strings) {
    memcpy(img.data.data() + (addr - sp), s->c_str(), s->size() + 1);
  }
  return img;
}

absl::StatusOr<uint64_t> SetUpStack(mm::MemoryManager& mm,
                                    platform::Context& ctx,
                                    const LoadResult& load,
                                    const StackSpec& spec) {
  const uint64_t top = mm.stack_top();
  // The whole stack limit is mapped (lazily backed by the host), but never
  // more than the gap the memory manager keeps between it and the mmap area.
  uint64_t size = PageRoundUp(
      std::clamp<uint64_t>(spec.stack_size, kMinStackSize, kMaxStackSize));
  const uint64_t floor = mm.mmap_base() + mm::kStackGuardGap;
  if (top <= floor + kMinStackSize) {
    return cv::ErrnoStatus(ENOMEM, "no room for the stack");
  }
  size = std::min(size, PageRoundDown(top - floor));
  const platform::Layout& layout = mm.layout();
  ASSIGN_OR_RETURN(
      StackImage img,
      BuildStackImage(top, spec, load,
                      layout.vdso_size > 0 ? layout.vdso_base : 0));
  if (img.data.size() > size) {
    return cv::ErrnoStatus(E2BIG, "arguments do not fit on the stack");
  }
  const int prot = PROT_READ | PROT_WRITE | (load.exec_stack ? PROT_EXEC : 0);
  int64_t r = mm.MapStack(ctx, top - size, size, prot);
  if (r < 0) {
    return cv::ErrnoStatus(static_cast<int>(-r), "mapping the stack");
  }
  if (mm.CopyOut(img.sp, img.data.data(), img.data.size()) != 0) {
    return cv::ErrnoStatus(EFAULT, "writing the initial stack");
  }
  mm::MemoryManager::ExecInfo info = mm.exec_info();
  info.arg_start = img.arg_start;
  info.arg_end = img.arg_end;
  info.env_start = img.env_start;
  info.env_end = img.env_end;
  info.start_stack = img.sp;
  info.start_code = load.start_code;
  info.end_code = load.end_code;
  info.start_data = load.start_data;
  info.end_data = load.end_data;
  mm.set_exec_info(std::move(info));
  return img.sp;
}

}  // namespace sentry::loader
