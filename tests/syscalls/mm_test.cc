// Conformance: mmap/munmap/mprotect/brk, anonymous and file-backed. No test
// here touches memory it cannot access: protection is observed through
// syscalls, which report EFAULT instead of raising SIGSEGV.
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

const size_t kPage = static_cast<size_t>(getpagesize());

// An address above any user address space on x86-64.
void* const kKernelAddr = reinterpret_cast<void*>(0xffff800000000000ull);

char* MapAnon(size_t len, int prot = PROT_READ | PROT_WRITE) {
  void* p = mmap(nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(p, MAP_FAILED) << ErrnoName(errno);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

// True if [addr, addr+len) overlaps a mapping: MAP_FIXED_NOREPLACE fails with
// EEXIST exactly then. A successful probe is undone at once.
bool IsMapped(void* addr, size_t len) {
  void* p = mmap(addr, len, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) {
    EXPECT_EQ(errno, EEXIST) << "probe of " << addr;
    return true;
  }
  EXPECT_EQ(p, addr);
  munmap(p, len);
  return false;
}

// The kernel reads a path from p: a readable page holding a NUL at p gives
// ENOENT (empty path), an unreadable one EFAULT.
bool KernelCanRead(const void* p) {
  errno = 0;
  const long r = syscall(SYS_access, p, F_OK);
  EXPECT_EQ(r, -1);
  EXPECT_TRUE(errno == ENOENT || errno == EFAULT) << ErrnoName(errno);
  return errno == ENOENT;
}

// The kernel stores one byte of small.txt ('h') at p.
bool KernelCanWrite(void* p, int fd) {
  errno = 0;
  const ssize_t r = pread(fd, p, 1, 0);
  if (r == 1) return true;
  EXPECT_EQ(errno, EFAULT) << ErrnoName(errno);
  return false;
}

bool AllZero(const char* p, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// ---- mmap: anonymous -----------------------------------------------------

TEST(MmapTest, AnonymousMemoryIsZeroedAndUsable) {
  const size_t len = 16 * kPage;
  char* p = MapAnon(len);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPage, 0u);
  EXPECT_TRUE(AllZero(p, len));
  for (size_t i = 0; i < len; i += 512) p[i] = static_cast<char>(i / 512 + 1);
  for (size_t i = 0; i < len; i += 512) {
    ASSERT_EQ(p[i], static_cast<char>(i / 512 + 1));
  }
  EXPECT_EQ(munmap(p, len), 0);
}

TEST(MmapTest, SharedAnonymousMemoryIsZeroedAndUsable) {
  const size_t len = 4 * kPage;
  void* v = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(v, MAP_FAILED) << ErrnoName(errno);
  char* p = static_cast<char*>(v);
  EXPECT_TRUE(AllZero(p, len));
  memset(p, 0x5a, len);
  EXPECT_EQ(p[len - 1], 0x5a);
  EXPECT_EQ(munmap(p, len), 0);
}

TEST(MmapTest, LengthIsRoundedUpToAPage) {
  char* p = MapAnon(1);
  ASSERT_NE(p, nullptr);
  p[kPage - 1] = 1;  // the whole page is there
  EXPECT_TRUE(IsMapped(p, kPage));
  EXPECT_EQ(munmap(p, 1), 0);  // and munmap rounds the same way
  EXPECT_FALSE(IsMapped(p, kPage));
}

TEST(MmapTest, ZeroLengthIsEINVAL) {
  EXPECT_EQ(mmap(nullptr, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
}

TEST(MmapTest, MappingTypeMustBeSharedOrPrivate) {
  // Neither MAP_SHARED nor MAP_PRIVATE.
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_ANONYMOUS, -1, 0), MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  // Both bits together spell MAP_SHARED_VALIDATE, which anonymous mappings
  // do not accept.
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ,
                 MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  // Unused type values.
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, 0x0f | MAP_ANONYMOUS, -1, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
}

TEST(MmapTest, AnonymousIgnoresTheFd) {
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, 12345, 0);
  ASSERT_NE(p, MAP_FAILED) << ErrnoName(errno);
  EXPECT_EQ(munmap(p, kPage), 0);
}

TEST(MmapTest, UnalignedFixedAddressIsEINVAL) {
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  errno = 0;
  EXPECT_EQ(mmap(p + 1, kPage, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(munmap(p, 2 * kPage), 0);
}

TEST(MmapTest, UnalignedHintIsRoundedNotRejected) {
  char* base = MapAnon(kPage);
  ASSERT_NE(base, nullptr);
  ASSERT_EQ(munmap(base, kPage), 0);
  void* p =
      mmap(base + 1, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPage, 0u);
  EXPECT_EQ(munmap(p, kPage), 0);
}

TEST(MmapTest, UnalignedOffsetIsEINVAL) {
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd.get(), 100),
            MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
}

TEST(MmapTest, FixedReplacesExistingPages) {
  char* p = MapAnon(3 * kPage);
  ASSERT_NE(p, nullptr);
  memset(p, 'x', 3 * kPage);
  void* q = mmap(p + kPage, kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  ASSERT_EQ(q, p + kPage) << ErrnoName(errno);
  EXPECT_EQ(p[kPage - 1], 'x');
  EXPECT_TRUE(AllZero(p + kPage, kPage));
  EXPECT_EQ(p[2 * kPage], 'x');
  EXPECT_EQ(munmap(p, 3 * kPage), 0);
}

TEST(MmapTest, FixedNoReplaceOverAMappingIsEEXIST) {
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  p[0] = 'k';
  errno = 0;
  EXPECT_EQ(mmap(p, kPage, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EEXIST);
  // A partial overlap is refused as well.
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  errno = 0;
  EXPECT_EQ(mmap(p, 2 * kPage, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(p[0], 'k');  // untouched
  // Into the free page it succeeds at exactly that address.
  EXPECT_EQ(mmap(p + kPage, kPage, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
            p + kPage);
  EXPECT_EQ(munmap(p, 2 * kPage), 0);
}

TEST(MmapTest, HintIsHonouredWhenFree) {
  // Find a free range by mapping and unmapping it.
  char* base = MapAnon(4 * kPage);
  ASSERT_NE(base, nullptr);
  ASSERT_EQ(munmap(base, 4 * kPage), 0);
  char* hint = base + kPage;
  void* p = mmap(hint, 2 * kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_EQ(p, hint);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(munmap(p, 2 * kPage), 0);
}

TEST(MmapTest, HintOverAMappingIsMovedElsewhere) {
  char* p = MapAnon(kPage);
  ASSERT_NE(p, nullptr);
  p[0] = 'z';
  void* q = mmap(p, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(q, MAP_FAILED);
  EXPECT_NE(q, p);
  EXPECT_EQ(p[0], 'z');
  EXPECT_EQ(munmap(q, kPage), 0);
  EXPECT_EQ(munmap(p, kPage), 0);
}

TEST(MmapTest, HugeLengthIsENOMEM) {
  errno = 0;
  EXPECT_EQ(mmap(nullptr, 1ull << 62, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, ENOMEM);
  // A length that overflows when rounded up to a page.
  errno = 0;
  EXPECT_EQ(mmap(nullptr, SIZE_MAX - 10, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(MmapTest, FixedAboveTheUserAddressSpaceIsENOMEM) {
  errno = 0;
  EXPECT_EQ(mmap(kKernelAddr, kPage, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, ENOMEM);
}

// ---- munmap --------------------------------------------------------------

TEST(MunmapTest, UnalignedAddressIsEINVAL) {
  char* p = MapAnon(kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_ERRNO(munmap(p + 1, kPage), EINVAL);
  EXPECT_TRUE(IsMapped(p, kPage));
  EXPECT_EQ(munmap(p, kPage), 0);
}

TEST(MunmapTest, ZeroLengthIsEINVAL) {
  char* p = MapAnon(kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_ERRNO(munmap(p, 0), EINVAL);
  EXPECT_EQ(munmap(p, kPage), 0);
}

TEST(MunmapTest, KernelAddressIsEINVAL) {
  EXPECT_ERRNO(munmap(kKernelAddr, kPage), EINVAL);
}

TEST(MunmapTest, UnmappingAHoleSucceeds) {
  char* p = MapAnon(kPage);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(munmap(p, kPage), 0);
  EXPECT_EQ(munmap(p, kPage), 0);
}

TEST(MunmapTest, RangeOverMappedAndUnmappedPages) {
  char* p = MapAnon(3 * kPage);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  EXPECT_EQ(munmap(p, 3 * kPage), 0);
  EXPECT_FALSE(IsMapped(p, 3 * kPage));
}

TEST(MunmapTest, PartialUnmapSplitsTheMapping) {
  char* p = MapAnon(3 * kPage);
  ASSERT_NE(p, nullptr);
  memset(p, 'y', 3 * kPage);
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  EXPECT_TRUE(IsMapped(p, kPage));
  EXPECT_FALSE(IsMapped(p + kPage, kPage));
  EXPECT_TRUE(IsMapped(p + 2 * kPage, kPage));
  // Both remaining halves keep their contents.
  EXPECT_EQ(p[0], 'y');
  EXPECT_EQ(p[kPage - 1], 'y');
  EXPECT_EQ(p[2 * kPage], 'y');
  EXPECT_EQ(p[3 * kPage - 1], 'y');
  // The hole behaves like unmapped memory to syscalls.
  EXPECT_FALSE(KernelCanRead(p + kPage));
  EXPECT_EQ(munmap(p, 3 * kPage), 0);
}

// ---- mprotect ------------------------------------------------------------

TEST(MprotectTest, ReadOnlyThenBack) {
  CV_OPEN_OR_DIE(src, Testdata("small.txt"), O_RDONLY);
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  p[100] = 42;
  ASSERT_EQ(mprotect(p, kPage, PROT_READ), 0);
  EXPECT_TRUE(KernelCanRead(p));
  EXPECT_FALSE(KernelCanWrite(p, src.get()));
  // The second page was not part of the call.
  EXPECT_TRUE(KernelCanWrite(p + kPage, src.get()));
  EXPECT_EQ(p[100], 42);

  ASSERT_EQ(mprotect(p, kPage, PROT_NONE), 0);
  EXPECT_FALSE(KernelCanRead(p));
  EXPECT_FALSE(KernelCanWrite(p, src.get()));

  ASSERT_EQ(mprotect(p, kPage, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(p[100], 42);  // contents survive protection changes
  EXPECT_TRUE(KernelCanRead(p));
  EXPECT_TRUE(KernelCanWrite(p, src.get()));
  EXPECT_EQ(p[0], 'h');
  EXPECT_EQ(munmap(p, 2 * kPage), 0);
}

TEST(MprotectTest, UnmappedRangeIsENOMEM) {
  char* p = MapAnon(3 * kPage);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  EXPECT_ERRNO(mprotect(p + kPage, kPage, PROT_READ), ENOMEM);
  // A range that is only partly mapped fails too.
  EXPECT_ERRNO(mprotect(p, 3 * kPage, PROT_READ), ENOMEM);
  EXPECT_ERRNO(mprotect(kKernelAddr, kPage, PROT_READ), ENOMEM);
  EXPECT_EQ(munmap(p, 3 * kPage), 0);
}

TEST(MprotectTest, BadArgumentsAreEINVAL) {
  char* p = MapAnon(kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_ERRNO(mprotect(p, kPage, 0x100), EINVAL);
  EXPECT_ERRNO(mprotect(p + 1, kPage, PROT_READ), EINVAL);
  EXPECT_ERRNO(mprotect(p, kPage, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP),
               EINVAL);
  // Zero length is a successful no-op.
  EXPECT_EQ(mprotect(p, 0, PROT_NONE), 0);
  EXPECT_TRUE(KernelCanRead(p));
  EXPECT_EQ(munmap(p, kPage), 0);
}

// ---- brk -----------------------------------------------------------------

TEST(BrkTest, GrowUseShrink) {
  // malloc in this static binary uses brk too, so nothing may allocate
  // between growing and restoring the break: record first, assert after.
  const uintptr_t orig = syscall(SYS_brk, 0);
  const uintptr_t start = (orig + kPage - 1) & ~(kPage - 1);
  const uintptr_t want = start + 4 * kPage;
  const uintptr_t grown = syscall(SYS_brk, want);
  const uintptr_t query_grown = syscall(SYS_brk, 0);
  bool zero = false, usable = false;
  if (grown == want) {
    char* mem = reinterpret_cast<char*>(start);
    zero = AllZero(mem, 4 * kPage);
    memset(mem, 0x77, 4 * kPage);
    usable = mem[4 * kPage - 1] == 0x77;
  }
  const uintptr_t shrunk = syscall(SYS_brk, orig);
  const uintptr_t query_shrunk = syscall(SYS_brk, 0);
  const bool gone = !IsMapped(reinterpret_cast<void*>(start), 4 * kPage);
  // Growing again gives fresh zeroed pages, not the old contents.
  const uintptr_t regrown = syscall(SYS_brk, want);
  const bool rezeroed =
      regrown == want && AllZero(reinterpret_cast<char*>(start), 4 * kPage);
  const uintptr_t restored = syscall(SYS_brk, orig);

  EXPECT_NE(orig, 0u);
  EXPECT_EQ(grown, want);
  EXPECT_EQ(query_grown, want);
  EXPECT_TRUE(zero);
  EXPECT_TRUE(usable);
  EXPECT_EQ(shrunk, orig);
  EXPECT_EQ(query_shrunk, orig);
  EXPECT_TRUE(gone);
  EXPECT_EQ(regrown, want);
  EXPECT_TRUE(rezeroed);
  EXPECT_EQ(restored, orig);
}

TEST(BrkTest, ImpossibleRequestsReturnTheCurrentBreak) {
  const uintptr_t orig = syscall(SYS_brk, 0);
  // Failure is not -1: brk returns the unchanged break.
  const uintptr_t too_big = syscall(SYS_brk, orig + (1ull << 47));
  const uintptr_t kernel = syscall(SYS_brk, 0xffff800000000000ull);
  const uintptr_t too_low = syscall(SYS_brk, kPage);
  const uintptr_t after = syscall(SYS_brk, 0);
  EXPECT_EQ(too_big, orig);
  EXPECT_EQ(kernel, orig);
  EXPECT_EQ(too_low, orig);
  EXPECT_EQ(after, orig);
}

TEST(BrkTest, CannotGrowIntoAMapping) {
  const uintptr_t orig = syscall(SYS_brk, 0);
  const uintptr_t start = (orig + kPage - 1) & ~(kPage - 1);
  // Occupy the pages just above the break.
  void* block = mmap(reinterpret_cast<void*>(start + kPage), kPage, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  const uintptr_t r = syscall(SYS_brk, start + 4 * kPage);
  const uintptr_t after = syscall(SYS_brk, 0);
  if (block != MAP_FAILED) munmap(block, kPage);
  syscall(SYS_brk, orig);
  ASSERT_NE(block, MAP_FAILED) << ErrnoName(errno);
  EXPECT_EQ(r, orig);
  EXPECT_EQ(after, orig);
}

// ---- mmap: files ---------------------------------------------------------

TEST(FileMmapTest, PrivateReadOnlyMatchesTheFile) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  void* v = mmap(nullptr, kFileSize, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(v, MAP_FAILED) << ErrnoName(errno);
  const char* p = static_cast<const char*>(v);
  size_t mismatches = 0;
  for (size_t i = 0; i < kFileSize; ++i) mismatches += p[i] != FileByte(i);
  EXPECT_EQ(mismatches, 0u);
  // The rest of the last page reads as zeros.
  const size_t mapped = (kFileSize + kPage - 1) & ~(kPage - 1);
  EXPECT_TRUE(AllZero(p + kFileSize, mapped - kFileSize));
  // Mapping does not move the file offset.
  EXPECT_EQ(lseek(fd.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(munmap(v, kFileSize), 0);
}

TEST(FileMmapTest, OffsetMapping) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  void* v = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd.get(), 2 * kPage);
  ASSERT_NE(v, MAP_FAILED) << ErrnoName(errno);
  const char* p = static_cast<const char*>(v);
  EXPECT_EQ(p[0], FileByte(2 * kPage));
  EXPECT_EQ(p[kFileSize - 2 * kPage - 1], FileByte(kFileSize - 1));
  EXPECT_EQ(p[kFileSize - 2 * kPage], 0);
  EXPECT_EQ(munmap(v, kPage), 0);
}

TEST(FileMmapTest, MappingSurvivesClose) {
  const int fd = open(Testdata("small.txt").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* v = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  ASSERT_NE(v, MAP_FAILED);
  EXPECT_EQ(std::string(static_cast<const char*>(v), 13), kSmallContent);
  EXPECT_EQ(munmap(v, kPage), 0);
}

TEST(FileMmapTest, PrivateWritableCopyLeavesTheFileAlone) {
  CV_OPEN_OR_DIE(fd, Testdata("small.txt"), O_RDONLY);
  void* v =
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(v, MAP_FAILED) << ErrnoName(errno);
  char* p = static_cast<char*>(v);
  EXPECT_EQ(std::string(p, 13), kSmallContent);
  memcpy(p, "HELLO", 5);
  EXPECT_EQ(std::string(p, 13), "HELLO, world\n");
  char buf[13];
  ASSERT_EQ(pread(fd.get(), buf, 13, 0), 13);
  EXPECT_EQ(std::string(buf, 13), kSmallContent);
  EXPECT_EQ(munmap(v, kPage), 0);
}

TEST(FileMmapTest, SharedWritableOnReadOnlyFdIsEACCES) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  errno = 0;
  EXPECT_EQ(
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0),
      MAP_FAILED);
  EXPECT_EQ(errno, EACCES);
  // A read-only shared mapping is fine, but cannot be made writable.
  void* v = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(v, MAP_FAILED) << ErrnoName(errno);
  EXPECT_EQ(static_cast<const char*>(v)[1], 'b');
  EXPECT_ERRNO(mprotect(v, kPage, PROT_READ | PROT_WRITE), EACCES);
  // A private one can.
  void* w = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(w, MAP_FAILED);
  EXPECT_EQ(mprotect(w, kPage, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(munmap(v, kPage), 0);
  EXPECT_EQ(munmap(w, kPage), 0);
}

TEST(FileMmapTest, SharedValidate) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  // MAP_SHARED | MAP_PRIVATE is MAP_SHARED_VALIDATE: fine for a file ...
  void* v =
      mmap(nullptr, kPage, PROT_READ, MAP_SHARED | MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(v, MAP_FAILED) << ErrnoName(errno);
  EXPECT_EQ(static_cast<const char*>(v)[0], 'a');
  EXPECT_EQ(munmap(v, kPage), 0);
  // ... but it rejects flags it does not know.
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_SHARED_VALIDATE | 0x200000,
                 fd.get(), 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EOPNOTSUPP);
}

TEST(FileMmapTest, Errors) {
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, 9999, 0), MAP_FAILED);
  EXPECT_EQ(errno, EBADF);
  CV_OPEN_OR_DIE(dir, Testdata("dir"), O_RDONLY | O_DIRECTORY);
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, dir.get(), 0),
            MAP_FAILED);
  EXPECT_EQ(errno, ENODEV);
  CV_OPEN_OR_DIE(path, Testdata("file.txt"), O_PATH);
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, path.get(), 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EBADF);
}

// ---- mremap ----------------------------------------------------------------

// A free, page-aligned range of `pages` pages (reserved, then released).
char* FreeRange(size_t pages) {
  char* p = MapAnon(pages * kPage, PROT_NONE);
  if (p != nullptr) munmap(p, pages * kPage);
  return p;
}

TEST(MremapTest, ShrinkInPlaceUnmapsTheTail) {
  char* p = MapAnon(4 * kPage);
  ASSERT_NE(p, nullptr);
  p[0] = 'a';
  EXPECT_EQ(mremap(p, 4 * kPage, 2 * kPage, 0), p);
  EXPECT_EQ(p[0], 'a');
  EXPECT_FALSE(IsMapped(p + 2 * kPage, 2 * kPage));
  munmap(p, 2 * kPage);
}

TEST(MremapTest, GrowInPlaceWhenFree) {
  char* area = FreeRange(4);
  ASSERT_NE(area, nullptr);
  char* p =
      static_cast<char*>(mmap(area, 2 * kPage, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  ASSERT_EQ(p, area);
  p[kPage] = 'g';
  EXPECT_EQ(mremap(p, 2 * kPage, 4 * kPage, 0), p);
  EXPECT_EQ(p[kPage], 'g');
  EXPECT_TRUE(AllZero(p + 2 * kPage, 2 * kPage));
  munmap(p, 4 * kPage);
}

TEST(MremapTest, GrowBlockedNeedsMaymove) {
  char* area = FreeRange(3);
  ASSERT_NE(area, nullptr);
  char* p =
      static_cast<char*>(mmap(area, kPage, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  ASSERT_EQ(p, area);
  char* blocker =
      static_cast<char*>(mmap(area + kPage, kPage, PROT_READ,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  ASSERT_EQ(blocker, area + kPage);
  p[0] = 'm';
  errno = 0;
  EXPECT_EQ(mremap(p, kPage, 2 * kPage, 0), MAP_FAILED);
  EXPECT_EQ(errno, ENOMEM);
  void* r = mremap(p, kPage, 2 * kPage, MREMAP_MAYMOVE);
  ASSERT_NE(r, MAP_FAILED) << ErrnoName(errno);
  char* q = static_cast<char*>(r);
  EXPECT_NE(q, p);
  EXPECT_EQ(q[0], 'm');
  EXPECT_FALSE(IsMapped(p, kPage));
  munmap(q, 2 * kPage);
  munmap(blocker, kPage);
}

TEST(MremapTest, FixedMovesOverWhateverIsThere) {
  char* p = MapAnon(2 * kPage);
  char* dst = MapAnon(3 * kPage);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(dst, nullptr);
  p[0] = 'f';
  dst[0] = 'd';
  void* r = mremap(p, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED,
                   dst + kPage);
  ASSERT_EQ(r, dst + kPage) << ErrnoName(errno);
  EXPECT_EQ(dst[kPage], 'f');
  EXPECT_EQ(dst[0], 'd');  // the page below was left alone
  EXPECT_FALSE(IsMapped(p, 2 * kPage));
  munmap(dst, 3 * kPage);
}

TEST(MremapTest, DontunmapLeavesTheOldRangeEmpty) {
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  p[0] = 'k';
  void* r = mremap(p, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
                   nullptr);
  ASSERT_NE(r, MAP_FAILED) << ErrnoName(errno);
  char* q = static_cast<char*>(r);
  EXPECT_NE(q, p);
  EXPECT_EQ(q[0], 'k');
  // Still mapped, but its pages went with the move.
  EXPECT_TRUE(IsMapped(p, 2 * kPage));
  EXPECT_EQ(p[0], 0);
  munmap(p, 2 * kPage);
  munmap(q, 2 * kPage);
}

TEST(MremapTest, Errors) {
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  auto expect_errno = [](void* r, int err) {
    EXPECT_EQ(r, MAP_FAILED);
    EXPECT_EQ(errno, err) << ErrnoName(errno);
    errno = 0;
  };
  errno = 0;
  expect_errno(mremap(p + 1, kPage, kPage, 0), EINVAL);
  expect_errno(mremap(p, kPage, 0, 0), EINVAL);
  expect_errno(mremap(p, kPage, kPage, MREMAP_FIXED, p + 4 * kPage), EINVAL);
  expect_errno(
      mremap(p, kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, nullptr),
      EINVAL);
  expect_errno(mremap(p, kPage, kPage, 0x40), EINVAL);
  // The new range may not overlap the old one.
  expect_errno(
      mremap(p, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, p + kPage),
      EINVAL);
  munmap(p, 2 * kPage);
  expect_errno(mremap(p, kPage, 2 * kPage, MREMAP_MAYMOVE), EFAULT);
  // old_len 0 only duplicates shared mappings.
  char* priv = MapAnon(kPage);
  ASSERT_NE(priv, nullptr);
  expect_errno(mremap(priv, 0, kPage, MREMAP_MAYMOVE), EINVAL);
  munmap(priv, kPage);
}

TEST(MremapTest, ZeroOldLengthDuplicatesASharedMapping) {
  char* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  void* r = mremap(p, 0, kPage, MREMAP_MAYMOVE);
  ASSERT_NE(r, MAP_FAILED) << ErrnoName(errno);
  char* q = static_cast<char*>(r);
  q[0] = 's';
  EXPECT_EQ(p[0], 's');
  munmap(p, kPage);
  munmap(q, kPage);
}

// ---- madvise, mincore, mlock -------------------------------------------

TEST(MadviseTest, DontneedZeroesPrivateAnonymousMemory) {
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  memset(p, 'z', 2 * kPage);
  ASSERT_EQ(madvise(p, kPage, MADV_DONTNEED), 0);
  EXPECT_TRUE(AllZero(p, kPage));
  EXPECT_EQ(p[kPage], 'z');
  munmap(p, 2 * kPage);
}

TEST(MadviseTest, DontneedKeepsSharedAnonymousMemory) {
  char* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  p[0] = 's';
  ASSERT_EQ(madvise(p, kPage, MADV_DONTNEED), 0);
  EXPECT_EQ(p[0], 's');
  munmap(p, kPage);
}

TEST(MadviseTest, DontneedRestoresAPrivateFileMapping) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  char* p = static_cast<char*>(
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0));
  ASSERT_NE(p, MAP_FAILED);
  p[0] = '!';
  ASSERT_EQ(madvise(p, kPage, MADV_DONTNEED), 0);
  EXPECT_EQ(p[0], FileByte(0));
  munmap(p, kPage);
}

TEST(MadviseTest, Errors) {
  char* p = MapAnon(kPage);
  ASSERT_NE(p, nullptr);
  errno = 0;
  EXPECT_EQ(madvise(p + 1, kPage, MADV_NORMAL), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(madvise(p, kPage, 12345), -1);
  EXPECT_EQ(errno, EINVAL);
  munmap(p, kPage);
  errno = 0;
  EXPECT_EQ(madvise(p, kPage, MADV_DONTNEED), -1);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(MincoreTest, ReportsTouchedPagesAndHoles) {
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  p[0] = 1;
  unsigned char vec[2] = {0xff, 0xff};
  ASSERT_EQ(mincore(p, 2 * kPage, vec), 0);
  EXPECT_EQ(vec[0] & 1, 1);
  EXPECT_EQ(vec[0] & ~1, 0);
  errno = 0;
  EXPECT_EQ(mincore(p + 1, kPage, vec), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(mincore(p, kPage, static_cast<unsigned char*>(kBadPtr)), -1);
  EXPECT_EQ(errno, EFAULT);
  munmap(p, 2 * kPage);
  errno = 0;
  EXPECT_EQ(mincore(p, kPage, vec), -1);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(MlockTest, MappedRangesLockAndUnlock) {
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(mlock(p, 2 * kPage), 0) << ErrnoName(errno);
  EXPECT_EQ(munlock(p, 2 * kPage), 0);
  EXPECT_EQ(syscall(SYS_mlock2, p, kPage, MLOCK_ONFAULT), 0);
  errno = 0;
  EXPECT_EQ(syscall(SYS_mlock2, p, kPage, 0x100), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(munlock(p, kPage), 0);
  munmap(p, 2 * kPage);
  errno = 0;
  EXPECT_EQ(mlock(p, kPage), -1);
  EXPECT_EQ(errno, ENOMEM);
}

// Without CAP_IPC_LOCK, RLIMIT_MEMLOCK applies: 0 forbids locking (EPERM),
// a small limit refuses more (ENOMEM).
TEST(MlockTest, UnprivilegedFollowsRlimitMemlock) {
  char* p = MapAnon(4 * kPage);
  ASSERT_NE(p, nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0) _exit(10);
    if (setresuid(1000, 1000, 1000) != 0) _exit(11);
    if (mlock(p, kPage) != -1 || errno != EPERM) _exit(1);
    if (mlockall(MCL_CURRENT) != -1 || errno != EPERM) _exit(2);
    if (munlock(p, kPage) != 0) _exit(3);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);

  pid = fork();
  if (pid == 0) {
    struct rlimit rl = {kPage, kPage};
    if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0) _exit(10);
    if (setresuid(1000, 1000, 1000) != 0) _exit(11);
    if (mlock(p, 2 * kPage) != -1 || errno != ENOMEM) _exit(1);
    if (mlock(p, kPage) != 0) _exit(2);
    if (munlock(p, kPage) != 0) _exit(3);
    _exit(0);
  }
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  munmap(p, 4 * kPage);
}

}  // namespace
}  // namespace cvisor::syscall_test
