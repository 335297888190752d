#include "sentry/mm/vma.h"

#include <sys/mman.h>

#include <map>
#include <random>

#include "gtest/gtest.h"

namespace sentry::mm {
namespace {

constexpr uint64_t P = kPageSize;

Vma Anon(uint64_t start, uint64_t end, int prot = PROT_READ | PROT_WRITE) {
  Vma v;
  v.start = start;
  v.end = end;
  v.prot = prot;
  return v;
}

Vma FileVma(uint64_t start, uint64_t end, uint64_t offset,
            std::shared_ptr<const MappedFile> f, int prot = PROT_READ) {
  Vma v = Anon(start, end, prot);
  v.file = std::move(f);
  v.offset = offset;
  v.name = v.file->name;
  v.dev = v.file->dev;
  v.inode = v.file->inode;
  return v;
}

std::shared_ptr<const MappedFile> TestFile(uint64_t inode = 7) {
  auto f = std::make_shared<MappedFile>();
  f->name = "/bin/thing";
  f->dev = 0x801;
  f->inode = inode;
  f->size = 100 * P;
  return f;
}

// [start, end) pairs of the map, for compact expectations.
std::vector<std::pair<uint64_t, uint64_t>> Ranges(const VmaMap& m) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& [s, v] : m) out.emplace_back(v.start, v.end);
  return out;
}

using R = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(VmaMapTest, EmptyMap) {
  VmaMap m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.Find(0x1000), nullptr);
  EXPECT_EQ(m.FindNext(0), nullptr);
  EXPECT_EQ(m.FindPrev(0x1000), nullptr);
  EXPECT_FALSE(m.Overlaps(0, ~0ULL));
  EXPECT_FALSE(m.IsFullyMapped(0x1000, 0x2000));
  EXPECT_TRUE(m.IsFullyMapped(0x1000, 0x1000));
  EXPECT_TRUE(m.CheckInvariants());
}

TEST(VmaMapTest, FindAndNeighbours) {
  VmaMap m;
  m.Insert(Anon(10 * P, 20 * P));
  m.Insert(Anon(30 * P, 40 * P, PROT_READ));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.Find(10 * P)->start, 10 * P);
  EXPECT_EQ(m.Find(20 * P - 1)->start, 10 * P);
  EXPECT_EQ(m.Find(20 * P), nullptr);
  EXPECT_EQ(m.Find(10 * P - 1), nullptr);
  EXPECT_EQ(m.FindNext(20 * P)->start, 30 * P);
  EXPECT_EQ(m.FindNext(15 * P)->start, 10 * P);
  EXPECT_EQ(m.FindNext(40 * P), nullptr);
  EXPECT_EQ(m.FindPrev(30 * P)->start, 10 * P);
  EXPECT_EQ(m.FindPrev(31 * P)->start, 30 * P);
  EXPECT_EQ(m.FindPrev(10 * P), nullptr);
  EXPECT_TRUE(m.Overlaps(19 * P, 31 * P));
  EXPECT_FALSE(m.Overlaps(20 * P, 30 * P));
  EXPECT_FALSE(m.Overlaps(25 * P, 25 * P));
}

TEST(VmaMapTest, AdjacentCompatibleAnonymousMerge) {
  VmaMap m;
  m.Insert(Anon(10 * P, 20 * P));
  m.Insert(Anon(20 * P, 30 * P));
  EXPECT_EQ(Ranges(m), (R{{10 * P, 30 * P}}));
  // Filling a hole between two merges all three.
  m.Insert(Anon(40 * P, 50 * P));
  m.Insert(Anon(30 * P, 40 * P));
  EXPECT_EQ(Ranges(m), (R{{10 * P, 50 * P}}));
  EXPECT_TRUE(m.CheckInvariants());
}

