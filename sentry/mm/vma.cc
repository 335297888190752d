#include "sentry/mm/vma.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace sentry::mm {

bool CanMerge(const Vma& a, const Vma& b) {
  if (a.end != b.start) return false;
  if (a.sealed || b.sealed) return false;
  if (a.prot != b.prot || a.max_prot != b.max_prot || a.shared != b.shared ||
      a.growsdown != b.growsdown || a.dontfork != b.dontfork ||
      a.host_mapped != b.host_mapped) {
    return false;
  }
  if (a.name != b.name || a.dev != b.dev || a.inode != b.inode) return false;
  if ((a.file == nullptr) != (b.file == nullptr)) return false;
  // Without a device/inode identity only the very same file object counts
  // as the same file.
  if (a.file != nullptr && a.dev == 0 && a.inode == 0 && a.file != b.file) {
    return false;
  }
  // Two SysV attachments stay apart, each counted on its own.
  if (a.file != b.file && ((a.file != nullptr && a.file->sysv_shm) ||
                           (b.file != nullptr && b.file->sysv_shm))) {
    return false;
  }
  // Linux merges file (and shmem) mappings only where the file offsets are
  // contiguous too.
  if (a.has_backing_object() && a.offset + a.size() != b.offset) return false;
  return true;
}

const Vma* VmaMap::Find(uint64_t addr) const {
  auto it = map_.upper_bound(addr);
  if (it == map_.begin()) return nullptr;
  --it;
  return addr < it->second.end ? &it->second : nullptr;
}

const Vma* VmaMap::FindNext(uint64_t addr) const {
  if (const Vma* v = Find(addr)) return v;
  auto it = map_.upper_bound(addr);
  return it == map_.end() ? nullptr : &it->second;
}

const Vma* VmaMap::FindPrev(uint64_t addr) const {
  auto it = map_.lower_bound(addr);
  if (it == map_.begin()) return nullptr;
  return &std::prev(it)->second;
}

bool VmaMap::Overlaps(uint64_t start, uint64_t end) const {
  if (start >= end) return false;
  const Vma* v = FindNext(start);
  return v != nullptr && v->start < end;
}

uint64_t VmaMap::MappedPrefixEnd(uint64_t start, uint64_t end) const {
  uint64_t at = start;
  while (at < end) {
    const Vma* v = Find(at);
    if (v == nullptr) break;
    at = v->end;
  }
  return std::min(at, end);
}

bool VmaMap::IsFullyMapped(uint64_t start, uint64_t end) const {
  return MappedPrefixEnd(start, end) == end;
}

std::vector<Vma> VmaMap::Overlapping(uint64_t start, uint64_t end) const {
  std::vector<Vma> out;
  if (start >= end) return out;
  auto it = map_.upper_bound(start);
  if (it != map_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > start) it = prev;
  }
  for (; it != map_.end() && it->second.start < end; ++it) {
    Vma v = it->second;
    if (v.start < start) {
      v.offset += start - v.start;
      v.start = start;
    }
    v.end = std::min(v.end, end);
    out.push_back(std::move(v));
  }
  return out;
}

int VmaMap::SplitsNeeded(uint64_t start, uint64_t end) const {
  int n = 0;
  if (const Vma* v = Find(start); v != nullptr && v->start < start) n++;
  if (const Vma* v = Find(end); v != nullptr && v->start < end) n++;
  return n;
}

uint64_t VmaMap::StartGap(const Vma& vma) const {
  if (!vma.growsdown) return vma.start;
  return vma.start > guard_gap_ ? vma.start - guard_gap_ : 0;
}

void VmaMap::SplitAt(uint64_t addr) {
  auto it = map_.upper_bound(addr);
  if (it == map_.begin()) return;
  --it;
  Vma& v = it->second;
  if (v.start >= addr || v.end <= addr) return;
  Vma upper = v;
  upper.offset += addr - v.start;
  upper.start = addr;
  v.end = addr;
  map_.emplace(addr, std::move(upper));
}

void VmaMap::MergeAround(uint64_t start, uint64_t end) {
  auto it = map_.lower_bound(start);
  if (it != map_.begin()) --it;
  while (it != map_.end()) {
    auto next = std::next(it);
    if (next == map_.end()) break;
    if (it->second.start > end) break;
    if (CanMerge(it->second, next->second)) {
      it->second.end = next->second.end;
      map_.erase(next);
    } else {
      it = next;
    }
  }
}

