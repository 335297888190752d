// Shared helpers for the syscall conformance programs. These programs run
// both natively and inside the sandbox, so they may only use what both
// provide: no /proc, /dev, threads, fork, signal handlers or file writes.
#ifndef CVISOR_TESTS_SYSCALLS_SYSCALL_TEST_UTIL_H_
#define CVISOR_TESTS_SYSCALLS_SYSCALL_TEST_UTIL_H_

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace cvisor::syscall_test {

// Layout built by make_testdata.cmake; keep the constants in step with it.
inline constexpr char kFilePattern[] = "abcdefghijklmnopqrstuvwxyz";
inline constexpr size_t kFilePatternLen = sizeof(kFilePattern) - 1;
inline constexpr size_t kFileSize = kFilePatternLen * 400;  // file.txt
inline constexpr char kSmallContent[] = "hello, world\n";   // small.txt

// An address that is never mapped in a user process (the first page).
inline void* const kBadPtr = reinterpret_cast<void*>(8);

// Absolute path of the fixture tree. CV_TESTDATA_DIR in the environment
// overrides the compiled-in path so the binaries can be moved.
inline std::string TestdataDir() {
  const char* env = getenv("CV_TESTDATA_DIR");
  if (env != nullptr && env[0] != '\0') return env;
  return CV_TESTDATA_DIR;
}

inline std::string Testdata(const std::string& rel) {
  return TestdataDir() + "/" + rel;
}

// Expected byte at offset `off` of file.txt.
inline char FileByte(size_t off) { return kFilePattern[off % kFilePatternLen]; }

inline std::string ErrnoName(int e) {
  if (e == 0) return "0";
  const char* n = strerrorname_np(e);
  return n != nullptr ? n : std::to_string(e);
}

// Closes an fd at scope exit.
class ScopedFd final {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// Opens a fixture path; fails the current test (fatally) if it cannot.
#define CV_OPEN_OR_DIE(var, path, flags)                                    \
  const int var##_raw = open((path).c_str(), (flags));                      \
  ASSERT_GE(var##_raw, 0) << "open " << (path) << ": " << ErrnoName(errno); \
  ::cvisor::syscall_test::ScopedFd var(var##_raw)

}  // namespace cvisor::syscall_test

// The call must fail with -1 and the given errno.
#define EXPECT_ERRNO(expr, err)                                                \
  do {                                                                         \
    errno = 0;                                                                 \
    const long cv_ret_ = static_cast<long>(expr);                              \
    const int cv_errno_ = errno;                                               \
    EXPECT_EQ(cv_ret_, -1) << #expr;                                           \
    EXPECT_EQ(cv_errno_, (err))                                                \
        << #expr << ": errno " << ::cvisor::syscall_test::ErrnoName(cv_errno_) \
        << ", want " << ::cvisor::syscall_test::ErrnoName(err);                \
  } while (0)

#endif  // CVISOR_TESTS_SYSCALLS_SYSCALL_TEST_UTIL_H_