TEST(VmaMapTest, IncompatibleNeighboursStaySeparate) {
  VmaMap m;
  m.Insert(Anon(10 * P, 20 * P));
  m.Insert(Anon(20 * P, 30 * P, PROT_READ));  // different prot
  Vma named = Anon(30 * P, 40 * P, PROT_READ);
  named.name = "[heap]";
  m.Insert(named);
  Vma shared = Anon(40 * P, 50 * P, PROT_READ);
  shared.shared = true;
  m.Insert(shared);
  Vma sealed = Anon(50 * P, 60 * P, PROT_READ);
  sealed.shared = true;
  sealed.sealed = true;
  m.Insert(sealed);
  Vma sealed2 = sealed;
  sealed2.start = 60 * P;
  sealed2.end = 61 * P;
  m.Insert(sealed2);
  EXPECT_EQ(m.size(), 6u);
  EXPECT_TRUE(m.CheckInvariants());
  // Not adjacent: no merge either.
  VmaMap n;
  n.Insert(Anon(10 * P, 20 * P));
  n.Insert(Anon(21 * P, 30 * P));
  EXPECT_EQ(n.size(), 2u);
}

TEST(VmaMapTest, FileVmasMergeOnlyWithContiguousOffsets) {
  auto f = TestFile();
  VmaMap m;
  m.Insert(FileVma(10 * P, 20 * P, 0, f));
  m.Insert(FileVma(20 * P, 30 * P, 10 * P, f));  // contiguous
  EXPECT_EQ(Ranges(m), (R{{10 * P, 30 * P}}));
  m.Insert(FileVma(30 * P, 40 * P, 0, f));  // offset jumps back
  EXPECT_EQ(m.size(), 2u);
  // Another file (different inode) at a contiguous offset.
  m.Insert(FileVma(40 * P, 50 * P, 10 * P, TestFile(8)));
  EXPECT_EQ(m.size(), 3u);
  // Same identity, different MappedFile objects: merge (same dev/inode).
  m.Insert(FileVma(50 * P, 60 * P, 20 * P, TestFile(8)));
  EXPECT_EQ(m.size(), 3u);
  // Anonymous next to a file mapping never merges.
  m.Insert(Anon(60 * P, 70 * P, PROT_READ));
  EXPECT_EQ(m.size(), 4u);
  EXPECT_TRUE(m.CheckInvariants());
}

TEST(VmaMapTest, FilesWithoutIdentityMergeOnlyWithThemselves) {
  auto f = std::make_shared<MappedFile>();
  f->name = "x";
  auto g = std::make_shared<MappedFile>();
  g->name = "x";
  VmaMap m;
  m.Insert(FileVma(10 * P, 20 * P, 0, f));
  m.Insert(FileVma(20 * P, 30 * P, 10 * P, g));
  EXPECT_EQ(m.size(), 2u);
  m.Insert(FileVma(30 * P, 40 * P, 20 * P, g));
  EXPECT_EQ(m.size(), 2u);
}

TEST(VmaMapTest, InsertReplacesAndSplitsEdges) {
  auto f = TestFile();
  VmaMap m;
  m.Insert(FileVma(10 * P, 40 * P, 0, f));
  m.Insert(Anon(20 * P, 25 * P));
  ASSERT_EQ(Ranges(m),
            (R{{10 * P, 20 * P}, {20 * P, 25 * P}, {25 * P, 40 * P}}));
  // The upper remainder keeps its file offset.
  EXPECT_EQ(m.Find(25 * P)->offset, 15 * P);
  EXPECT_EQ(m.Find(10 * P)->offset, 0u);
  // Replacing a range covering several VMAs and holes.
  m.Insert(Anon(5 * P, 30 * P, PROT_NONE));
  EXPECT_EQ(Ranges(m), (R{{5 * P, 30 * P}, {30 * P, 40 * P}}));
  EXPECT_EQ(m.Find(30 * P)->offset, 20 * P);
  EXPECT_TRUE(m.CheckInvariants());
}

