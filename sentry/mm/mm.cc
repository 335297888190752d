#include "sentry/mm/mm.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <map>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/errno_status.h"

namespace sentry::mm {
namespace {

constexpr int kProtRwx = PROT_READ | PROT_WRITE | PROT_EXEC;
constexpr int kProtSem = 0x8;  // accepted and ignored, as on x86

constexpr int kMapTypeMask = 0x0f;
constexpr int kMapSharedValidate = 0x03;
constexpr int kMapFixedNoreplace = MAP_FIXED_NOREPLACE;
constexpr int kMapHugeShift = 26;
constexpr int kMapUninitialized = 0x4000000;
// The flags MAP_SHARED_VALIDATE accepts on a file: Linux's LEGACY_MAP_MASK.
constexpr int kLegacyMapMask =
    MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE |
    MAP_EXECUTABLE | kMapUninitialized | MAP_GROWSDOWN | MAP_LOCKED |
    MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB |
    MAP_32BIT | (21 << kMapHugeShift) | (30 << kMapHugeShift);

constexpr int kMremapMaymove = 1;
constexpr int kMremapFixed = 2;
constexpr int kMremapDontunmap = 4;

constexpr int kMadvFree = 8;
constexpr int kMadvWipeOnFork = 18;
constexpr int kMadvKeepOnFork = 19;
constexpr int kMadvCold = 20;
constexpr int kMadvPageout = 21;
constexpr int kMadvPopulateRead = 22;
constexpr int kMadvPopulateWrite = 23;
constexpr int kMadvDontneedLocked = 24;
constexpr int kMadvCollapse = 25;
constexpr int kMadvGuardInstall = 102;
constexpr int kMadvGuardRemove = 103;

constexpr uint64_t kMinMmapGap = 128ULL << 20;
// x86-64's MAP_32BIT window.
constexpr uint64_t k32BitLow = 0x40000000;
constexpr uint64_t k32BitHigh = 0x80000000;
// How much of a file is copied per pread/WriteMemory round.
constexpr size_t kCopyChunk = 256 * 1024;

// Shared anonymous memory is a shmem file in Linux ("/dev/zero (deleted)"
// on device 00:01); each mapping gets its own inode number.
std::atomic<uint64_t> next_shmem_inode{1};

}  // namespace

MemoryManager::MemoryManager(const platform::Layout& layout,
                             std::shared_ptr<platform::AddressSpace> as)
    : layout_(layout), as_(std::move(as)) {
  vmas_.set_guard_gap(kStackGuardGap);
  // The vvar and vdso pages are sealed, as with Linux 6.15+'s
  // CONFIG_MSEAL_SYSTEM_MAPPINGS: munmap, MAP_FIXED, mprotect and mremap of
  // them fail with EPERM. Linux without sealing lets an application unmap
  // its vDSO; here the pages belong to the stub, which may depend on them,
  // so the sealed behaviour is the one that keeps the stub intact.
  if (layout_.vvar_size > 0) {
    Vma v;
    v.start = PageRoundDown(layout_.vvar_base);
    v.end = PageRoundUp(layout_.vvar_base + layout_.vvar_size);
    v.prot = PROT_READ;
    v.max_prot = PROT_READ;
    v.sealed = true;
    v.name = "[vvar]";
    vmas_.Insert(std::move(v));
  }
  if (layout_.vdso_size > 0) {
    Vma v;
    v.start = PageRoundDown(layout_.vdso_base);
    v.end = PageRoundUp(layout_.vdso_base + layout_.vdso_size);
    v.prot = PROT_READ | PROT_EXEC;
    v.max_prot = PROT_READ | PROT_EXEC;
    v.sealed = true;
    v.name = "[vdso]";
    vmas_.Insert(std::move(v));
  }
  SetStackRlimit(kDefaultStackRlimit);
}

void MemoryManager::SetStackRlimit(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  // Linux's mmap_base(): the gap left for the stack is its rlimit plus the
  // guard gap, clamped to [128 MiB, 5/6 of the address space].
  uint64_t gap = bytes;
  if (gap + kStackGuardGap > gap) gap += kStackGuardGap;
  uint64_t max_gap = std::max(kMinMmapGap, layout_.max_addr / 6 * 5);
  gap = PageRoundUp(std::clamp(gap, kMinMmapGap, max_gap));
  // One free page between the stack and the stub region above it.
  uint64_t top = PageRoundDown(layout_.max_addr) - kPageSize;
  // The stack (and its guard gap) must not run into the vvar/vdso pages:
  // if the platform put them there, the stack goes below them.
  uint64_t stack_area = std::min(
      gap, PageRoundUp(std::min(bytes, layout_.max_addr)) + kStackGuardGap);
  for (bool moved = true; moved;) {
    moved = false;
    uint64_t low = top > stack_area ? top - stack_area : 0;
    for (const auto& [start, v] : vmas_) {
      if (v.sealed && v.start < top && v.end > low) {
        top = v.start > kPageSize ? v.start - kPageSize : 0;
        moved = true;
        break;
      }
    }
  }
  stack_top_ = top;
  mmap_base_ = top > gap + layout_.min_addr ? PageRoundDown(top - gap)
                                            : layout_.min_addr;
}

bool MemoryManager::OverlapsSealed(uint64_t start, uint64_t end) const {
  for (const Vma& v : vmas_.Overlapping(start, end)) {
    if (v.sealed) return true;
  }
  return false;
}

std::optional<uint64_t> MemoryManager::FindAreaLocked(uint64_t hint,
                                                      uint64_t len, int flags,
                                                      uint64_t align) const {
  const uint64_t low = std::max(layout_.min_addr, kPageSize);
  uint64_t limit = layout_.max_addr;
  if (flags & MAP_32BIT) limit = std::min(limit, k32BitHigh);
  // A hint is taken when the range is free and leaves a growsdown VMA its
  // guard gap (x86's arch_get_unmapped_area_topdown).
  if (hint != 0 && hint % align == 0 && len <= limit && hint <= limit - len) {
    const Vma* next = vmas_.FindNext(hint);
    if (next == nullptr || hint + len <= vmas_.StartGap(*next)) return hint;
  }
  if (flags & MAP_32BIT) {
    return vmas_.FindGapBottomUp(len, std::max(low, k32BitLow), limit, align);
  }
  // Top-down below the mmap base, then (as Linux does when that fails)
  // bottom-up from a third of the address space.
  if (auto a = vmas_.FindGapTopDown(len, low, mmap_base_, align)) return a;
  return vmas_.FindGapBottomUp(len, std::max(low, layout_.max_addr / 3),
                               layout_.max_addr, align);
}

int64_t MemoryManager::HostMapAnon(platform::Context& ctx, uint64_t start,
                                   uint64_t len, int prot, bool shared,
                                   int extra_flags) {
  int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED |
              extra_flags;
  // The sentry has chosen the address, so the stub always maps MAP_FIXED.
  int64_t r = ctx.InjectSyscall(SYS_mmap, start, len, prot, flags,
                                static_cast<uint64_t>(-1), 0);
  if (r < 0) return r;
  if (static_cast<uint64_t>(r) != start) return -ENOMEM;
  return 0;
}

int64_t MemoryManager::HostMapFile(platform::Context& ctx, uint64_t start,
                                   uint64_t len, int prot, bool shared,
                                   int host_fd, uint64_t offset,
                                   int extra_flags) {
  // The stub gets its own copy of the fd just for the mmap: the mapping
  // keeps the file, so the fd is closed at once.
  absl::StatusOr<int> fd = ctx.ImportFd(host_fd);
  if (!fd.ok()) {
    int err = cv::StatusToErrno(fd.status());
    return err > 0 ? -err : -ENOMEM;
  }
  int64_t r = ctx.InjectSyscall(
      SYS_mmap, start, len, prot,
      (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED | extra_flags,
      static_cast<uint64_t>(*fd), offset);
  ctx.InjectSyscall(SYS_close, static_cast<uint64_t>(*fd));
  if (r < 0) return r;
  if (static_cast<uint64_t>(r) != start) return -ENOMEM;
  return 0;
}

void MemoryManager::Discard(platform::Context& ctx, uint64_t start,
                            uint64_t end) {
  ctx.InjectSyscall(SYS_munmap, start, end - start);
  vmas_.Remove(start, end);
}

namespace {

// Copies the file bytes behind [start, end) of `vma` into the address space.
// Pages past the end of the file stay as they are (zero in a fresh mapping).
int CopyFileRange(platform::AddressSpace& as, const Vma& vma, uint64_t start,
                  uint64_t end) {
  const MappedFile& file = *vma.file;
  uint64_t off = vma.offset + (start - vma.start);
  uint64_t at = start;
  std::vector<char> buf(std::min<uint64_t>(kCopyChunk, end - start));
  while (at < end && off < file.size) {
    size_t want = std::min<uint64_t>({end - at, kCopyChunk, file.size - off});
    ssize_t n = file.pread(buf.data(), want, off);
    if (n < 0) return static_cast<int>(n);
    if (n == 0) break;  // the file shrank: the rest reads as zeros
    if (as.WriteMemory(at, buf.data(), n) != n) return -EFAULT;
    at += n;
    off += n;
  }
  return 0;
}

}  // namespace

int MemoryManager::FillFromFile(platform::Context& ctx, const Vma& vma,
                                uint64_t start, uint64_t end) {
  // The sentry writes through the address space, which honours the page
  // protections: open the range for writing while copying.
  bool reprotect = (vma.prot & PROT_WRITE) == 0 || (vma.prot & PROT_READ) == 0;
  if (reprotect) {
    int64_t r = ctx.InjectSyscall(SYS_mprotect, start, end - start,
                                  PROT_READ | PROT_WRITE);
    if (r < 0) return static_cast<int>(r);
  }
  int err = CopyFileRange(*as_, vma, start, end);
  if (reprotect) {
    int64_t r = ctx.InjectSyscall(SYS_mprotect, start, end - start, vma.prot);
    if (err == 0 && r < 0) err = static_cast<int>(r);
  }
  return err;
}

int64_t MemoryManager::Mmap(platform::Context& ctx, uint64_t addr, uint64_t len,
                            int prot, int flags, const MappedFile* file,
                            uint64_t offset) {
  // The checks follow Linux's order (sys_mmap, then do_mmap), so that a call
  // with several things wrong fails with the same errno.
  if (!PageAligned(offset)) return -EINVAL;
  if (len == 0) return -EINVAL;
  if (flags & kMapFixedNoreplace) flags |= MAP_FIXED;
  const bool fixed = flags & MAP_FIXED;
  if (!fixed) {
    // round_hint_to_min: a hint below mmap_min_addr is moved up to it.
    addr = PageRoundDown(addr);
    if (addr != 0 && addr < layout_.min_addr) {
      addr = PageRoundUp(layout_.min_addr);
    }
  }
  if (len > UINT64_MAX - kPageMask) return -ENOMEM;
  len = PageRoundUp(len);

  std::lock_guard<std::mutex> lock(mu_);
  if (vmas_.size() > max_map_count_) return -ENOMEM;

  // get_unmapped_area.
  if (len > layout_.max_addr) return -ENOMEM;
  uint64_t start = addr;
  if (!fixed) {
    auto a = FindAreaLocked(addr, len, flags, kPageSize);
    if (!a) return -ENOMEM;
    start = *a;
  }
  if (start > layout_.max_addr - len) return -ENOMEM;
  if (!PageAligned(start)) return -EINVAL;
  if (start < layout_.min_addr) return -EPERM;
  const uint64_t end = start + len;
  if ((flags & kMapFixedNoreplace) && vmas_.Overlaps(start, end)) {
    return -EEXIST;
  }

  bool shared = false;
  int max_prot = kProtRwx;
  if (file != nullptr) {
    // file_mmap_ok: offset + len must fit in a loff_t.
    if (offset > static_cast<uint64_t>(LLONG_MAX) - len) return -EOVERFLOW;
    switch (flags & kMapTypeMask) {
      case MAP_SHARED:
        // Plain MAP_SHARED ignores flags it does not know.
        flags &= kLegacyMapMask;
        [[fallthrough]];
      case kMapSharedValidate:
        if (flags & ~kLegacyMapMask) return -EOPNOTSUPP;
        if ((prot & PROT_WRITE) && !file->writable) return -EACCES;
        shared = true;
        if (!file->writable) max_prot &= ~PROT_WRITE;
        [[fallthrough]];
      case MAP_PRIVATE:
        if (!file->readable) return -EACCES;
        if (flags & MAP_GROWSDOWN) return -EINVAL;
        break;
      default:
        return -EINVAL;
    }
    // Shared file mappings map the host file itself in the stub. A file
    // without a host fd (procfs, devfs) cannot be shared that way: refuse
    // the mappings that could be written. One that can never be written
    // (the file is open read-only, so not even mprotect can add PROT_WRITE)
    // differs from a private copy only if someone else changes the file,
    // and is served as one.
    if (shared && file->host_fd < 0 && file->writable) return -ENODEV;
  } else {
    switch (flags & kMapTypeMask) {
      case MAP_SHARED:
        if (flags & MAP_GROWSDOWN) return -EINVAL;
        shared = true;
        break;
      case MAP_PRIVATE:
        break;
      default:
        // Including MAP_SHARED_VALIDATE: Linux has no validating form for
        // anonymous memory.
        return -EINVAL;
    }
    // No huge pages are reserved for the sandbox, as on a host with
    // vm.nr_hugepages = 0.
    if (flags & MAP_HUGETLB) return -ENOMEM;
  }
  if (fixed && OverlapsSealed(start, end)) return -EPERM;

  Vma vma;
  vma.start = start;
  vma.end = end;
  vma.prot = prot & kProtRwx;
  vma.max_prot = max_prot;
  vma.shared = shared;
  vma.growsdown = (flags & MAP_GROWSDOWN) != 0;
  // MAP_LOCKED is accepted without locking host pages: the stub has no
  // RLIMIT_MEMLOCK to spend. MAP_GROWSDOWN is recorded (guard gap) but the
  // host mapping does not grow by itself, so the VMA map stays true.
  const int host_extra = flags & (MAP_NORESERVE | MAP_POPULATE);

  if (file == nullptr) {
    if (shared) {
      vma.name = "/dev/zero (deleted)";
      vma.dev = makedev(0, 1);
      vma.inode = next_shmem_inode.fetch_add(1);
    }
    int64_t r = HostMapAnon(ctx, start, len, vma.prot, shared, host_extra);
    if (r < 0) {
      // A failed MAP_FIXED may already have taken the old pages away.
      if (fixed) Discard(ctx, start, end);
      return r;
    }
    vmas_.Insert(std::move(vma));
    return static_cast<int64_t>(start);
  }

  vma.file = std::make_shared<const MappedFile>(*file);
  vma.offset = offset;
  vma.name = file->name;
  vma.dev = file->dev;
  vma.inode = file->inode;
  if (file->host_fd >= 0) {
    // The host maps the file itself: shared mappings share its pages; the
    // host gives private ones copy-on-write and, as Linux, shows them later
    // changes to pages not yet written (and SIGBUS past the end of the
    // file). Much cheaper than copying a library in.
    int64_t r = HostMapFile(ctx, start, len, vma.prot, shared, file->host_fd,
                            offset, host_extra);
    if (r == 0) {
      vma.host_mapped = true;
      vmas_.Insert(std::move(vma));
      return static_cast<int64_t>(start);
    }
    // The host may refuse what the sandbox allows (PROT_EXEC of a file on a
    // noexec host mount or of a noexec memfd): a private mapping falls back
    // to a copy.
    if (shared || (r != -EPERM && r != -EACCES)) {
      if (fixed) Discard(ctx, start, end);
      return r;
    }
  }
  // A private mapping of a file without a host fd (procfs, devfs) is
  // carried out as an anonymous copy of the file (correct for MAP_PRIVATE
  // except that later changes to the file are not seen): map it writable,
  // copy the bytes in, then apply the protection.
  int64_t r = HostMapAnon(ctx, start, len, PROT_READ | PROT_WRITE, false,
                          host_extra & ~MAP_POPULATE);
  if (r < 0) {
    if (fixed) Discard(ctx, start, end);
    return r;
  }
  if (int err = CopyFileRange(*as_, vma, start, end); err < 0) {
    Discard(ctx, start, end);
    return err;
  }
  if (vma.prot != (PROT_READ | PROT_WRITE)) {
    r = ctx.InjectSyscall(SYS_mprotect, start, len, vma.prot);
    if (r < 0) {
      Discard(ctx, start, end);
      return r;
    }
  }
  vmas_.Insert(std::move(vma));
  return static_cast<int64_t>(start);
}

int64_t MemoryManager::MunmapLocked(platform::Context& ctx, uint64_t start,
                                    uint64_t end) {
  if (!vmas_.Overlaps(start, end)) return 0;
  int64_t r = ctx.InjectSyscall(SYS_munmap, start, end - start);
  if (r < 0) return r;
  vmas_.Remove(start, end);
  return 0;
}

int64_t MemoryManager::Munmap(platform::Context& ctx, uint64_t addr,
                              uint64_t len) {
  if (!PageAligned(addr) || addr > layout_.max_addr ||
      len > layout_.max_addr - addr) {
    return -EINVAL;
  }
  len = PageRoundUp(len);
  if (len == 0) return -EINVAL;
  const uint64_t end = addr + len;
  std::lock_guard<std::mutex> lock(mu_);
  if (OverlapsSealed(addr, end)) return -EPERM;
  // Punching a hole into one VMA makes two: Linux refuses that at the limit
  // (other splits may take the count just over it).
  if (const Vma* v = vmas_.Find(addr); v != nullptr && v->start < addr &&
                                       end < v->end &&
                                       vmas_.size() >= max_map_count_) {
    return -ENOMEM;
  }
  return MunmapLocked(ctx, addr, end);
}

int64_t MemoryManager::Mprotect(platform::Context& ctx, uint64_t addr,
                                uint64_t len, int prot) {
  const int grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~grows;
  if (grows == (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (!PageAligned(addr)) return -EINVAL;
  if (len == 0) return 0;
  if (len > UINT64_MAX - kPageMask) return -ENOMEM;
  len = PageRoundUp(len);
  uint64_t end = addr + len;
  if (end <= addr) return -ENOMEM;
  if (prot & ~(kProtRwx | kProtSem)) return -EINVAL;
  prot &= kProtRwx;

  std::lock_guard<std::mutex> lock(mu_);
  const Vma* first = vmas_.FindNext(addr);
  if (first == nullptr || first->start >= end) return -ENOMEM;
  if (grows & PROT_GROWSDOWN) {
    // Extend down to the start of the growsdown VMA.
    addr = first->start;
    if (!first->growsdown) return -EINVAL;
  } else {
    if (first->start > addr) return -ENOMEM;
    // x86 has no VM_GROWSUP mappings.
    if (grows & PROT_GROWSUP) return -EINVAL;
  }
  if (OverlapsSealed(addr, end)) return -EPERM;

  // Like Linux, apply the change VMA by VMA up to the first hole (ENOMEM)
  // or the first VMA that may not get `prot` (EACCES); what came before it
  // keeps the new protection.
  uint64_t stop = vmas_.MappedPrefixEnd(addr, end);
  int64_t err = stop < end ? -ENOMEM : 0;
  for (const Vma& v : vmas_.Overlapping(addr, stop)) {
    if (prot & ~v.max_prot) {
      stop = v.start;
      err = -EACCES;
      break;
    }
  }
  if (stop > addr) {
    int splits = vmas_.SplitsNeeded(addr, stop);
    if (splits > 0 && vmas_.size() + splits > max_map_count_) return -ENOMEM;
    int64_t r = ctx.InjectSyscall(SYS_mprotect, addr, stop - addr, prot);
    if (r < 0) return r;
    vmas_.Protect(addr, stop, prot);
  }
  return err;
}

int64_t MemoryManager::Brk(platform::Context& ctx, uint64_t addr) {
  std::lock_guard<std::mutex> lock(mu_);
  // Every failure returns the current break, which is how brk reports it.
  if (brk_start_ == 0) return static_cast<int64_t>(brk_);
  if (addr < brk_start_ || addr > layout_.max_addr) {
    return static_cast<int64_t>(brk_);
  }
  const uint64_t new_end = PageRoundUp(addr);
  const uint64_t old_end = PageRoundUp(brk_);
  if (new_end == old_end) {
    brk_ = addr;
    return static_cast<int64_t>(brk_);
  }
  if (addr <= brk_) {
    // Shrinking is always allowed.
    if (MunmapLocked(ctx, new_end, old_end) < 0) {
      return static_cast<int64_t>(brk_);
    }
    brk_ = addr;
    return static_cast<int64_t>(brk_);
  }
  // The heap must stay a page (and a stack's guard gap) clear of the next
  // mapping.
  const Vma* next = vmas_.FindNext(old_end);
  if (next != nullptr && new_end + kPageSize > vmas_.StartGap(*next)) {
    return static_cast<int64_t>(brk_);
  }
  if (vmas_.size() > max_map_count_) return static_cast<int64_t>(brk_);
  if (HostMapAnon(ctx, old_end, new_end - old_end, PROT_READ | PROT_WRITE,
                  false, 0) < 0) {
    return static_cast<int64_t>(brk_);
  }
  Vma heap;
  heap.start = old_end;
  heap.end = new_end;
  heap.prot = PROT_READ | PROT_WRITE;
  heap.name = "[heap]";
  vmas_.Insert(std::move(heap));
  brk_ = addr;
  return static_cast<int64_t>(brk_);
}

int64_t MemoryManager::Mremap(platform::Context& ctx, uint64_t old_addr,
                              uint64_t old_len, uint64_t new_len, int flags,
                              uint64_t new_addr) {
  if (flags & ~(kMremapMaymove | kMremapFixed | kMremapDontunmap)) {
    return -EINVAL;
  }
  if ((flags & kMremapFixed) && !(flags & kMremapMaymove)) return -EINVAL;
  // MREMAP_DONTUNMAP always moves and never resizes.
  if ((flags & kMremapDontunmap) &&
      (!(flags & kMremapMaymove) || old_len != new_len)) {
    return -EINVAL;
  }
  if (!PageAligned(old_addr)) return -EINVAL;
  if (old_len > UINT64_MAX - kPageMask || new_len > UINT64_MAX - kPageMask) {
    return -EINVAL;
  }
  old_len = PageRoundUp(old_len);
  new_len = PageRoundUp(new_len);
  if (new_len == 0) return -EINVAL;
  const bool fixed = flags & kMremapFixed;
  const bool dontunmap = flags & kMremapDontunmap;
  if (new_len > layout_.max_addr) return -EINVAL;
  // With MREMAP_FIXED new_addr is where the mapping goes; with
  // MREMAP_DONTUNMAP alone it is a hint. Either way Linux checks it first.
  const bool new_addr_given = fixed || dontunmap;
  if (new_addr_given) {
    if (new_addr > layout_.max_addr - new_len) return -EINVAL;
    if (!PageAligned(new_addr)) return -EINVAL;
    if (old_addr + old_len > new_addr && new_addr + new_len > old_addr) {
      return -EINVAL;
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  // A move may split a VMA at each end of both ranges: Linux refuses it
  // up front when that could cross the limit.
  if (new_addr_given && vmas_.size() + 2 + 3 >= max_map_count_) {
    return -ENOMEM;
  }
  const Vma* found = vmas_.Find(old_addr);
  if (found == nullptr) return -EFAULT;
  if (OverlapsSealed(old_addr, old_addr + std::max(old_len, kPageSize)) ||
      (fixed && OverlapsSealed(new_addr, new_addr + new_len))) {
    return -EPERM;
  }
  // old_len 0 duplicates a shared mapping; nothing else can be duplicated.
  if (old_len == 0 && !found->shared) return -EINVAL;

  // The tail a shrink unmaps must be a valid munmap range.
  const bool old_range_ok =
      old_addr <= layout_.max_addr && old_len <= layout_.max_addr - old_addr;
  if (!fixed && !dontunmap && new_len <= old_len) {
    if (!old_range_ok) return -EINVAL;
    // Shrinking in place just unmaps the tail.
    int64_t r = MunmapLocked(ctx, old_addr + new_len, old_addr + old_len);
    if (r < 0) return r;
    return static_cast<int64_t>(old_addr);
  }
  if (fixed && old_len > new_len) {
    if (!old_range_ok) return -EINVAL;
    int64_t r = MunmapLocked(ctx, old_addr + new_len, old_addr + old_len);
    if (r < 0) return r;
    old_len = new_len;
  }
  Vma vma = *vmas_.Find(old_addr);
  // The old range must lie within one mapping.
  if (old_len > vma.end - old_addr) return -EFAULT;

  if (!fixed && !dontunmap) {
    // Grow in place when the old range ends the VMA and the space after it
    // is free.
    if (old_addr + old_len == vma.end) {
      const Vma* next = vmas_.FindNext(vma.end);
      uint64_t limit = next != nullptr ? next->start : layout_.max_addr;
      limit = std::min(limit, layout_.max_addr);
      if (new_len - old_len <= limit - vma.end) {
        int64_t r =
            ctx.InjectSyscall(SYS_mremap, old_addr, old_len, new_len, 0, 0);
        if (r < 0) return r;
        Vma ext = vma;
        ext.start = vma.end;
        ext.end = old_addr + new_len;
        ext.offset = vma.offset + vma.size();
        vmas_.Insert(ext);
        if (ext.file != nullptr && !ext.host_mapped) {
          if (int err = FillFromFile(ctx, ext, ext.start, ext.end); err < 0) {
            return err;
          }
        }
        return static_cast<int64_t>(old_addr);
      }
    }
    if (!(flags & kMremapMaymove)) return -ENOMEM;
  }

  uint64_t dest = new_addr;
  if (!fixed) {
    auto a = FindAreaLocked(dontunmap ? new_addr : 0, new_len, 0, kPageSize);
    if (!a) return -ENOMEM;
    dest = *a;
  }
  if (dest < layout_.min_addr) return -EPERM;
  int64_t r = ctx.InjectSyscall(
      SYS_mremap, old_addr, old_len, new_len,
      kMremapMaymove | kMremapFixed | (dontunmap ? kMremapDontunmap : 0), dest);
  if (r < 0) return r;
  if (static_cast<uint64_t>(r) != dest) return -ENOMEM;

  Vma moved = vma;
  moved.start = dest;
  moved.end = dest + new_len;
  moved.offset = vma.offset + (old_addr - vma.start);
  if (!dontunmap && old_len > 0) vmas_.Remove(old_addr, old_addr + old_len);
  vmas_.Insert(moved);
  if (moved.file != nullptr && !moved.host_mapped) {
    if (new_len > old_len) {
      if (int err = FillFromFile(ctx, moved, dest + old_len, moved.end);
          err < 0) {
        return err;
      }
    }
    if (dontunmap) {
      // The old range is left empty; in Linux it would fault the file's
      // pages back in.
      Vma old = vma;
      old.offset = vma.offset + (old_addr - vma.start);
      old.start = old_addr;
      old.end = old_addr + old_len;
      if (int err = FillFromFile(ctx, old, old.start, old.end); err < 0) {
        return err;
      }
    }
  }
  return static_cast<int64_t>(dest);
}

namespace {

bool ValidAdvice(int advice) {
  switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
    case kMadvFree:
    case MADV_REMOVE:
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case kMadvWipeOnFork:
    case kMadvKeepOnFork:
    case kMadvCold:
    case kMadvPageout:
    case kMadvPopulateRead:
    case kMadvPopulateWrite:
    case kMadvDontneedLocked:
    case kMadvCollapse:
    case kMadvGuardInstall:
    case kMadvGuardRemove:
      return true;
    default:
      // Including MADV_HWPOISON and MADV_SOFT_OFFLINE, which a kernel
      // without CONFIG_MEMORY_FAILURE rejects the same way.
      return false;
  }
}

}  // namespace

int64_t MemoryManager::Madvise(platform::Context& ctx, uint64_t addr,
                               uint64_t len, int advice) {
  if (!ValidAdvice(advice)) return -EINVAL;
  if (!PageAligned(addr)) return -EINVAL;
  if (len > UINT64_MAX - kPageMask) return -EINVAL;
  len = PageRoundUp(len);
  const uint64_t end = addr + len;
  if (end < addr) return -EINVAL;
  if (end == addr) return 0;

  std::lock_guard<std::mutex> lock(mu_);
  // Linux applies the advice to the mapped parts and then reports a hole.
  const int64_t hole = vmas_.IsFullyMapped(addr, end) ? 0 : -ENOMEM;
  const std::vector<Vma> pieces = vmas_.Overlapping(addr, end);
  auto forward = [&](const Vma& v, int host_advice) -> int64_t {
    return ctx.InjectSyscall(SYS_madvise, v.start, v.size(), host_advice);
  };

  switch (advice) {
    case MADV_DONTNEED:
    case kMadvDontneedLocked:
      for (const Vma& v : pieces) {
        // vvar is a PFN map in Linux, which refuses this.
        if (v.sealed) return -EINVAL;
      }
      for (const Vma& v : pieces) {
        if (int64_t r = forward(v, MADV_DONTNEED); r < 0) return r;
        // A private file mapping drops its private copy and shows the file
        // again; here the copy is the mapping, so read the file back in.
        if (v.file != nullptr && !v.host_mapped) {
          if (int err = FillFromFile(ctx, v, v.start, v.end); err < 0) {
            return err;
          }
        }
      }
      return hole;
    case kMadvFree:
    case kMadvWipeOnFork:
      // Only for private anonymous memory.
      for (const Vma& v : pieces) {
        if (v.file != nullptr || v.shared || v.sealed) return -EINVAL;
        if (int64_t r = forward(v, advice); r < 0) return r;
      }
      return hole;
    case MADV_REMOVE:
      // Punches a hole in the backing object: only shared writable ones.
      for (const Vma& v : pieces) {
        if (v.sealed || (!v.shared && v.file == nullptr)) return -EINVAL;
        if (!v.shared || !(v.max_prot & PROT_WRITE)) return -EACCES;
        if (int64_t r = forward(v, advice); r < 0) return r;
      }
      return hole;
    case MADV_DONTFORK:
    case MADV_DOFORK:
      // The host fork must agree with the VMA map: forward, and record.
      for (const Vma& v : pieces) {
        if (v.sealed) continue;
        if (int64_t r = forward(v, advice); r < 0) return r;
      }
      for (const Vma& v : pieces) {
        if (v.sealed) continue;
        vmas_.Modify(v.start, v.end, [advice](Vma& m) {
          m.dontfork = advice == MADV_DONTFORK;
        });
      }
      return hole;
    case kMadvKeepOnFork:
    case kMadvPopulateRead:
    case kMadvPopulateWrite:
    case kMadvGuardInstall:
    case kMadvGuardRemove:
      if ((advice == kMadvPopulateRead || advice == kMadvPopulateWrite) &&
          hole != 0) {
        return hole;  // populating fails at the first hole
      }
      for (const Vma& v : pieces) {
        if (v.sealed) {
          if (advice == kMadvGuardInstall || advice == kMadvGuardRemove) {
            return -EINVAL;
          }
          continue;
        }
        if (int64_t r = forward(v, advice); r < 0) return r;
      }
      return hole;
    default:
      // Hints about access patterns, KSM, THP, core dumps, reclaim: they
      // change nothing the application can observe here.
      return hole;
  }
}

int64_t MemoryManager::Mincore(platform::Context& ctx, uint64_t addr,
                               uint64_t len, uint64_t vec) {
  if (!PageAligned(addr)) return -EINVAL;
  if (len > UINT64_MAX - kPageMask) return -EFAULT;
  const uint64_t pages = PageRoundUp(len) / kPageSize;
  if (vec > layout_.max_addr || pages > layout_.max_addr - vec) return -EFAULT;
  if (pages == 0) return 0;
  const uint64_t end = addr + pages * kPageSize;
  if (end < addr) return -ENOMEM;
  std::lock_guard<std::mutex> lock(mu_);
  if (!vmas_.IsFullyMapped(addr, end)) return -ENOMEM;
  // The host writes the result vector into the stub: only allow it where
  // the application itself could write, so it never touches anything else.
  uint64_t vec_end = PageRoundUp(vec + pages);
  if (!vmas_.IsFullyMapped(PageRoundDown(vec), vec_end)) return -EFAULT;
  for (const Vma& v : vmas_.Overlapping(PageRoundDown(vec), vec_end)) {
    if (!(v.prot & PROT_WRITE) || v.sealed) return -EFAULT;
  }
  return ctx.InjectSyscall(SYS_mincore, addr, len, vec);
}

int64_t MemoryManager::Msync(platform::Context& ctx, uint64_t addr,
                             uint64_t len, int flags) {
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return -EINVAL;
  if (!PageAligned(addr)) return -EINVAL;
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return -EINVAL;
  if (len > UINT64_MAX - kPageMask) return -ENOMEM;
  len = PageRoundUp(len);
  const uint64_t end = addr + len;
  if (end < addr) return -ENOMEM;
  if (end == addr) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  // Linux syncs the mapped parts up to the first hole, then reports it.
  const uint64_t stop = vmas_.MappedPrefixEnd(addr, end);
  // Only host-mapped files have anything to write back; private copies
  // and anonymous memory have nothing behind them.
  for (const Vma& v : vmas_.Overlapping(addr, stop)) {
    if (!v.host_mapped) continue;
    int64_t r = ctx.InjectSyscall(SYS_msync, v.start, v.size(), flags);
    if (r < 0) return r;
  }
  return stop < end ? -ENOMEM : 0;
}

int64_t MemoryManager::Mlock(uint64_t addr, uint64_t len, bool populate) {
  const uint64_t start = PageRoundDown(addr);
  const uint64_t in_page = addr & kPageMask;
  if (len > UINT64_MAX - kPageMask - in_page) return -EINVAL;
  len = PageRoundUp(len + in_page);
  const uint64_t end = start + len;
  if (end < start) return -EINVAL;
  if (end == start) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  if (!vmas_.IsFullyMapped(start, end)) return -ENOMEM;
  if (populate) {
    // mlock faults the pages in; a PROT_NONE page cannot be, and Linux
    // reports that as ENOMEM.
    for (const Vma& v : vmas_.Overlapping(start, end)) {
      if (v.prot == PROT_NONE) return -ENOMEM;
    }
  }
  return 0;
}

int64_t MemoryManager::DetachShm(platform::Context& ctx, uint64_t addr) {
  if (!PageAligned(addr)) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<const MappedFile> file;
  for (auto it = vmas_.begin(); it != vmas_.end(); ++it) {
    const Vma& v = it->second;
    if (v.end <= addr) continue;
    if (v.file != nullptr && v.file->sysv_shm && v.start - addr == v.offset) {
      file = v.file;
      break;
    }
  }
  if (file == nullptr) return -EINVAL;
  uint64_t size = PageRoundUp(file->size);
  uint64_t end =
      size > layout_.max_addr - addr ? layout_.max_addr : addr + size;
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  for (const Vma& v : vmas_.Overlapping(addr, end)) {
    if (v.file == file) pieces.emplace_back(v.start, v.end);
  }
  for (const auto& [s, e] : pieces) {
    if (int64_t r = MunmapLocked(ctx, s, e); r < 0) return r;
  }
  return 0;
}

void MemoryManager::SetBrkStart(uint64_t addr) {
  std::lock_guard<std::mutex> lock(mu_);
  brk_start_ = brk_ = PageRoundUp(addr);
}

int64_t MemoryManager::MapStack(platform::Context& ctx, uint64_t start,
                                uint64_t len, int prot) {
  if (!PageAligned(start) || len == 0 || !PageAligned(len)) return -EINVAL;
  if (start < layout_.min_addr || len > layout_.max_addr ||
      start > layout_.max_addr - len) {
    return -ENOMEM;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (vmas_.Overlaps(start, start + len)) return -EEXIST;
  // The whole RLIMIT_STACK is mapped up front (the host fills it lazily),
  // since a host MAP_GROWSDOWN mapping would grow behind the VMA map's back.
  int64_t r =
      HostMapAnon(ctx, start, len, prot & kProtRwx, false, MAP_NORESERVE);
  if (r < 0) return r;
  Vma v;
  v.start = start;
  v.end = start + len;
  v.prot = prot & kProtRwx;
  v.growsdown = true;
  v.name = "[stack]";
  vmas_.Insert(std::move(v));
  return static_cast<int64_t>(start);
}

int64_t MemoryManager::FindUnmappedArea(uint64_t len, uint64_t align) const {
  if (len == 0 || len > layout_.max_addr) return -ENOMEM;
  if (align < kPageSize || (align & (align - 1)) != 0) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  auto a = FindAreaLocked(0, PageRoundUp(len), 0, align);
  return a ? static_cast<int64_t>(*a) : -ENOMEM;
}

std::string MemoryManager::MapsText() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [start, v] : vmas_) {
    // show_map_vma: the fixed fields, then the name padded to column 73.
    std::string line = absl::StrFormat(
        "%08x-%08x %c%c%c%c %08x %02x:%02x %u ", v.start, v.end,
        (v.prot & PROT_READ) ? 'r' : '-', (v.prot & PROT_WRITE) ? 'w' : '-',
        (v.prot & PROT_EXEC) ? 'x' : '-', v.shared ? 's' : 'p',
        v.has_backing_object() ? v.offset : 0, major(v.dev), minor(v.dev),
        v.inode);
    if (!v.name.empty()) {
      if (line.size() < 72) line.append(72 - line.size(), ' ');
      line += ' ';
      line += v.name;
    }
    line += '\n';
    out += line;
  }
  return out;
}

int MemoryManager::CopyIn(uint64_t addr, void* buf, size_t len) {
  if (len == 0) return 0;
  ssize_t n = as_->ReadMemory(addr, buf, len);
  return n == static_cast<ssize_t>(len) ? 0 : -EFAULT;
}

int MemoryManager::CopyOut(uint64_t addr, const void* buf, size_t len) {
  if (len == 0) return 0;
  ssize_t n = as_->WriteMemory(addr, buf, len);
  return n == static_cast<ssize_t>(len) ? 0 : -EFAULT;
}

std::shared_ptr<MemoryManager> MemoryManager::Fork(
    std::shared_ptr<platform::AddressSpace> child_as) const {
  auto child = std::make_shared<MemoryManager>(layout_, std::move(child_as));
  std::lock_guard<std::mutex> lock(mu_);
  child->vmas_ = vmas_;
  // A fork child's SysV attachments are attachments of its own (counted in
  // shm_nattch): give each a fresh MappedFile from the segment.
  std::map<const MappedFile*, std::shared_ptr<const MappedFile>> forked;
  child->vmas_.Modify(0, UINT64_MAX, [&](Vma& v) {
    if (v.file == nullptr || !v.file->on_fork) return;
    auto& copy = forked[v.file.get()];
    if (copy == nullptr) {
      auto f = std::make_shared<MappedFile>(*v.file);
      f->keep_alive = v.file->on_fork();
      copy = std::move(f);
    }
    v.file = copy;
  });
  // MADV_DONTFORK ranges were not copied by the host fork either.
  std::vector<std::pair<uint64_t, uint64_t>> dropped;
  for (const auto& [start, v] : vmas_) {
    if (v.dontfork) dropped.emplace_back(v.start, v.end);
  }
  for (const auto& [s, e] : dropped) child->vmas_.Remove(s, e);
  child->brk_start_ = brk_start_;
  child->brk_ = brk_;
  child->stack_top_ = stack_top_;
  child->mmap_base_ = mmap_base_;
  child->max_map_count_ = max_map_count_;
  child->exec_info_ = exec_info_;
  return child;
}

MemoryManager::ExecInfo MemoryManager::exec_info() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exec_info_;
}

void MemoryManager::set_exec_info(ExecInfo info) {
  std::lock_guard<std::mutex> lock(mu_);
  exec_info_ = std::move(info);
}

bool MemoryManager::SharedObjectAt(uint64_t addr, uint64_t* dev, uint64_t* ino,
                                   uint64_t* offset) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Vma* v = vmas_.Find(addr);
  if (v == nullptr || !v->shared || v->inode == 0) return false;
  *dev = v->dev;
  *ino = v->inode;
  *offset = v->offset + (addr - v->start);
  return true;
}

VmaMap MemoryManager::vmas() const {
  std::lock_guard<std::mutex> lock(mu_);
  return vmas_;
}

size_t MemoryManager::vma_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return vmas_.size();
}

uint64_t MemoryManager::brk() const {
  std::lock_guard<std::mutex> lock(mu_);
  return brk_;
}

uint64_t MemoryManager::brk_start() const {
  std::lock_guard<std::mutex> lock(mu_);
  return brk_start_;
}

uint64_t MemoryManager::mmap_base() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mmap_base_;
}

uint64_t MemoryManager::stack_top() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stack_top_;
}

void MemoryManager::set_max_map_count(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  max_map_count_ = n;
}

}  // namespace sentry::mm
