// Conformance: getdents64 (and the old getdents) over the fixture
// directories: names, d_type, d_ino, record layout, offsets and errors.
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

// The kernel's record layouts (see getdents(2)); glibc does not export them.
struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

struct LinuxDirent {
  unsigned long d_ino;
  unsigned long d_off;
  unsigned short d_reclen;
  char d_name[];  // followed by a NUL, padding, and d_type in the last byte
};

struct Entry {
  std::string name;
  uint64_t ino;
  int64_t off;
  unsigned char type;
};

// Parses one getdents64 buffer, checking the record framing on the way.
std::vector<Entry> Parse64(const char* buf, long n) {
  std::vector<Entry> out;
  long pos = 0;
  while (pos < n) {
    const auto* d = reinterpret_cast<const LinuxDirent64*>(buf + pos);
    const size_t name_len = strlen(d->d_name);
    EXPECT_EQ(d->d_reclen % 8, 0) << d->d_name;
    EXPECT_GE(d->d_reclen, offsetof(LinuxDirent64, d_name) + name_len + 1)
        << d->d_name;
    EXPECT_LE(pos + d->d_reclen, n);
    if (d->d_reclen == 0) break;  // avoid looping on a corrupt record
    out.push_back({d->d_name, d->d_ino, d->d_off, d->d_type});
    pos += d->d_reclen;
  }
  EXPECT_EQ(pos, n);
  return out;
}

// Reads every entry of `fd` with buffers of `bufsize` bytes.
std::vector<Entry> ReadAll64(int fd, size_t bufsize) {
  std::vector<Entry> all;
  std::vector<char> buf(bufsize);
  for (int i = 0; i < 100000; ++i) {
    const long n = syscall(SYS_getdents64, fd, buf.data(), buf.size());
    EXPECT_GE(n, 0) << ErrnoName(errno);
    if (n <= 0) break;
    for (Entry& e : Parse64(buf.data(), n)) all.push_back(std::move(e));
  }
  return all;
}

std::set<std::string> Names(const std::vector<Entry>& entries) {
  std::set<std::string> names;
  for (const Entry& e : entries) {
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate " << e.name;
  }
  return names;
}

int OpenDir(const std::string& path) {
  return open(path.c_str(), O_RDONLY | O_DIRECTORY);
}

TEST(Getdents64Test, ListsExactlyTheEntries) {
  const int fd = OpenDir(Testdata("dir"));
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  ScopedFd closer(fd);
  const std::vector<Entry> entries = ReadAll64(fd, 4096);
  EXPECT_EQ(entries.size(), 6u);
  EXPECT_EQ(Names(entries),
            (std::set<std::string>{".", "..", "a", "b", "sub", "link"}));
}

TEST(Getdents64Test, Types) {
  const int fd = OpenDir(Testdata("dir"));
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  std::map<std::string, unsigned char> types;
  for (const Entry& e : ReadAll64(fd, 4096)) types[e.name] = e.type;
  EXPECT_EQ(types["."], DT_DIR);
  EXPECT_EQ(types[".."], DT_DIR);
  EXPECT_EQ(types["a"], DT_REG);
  EXPECT_EQ(types["b"], DT_REG);
  EXPECT_EQ(types["sub"], DT_DIR);
  EXPECT_EQ(types["link"], DT_LNK);
}

TEST(Getdents64Test, InodesMatchLstat) {
  const std::string dir = Testdata("dir");
  const int fd = OpenDir(dir);
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  for (const Entry& e : ReadAll64(fd, 4096)) {
    struct stat st;
    ASSERT_EQ(lstat((dir + "/" + e.name).c_str(), &st), 0) << e.name;
    EXPECT_EQ(e.ino, st.st_ino) << e.name;
  }
}

TEST(Getdents64Test, EmptyDirectoryHasDotAndDotDot) {
  const int fd = OpenDir(Testdata("dir/sub"));
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  EXPECT_EQ(Names(ReadAll64(fd, 4096)), (std::set<std::string>{".", ".."}));
}

TEST(Getdents64Test, ManyEntriesWithSmallBuffers) {
  std::set<std::string> want = {".", ".."};
  for (int i = 0; i < 200; ++i) {
    char name[8];
    snprintf(name, sizeof(name), "f%03d", i);
    want.insert(name);
  }
  for (size_t bufsize : {64, 100, 256, 1000, 32768}) {
    const int fd = OpenDir(Testdata("many"));
    ASSERT_GE(fd, 0);
    ScopedFd closer(fd);
    const std::vector<Entry> entries = ReadAll64(fd, bufsize);
    EXPECT_EQ(entries.size(), want.size()) << "bufsize " << bufsize;
    EXPECT_EQ(Names(entries), want) << "bufsize " << bufsize;
    for (const Entry& e : entries) {
      if (e.name[0] == 'f') {
        EXPECT_EQ(e.type, DT_REG) << e.name;
      }
    }
  }
}