TEST(VmaMapTest, RemoveSplitsAndHandlesHoles) {
  auto f = TestFile();
  VmaMap m;
  m.Insert(FileVma(10 * P, 40 * P, 4 * P, f));
  m.Remove(20 * P, 30 * P);
  EXPECT_EQ(Ranges(m), (R{{10 * P, 20 * P}, {30 * P, 40 * P}}));
  EXPECT_EQ(m.Find(30 * P)->offset, 24 * P);
  // Across the hole and past the end.
  m.Remove(15 * P, 35 * P);
  EXPECT_EQ(Ranges(m), (R{{10 * P, 15 * P}, {35 * P, 40 * P}}));
  m.Remove(0, 100 * P);
  EXPECT_TRUE(m.empty());
  m.Remove(0, 100 * P);  // nothing there: fine
  EXPECT_TRUE(m.empty());
}

TEST(VmaMapTest, ProtectSplitsThenRemergesWhenRestored) {
  VmaMap m;
  m.Insert(Anon(10 * P, 40 * P));
  m.Protect(20 * P, 30 * P, PROT_READ);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.Find(25 * P)->prot, PROT_READ);
  EXPECT_EQ(m.Find(15 * P)->prot, PROT_READ | PROT_WRITE);
  m.Protect(20 * P, 30 * P, PROT_READ | PROT_WRITE);
  EXPECT_EQ(Ranges(m), (R{{10 * P, 40 * P}}));
  // Protect over a hole touches only the mapped parts.
  m.Remove(20 * P, 30 * P);
  m.Protect(15 * P, 35 * P, PROT_NONE);
  EXPECT_EQ(Ranges(m), (R{{10 * P, 15 * P},
                          {15 * P, 20 * P},
                          {30 * P, 35 * P},
                          {35 * P, 40 * P}}));
  EXPECT_EQ(m.Find(15 * P)->prot, PROT_NONE);
  EXPECT_EQ(m.Find(30 * P)->prot, PROT_NONE);
  EXPECT_TRUE(m.CheckInvariants());
}

TEST(VmaMapTest, ModifyAppliesToPiecesOnly) {
  VmaMap m;
  m.Insert(Anon(10 * P, 20 * P));
  m.Insert(Anon(20 * P, 30 * P, PROT_READ));
  int calls = 0;
  m.Modify(15 * P, 25 * P, [&calls](Vma& v) {
    calls++;
    v.dontfork = true;
  });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(m.size(), 4u);
  EXPECT_FALSE(m.Find(14 * P)->dontfork);
  EXPECT_TRUE(m.Find(15 * P)->dontfork);
  EXPECT_TRUE(m.Find(24 * P)->dontfork);
  EXPECT_FALSE(m.Find(25 * P)->dontfork);
}

TEST(VmaMapTest, MappedPrefixOverlappingAndSplitsNeeded) {
  auto f = TestFile();
  VmaMap m;
  m.Insert(Anon(10 * P, 20 * P));
  m.Insert(FileVma(20 * P, 30 * P, 8 * P, f));
  m.Insert(Anon(40 * P, 50 * P));
  EXPECT_EQ(m.MappedPrefixEnd(12 * P, 45 * P), 30 * P);
  EXPECT_EQ(m.MappedPrefixEnd(12 * P, 25 * P), 25 * P);
  EXPECT_EQ(m.MappedPrefixEnd(35 * P, 45 * P), 35 * P);
  EXPECT_TRUE(m.IsFullyMapped(10 * P, 30 * P));
  EXPECT_FALSE(m.IsFullyMapped(10 * P, 31 * P));

  auto o = m.Overlapping(15 * P, 45 * P);
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(o[0].start, 15 * P);
  EXPECT_EQ(o[0].end, 20 * P);
  EXPECT_EQ(o[1].start, 20 * P);
  EXPECT_EQ(o[2].end, 45 * P);
  // Clipping the file piece advances its offset.
  auto c = m.Overlapping(25 * P, 26 * P);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].offset, 13 * P);

  EXPECT_EQ(m.SplitsNeeded(10 * P, 20 * P), 0);
  EXPECT_EQ(m.SplitsNeeded(12 * P, 20 * P), 1);
  EXPECT_EQ(m.SplitsNeeded(12 * P, 18 * P), 2);
  EXPECT_EQ(m.SplitsNeeded(12 * P, 45 * P), 2);
  EXPECT_EQ(m.SplitsNeeded(32 * P, 38 * P), 0);
}

