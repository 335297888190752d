#include "sentry/mm/mm.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <cstring>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/mm/fake_stub_for_test.h"

namespace sentry::mm {
namespace {

using ::sentry::mm::testing::FakeContext;
using ::sentry::mm::testing::InjectedCall;
using ::sentry::mm::testing::TestLayout;
using ::testing::HasSubstr;

constexpr uint64_t P = kPageSize;
constexpr int kRW = PROT_READ | PROT_WRITE;
constexpr int kPrivAnon = MAP_PRIVATE | MAP_ANONYMOUS;

// A file whose contents are `data`, read through pread like a host fd.
MappedFile StringFile(const std::string& data, const std::string& name) {
  auto bytes = std::make_shared<std::string>(data);
  MappedFile f;
  f.pread = [bytes](void* buf, size_t len, uint64_t off) -> ssize_t {
    if (off >= bytes->size()) return 0;
    size_t n = std::min<size_t>(len, bytes->size() - off);
    memcpy(buf, bytes->data() + off, n);
    return static_cast<ssize_t>(n);
  };
  f.name = name;
  f.size = data.size();
  f.dev = makedev(0xfe, 0);
  f.inode = 4711;
  return f;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>('a' + i % 23);
  return s;
}

class MmTest : public ::testing::Test {
 protected:
  MmTest() : mm_(TestLayout(), ctx_.shared_fake()) {}

  int64_t Map(uint64_t addr, uint64_t len, int prot, int flags,
              const MappedFile* file = nullptr, uint64_t off = 0) {
    return mm_.Mmap(ctx_, addr, len, prot, flags, file, off);
  }
  size_t Calls() const { return ctx_.calls.size(); }
  const InjectedCall& LastCall() const { return ctx_.calls.back(); }
  std::string Read(uint64_t addr, size_t len) {
    auto v = ctx_.fake().Peek(addr, len);
    return std::string(v.begin(), v.end());
  }
  // The VMA map and the simulated host agree on what is mapped and how.
  void ExpectHostMatches() {
    VmaMap m = mm_.vmas();
    std::string why;
    ASSERT_TRUE(m.CheckInvariants(&why)) << why;
    for (const auto& [start, v] : m) {
      if (v.sealed) continue;  // the platform maps vvar/vdso, not the fake
      for (uint64_t a = v.start; a < v.end; a += P) {
        ASSERT_TRUE(ctx_.fake().Mapped(a)) << std::hex << a;
        ASSERT_EQ(ctx_.fake().ProtAt(a), v.prot) << std::hex << a;
      }
    }
    for (const auto& [start, v] : ctx_.fake().host) {
      for (uint64_t a = v.start; a < v.end; a += P) {
        ASSERT_NE(m.Find(a), nullptr) << "host-only page " << std::hex << a;
      }
    }
  }

