// The VMA map: what is mapped where in one application address space, with
// which protection and backing. A pure data structure (no platform calls) so
// the split/merge/gap-search rules can be tested on their own; the
// MemoryManager (mm.h) decides mappings with it and then carries them out.
#ifndef CVISOR_SENTRY_MM_VMA_H_
#define CVISOR_SENTRY_MM_VMA_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sentry::mm {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kPageMask = kPageSize - 1;

inline constexpr uint64_t PageRoundDown(uint64_t a) { return a & ~kPageMask; }
// Callers check for overflow (a > UINT64_MAX - kPageMask) first.
inline constexpr uint64_t PageRoundUp(uint64_t a) {
  return (a + kPageMask) & ~kPageMask;
}
inline constexpr bool PageAligned(uint64_t a) { return (a & kPageMask) == 0; }

// A file as mmap sees it: something that can be read at an offset. Produced
// from an fd by MappedFileForFd() (mm.h) or from an executable by the loader.
struct MappedFile {
  std::function<ssize_t(void* buf, size_t len, uint64_t off)> pread;
  std::string name;  // the path /proc/[pid]/maps shows
  uint64_t size = 0;
  bool readable = true;   // opened for reading (FMODE_READ)
  bool writable = false;  // opened for writing (FMODE_WRITE)
  uint64_t dev = 0;       // st_dev and st_ino for /proc/[pid]/maps; 0 when
  uint64_t inode = 0;     // unknown
  // The host fd holding the file's data (a donated gofer fd, a tmpfs or
  // memfd memfd, a SysV segment), or -1. MAP_SHARED mappings map it in the
  // stub, so stores reach the file; without one they cannot be served.
  int host_fd = -1;
  // Keeps what host_fd belongs to (the file description, a SysV
  // attachment) alive as long as a VMA refers to this file.
  std::shared_ptr<void> keep_alive;
  // SysV shm: each attachment is its own MappedFile, never merged with
  // another, and a fork child's copy takes a new attachment from on_fork
  // (shm_nattch counts it).
  bool sysv_shm = false;
  std::function<std::shared_ptr<void>()> on_fork;
};

// One mapping: [start, end) with uniform attributes.
struct Vma {
  uint64_t start = 0;
  uint64_t end = 0;
  int prot = 0;  // PROT_READ | PROT_WRITE | PROT_EXEC
  // The protections mprotect may grant (Linux's VM_MAY*): a MAP_SHARED file
  // opened read-only never becomes writable.
  int max_prot = 7;
  bool shared = false;     // MAP_SHARED: the 's' in maps
  bool growsdown = false;  // MAP_GROWSDOWN / the stack: keeps a guard gap
  bool dontfork = false;   // MADV_DONTFORK: not copied into a fork child
  // vvar/vdso: the application may not unmap, move or reprotect them.
  bool sealed = false;
  // The host maps the backing object itself (a host fd, shared or
  // private): nothing is ever copied into the range by the sentry.
  bool host_mapped = false;
  // The file mapped (private mappings of files without a host fd are
  // copies of it); null for anonymous memory.
  std::shared_ptr<const MappedFile> file;
  uint64_t offset = 0;  // file (or shared memory object) offset of `start`
  uint64_t dev = 0;     // device and inode shown in maps
  uint64_t inode = 0;
  std::string name;  // path, "[heap]", "[stack]", "[vdso]", ... or empty

  uint64_t size() const { return end - start; }
  // Whether `offset` means something (file or shared memory object).
  bool has_backing_object() const { return file != nullptr || inode != 0; }
};

// Whether `b` can be folded into `a` (a directly below b, same attributes,
// contiguous backing), as Linux's vma_merge would.
bool CanMerge(const Vma& a, const Vma& b);

class VmaMap {
 public:
  using Map = std::map<uint64_t, Vma>;  // keyed by start
  using const_iterator = Map::const_iterator;

  VmaMap() = default;

  // Bytes kept free below a growsdown VMA (Linux's stack_guard_gap) when
  // searching for gaps.
  void set_guard_gap(uint64_t bytes) { guard_gap_ = bytes; }
  uint64_t guard_gap() const { return guard_gap_; }

  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }

  // The VMA containing `addr`, or null.
  const Vma* Find(uint64_t addr) const;
  // The first VMA that ends above `addr` (Linux's find_vma), or null.
  const Vma* FindNext(uint64_t addr) const;
  // The last VMA that starts below `addr`, or null.
  const Vma* FindPrev(uint64_t addr) const;
  // Whether any VMA intersects [start, end).
  bool Overlaps(uint64_t start, uint64_t end) const;
  // Whether [start, end) is mapped without holes.
  bool IsFullyMapped(uint64_t start, uint64_t end) const;
  // The end of the run of mapped memory that starts at `start`, capped at
  // `end`: `start` itself if `start` is unmapped.
  uint64_t MappedPrefixEnd(uint64_t start, uint64_t end) const;
  // Copies of the VMAs intersecting [start, end), clipped to it.
  std::vector<Vma> Overlapping(uint64_t start, uint64_t end) const;
  // How many VMAs an operation on [start, end) would have to split: 0-2.
  int SplitsNeeded(uint64_t start, uint64_t end) const;
  // The start of the free range a VMA leaves below itself (its start, less
  // the guard gap for a growsdown VMA).
  uint64_t StartGap(const Vma& vma) const;

  // Maps `vma`, replacing whatever was in its range, and merges it with
  // compatible neighbours.
  void Insert(Vma vma);
  // Unmaps [start, end); holes are fine.
  void Remove(uint64_t start, uint64_t end);
  // Calls `fn` on every piece of mapping inside [start, end) (split at the
  // edges first), then merges what became compatible. `fn` must not change
  // start or end.
  void Modify(uint64_t start, uint64_t end,
              const std::function<void(Vma&)>& fn);
  void Protect(uint64_t start, uint64_t end, int prot) {
    Modify(start, end, [prot](Vma& v) { v.prot = prot; });
  }

  // The highest (TopDown) or lowest (BottomUp) address a, a multiple of
  // `align` (a power of two, at least a page), such that [a, a + len) lies in
  // [low, high), overlaps no VMA and keeps the guard gap below growsdown
  // VMAs. nullopt if there is none.
  std::optional<uint64_t> FindGapTopDown(uint64_t len, uint64_t low,
                                         uint64_t high,
                                         uint64_t align = kPageSize) const;
  std::optional<uint64_t> FindGapBottomUp(uint64_t len, uint64_t low,
                                          uint64_t high,
                                          uint64_t align = kPageSize) const;

  // Checks the invariants (sorted, non-overlapping, non-empty, page aligned,
  // no mergeable neighbours); for tests.
  bool CheckInvariants(std::string* why = nullptr) const;

 private:
  // Splits the VMA that strictly contains `addr` so that a VMA starts there.
  void SplitAt(uint64_t addr);
  // Merges compatible neighbours among the VMAs touching [start, end].
  void MergeAround(uint64_t start, uint64_t end);

  Map map_;
  uint64_t guard_gap_ = 0;
};

}  // namespace sentry::mm

#endif  // CVISOR_SENTRY_MM_VMA_H_