TEST(Getdents64Test, BufferTooSmallForOneEntryIsEINVAL) {
  const int fd = OpenDir(Testdata("dir"));
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  char buf[64];
  EXPECT_ERRNO(syscall(SYS_getdents64, fd, buf, 1), EINVAL);
  EXPECT_ERRNO(syscall(SYS_getdents64, fd, buf, 0), EINVAL);
  // The smallest record is 24 bytes (". " rounded up); 23 bytes never fits.
  EXPECT_ERRNO(syscall(SYS_getdents64, fd, buf, 23), EINVAL);
  // Nothing was consumed: a full read still sees every entry.
  EXPECT_EQ(ReadAll64(fd, 4096).size(), 6u);
}

TEST(Getdents64Test, OneRecordPerCallWhenTheBufferFitsOne) {
  const int fd = OpenDir(Testdata("dir"));
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  // Names here are at most 4 bytes: every record is 24 bytes, so a 24..47
  // byte buffer returns exactly one record per call.
  char buf[40];
  std::set<std::string> names;
  for (int i = 0; i < 6; ++i) {
    const long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
    ASSERT_EQ(n, 24) << "call " << i << ": " << ErrnoName(errno);
    const std::vector<Entry> one = Parse64(buf, n);
    ASSERT_EQ(one.size(), 1u);
    names.insert(one[0].name);
  }
  EXPECT_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
  EXPECT_EQ(names.size(), 6u);
}

TEST(Getdents64Test, EndOfDirectoryReturnsZeroRepeatedly) {
  const int fd = OpenDir(Testdata("dir"));
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  ReadAll64(fd, 4096);
  char buf[4096];
  EXPECT_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
  EXPECT_EQ(syscall(SYS_getdents64, fd, buf, sizeof(buf)), 0);
}

TEST(Getdents64Test, SeekToZeroRewinds) {
  const int fd = OpenDir(Testdata("dir"));
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  const std::vector<Entry> first = ReadAll64(fd, 4096);
  ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
  const std::vector<Entry> second = ReadAll64(fd, 4096);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].name, second[i].name);
    EXPECT_EQ(first[i].off, second[i].off);
  }
}

TEST(Getdents64Test, SeekToAnEntryOffsetResumesAfterIt) {
  // d_off is the position of the next entry: seeking to it continues there.
  const int fd = OpenDir(Testdata("many"));
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  const std::vector<Entry> all = ReadAll64(fd, 32768);
  ASSERT_GT(all.size(), 10u);
  const size_t k = 7;
  ASSERT_EQ(lseek(fd, all[k].off, SEEK_SET), all[k].off);
  const std::vector<Entry> rest = ReadAll64(fd, 32768);
  ASSERT_EQ(rest.size(), all.size() - k - 1);
  for (size_t i = 0; i < rest.size(); ++i) {
    EXPECT_EQ(rest[i].name, all[k + 1 + i].name);
  }
}

TEST(Getdents64Test, FileIsENOTDIR) {
  CV_OPEN_OR_DIE(fd, Testdata("file.txt"), O_RDONLY);
  char buf[4096];
  EXPECT_ERRNO(syscall(SYS_getdents64, fd.get(), buf, sizeof(buf)), ENOTDIR);
}

TEST(Getdents64Test, BadFdIsEBADF) {
  char buf[4096];
  EXPECT_ERRNO(syscall(SYS_getdents64, -1, buf, sizeof(buf)), EBADF);
  EXPECT_ERRNO(syscall(SYS_getdents64, 9999, buf, sizeof(buf)), EBADF);
  // An O_PATH descriptor cannot be listed.
  CV_OPEN_OR_DIE(p, Testdata("dir"), O_PATH | O_DIRECTORY);
  EXPECT_ERRNO(syscall(SYS_getdents64, p.get(), buf, sizeof(buf)), EBADF);
}

TEST(Getdents64Test, BadBufferIsEFAULT) {
  const int fd = OpenDir(Testdata("dir"));
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  EXPECT_ERRNO(syscall(SYS_getdents64, fd, kBadPtr, 4096), EFAULT);
}

TEST(GetdentsTest, OldRecordFormat) {
  const int fd = OpenDir(Testdata("dir"));
  ASSERT_GE(fd, 0);
  ScopedFd closer(fd);
  alignas(8) char buf[4096];
  EXPECT_ERRNO(syscall(SYS_getdents, fd, buf, 1), EINVAL);
  std::map<std::string, unsigned char> types;
  for (;;) {
    const long n = syscall(SYS_getdents, fd, buf, sizeof(buf));
    ASSERT_GE(n, 0) << ErrnoName(errno);
    if (n == 0) break;
    for (long pos = 0; pos < n;) {
      const auto* d = reinterpret_cast<const LinuxDirent*>(buf + pos);
      ASSERT_GT(d->d_reclen, 0);
      EXPECT_EQ(d->d_reclen % 8, 0);
      types[d->d_name] = buf[pos + d->d_reclen - 1];
      pos += d->d_reclen;
    }
  }
  EXPECT_EQ(types.size(), 6u);
  EXPECT_EQ(types["."], DT_DIR);
  EXPECT_EQ(types["sub"], DT_DIR);
  EXPECT_EQ(types["a"], DT_REG);
  EXPECT_EQ(types["link"], DT_LNK);
  // At the end even a tiny buffer just reads 0.
  EXPECT_EQ(syscall(SYS_getdents, fd, buf, 1), 0);
}

}  // namespace
}  // namespace cvisor::syscall_test