TEST(VmaMapTest, TopDownGapSearch) {
  VmaMap m;
  // Empty: the highest fit.
  EXPECT_EQ(m.FindGapTopDown(2 * P, 10 * P, 100 * P), 98 * P);
  m.Insert(Anon(90 * P, 100 * P));
  m.Insert(Anon(50 * P, 88 * P, PROT_READ));
  // The gap [88, 90) fits 2 pages exactly.
  EXPECT_EQ(m.FindGapTopDown(2 * P, 10 * P, 100 * P), 88 * P);
  // 3 pages do not fit there: below 50.
  EXPECT_EQ(m.FindGapTopDown(3 * P, 10 * P, 100 * P), 47 * P);
  // Bounded below.
  EXPECT_EQ(m.FindGapTopDown(40 * P, 10 * P, 100 * P), 10 * P);
  EXPECT_EQ(m.FindGapTopDown(41 * P, 10 * P, 100 * P), std::nullopt);
  // A VMA straddling `high` bounds the top gap.
  EXPECT_EQ(m.FindGapTopDown(P, 10 * P, 95 * P), 89 * P);
  // The space above `high` is not used even though it is free.
  EXPECT_EQ(m.FindGapTopDown(P, 10 * P, 50 * P), 49 * P);
  // Degenerate bounds.
  EXPECT_EQ(m.FindGapTopDown(P, 10 * P, 10 * P), std::nullopt);
  EXPECT_EQ(m.FindGapTopDown(0, 10 * P, 20 * P), std::nullopt);
}

TEST(VmaMapTest, TopDownGapSearchAligned) {
  VmaMap m;
  constexpr uint64_t kAlign = 16 * P;
  m.Insert(Anon(100 * P, 200 * P));
  // Highest 16-page-aligned start with 4 pages below 100.
  EXPECT_EQ(m.FindGapTopDown(4 * P, 0, 200 * P, kAlign), 96 * P);
  EXPECT_EQ(m.FindGapTopDown(5 * P, 0, 200 * P, kAlign), 80 * P);
  // A gap that is big enough but holds no aligned start.
  VmaMap n;
  n.Insert(Anon(0, 17 * P));
  n.Insert(Anon(31 * P, 64 * P));
  EXPECT_EQ(n.FindGapTopDown(4 * P, 0, 64 * P, kAlign), std::nullopt);
  EXPECT_EQ(n.FindGapTopDown(4 * P, 0, 64 * P, P), 27 * P);
}

TEST(VmaMapTest, GuardGapBelowGrowsdown) {
  VmaMap m;
  m.set_guard_gap(4 * P);
  Vma stack = Anon(90 * P, 100 * P);
  stack.growsdown = true;
  m.Insert(stack);
  EXPECT_EQ(m.StartGap(*m.Find(90 * P)), 86 * P);
  EXPECT_EQ(m.FindGapTopDown(P, 0, 100 * P), 85 * P);
  EXPECT_EQ(m.FindGapBottomUp(10 * P, 80 * P, 100 * P), std::nullopt);
  EXPECT_EQ(m.FindGapBottomUp(6 * P, 80 * P, 100 * P), 80 * P);
  // A growsdown VMA above `high` still casts its gap below it.
  EXPECT_EQ(m.FindGapTopDown(P, 0, 88 * P), 85 * P);
  // An ordinary VMA keeps no gap.
  VmaMap n;
  n.set_guard_gap(4 * P);
  n.Insert(Anon(90 * P, 100 * P));
  EXPECT_EQ(n.FindGapTopDown(P, 0, 100 * P), 89 * P);
}