void VmaMap::Insert(Vma vma) {
  if (vma.start >= vma.end) return;
  Remove(vma.start, vma.end);
  uint64_t start = vma.start, end = vma.end;
  map_.emplace(start, std::move(vma));
  MergeAround(start, end);
}

void VmaMap::Remove(uint64_t start, uint64_t end) {
  if (start >= end) return;
  SplitAt(start);
  SplitAt(end);
  auto first = map_.lower_bound(start);
  auto last = map_.lower_bound(end);
  map_.erase(first, last);
}

void VmaMap::Modify(uint64_t start, uint64_t end,
                    const std::function<void(Vma&)>& fn) {
  if (start >= end) return;
  SplitAt(start);
  SplitAt(end);
  for (auto it = map_.lower_bound(start); it != map_.end() && it->first < end;
       ++it) {
    fn(it->second);
  }
  MergeAround(start, end);
}

namespace {

uint64_t AlignDown(uint64_t a, uint64_t align) { return a & ~(align - 1); }

// Aligns up; nullopt on overflow.
std::optional<uint64_t> AlignUp(uint64_t a, uint64_t align) {
  uint64_t r = (a + align - 1) & ~(align - 1);
  if (r < a) return std::nullopt;
  return r;
}

}  // namespace

std::optional<uint64_t> VmaMap::FindGapTopDown(uint64_t len, uint64_t low,
                                               uint64_t high,
                                               uint64_t align) const {
  if (len == 0 || high <= low || len > high - low) return std::nullopt;
  // Start from the first VMA at or above `high`: its guard gap may still
  // reach below `high`.
  auto it = map_.lower_bound(high);
  // A VMA that starts below `high` but ends above it bounds the top gap.
  if (it != map_.begin() && std::prev(it)->second.end > high) {
    --it;
    if (it->second.start <= low) return std::nullopt;
  }
  while (true) {
    uint64_t gap_top = high;
    if (it != map_.end()) gap_top = std::min(high, StartGap(it->second));
    uint64_t gap_bottom = low;
    bool has_prev = it != map_.begin();
    if (has_prev) gap_bottom = std::max(low, std::prev(it)->second.end);
    if (gap_top > gap_bottom && gap_top - gap_bottom >= len) {
      uint64_t a = AlignDown(gap_top - len, align);
      if (a >= gap_bottom) return a;
    }
    if (!has_prev) break;
    --it;
    if (it->second.end <= low) break;
  }
  return std::nullopt;
}

std::optional<uint64_t> VmaMap::FindGapBottomUp(uint64_t len, uint64_t low,
                                                uint64_t high,
                                                uint64_t align) const {
  if (len == 0 || high <= low || len > high - low) return std::nullopt;
  // `it` is the first VMA above the gap being looked at.
  auto it = map_.upper_bound(low);
  uint64_t gap_bottom = low;
  if (it != map_.begin()) gap_bottom = std::max(low, std::prev(it)->second.end);
  while (true) {
    uint64_t gap_top = high;
    if (it != map_.end()) gap_top = std::min(high, StartGap(it->second));
    if (auto a = AlignUp(gap_bottom, align);
        a && *a < gap_top && gap_top - *a >= len) {
      return *a;
    }
    if (it == map_.end() || it->second.start >= high) break;
    gap_bottom = std::max(gap_bottom, it->second.end);
    ++it;
  }
  return std::nullopt;
}

bool VmaMap::CheckInvariants(std::string* why) const {
  auto fail = [why](std::string msg) {
    if (why != nullptr) *why = std::move(msg);
    return false;
  };
  const Vma* prev = nullptr;
  for (const auto& [start, v] : map_) {
    if (start != v.start) return fail(absl::StrCat("key ", start, " != start"));
    if (v.start >= v.end) return fail(absl::StrCat("empty vma at ", v.start));
    if (!PageAligned(v.start) || !PageAligned(v.end)) {
      return fail(absl::StrCat("unaligned vma at ", v.start));
    }
    if (prev != nullptr) {
      if (prev->end > v.start) {
        return fail(absl::StrCat("overlap at ", v.start));
      }
      if (CanMerge(*prev, v)) {
        return fail(absl::StrCat("unmerged neighbours at ", v.start));
      }
    }
    prev = &v;
  }
  return true;
}

}  // namespace sentry::mm
