// The memory manager: one per application address space, shared by the
// threads of a process. It decides every mapping with Linux's semantics
// (mmap/munmap/mprotect/brk/mremap/madvise, /proc/[pid]/maps) in its VMA map,
// then carries it out by injecting the host syscall into the stub through
// the calling task's platform::Context.
#ifndef CVISOR_SENTRY_MM_MM_H_
#define CVISOR_SENTRY_MM_MM_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "platform/platform.h"
#include "sentry/mm/vma.h"

namespace sentry {
class Task;
}  // namespace sentry

namespace sentry::mm {

// Linux's defaults for vm.max_map_count and stack_guard_gap.
inline constexpr size_t kDefaultMaxMapCount = 65530;
inline constexpr uint64_t kStackGuardGap = 256 * kPageSize;
inline constexpr uint64_t kDefaultStackRlimit = 8 << 20;

// Fills `out` with the file open as `fd` in the task's fd table, for mmap.
// Returns 0, -EBADF (no such fd, or an O_PATH one) or -ENODEV (the file
// cannot be mapped: pipe, socket, directory). Whether it was opened for
// reading and writing goes into `out`, and Mmap() turns that into EACCES
// where Linux does. /dev/zero comes back as an empty file (zero-filled
// memory); the mmap syscall itself maps it as anonymous memory. Implemented
// in sentry/syscalls/mm.cc, where the VFS is at hand.
int MappedFileForFd(Task& task, int fd, MappedFile* out);

class MemoryManager final {
 public:
  // The initial map holds the layout's [vvar] and [vdso] ranges.
  MemoryManager(const platform::Layout& layout,
                std::shared_ptr<platform::AddressSpace> as);
  MemoryManager(const MemoryManager&) = delete;
  MemoryManager& operator=(const MemoryManager&) = delete;

  // The syscalls. Each returns the Linux result or a negative errno, and
  // injects what it decided into the stub through `ctx`, which must be the
  // calling task's context in this address space.
  //
  // `file` is null for MAP_ANONYMOUS (the fd is then ignored, as in Linux).
  int64_t Mmap(platform::Context& ctx, uint64_t addr, uint64_t len, int prot,
               int flags, const MappedFile* file, uint64_t offset);
  int64_t Munmap(platform::Context& ctx, uint64_t addr, uint64_t len);
  int64_t Mprotect(platform::Context& ctx, uint64_t addr, uint64_t len,
                   int prot);
  int64_t Brk(platform::Context& ctx, uint64_t addr);
  int64_t Mremap(platform::Context& ctx, uint64_t old_addr, uint64_t old_len,
                 uint64_t new_len, int flags, uint64_t new_addr);
  int64_t Madvise(platform::Context& ctx, uint64_t addr, uint64_t len,
                  int advice);
  // `vec` is an application address; the host fills it.
  int64_t Mincore(platform::Context& ctx, uint64_t addr, uint64_t len,
                  uint64_t vec);
  int64_t Msync(platform::Context& ctx, uint64_t addr, uint64_t len, int flags);
  // mlock/munlock/mlock2's checks: the range must be mapped, and with
  // `populate` (mlock, mlock2 without MLOCK_ONFAULT) not PROT_NONE. Pages
  // are not actually locked on the host.
  int64_t Mlock(uint64_t addr, uint64_t len, bool populate);
  // shmdt: finds the first SysV attachment at or above `addr` whose file
  // offset 0 would sit at `addr` (Linux's do_shmdt) and unmaps every piece
  // of it within the segment's size. -EINVAL if there is none.
  int64_t DetachShm(platform::Context& ctx, uint64_t addr);

  // For the loader (exec). The break starts at `addr` rounded up to a page;
  // there is no randomisation.
  void SetBrkStart(uint64_t addr);
  // Recomputes the stack top and mmap base for an RLIMIT_STACK of `bytes`,
  // as Linux's mmap_base() does: the mmap area starts below a gap of the
  // stack limit plus the guard gap, clamped to [128 MiB, 5/6 of the range].
  // Call before anything is mapped with a chosen address.
  void SetStackRlimit(uint64_t bytes);
  // Maps the [stack] VMA (anonymous, private, growsdown for the purpose of
  // the guard gap) at [start, start + len), which must be free.
  int64_t MapStack(platform::Context& ctx, uint64_t start, uint64_t len,
                   int prot);
  // A free range of `len` bytes aligned to `align`, searched as a non-fixed
  // mmap would (top-down below the mmap base); -ENOMEM if none.
  int64_t FindUnmappedArea(uint64_t len, uint64_t align) const;