TEST(VmaMapTest, BottomUpGapSearch) {
  VmaMap m;
  EXPECT_EQ(m.FindGapBottomUp(2 * P, 10 * P, 100 * P), 10 * P);
  m.Insert(Anon(5 * P, 12 * P));
  m.Insert(Anon(14 * P, 20 * P));
  EXPECT_EQ(m.FindGapBottomUp(2 * P, 10 * P, 100 * P), 12 * P);
  EXPECT_EQ(m.FindGapBottomUp(3 * P, 10 * P, 100 * P), 20 * P);
  EXPECT_EQ(m.FindGapBottomUp(80 * P, 10 * P, 100 * P), 20 * P);
  EXPECT_EQ(m.FindGapBottomUp(81 * P, 10 * P, 100 * P), std::nullopt);
  EXPECT_EQ(m.FindGapBottomUp(P, 10 * P, 12 * P), std::nullopt);
  EXPECT_EQ(m.FindGapBottomUp(4 * P, 0, 100 * P, 16 * P), 0u);
  EXPECT_EQ(m.FindGapBottomUp(4 * P, P, 100 * P, 16 * P), 32 * P);
}

// Random operations against a page-by-page model: the map must always agree
// with the model on every page's attributes, and stay normalised.
TEST(VmaMapTest, RandomOperationsMatchPageModel) {
  struct PageAttr {
    int prot;
    std::string name;
    bool operator==(const PageAttr&) const = default;
  };
  std::mt19937_64 rng(12345);
  constexpr uint64_t kPages = 64;
  VmaMap m;
  std::map<uint64_t, PageAttr> model;
  auto rand_range = [&](uint64_t* s, uint64_t* e) {
    uint64_t a = rng() % kPages, b = rng() % kPages;
    if (a > b) std::swap(a, b);
    *s = a * P;
    *e = (b + 1) * P;
  };
  for (int step = 0; step < 5000; step++) {
    uint64_t s, e;
    rand_range(&s, &e);
    int prot = static_cast<int>(rng() % 4);
    switch (rng() % 3) {
      case 0: {
        Vma v = Anon(s, e, prot);
        v.name = (rng() % 4 == 0) ? "[heap]" : "";
        m.Insert(v);
        for (uint64_t p = s; p < e; p += P) model[p] = {prot, v.name};
        break;
      }
      case 1:
        m.Remove(s, e);
        for (uint64_t p = s; p < e; p += P) model.erase(p);
        break;
      case 2:
        m.Protect(s, e, prot);
        for (uint64_t p = s; p < e; p += P) {
          if (auto it = model.find(p); it != model.end())
            it->second.prot = prot;
        }
        break;
    }
    std::string why;
    ASSERT_TRUE(m.CheckInvariants(&why)) << "step " << step << ": " << why;
    for (uint64_t p = 0; p < kPages * P; p += P) {
      const Vma* v = m.Find(p);
      auto it = model.find(p);
      ASSERT_EQ(v != nullptr, it != model.end()) << "step " << step;
      if (v != nullptr) {
        ASSERT_EQ((PageAttr{v->prot, v->name}), it->second) << "step " << step;
      }
    }
    // Gap searches return free, in-bounds ranges; and exist when the model
    // says some fit.
    uint64_t len = (rng() % 4 + 1) * P;
    auto top = m.FindGapTopDown(len, 0, kPages * P);
    auto bottom = m.FindGapBottomUp(len, 0, kPages * P);
    bool fits = false;
    std::optional<uint64_t> highest, lowest;
    for (uint64_t a = 0; a + len <= kPages * P; a += P) {
      bool free = true;
      for (uint64_t p = a; p < a + len; p += P) free &= !model.count(p);
      if (free) {
        fits = true;
        if (!lowest) lowest = a;
        highest = a;
      }
    }
    ASSERT_EQ(top.has_value(), fits);
    ASSERT_EQ(top, highest);
    ASSERT_EQ(bottom, lowest);
  }
}

}  // namespace
}  // namespace sentry::mm