  FakeContext ctx_;
  MemoryManager mm_;
};

TEST_F(MmTest, InitialMapHoldsVvarAndVdso) {
  platform::Layout l = TestLayout();
  VmaMap m = mm_.vmas();
  ASSERT_EQ(m.size(), 2u);
  const Vma* vvar = m.Find(l.vvar_base);
  const Vma* vdso = m.Find(l.vdso_base);
  ASSERT_NE(vvar, nullptr);
  ASSERT_NE(vdso, nullptr);
  EXPECT_EQ(vvar->name, "[vvar]");
  EXPECT_EQ(vvar->end, l.vvar_base + l.vvar_size);
  EXPECT_EQ(vvar->prot, PROT_READ);
  EXPECT_EQ(vdso->name, "[vdso]");
  EXPECT_EQ(vdso->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(mm_.MapsText(),
            "7ffff7fc0000-7ffff7fc4000 r--p 00000000 00:00 0                  "
            "        [vvar]\n"
            "7ffff7fc4000-7ffff7fc6000 r-xp 00000000 00:00 0                  "
            "        [vdso]\n");
}

TEST_F(MmTest, LayoutFollowsLinuxDefaults) {
  platform::Layout l = TestLayout();
  EXPECT_EQ(mm_.stack_top(), l.max_addr - P);
  // 8 MiB rlimit + guard gap is below the 128 MiB minimum gap.
  EXPECT_EQ(mm_.mmap_base(), mm_.stack_top() - (128ULL << 20));
  mm_.SetStackRlimit(1ULL << 30);
  EXPECT_EQ(mm_.mmap_base(), mm_.stack_top() - (1ULL << 30) - kStackGuardGap);
  mm_.SetStackRlimit(~0ULL);  // RLIM_INFINITY: clamped to 5/6 of the range
  EXPECT_EQ(mm_.mmap_base(),
            PageRoundDown(mm_.stack_top() - PageRoundUp(l.max_addr / 6 * 5)));
}

TEST_F(MmTest, StackTopMovesBelowVdsoPlacedAtTheTop) {
  platform::Layout l = TestLayout();
  l.vvar_base = l.max_addr - 0x10000;
  l.vdso_base = l.vvar_base + l.vvar_size;
  FakeContext ctx;
  MemoryManager mm(l, ctx.shared_fake());
  EXPECT_EQ(mm.stack_top(), l.vvar_base - P);
  EXPECT_EQ(mm.mmap_base(), mm.stack_top() - (128ULL << 20));
}

TEST_F(MmTest, AnonymousMmapGoesTopDownBelowMmapBase) {
  int64_t a = Map(0, 3 * P, kRW, kPrivAnon);
  ASSERT_GT(a, 0);
  EXPECT_EQ(static_cast<uint64_t>(a), mm_.mmap_base() - 3 * P);
  ASSERT_EQ(Calls(), 1u);
  const InjectedCall& c = LastCall();
  EXPECT_EQ(c.nr, SYS_mmap);
  EXPECT_EQ(c.args[0], static_cast<uint64_t>(a));
  EXPECT_EQ(c.args[1], 3 * P);
  EXPECT_EQ(c.args[2], static_cast<uint64_t>(kRW));
  EXPECT_EQ(c.args[3], static_cast<uint64_t>(kPrivAnon | MAP_FIXED));
  EXPECT_EQ(static_cast<int64_t>(c.args[4]), -1);
  // The next one goes right below and merges with it.
  int64_t b = Map(0, P + 1, kRW, kPrivAnon);
  EXPECT_EQ(b, a - static_cast<int64_t>(2 * P));
  EXPECT_EQ(mm_.vma_count(), 3u);
  // A different protection does not merge.
  int64_t c2 = Map(0, P, PROT_READ, kPrivAnon);
  EXPECT_EQ(c2, b - static_cast<int64_t>(P));
  EXPECT_EQ(mm_.vma_count(), 4u);
  ExpectHostMatches();
}

TEST_F(MmTest, HintIsHonouredWhenFreeAndIgnoredOtherwise) {
  EXPECT_EQ(Map(0x200000000, P, kRW, kPrivAnon), 0x200000000);
  // Occupied: fall back to the top-down search.
  EXPECT_EQ(Map(0x200000000, P, kRW, kPrivAnon),
            static_cast<int64_t>(mm_.mmap_base() - P));
  // An unaligned hint is rounded down.
  EXPECT_EQ(Map(0x300000123, P, kRW, kPrivAnon), 0x300000000);
  // Below mmap_min_addr it moves up to it (round_hint_to_min).
  EXPECT_EQ(Map(0x1000, P, kRW, kPrivAnon),
            static_cast<int64_t>(TestLayout().min_addr));
  // Too high to fit below the top: search instead.
  int64_t r = Map(TestLayout().max_addr - P, 2 * P, kRW, kPrivAnon);
  EXPECT_LT(static_cast<uint64_t>(r), mm_.mmap_base());
  ExpectHostMatches();
}

TEST_F(MmTest, HintKeepsTheStackGuardGap) {
  uint64_t stack_start = mm_.stack_top() - 16 * P;
  ASSERT_EQ(mm_.MapStack(ctx_, stack_start, 16 * P, kRW),
            static_cast<int64_t>(stack_start));
  int64_t r = Map(stack_start - P, P, kRW, kPrivAnon);
  EXPECT_NE(static_cast<uint64_t>(r), stack_start - P);
  EXPECT_EQ(Map(stack_start - kStackGuardGap - P, P, kRW, kPrivAnon),
            static_cast<int64_t>(stack_start - kStackGuardGap - P));
}

TEST_F(MmTest, MapFixedReplacesExistingMappings) {
  int64_t a = Map(0x400000000, 8 * P, kRW, kPrivAnon);
  ASSERT_EQ(a, 0x400000000);
  ASSERT_EQ(mm_.CopyOut(a + 2 * P, "hello", 5), 0);
  int64_t b = Map(a + 2 * P, 2 * P, PROT_READ, kPrivAnon | MAP_FIXED);
  ASSERT_EQ(b, a + 2 * static_cast<int64_t>(P));
  VmaMap m = mm_.vmas();
  EXPECT_EQ(m.Find(a)->end, static_cast<uint64_t>(a) + 2 * P);
  EXPECT_EQ(m.Find(b)->prot, PROT_READ);
  EXPECT_EQ(m.Find(b + 2 * P)->prot, kRW);
  // The new mapping is fresh memory.
  EXPECT_EQ(Read(b, 5), std::string(5, '\0'));
  ExpectHostMatches();
}

TEST_F(MmTest, MapFixedNoreplace) {
  int64_t a = Map(0x400000000, 4 * P, kRW, kPrivAnon);
  size_t calls = Calls();
  EXPECT_EQ(Map(a + P, P, kRW, kPrivAnon | MAP_FIXED_NOREPLACE), -EEXIST);
  EXPECT_EQ(Calls(), calls);  // nothing injected
  EXPECT_EQ(Map(a + 4 * P, P, kRW, kPrivAnon | MAP_FIXED_NOREPLACE),
            a + 4 * static_cast<int64_t>(P));
  // NOREPLACE with an unaligned address is EINVAL like MAP_FIXED.
  EXPECT_EQ(Map(a + 10 * P + 1, P, kRW, kPrivAnon | MAP_FIXED_NOREPLACE),
            -EINVAL);
}

TEST_F(MmTest, MmapArgumentErrors) {
  const platform::Layout l = TestLayout();
  MappedFile f = StringFile("abc", "/f");
  EXPECT_EQ(Map(0, 0, kRW, kPrivAnon), -EINVAL);
  EXPECT_EQ(Map(0, P, kRW, kPrivAnon, nullptr, 1), -EINVAL);
  EXPECT_EQ(Map(0, P, kRW, MAP_PRIVATE, &f, 123), -EINVAL);
  EXPECT_EQ(Map(0x400000001, P, kRW, kPrivAnon | MAP_FIXED), -EINVAL);
  EXPECT_EQ(Map(0, P, kRW, MAP_ANONYMOUS), -EINVAL);  // neither type
  EXPECT_EQ(Map(0, P, kRW, MAP_ANONYMOUS | MAP_SHARED | MAP_PRIVATE),
            -EINVAL);  // MAP_SHARED_VALIDATE has no anonymous form
  EXPECT_EQ(Map(0, P, kRW, MAP_ANONYMOUS | 0x0c), -EINVAL);
  EXPECT_EQ(Map(0, P, kRW, MAP_PRIVATE, &f, 0x7ffffffffffff000), -EOVERFLOW);
  // Length overflow and lengths bigger than the address space.
  EXPECT_EQ(Map(0, ~0ULL, kRW, kPrivAnon), -ENOMEM);
  EXPECT_EQ(Map(0, l.max_addr + P, kRW, kPrivAnon), -ENOMEM);
  // Fixed outside the application range.
  EXPECT_EQ(Map(l.max_addr, P, kRW, kPrivAnon | MAP_FIXED), -ENOMEM);
  EXPECT_EQ(Map(l.max_addr - P, 2 * P, kRW, kPrivAnon | MAP_FIXED), -ENOMEM);
  EXPECT_EQ(Map(l.max_addr - P + 1, 2 * P, kRW, kPrivAnon | MAP_FIXED),
            -ENOMEM);  // the range check comes before alignment
  EXPECT_EQ(Map(0x1000, P, kRW, kPrivAnon | MAP_FIXED), -EPERM);
  // Over the vDSO.
  EXPECT_EQ(Map(l.vdso_base - P, 2 * P, kRW, kPrivAnon | MAP_FIXED), -EPERM);
  EXPECT_EQ(Map(l.vdso_base, P, kRW, kPrivAnon | MAP_FIXED_NOREPLACE), -EEXIST);
  // Growsdown shared memory.
  EXPECT_EQ(Map(0, P, kRW, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN),
            -EINVAL);
  EXPECT_EQ(Map(0, P, kRW, kPrivAnon | MAP_HUGETLB), -ENOMEM);
  EXPECT_EQ(Calls(), 0u);
  EXPECT_EQ(mm_.vma_count(), 2u);
}

TEST_F(MmTest, FileMmapErrors) {
  MappedFile f = StringFile(Pattern(100), "/data");
  MappedFile wo = f;
  wo.readable = false;
  wo.writable = true;
  EXPECT_EQ(Map(0, P, PROT_READ, MAP_PRIVATE, &wo, 0), -EACCES);
  EXPECT_EQ(Map(0, P, PROT_READ, MAP_SHARED, &wo, 0), -EACCES);
  // Read-only file, shared, writable mapping.
  EXPECT_EQ(Map(0, P, kRW, MAP_SHARED, &f, 0), -EACCES);
  // MAP_SHARED_VALIDATE rejects flags it does not know; MAP_SHARED ignores
  // them.
  EXPECT_EQ(Map(0, P, PROT_READ, MAP_SHARED_VALIDATE | 0x800000, &f, 0),
            -EOPNOTSUPP);
  EXPECT_EQ(Map(0, P, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, &f, 0),
            -EOPNOTSUPP);
  EXPECT_GT(Map(0, P, PROT_READ, MAP_SHARED | 0x800000, &f, 0), 0);
  EXPECT_EQ(Map(0, P, PROT_READ, MAP_PRIVATE | MAP_GROWSDOWN, &f, 0), -EINVAL);
  EXPECT_EQ(Map(0, P, PROT_READ, MAP_PRIVATE | MAP_SHARED | 0x4, &f, 0),
            -EINVAL);
  // A shared mapping of a file open for writing needs the host file: one
  // without a host fd (procfs, devfs) cannot be mapped.
  MappedFile rw = f;
  rw.writable = true;
  EXPECT_EQ(Map(0, P, PROT_READ, MAP_SHARED, &rw, 0), -ENODEV);
  EXPECT_GT(Map(0, P, kRW, MAP_PRIVATE, &rw, 0), 0);
}

TEST_F(MmTest, AcceptedFlags) {
  for (int extra : {MAP_NORESERVE, MAP_GROWSDOWN, MAP_STACK, MAP_POPULATE,
                    MAP_LOCKED, 0x800000 /* unknown: ignored */}) {
    size_t before = Calls();
    int64_t a = Map(0, 2 * P, kRW, kPrivAnon | extra);
    ASSERT_GT(a, 0) << extra;
    ASSERT_EQ(Calls(), before + 1);
    uint64_t host_flags = LastCall().args[3];
    // NORESERVE and POPULATE reach the host; GROWSDOWN and LOCKED do not
    // (the host must not grow or lock behind the VMA map's back).
    EXPECT_EQ((host_flags & MAP_NORESERVE) != 0, extra == MAP_NORESERVE);
    EXPECT_EQ((host_flags & MAP_POPULATE) != 0, extra == MAP_POPULATE);
    EXPECT_EQ(host_flags & (MAP_GROWSDOWN | MAP_LOCKED | 0x800000), 0u);
    EXPECT_EQ(mm_.vmas().Find(a)->growsdown, extra == MAP_GROWSDOWN);
  }
}

TEST_F(MmTest, Map32Bit) {
  int64_t a = Map(0, P, kRW, kPrivAnon | MAP_32BIT);
  EXPECT_EQ(a, 0x40000000);
  int64_t b = Map(0, P, kRW, kPrivAnon | MAP_32BIT);
  EXPECT_EQ(b, 0x40000000 + static_cast<int64_t>(P));
}

TEST_F(MmTest, MaxMapCount) {
  mm_.set_max_map_count(6);
  // Alternate protections so nothing merges. Linux refuses once the count
  // is already above the limit.
  int i = 0;
  int64_t r;
  do {
    r = Map(0, P, (i++ % 2) ? PROT_READ : kRW, kPrivAnon);
  } while (r > 0 && i < 100);
  EXPECT_EQ(r, -ENOMEM);
  EXPECT_EQ(mm_.vma_count(), 7u);
  // Punching a hole at the limit is refused too.
  mm_.set_max_map_count(8);
  int64_t big = Map(0x400000000, 4 * P, kRW, kPrivAnon | MAP_FIXED);
  ASSERT_GT(big, 0);
  EXPECT_EQ(mm_.Munmap(ctx_, big + P, P), -ENOMEM);
  // Unmapping an edge needs no new VMA.
  EXPECT_EQ(mm_.Munmap(ctx_, big, P), 0);
}

TEST_F(MmTest, PrivateFileMappingIsACopyWithFinalProtection) {
  const std::string data = Pattern(2 * P + 100);
  MappedFile f = StringFile(data, "/usr/lib/libfoo.so");
  int64_t a = Map(0, 4 * P, PROT_READ | PROT_EXEC, MAP_PRIVATE, &f, P);
  ASSERT_GT(a, 0);
  // Mapped writable, filled from the file, then protected as asked.
  auto mmaps = ctx_.CallsOf(SYS_mmap);
  ASSERT_EQ(mmaps.size(), 1u);
  EXPECT_EQ(mmaps[0].args[2], static_cast<uint64_t>(kRW));
  EXPECT_EQ(mmaps[0].args[3], static_cast<uint64_t>(kPrivAnon | MAP_FIXED));
  auto mprotects = ctx_.CallsOf(SYS_mprotect);
  ASSERT_EQ(mprotects.size(), 1u);
  EXPECT_EQ(mprotects[0].args[2], static_cast<uint64_t>(PROT_READ | PROT_EXEC));
  EXPECT_EQ(Read(a, P + 100), data.substr(P));
  // Past the end of the file: zeros.
  EXPECT_EQ(Read(a + P + 100, 2 * P), std::string(2 * P, '\0'));
  ExpectHostMatches();
  VmaMap m = mm_.vmas();
  const Vma* v = m.Find(a);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->offset, P);
  EXPECT_FALSE(v->shared);
  EXPECT_THAT(mm_.MapsText(),
              HasSubstr(absl::StrFormat(
                  "%x-%x r-xp 00001000 fe:00 4711%s/usr/lib/libfoo.so\n", a,
                  a + 4 * P, std::string(73 - 50, ' '))));
}

TEST_F(MmTest, FileReadErrorsUndoTheMapping) {
  MappedFile f = StringFile(Pattern(P), "/bad");
  f.pread = [](void*, size_t, uint64_t) -> ssize_t { return -EIO; };
  int64_t a = Map(0x400000000, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, &f, 0);
  EXPECT_EQ(a, -EIO);
  EXPECT_EQ(mm_.vma_count(), 2u);
  ExpectHostMatches();
}

TEST_F(MmTest, ReadOnlySharedFileMappingIsServedAsACopy) {
  MappedFile f = StringFile(Pattern(P), "/usr/lib/gconv/gconv-modules.cache");
  int64_t a = Map(0, P, PROT_READ, MAP_SHARED, &f, 0);
  ASSERT_GT(a, 0);
  EXPECT_EQ(Read(a, P), Pattern(P));
  VmaMap m = mm_.vmas();
  const Vma* v = m.Find(a);
  EXPECT_TRUE(v->shared);
  EXPECT_THAT(mm_.MapsText(), HasSubstr(" r--s 00000000 fe:00 4711 "));
  // It can never become writable.
  EXPECT_EQ(mm_.Mprotect(ctx_, a, P, kRW), -EACCES);
  EXPECT_EQ(mm_.Mprotect(ctx_, a, P, PROT_READ | PROT_EXEC), 0);
}

TEST_F(MmTest, SharedAnonymousMemory) {
  int64_t a = Map(0, 2 * P, kRW, MAP_SHARED | MAP_ANONYMOUS);
  ASSERT_GT(a, 0);
  EXPECT_EQ(LastCall().args[3],
            static_cast<uint64_t>(MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED));
  VmaMap m = mm_.vmas();
  const Vma* v = m.Find(a);
  EXPECT_TRUE(v->shared);
  EXPECT_NE(v->inode, 0u);
  EXPECT_THAT(mm_.MapsText(), HasSubstr(" rw-s 00000000 00:01 "));
  EXPECT_THAT(mm_.MapsText(), HasSubstr("/dev/zero (deleted)\n"));
  // Two separate shared mappings are separate objects and never merge.
  int64_t b = Map(a + 2 * P, P, kRW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
  ASSERT_EQ(b, a + 2 * static_cast<int64_t>(P));
  EXPECT_EQ(mm_.vmas().Find(a)->end, static_cast<uint64_t>(b));
  EXPECT_EQ(mm_.vma_count(), 4u);
  // Splitting one keeps offsets into the object.
  ASSERT_EQ(mm_.Mprotect(ctx_, a + P, P, PROT_READ), 0);
  EXPECT_EQ(mm_.vmas().Find(a + P)->offset, P);
  EXPECT_THAT(mm_.MapsText(), HasSubstr(" r--s 00001000 00:01 "));
}

TEST_F(MmTest, MapsTextFormat) {
  ASSERT_EQ(Map(0x10000, P, kRW, kPrivAnon | MAP_FIXED), 0x10000);
  ASSERT_EQ(
      Map(0x555555554000, 2 * P, PROT_READ | PROT_EXEC, kPrivAnon | MAP_FIXED),
      0x555555554000);
  std::vector<std::string> lines =
      absl::StrSplit(mm_.MapsText(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  // At least 8 hex digits; anonymous lines end with "0 " (no name).
  EXPECT_EQ(lines[0], "00010000-00011000 rw-p 00000000 00:00 0 ");
  EXPECT_EQ(lines[1], "555555554000-555555556000 r-xp 00000000 00:00 0 ");
  // Names start at column 73.
  EXPECT_EQ(lines[3].find("[vdso]"), 73u);
}

TEST_F(MmTest, MunmapSemantics) {
  const platform::Layout l = TestLayout();
  int64_t a = Map(0x400000000, 6 * P, kRW, kPrivAnon);
  ASSERT_EQ(a, 0x400000000);
  EXPECT_EQ(mm_.Munmap(ctx_, a + 1, P), -EINVAL);
  EXPECT_EQ(mm_.Munmap(ctx_, a, 0), -EINVAL);
  EXPECT_EQ(mm_.Munmap(ctx_, l.max_addr, P), -EINVAL);
  EXPECT_EQ(mm_.Munmap(ctx_, l.max_addr - P, 2 * P), -EINVAL);
  EXPECT_EQ(mm_.Munmap(ctx_, 0, ~0ULL), -EINVAL);
  EXPECT_EQ(mm_.Munmap(ctx_, l.vdso_base, P), -EPERM);
  EXPECT_EQ(mm_.Munmap(ctx_, l.vvar_base - P, 2 * P), -EPERM);
  // Punch a hole: two VMAs.
  size_t calls = Calls();
  EXPECT_EQ(mm_.Munmap(ctx_, a + 2 * P, P + 1), 0);  // length rounds up
  EXPECT_EQ(Calls(), calls + 1);
  EXPECT_EQ(LastCall().nr, SYS_munmap);
  EXPECT_EQ(LastCall().args[1], 2 * P);
  EXPECT_EQ(mm_.vmas().Find(a + 2 * P), nullptr);
  EXPECT_NE(mm_.vmas().Find(a + 4 * P), nullptr);
  // Unmapping a range with holes, and a range with nothing in it.
  EXPECT_EQ(mm_.Munmap(ctx_, a, 6 * P), 0);
  EXPECT_EQ(mm_.vmas().Find(a + 5 * P), nullptr);
  calls = Calls();
  EXPECT_EQ(mm_.Munmap(ctx_, 0, P), 0);
  EXPECT_EQ(Calls(), calls);  // nothing to tell the host
  ExpectHostMatches();
}

TEST_F(MmTest, MprotectSemantics) {
  const platform::Layout l = TestLayout();
  int64_t a = Map(0x400000000, 4 * P, kRW, kPrivAnon);
  EXPECT_EQ(mm_.Mprotect(ctx_, a + 1, P, PROT_READ), -EINVAL);
  EXPECT_EQ(mm_.Mprotect(ctx_, a, 0, PROT_READ), 0);
  EXPECT_EQ(mm_.Mprotect(ctx_, a, P, 0x10), -EINVAL);
  EXPECT_EQ(mm_.Mprotect(ctx_, a, P, PROT_READ | 0x8 /* PROT_SEM */), 0);
  EXPECT_EQ(mm_.Mprotect(ctx_, a, P, PROT_READ | PROT_GROWSDOWN), -EINVAL);
  EXPECT_EQ(mm_.Mprotect(ctx_, a, P, PROT_READ | PROT_GROWSUP), -EINVAL);
  EXPECT_EQ(mm_.Mprotect(ctx_, a, P, PROT_GROWSDOWN | PROT_GROWSUP), -EINVAL);
  EXPECT_EQ(mm_.Mprotect(ctx_, a, ~0ULL, PROT_READ), -ENOMEM);
  EXPECT_EQ(mm_.Mprotect(ctx_, a - P, 2 * P, PROT_READ), -ENOMEM);
  EXPECT_EQ(mm_.Mprotect(ctx_, l.vdso_base, P, kRW), -EPERM);
  EXPECT_EQ(mm_.Mprotect(ctx_, 0x500000000, P, PROT_READ), -ENOMEM);

  // Middle of a VMA: three pieces; restoring merges them back.
  ASSERT_EQ(mm_.Mprotect(ctx_, a + P, 2 * P, PROT_NONE), 0);
  EXPECT_EQ(mm_.vma_count(), 2u + 3u);
  ASSERT_EQ(mm_.Mprotect(ctx_, a, 4 * P, kRW), 0);
  EXPECT_EQ(mm_.vma_count(), 3u);
  ExpectHostMatches();

  // A hole in the range: the part before it changes, then ENOMEM (Linux).
  ASSERT_EQ(mm_.Munmap(ctx_, a + 2 * P, P), 0);
  EXPECT_EQ(mm_.Mprotect(ctx_, a, 4 * P, PROT_READ), -ENOMEM);
  EXPECT_EQ(mm_.vmas().Find(a)->prot, PROT_READ);
  EXPECT_EQ(mm_.vmas().Find(a + 3 * P)->prot, kRW);
  ExpectHostMatches();
}

TEST_F(MmTest, MprotectGrowsdownExtendsToTheVmaStart) {
  int64_t a = Map(0x400000000, 4 * P, kRW, kPrivAnon | MAP_GROWSDOWN);
  ASSERT_GT(a, 0);
  ASSERT_EQ(mm_.Mprotect(ctx_, a + 2 * P, P, PROT_READ | PROT_GROWSDOWN), 0);
  EXPECT_EQ(mm_.vmas().Find(a)->prot, PROT_READ);
  EXPECT_EQ(mm_.vmas().Find(a)->end, static_cast<uint64_t>(a) + 3 * P);
  EXPECT_EQ(LastCall().args[0], static_cast<uint64_t>(a));
}

TEST_F(MmTest, BrkGrowsShrinksAndReportsFailureWithTheOldBreak) {
  EXPECT_EQ(mm_.Brk(ctx_, 0), 0);  // no break before exec sets one
  mm_.SetBrkStart(0x500000123);
  const int64_t start = 0x500001000;
  EXPECT_EQ(mm_.brk_start(), static_cast<uint64_t>(start));
  EXPECT_EQ(mm_.Brk(ctx_, 0), start);          // query
  EXPECT_EQ(mm_.Brk(ctx_, start - 1), start);  // below the start: refused
  size_t calls = Calls();
  // Within the same page: no mapping needed, but the break moves exactly.
  EXPECT_EQ(mm_.Brk(ctx_, start + 10), start + 10);
  EXPECT_EQ(Calls(), calls + 1);
  EXPECT_EQ(LastCall().args[0], static_cast<uint64_t>(start));
  EXPECT_EQ(LastCall().args[1], P);
  EXPECT_EQ(mm_.Brk(ctx_, start + 100), start + 100);
  EXPECT_EQ(Calls(), calls + 1);
  EXPECT_EQ(mm_.Brk(ctx_, start + 5 * P), start + 5 * static_cast<int64_t>(P));
  EXPECT_EQ(mm_.vmas().Find(start)->end, static_cast<uint64_t>(start) + 5 * P);
  EXPECT_EQ(mm_.vmas().Find(start)->name, "[heap]");
  EXPECT_THAT(mm_.MapsText(), HasSubstr("[heap]\n"));
  EXPECT_EQ(mm_.CopyOut(start + 4 * P, "x", 1), 0);
  // Shrink.
  EXPECT_EQ(mm_.Brk(ctx_, start + P + 1), start + static_cast<int64_t>(P) + 1);
  EXPECT_EQ(mm_.vmas().Find(start)->end, static_cast<uint64_t>(start) + 2 * P);
  EXPECT_EQ(LastCall().nr, SYS_munmap);
  // Another mapping in the way: the heap may not reach within a page of it.
  ASSERT_EQ(Map(start + 10 * P, P, kRW, kPrivAnon | MAP_FIXED),
            start + 10 * static_cast<int64_t>(P));
  EXPECT_EQ(mm_.Brk(ctx_, start + 10 * P), start + static_cast<int64_t>(P) + 1);
  EXPECT_EQ(mm_.Brk(ctx_, start + 9 * P + 1),
            start + static_cast<int64_t>(P) + 1);
  EXPECT_EQ(mm_.Brk(ctx_, start + 9 * P), start + 9 * static_cast<int64_t>(P));
  // Host failure: the break stays.
  ASSERT_EQ(mm_.Brk(ctx_, start + P), start + static_cast<int64_t>(P));
  ctx_.fake().fail_next_mmap = ENOMEM;
  EXPECT_EQ(mm_.Brk(ctx_, start + 3 * P), start + static_cast<int64_t>(P));
  // Absurd values.
  EXPECT_EQ(mm_.Brk(ctx_, ~0ULL), start + static_cast<int64_t>(P));
  ExpectHostMatches();
}

TEST_F(MmTest, BrkStopsAtTheStackGuardGap) {
  uint64_t stack = mm_.stack_top() - 16 * P;
  ASSERT_GT(mm_.MapStack(ctx_, stack, 16 * P, kRW), 0);
  uint64_t start = stack - kStackGuardGap - 8 * P;
  mm_.SetBrkStart(start);
  EXPECT_EQ(mm_.Brk(ctx_, start + 8 * P),
            static_cast<int64_t>(start));  // would touch the gap
  EXPECT_EQ(mm_.Brk(ctx_, start + 7 * P), static_cast<int64_t>(start + 7 * P));
}

TEST_F(MmTest, MremapShrinkGrowAndMove) {
  int64_t a = Map(0x400000000, 4 * P, kRW, kPrivAnon);
  ASSERT_EQ(mm_.CopyOut(a, "payload", 7), 0);
  // Shrink in place.
  EXPECT_EQ(mm_.Mremap(ctx_, a, 4 * P, 2 * P, 0, 0), a);
  EXPECT_EQ(mm_.vmas().Find(a)->end, static_cast<uint64_t>(a) + 2 * P);
  // Grow in place: space is free after it.
  EXPECT_EQ(mm_.Mremap(ctx_, a, 2 * P, 6 * P, 0, 0), a);
  EXPECT_EQ(mm_.vmas().Find(a)->end, static_cast<uint64_t>(a) + 6 * P);
  ExpectHostMatches();
  // Blocked by a neighbour: ENOMEM without MREMAP_MAYMOVE, moved with it.
  ASSERT_GT(Map(a + 6 * P, P, PROT_READ, kPrivAnon | MAP_FIXED), 0);
  EXPECT_EQ(mm_.Mremap(ctx_, a, 6 * P, 8 * P, 0, 0), -ENOMEM);
  int64_t b = mm_.Mremap(ctx_, a, 6 * P, 8 * P, MREMAP_MAYMOVE, 0);
  ASSERT_GT(b, 0);
  EXPECT_NE(b, a);
  EXPECT_EQ(mm_.vmas().Find(a), nullptr);
  EXPECT_EQ(mm_.vmas().Find(b)->end, static_cast<uint64_t>(b) + 8 * P);
  EXPECT_EQ(Read(b, 7), "payload");
  ExpectHostMatches();
  // MREMAP_FIXED to a chosen place.
  int64_t c = mm_.Mremap(ctx_, b, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED,
                         0x600000000);
  EXPECT_EQ(c, 0x600000000);
  EXPECT_EQ(Read(c, 7), "payload");
  // DONTUNMAP keeps the old range mapped (and empty).
  int64_t d = mm_.Mremap(ctx_, c, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0);
  ASSERT_GT(d, 0);
  EXPECT_NE(mm_.vmas().Find(c), nullptr);
  EXPECT_EQ(Read(d, 7), "payload");
  EXPECT_EQ(Read(c, 7), std::string(7, '\0'));
  ExpectHostMatches();
}

TEST_F(MmTest, MremapErrors) {
  const platform::Layout l = TestLayout();
  int64_t a = Map(0x400000000, 4 * P, kRW, kPrivAnon);
  EXPECT_EQ(mm_.Mremap(ctx_, a, P, 2 * P, 8, 0), -EINVAL);
  EXPECT_EQ(mm_.Mremap(ctx_, a, P, 2 * P, MREMAP_FIXED, a + 8 * P), -EINVAL);
  EXPECT_EQ(mm_.Mremap(ctx_, a, P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0),
            -EINVAL);
  EXPECT_EQ(mm_.Mremap(ctx_, a + 1, P, P, 0, 0), -EINVAL);
  EXPECT_EQ(mm_.Mremap(ctx_, a, P, 0, 0, 0), -EINVAL);
  EXPECT_EQ(mm_.Mremap(ctx_, a, 0, P, MREMAP_MAYMOVE, 0), -EINVAL);  // private
  EXPECT_EQ(mm_.Mremap(ctx_, a, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 1),
            -EINVAL);
  EXPECT_EQ(
      mm_.Mremap(ctx_, a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + P),
      -EINVAL);  // overlapping
  EXPECT_EQ(mm_.Mremap(ctx_, 0x500000000, P, P, 0, 0), -EFAULT);
  EXPECT_EQ(mm_.Mremap(ctx_, a, 8 * P, 9 * P, MREMAP_MAYMOVE, 0), -EFAULT);
  EXPECT_EQ(mm_.Mremap(ctx_, l.vdso_base, P, 2 * P, MREMAP_MAYMOVE, 0), -EPERM);
  EXPECT_EQ(
      mm_.Mremap(ctx_, a, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, l.vdso_base),
      -EPERM);
  EXPECT_EQ(mm_.Mremap(ctx_, a, P, l.max_addr + P, MREMAP_MAYMOVE, 0), -EINVAL);
  // Absurd old lengths: an invalid tail to unmap, or more than the VMA.
  EXPECT_EQ(mm_.Mremap(ctx_, a, ~0ULL - P, P, 0, 0), -EINVAL);
  EXPECT_EQ(mm_.Mremap(ctx_, a, ~0ULL - P, P, MREMAP_MAYMOVE | MREMAP_FIXED,
                       0x600000000),
            -EINVAL);
  EXPECT_EQ(mm_.Mremap(ctx_, a, 1ULL << 40, (1ULL << 40) + P, 0, 0), -EFAULT);
  EXPECT_NE(mm_.vmas().Find(a), nullptr);
  // MREMAP_DONTUNMAP's new_addr is a hint, but checked like a fixed one
  // (before the old range is even looked at, as Linux 6.18 does).
  EXPECT_EQ(mm_.Mremap(ctx_, 0x500000000, P, P,
                       MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0x1001),
            -EINVAL);
  EXPECT_EQ(mm_.Mremap(ctx_, a, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, a),
            -EINVAL);
  EXPECT_EQ(
      mm_.Mremap(ctx_, 0x500000000, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0),
      -EFAULT);
  EXPECT_EQ(
      mm_.Mremap(ctx_, a, P, P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0x200000000),
      0x200000000);
}

TEST_F(MmTest, MremapOfFileMappingReadsTheFileForNewPages) {
  const std::string data = Pattern(4 * P);
  MappedFile f = StringFile(data, "/f");
  int64_t a =
      Map(0x400000000, 2 * P, PROT_READ, MAP_PRIVATE | MAP_FIXED, &f, P);
  ASSERT_EQ(a, 0x400000000);
  ASSERT_EQ(mm_.Mremap(ctx_, a, 2 * P, 3 * P, 0, 0), a);
  EXPECT_EQ(Read(a, 3 * P), data.substr(P, 3 * P));
  EXPECT_EQ(mm_.vmas().Find(a)->end, static_cast<uint64_t>(a) + 3 * P);
  EXPECT_EQ(ctx_.fake().ProtAt(a + 2 * P), PROT_READ);
  ExpectHostMatches();
}

TEST_F(MmTest, MadviseDontneedZeroesAnonymousAndRestoresFileCopies) {
  int64_t a = Map(0x400000000, 2 * P, kRW, kPrivAnon);
  ASSERT_EQ(mm_.CopyOut(a, "dirty", 5), 0);
  EXPECT_EQ(mm_.Madvise(ctx_, a, 2 * P, MADV_DONTNEED), 0);
  EXPECT_EQ(LastCall().nr, SYS_madvise);
  EXPECT_EQ(Read(a, 5), std::string(5, '\0'));

  const std::string data = Pattern(P);
  MappedFile f = StringFile(data, "/f");
  int64_t b = Map(0x410000000, P, PROT_READ, MAP_PRIVATE | MAP_FIXED, &f, 0);
  ASSERT_EQ(mm_.Mprotect(ctx_, b, P, kRW), 0);
  ASSERT_EQ(mm_.CopyOut(b, "dirty", 5), 0);
  ASSERT_EQ(mm_.Mprotect(ctx_, b, P, PROT_READ), 0);
  EXPECT_EQ(mm_.Madvise(ctx_, b, P, MADV_DONTNEED), 0);
  EXPECT_EQ(Read(b, P), data);
  EXPECT_EQ(ctx_.fake().ProtAt(b), PROT_READ);
  ExpectHostMatches();
}

TEST_F(MmTest, MadviseChecks) {
  const platform::Layout l = TestLayout();
  int64_t a = Map(0x400000000, 4 * P, kRW, kPrivAnon);
  EXPECT_EQ(mm_.Madvise(ctx_, a, P, 999), -EINVAL);
  EXPECT_EQ(mm_.Madvise(ctx_, a, P, 100 /* MADV_HWPOISON */), -EINVAL);
  EXPECT_EQ(mm_.Madvise(ctx_, a + 1, P, MADV_NORMAL), -EINVAL);
  EXPECT_EQ(mm_.Madvise(ctx_, a, 0, MADV_NORMAL), 0);
  EXPECT_EQ(mm_.Madvise(ctx_, a, ~0ULL, MADV_NORMAL), -EINVAL);
  EXPECT_EQ(mm_.Madvise(ctx_, a, 8 * P, MADV_NORMAL), -ENOMEM);
  EXPECT_EQ(mm_.Madvise(ctx_, a, 8 * P, MADV_DONTNEED), -ENOMEM);
  EXPECT_EQ(mm_.Madvise(ctx_, a, 4 * P, MADV_WILLNEED), 0);
  EXPECT_EQ(mm_.Madvise(ctx_, a, 4 * P, MADV_FREE), 0);
  EXPECT_EQ(mm_.Madvise(ctx_, a, 4 * P, MADV_REMOVE), -EINVAL);
  EXPECT_EQ(mm_.Madvise(ctx_, l.vvar_base, P, MADV_DONTNEED), -EINVAL);
  MappedFile f = StringFile("x", "/f");
  int64_t b = Map(0, P, PROT_READ, MAP_PRIVATE, &f, 0);
  EXPECT_EQ(mm_.Madvise(ctx_, b, P, MADV_FREE), -EINVAL);
  EXPECT_EQ(mm_.Madvise(ctx_, b, P, MADV_REMOVE), -EACCES);
  EXPECT_EQ(mm_.Madvise(ctx_, b, P, 18 /* MADV_WIPEONFORK */), -EINVAL);
  int64_t s = Map(0, P, kRW, MAP_SHARED | MAP_ANONYMOUS);
  EXPECT_EQ(mm_.Madvise(ctx_, s, P, MADV_REMOVE), 0);
}

TEST_F(MmTest, DontforkRangesAreLeftOutOfTheFork) {
  int64_t a = Map(0x400000000, 4 * P, kRW, kPrivAnon);
  mm_.SetBrkStart(0x500000000);
  ASSERT_EQ(mm_.Brk(ctx_, 0x500002000), 0x500002000);
  ASSERT_EQ(mm_.Madvise(ctx_, a + P, P, MADV_DONTFORK), 0);
  EXPECT_EQ(LastCall().nr, SYS_madvise);
  EXPECT_EQ(LastCall().args[2], static_cast<uint64_t>(MADV_DONTFORK));
  auto child_ctx = std::make_unique<FakeContext>();
  std::shared_ptr<MemoryManager> child = mm_.Fork(child_ctx->shared_fake());
  EXPECT_EQ(&child->address_space(), &child_ctx->fake());
  VmaMap cm = child->vmas();
  EXPECT_NE(cm.Find(a), nullptr);
  EXPECT_EQ(cm.Find(a + P), nullptr);
  EXPECT_NE(cm.Find(a + 2 * P), nullptr);
  EXPECT_EQ(child->brk(), 0x500002000u);
  EXPECT_EQ(child->brk_start(), 0x500000000u);
  EXPECT_EQ(child->mmap_base(), mm_.mmap_base());
  // The two maps are independent afterwards.
  ASSERT_EQ(child->Munmap(*child_ctx, a, P), 0);
  EXPECT_NE(mm_.vmas().Find(a), nullptr);
  EXPECT_EQ(child->vmas().Find(a), nullptr);
}

TEST_F(MmTest, SharedFileMappingMapsTheHostFdInTheStub) {
  MappedFile f = StringFile(Pattern(2 * P), "/data/file");
  f.writable = true;
  f.host_fd = 7;
  const int64_t a = Map(0, 2 * P, kRW, MAP_SHARED, &f, P);
  ASSERT_GT(a, 0);
  ASSERT_EQ(ctx_.imported, std::vector<int>{7});
  std::vector<InjectedCall> mmaps = ctx_.CallsOf(SYS_mmap);
  ASSERT_EQ(mmaps.size(), 1u);
  EXPECT_EQ(mmaps[0].args[3] & (MAP_SHARED | MAP_FIXED),
            static_cast<uint64_t>(MAP_SHARED | MAP_FIXED));
  EXPECT_EQ(mmaps[0].args[4], 1007u);  // the stub's copy of the fd
  EXPECT_EQ(mmaps[0].args[5], P);
  // Nothing is copied: the host pages are the file's.
  EXPECT_TRUE(ctx_.fake().writes.empty());
  // The stub's fd is closed right after.
  ASSERT_EQ(ctx_.CallsOf(SYS_close).size(), 1u);
  EXPECT_EQ(ctx_.CallsOf(SYS_close)[0].args[0], 1007u);
  const Vma* v = mm_.vmas().Find(a);
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->shared);
  EXPECT_TRUE(v->host_mapped);
  EXPECT_THAT(mm_.MapsText(), HasSubstr("rw-s 00001000 fe:00 4711"));
  EXPECT_THAT(mm_.MapsText(), HasSubstr("/data/file"));

  // msync goes to the host for host-mapped files.
  EXPECT_EQ(mm_.Msync(ctx_, a, 2 * P, MS_SYNC), 0);
  EXPECT_EQ(LastCall().nr, SYS_msync);
  EXPECT_EQ(LastCall().args[2], static_cast<uint64_t>(MS_SYNC));

  // Growing it in place extends the host mapping; nothing is copied.
  ASSERT_EQ(mm_.Mremap(ctx_, a, 2 * P, 3 * P, 0, 0), a);
  EXPECT_TRUE(ctx_.fake().writes.empty());
  // MADV_DONTNEED leaves the file's pages to the host.
  EXPECT_EQ(mm_.Madvise(ctx_, a, 3 * P, MADV_DONTNEED), 0);
  EXPECT_TRUE(ctx_.fake().writes.empty());
  ExpectHostMatches();

  // Opened read-only: mapped from the host fd too, and never writable.
  MappedFile ro = f;
  ro.writable = false;
  const int64_t b = Map(0, P, PROT_READ, MAP_SHARED, &ro, 0);
  ASSERT_GT(b, 0);
  EXPECT_EQ(ctx_.imported.size(), 2u);
  EXPECT_EQ(mm_.Mprotect(ctx_, b, P, kRW), -EACCES);
  EXPECT_EQ(mm_.Mprotect(ctx_, b, P, PROT_NONE), 0);

  // Private mappings map the host fd MAP_PRIVATE (the host copies on
  // write): nothing is copied by the sentry.
  const size_t writes = ctx_.fake().writes.size();
  const int64_t c = Map(0, P, kRW, MAP_PRIVATE, &f, 0);
  ASSERT_GT(c, 0);
  EXPECT_EQ(ctx_.imported.size(), 3u);
  EXPECT_EQ(LastCall().nr, SYS_close);
  std::vector<InjectedCall> mmaps2 = ctx_.CallsOf(SYS_mmap);
  EXPECT_EQ(mmaps2.back().args[3] & (MAP_SHARED | MAP_PRIVATE),
            static_cast<uint64_t>(MAP_PRIVATE));
  EXPECT_EQ(ctx_.fake().writes.size(), writes);
  EXPECT_TRUE(mm_.vmas().Find(c)->host_mapped);
  EXPECT_THAT(mm_.MapsText(), HasSubstr("rw-p 00000000 fe:00 4711"));
}

TEST_F(MmTest, PrivateMappingFallsBackToACopyWhenTheHostRefuses) {
  MappedFile f = StringFile(Pattern(P), "/noexec/lib.so");
  f.host_fd = 3;
  // A noexec host mount refuses PROT_EXEC of the file: copy it instead.
  ctx_.fake().fail_next_mmap = EPERM;
  const int64_t a = Map(0, P, PROT_READ | PROT_EXEC, MAP_PRIVATE, &f, 0);
  ASSERT_GT(a, 0);
  EXPECT_FALSE(mm_.vmas().Find(a)->host_mapped);
  EXPECT_EQ(Read(a, 3), "abc");
  ExpectHostMatches();
  // A shared mapping has no copy to fall back to.
  f.writable = true;
  ctx_.fake().fail_next_mmap = EPERM;
  EXPECT_EQ(Map(0, P, kRW, MAP_SHARED, &f, 0), -EPERM);
}

TEST_F(MmTest, SharedMappingFailsCleanlyWhenTheImportFails) {
  MappedFile f = StringFile(Pattern(P), "/f");
  f.writable = true;
  f.host_fd = -5;  // the fake refuses to import it
  f.keep_alive = std::make_shared<int>(1);
  // host_fd < 0 and writable: no way to share it.
  EXPECT_EQ(Map(0, P, kRW, MAP_SHARED, &f, 0), -ENODEV);
}

namespace {

// A SysV-style file: each MappedFile is one attachment; `count` tracks the
// live ones the way shm_nattch does.
MappedFile ShmFile(std::shared_ptr<int> count) {
  MappedFile f;
  f.pread = [](void*, size_t, uint64_t) -> ssize_t { return 0; };
  f.name = "/SYSV00000000 (deleted)";
  f.size = 2 * P;
  f.writable = true;
  f.host_fd = 9;
  f.sysv_shm = true;
  auto attach = [count]() -> std::shared_ptr<void> {
    ++*count;
    return std::shared_ptr<void>(nullptr, [count](void*) { --*count; });
  };
  f.keep_alive = attach();
  f.on_fork = attach;
  return f;
}

}  // namespace

TEST_F(MmTest, SysvAttachmentsCountAcrossForkAndDetach) {
  auto count = std::make_shared<int>(0);
  {
    MappedFile f1 = ShmFile(count);
    ASSERT_GT(Map(0x500000000, 2 * P, kRW, MAP_SHARED | MAP_FIXED, &f1, 0), 0);
    MappedFile f2 = ShmFile(count);
    // A second attachment right above: never merged with the first.
    ASSERT_GT(Map(0x500002000, 2 * P, kRW, MAP_SHARED | MAP_FIXED, &f2, 0), 0);
  }
  EXPECT_EQ(*count, 2);
  EXPECT_EQ(mm_.vmas().Find(0x500000000)->end, 0x500002000u);
  // Splitting one attachment does not change the count.
  ASSERT_EQ(mm_.Mprotect(ctx_, 0x500001000, P, PROT_READ), 0);
  EXPECT_EQ(*count, 2);
  {
    auto child_ctx = std::make_unique<FakeContext>();
    std::shared_ptr<MemoryManager> child = mm_.Fork(child_ctx->shared_fake());
    EXPECT_EQ(*count, 4);  // the child's copies are attachments too
    ASSERT_EQ(child->DetachShm(*child_ctx, 0x500002000), 0);
    EXPECT_EQ(*count, 3);
  }
  EXPECT_EQ(*count, 2);  // the child's address space is gone
  EXPECT_EQ(mm_.DetachShm(ctx_, 0x500000001), -EINVAL);
  EXPECT_EQ(mm_.DetachShm(ctx_, 0x500001000), -EINVAL);  // not offset 0
  // Both pieces of the split attachment go.
  ASSERT_EQ(mm_.DetachShm(ctx_, 0x500000000), 0);
  EXPECT_EQ(*count, 1);
  EXPECT_EQ(mm_.vmas().Find(0x500000000), nullptr);
  EXPECT_EQ(mm_.vmas().Find(0x500001000), nullptr);
  EXPECT_NE(mm_.vmas().Find(0x500002000), nullptr);
  EXPECT_EQ(mm_.DetachShm(ctx_, 0x500000000), -EINVAL);
  // An attachment whose head was unmapped is found from the old address.
  ASSERT_EQ(mm_.Munmap(ctx_, 0x500002000, P), 0);
  ASSERT_EQ(mm_.DetachShm(ctx_, 0x500002000), 0);
  EXPECT_EQ(*count, 0);
  ExpectHostMatches();
}

TEST_F(MmTest, MincoreMsyncMlock) {
  int64_t a = Map(0x400000000, 4 * P, kRW, kPrivAnon);
  int64_t ro = Map(0x410000000, P, PROT_READ, kPrivAnon);
  EXPECT_EQ(mm_.Mincore(ctx_, a + 1, P, a), -EINVAL);
  EXPECT_EQ(mm_.Mincore(ctx_, a, 8 * P, a), -ENOMEM);
  EXPECT_EQ(mm_.Mincore(ctx_, a, 0, 0), 0);
  EXPECT_EQ(mm_.Mincore(ctx_, a, 2 * P, ro), -EFAULT);  // vec not writable
  EXPECT_EQ(mm_.Mincore(ctx_, a, 2 * P, 0x480000000), -EFAULT);
  EXPECT_EQ(mm_.Mincore(ctx_, a, 2 * P, TestLayout().max_addr), -EFAULT);
  EXPECT_EQ(mm_.Mincore(ctx_, a, 2 * P, a + 3 * P), 0);
  EXPECT_EQ(LastCall().nr, SYS_mincore);
  EXPECT_EQ(Read(a + 3 * P, 2), std::string("\1\1"));

  EXPECT_EQ(mm_.Msync(ctx_, a, P, 0), 0);
  EXPECT_EQ(mm_.Msync(ctx_, a, P, MS_SYNC | MS_ASYNC), -EINVAL);
  EXPECT_EQ(mm_.Msync(ctx_, a, P, 0x100), -EINVAL);
  EXPECT_EQ(mm_.Msync(ctx_, a + 1, P, MS_SYNC), -EINVAL);
  EXPECT_EQ(mm_.Msync(ctx_, a, 8 * P, MS_SYNC), -ENOMEM);
  EXPECT_EQ(mm_.Msync(ctx_, a, 0, MS_SYNC), 0);

  EXPECT_EQ(mm_.Mlock(a, 4 * P, true), 0);
  EXPECT_EQ(mm_.Mlock(a + 1, P, true), 0);
  EXPECT_EQ(mm_.Mlock(a + 1, 4 * P, true), -ENOMEM);  // spills into the hole
  EXPECT_EQ(mm_.Mlock(a, 0, true), 0);
  // PROT_NONE cannot be faulted in by mlock; munlock does not try.
  ASSERT_EQ(mm_.Mprotect(ctx_, a, P, PROT_NONE), 0);
  EXPECT_EQ(mm_.Mlock(a, P, true), -ENOMEM);
  EXPECT_EQ(mm_.Mlock(a, P, false), 0);
}

TEST_F(MmTest, CopyInAndOut) {
  int64_t a = Map(0x400000000, 2 * P, kRW, kPrivAnon);
  char buf[16] = {};
  EXPECT_EQ(mm_.CopyOut(a + P - 3, "abcdef", 6), 0);
  EXPECT_EQ(mm_.CopyIn(a + P - 3, buf, 6), 0);
  EXPECT_STREQ(buf, "abcdef");
  EXPECT_EQ(mm_.CopyIn(a + 2 * P - 3, buf, 6), -EFAULT);  // runs off the end
  EXPECT_EQ(mm_.CopyIn(0x500000000, buf, 1), -EFAULT);
  EXPECT_EQ(mm_.CopyIn(0x500000000, buf, 0), 0);
  ASSERT_EQ(mm_.Mprotect(ctx_, a, P, PROT_READ), 0);
  EXPECT_EQ(mm_.CopyOut(a, "x", 1), -EFAULT);
}

TEST_F(MmTest, FailedFixedMappingLeavesAHole) {
  int64_t a = Map(0x400000000, 4 * P, kRW, kPrivAnon);
  ctx_.fake().fail_next_mmap = ENOMEM;
  EXPECT_EQ(Map(a + P, P, PROT_READ, kPrivAnon | MAP_FIXED), -ENOMEM);
  EXPECT_EQ(mm_.vmas().Find(a + P), nullptr);
  EXPECT_NE(mm_.vmas().Find(a), nullptr);
  ExpectHostMatches();
}

TEST_F(MmTest, FindUnmappedAreaHonoursAlignment) {
  int64_t a = mm_.FindUnmappedArea(3 * P, 1 << 21);
  ASSERT_GT(a, 0);
  EXPECT_EQ(a % (1 << 21), 0);
  EXPECT_LE(static_cast<uint64_t>(a) + 3 * P, mm_.mmap_base());
  EXPECT_EQ(mm_.FindUnmappedArea(3 * P, 3 * P), -EINVAL);
  EXPECT_EQ(mm_.FindUnmappedArea(0, P), -ENOMEM);
  EXPECT_EQ(mm_.vma_count(), 2u);  // nothing was mapped
}

TEST_F(MmTest, ConcurrentMapAndUnmapFromSeveralThreads) {
  // Threads of one process share the memory manager; each has its own
  // context on the same address space.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([this, t] {
      FakeContext ctx(ctx_.shared_fake());
      for (int i = 0; i < 200; i++) {
        int64_t a = mm_.Mmap(ctx, 0, (t + 1) * P, (i % 2) ? PROT_READ : kRW,
                             kPrivAnon, nullptr, 0);
        ASSERT_GT(a, 0);
        if (i % 3 != 0) {
          ASSERT_EQ(mm_.Munmap(ctx, a, (t + 1) * P), 0);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ExpectHostMatches();
}

}  // namespace
}  // namespace sentry::mm