  // /proc/[pid]/maps.
  std::string MapsText() const;

  // For shared futexes: when `addr` lies in a MAP_SHARED mapping, the
  // object it maps (device, inode) and the byte offset into it, which every
  // process mapping that object agrees on. False for private memory.
  bool SharedObjectAt(uint64_t addr, uint64_t* dev, uint64_t* ino,
                      uint64_t* offset) const;

  // Application memory access through the address space: 0 or -EFAULT.
  int CopyIn(uint64_t addr, void* buf, size_t len);
  int CopyOut(uint64_t addr, const void* buf, size_t len);

  // The memory manager of a fork child: the same VMA map (without
  // MADV_DONTFORK ranges), break and layout over `child_as`, which the
  // platform created as a copy-on-write copy of this address space.
  std::shared_ptr<MemoryManager> Fork(
      std::shared_ptr<platform::AddressSpace> child_as) const;

  platform::AddressSpace& address_space() { return *as_; }
  const std::shared_ptr<platform::AddressSpace>& shared_address_space() const {
    return as_;
  }
  const platform::Layout& layout() const { return layout_; }

  // Accessors (tests, /proc).
  VmaMap vmas() const;
  size_t vma_count() const;
  uint64_t brk() const;
  uint64_t brk_start() const;
  uint64_t mmap_base() const;
  uint64_t stack_top() const;
  void set_max_map_count(size_t n);

  // Where exec placed the program's pieces (Linux's mm->arg_start and
  // friends, mm->exe_file), for /proc/[pid]/{cmdline,environ,stat,exe}.
  // Set by the loader and exec; copied by Fork.
  struct ExecInfo {
    uint64_t arg_start = 0, arg_end = 0;  // the argv strings
    uint64_t env_start = 0, env_end = 0;  // the envp strings
    uint64_t start_stack = 0;             // the initial rsp
    uint64_t start_code = 0, end_code = 0;
    uint64_t start_data = 0, end_data = 0;
    std::string exe;  // the program's absolute path
  };
  ExecInfo exec_info() const;
  void set_exec_info(ExecInfo info);

 private:
  int64_t MunmapLocked(platform::Context& ctx, uint64_t start, uint64_t end);
  // Where a non-fixed mapping of `len` bytes goes (hint honoured if free).
  std::optional<uint64_t> FindAreaLocked(uint64_t hint, uint64_t len, int flags,
                                         uint64_t align) const;
  // Host mmap of a fresh private (or shared) anonymous range.
  int64_t HostMapAnon(platform::Context& ctx, uint64_t start, uint64_t len,
                      int prot, bool shared, int extra_flags);
  // Host mmap of `host_fd` (imported into the stub) at start, MAP_SHARED or
  // MAP_PRIVATE.
  int64_t HostMapFile(platform::Context& ctx, uint64_t start, uint64_t len,
                      int prot, bool shared, int host_fd, uint64_t offset,
                      int extra_flags);
  // Fills [start, end) of a private file VMA from its file (the range must
  // be mapped in the host); makes it writable for the copy if it is not.
  int FillFromFile(platform::Context& ctx, const Vma& vma, uint64_t start,
                   uint64_t end);
  // Undoes a half-done mapping: unmaps [start, end) in the host and the map.
  void Discard(platform::Context& ctx, uint64_t start, uint64_t end);
  bool OverlapsSealed(uint64_t start, uint64_t end) const;

  const platform::Layout layout_;
  const std::shared_ptr<platform::AddressSpace> as_;

  mutable std::mutex mu_;
  VmaMap vmas_;             // guarded by mu_
  uint64_t brk_start_ = 0;  // guarded by mu_; 0 until exec sets it
  uint64_t brk_ = 0;
  uint64_t stack_top_ = 0;
  uint64_t mmap_base_ = 0;
  size_t max_map_count_ = kDefaultMaxMapCount;
  ExecInfo exec_info_;  // guarded by mu_
};

}  // namespace sentry::mm

#endif  // CVISOR_SENTRY_MM_MM_H_
