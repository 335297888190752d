// Conformance: memory backed by files and shared objects — MAP_SHARED file
// mappings (on /dev/shm, a tmpfs natively and in the sandbox), memfd_create
// with seals, and System V shared memory between a process and its fork
// child, including IPC_RMID's deferred destruction.
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/syscall_test_util.h"

namespace cvisor::syscall_test {
namespace {

const size_t kPage = static_cast<size_t>(getpagesize());

// The /proc/self/maps line whose range starts at `addr`, or "".
std::string MapsLine(const void* addr) {
  std::ifstream in("/proc/self/maps");
  char prefix[32];
  snprintf(prefix, sizeof prefix, "%08lx-",
           static_cast<unsigned long>(reinterpret_cast<uintptr_t>(addr)));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

// Runs `fn` in a fork child; returns its exit status (fn's result).
template <typename Fn>
int InChild(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  return WEXITSTATUS(status);
}

class SharedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/cvisor-shm-XXXXXX";
    fd_ = mkstemp(tmpl);
    ASSERT_GE(fd_, 0) << ErrnoName(errno);
    path_ = tmpl;
    ASSERT_EQ(ftruncate(fd_, 2 * kPage), 0);
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) unlink(path_.c_str());
  }
  char* MapShared(size_t len, int prot = PROT_READ | PROT_WRITE, int fd = -1) {
    void* p = mmap(nullptr, len, prot, MAP_SHARED, fd < 0 ? fd_ : fd, 0);
    EXPECT_NE(p, MAP_FAILED) << ErrnoName(errno);
    return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }

  int fd_ = -1;
  std::string path_;
};

TEST_F(SharedFileTest, StoresAreSeenByRead) {
  char* p = MapShared(2 * kPage);
  ASSERT_NE(p, nullptr);
  memcpy(p + 10, "shared", 6);
  memcpy(p + kPage, "page2", 5);
  char buf[8] = {};
  ASSERT_EQ(pread(fd_, buf, 6, 10), 6);
  EXPECT_STREQ(buf, "shared");
  ASSERT_EQ(pread(fd_, buf, 5, kPage), 5);
  EXPECT_EQ(std::string(buf, 5), "page2");
  // Another descriptor of the same file sees it too.
  int fd2 = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd2, 0);
  ASSERT_EQ(pread(fd2, buf, 6, 10), 6);
  EXPECT_STREQ(buf, "shared");
  close(fd2);
  EXPECT_EQ(msync(p, 2 * kPage, MS_SYNC), 0);
  EXPECT_EQ(msync(p, 2 * kPage, MS_ASYNC), 0);
  EXPECT_EQ(msync(p, kPage, MS_INVALIDATE), 0);
  ASSERT_EQ(munmap(p, 2 * kPage), 0);
}

TEST_F(SharedFileTest, WritesAreSeenInTheMapping) {
  char* p = MapShared(kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p[0], 0);
  ASSERT_EQ(pwrite(fd_, "written", 7, 100), 7);
  EXPECT_EQ(std::string(p + 100, 7), "written");
  // A second shared mapping of the file is the same memory.
  char* q = MapShared(kPage);
  ASSERT_NE(q, nullptr);
  q[200] = 'Q';
  EXPECT_EQ(p[200], 'Q');
  munmap(q, kPage);
  munmap(p, kPage);
}

TEST_F(SharedFileTest, ForkChildSharesTheMapping) {
  char* p = MapShared(kPage);
  ASSERT_NE(p, nullptr);
  p[0] = 'P';
  EXPECT_EQ(InChild([p] {
              if (p[0] != 'P') return 1;
              p[1] = 'C';
              return 0;
            }),
            0);
  EXPECT_EQ(p[1], 'C');
  char c;
  ASSERT_EQ(pread(fd_, &c, 1, 1), 1);
  EXPECT_EQ(c, 'C');
  munmap(p, kPage);
}

TEST_F(SharedFileTest, ReadOnlyDescriptorStaysReadOnly) {
  int ro = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(ro, 0);
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EACCES);
  char* p = MapShared(kPage, PROT_READ, ro);
  ASSERT_NE(p, nullptr);
  errno = 0;
  EXPECT_EQ(mprotect(p, kPage, PROT_READ | PROT_WRITE), -1);
  EXPECT_EQ(errno, EACCES);
  // It still follows the file.
  ASSERT_EQ(pwrite(fd_, "later", 5, 0), 5);
  EXPECT_EQ(std::string(p, 5), "later");
  munmap(p, kPage);
  close(ro);
}

TEST_F(SharedFileTest, MremapKeepsSharing) {
  char* p = MapShared(kPage);
  ASSERT_NE(p, nullptr);
  // Grow (moving if needed) over the file's second page.
  void* r = mremap(p, kPage, 2 * kPage, MREMAP_MAYMOVE);
  ASSERT_NE(r, MAP_FAILED) << ErrnoName(errno);
  char* q = static_cast<char*>(r);
  ASSERT_EQ(pwrite(fd_, "second", 6, kPage), 6);
  EXPECT_EQ(std::string(q + kPage, 6), "second");
  q[kPage + 10] = 'x';
  char c;
  ASSERT_EQ(pread(fd_, &c, 1, kPage + 10), 1);
  EXPECT_EQ(c, 'x');
  munmap(q, 2 * kPage);
}

TEST_F(SharedFileTest, MadviseDontneedRereadsTheFile) {
  char* p = MapShared(kPage);
  ASSERT_NE(p, nullptr);
  p[5] = 'k';
  ASSERT_EQ(madvise(p, kPage, MADV_DONTNEED), 0);
  EXPECT_EQ(p[5], 'k');  // the file kept it
  munmap(p, kPage);
}

TEST_F(SharedFileTest, PrivateMappingSeesTheFileUntilWritten) {
  char* p = static_cast<char*>(
      mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_, 0));
  ASSERT_NE(p, MAP_FAILED) << ErrnoName(errno);
  p[0] = 'w';  // page 0 becomes the process's own copy
  ASSERT_EQ(pwrite(fd_, "AB", 1, 0), 1);
  ASSERT_EQ(pwrite(fd_, "B", 1, kPage), 1);
  EXPECT_EQ(p[0], 'w');
  EXPECT_EQ(p[kPage], 'B');  // untouched page: still the file's
  char c;
  ASSERT_EQ(pread(fd_, &c, 1, 0), 1);
  EXPECT_EQ(c, 'A');  // the private store never reached the file
  munmap(p, 2 * kPage);
}

TEST_F(SharedFileTest, MapsShowsThePathAsShared) {
  char* p = MapShared(kPage);
  ASSERT_NE(p, nullptr);
  std::string line = MapsLine(p);
  EXPECT_NE(line.find(" rw-s "), std::string::npos) << line;
  EXPECT_NE(line.find(path_), std::string::npos) << line;
  munmap(p, kPage);
}

// ---- memfd_create ----

int MemfdCreate(const char* name, unsigned flags) {
  return static_cast<int>(syscall(SYS_memfd_create, name, flags));
}

TEST(MemfdTest, ReadWriteMapAndName) {
  int fd = MemfdCreate("cvtest", MFD_CLOEXEC);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kPage));
  ASSERT_EQ(write(fd, "memfd", 5), 5);
  char buf[8] = {};
  ASSERT_EQ(pread(fd, buf, 5, 0), 5);
  EXPECT_STREQ(buf, "memfd");
  EXPECT_EQ(lseek(fd, 0, SEEK_END), static_cast<off_t>(kPage));

  char* p = static_cast<char*>(
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED) << ErrnoName(errno);
  EXPECT_EQ(std::string(p, 5), "memfd");
  p[0] = 'M';
  ASSERT_EQ(pread(fd, buf, 1, 0), 1);
  EXPECT_EQ(buf[0], 'M');
  std::string line = MapsLine(p);
  EXPECT_NE(line.find("/memfd:cvtest (deleted)"), std::string::npos) << line;
  EXPECT_NE(line.find(" rw-s "), std::string::npos) << line;
  munmap(p, kPage);

  char link[256] = {};
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  ASSERT_GT(readlink(self.c_str(), link, sizeof link - 1), 0);
  EXPECT_STREQ(link, "/memfd:cvtest (deleted)");
  close(fd);
}

TEST(MemfdTest, Errors) {
  std::string longest(249, 'n');
  int fd = MemfdCreate(longest.c_str(), 0);
  EXPECT_GE(fd, 0) << ErrnoName(errno);
  close(fd);
  std::string too_long(250, 'n');
  errno = 0;
  EXPECT_EQ(MemfdCreate(too_long.c_str(), 0), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(MemfdCreate("x", 0x8000), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(MemfdCreate(static_cast<const char*>(kBadPtr), 0), -1);
  EXPECT_EQ(errno, EFAULT);
}

TEST(MemfdTest, Seals) {
  int fd = MemfdCreate("sealed", MFD_ALLOW_SEALING);
  ASSERT_GE(fd, 0) << ErrnoName(errno);
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), 0);
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW);
  errno = 0;
  EXPECT_EQ(ftruncate(fd, kPage / 2), -1);
  EXPECT_EQ(errno, EPERM);
  errno = 0;
  EXPECT_EQ(pwrite(fd, "x", 1, kPage), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(pwrite(fd, "x", 1, 0), 1);

  // F_SEAL_WRITE is refused while a writable shared mapping exists.
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  errno = 0;
  EXPECT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
  EXPECT_EQ(errno, EBUSY);
  munmap(p, kPage);
  ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
  errno = 0;
  EXPECT_EQ(pwrite(fd, "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
  errno = 0;
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
            MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
  close(fd);

  // Without MFD_ALLOW_SEALING the file comes sealed against seals.
  fd = MemfdCreate("unsealable", 0);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL);
  errno = 0;
  EXPECT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
  EXPECT_EQ(errno, EPERM);
  close(fd);
}

TEST(MemfdTest, ForkChildSharesAMapping) {
  int fd = MemfdCreate("forked", 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  char* p = static_cast<char*>(
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  close(fd);  // the mapping keeps the file
  EXPECT_EQ(InChild([p] {
              p[0] = 'c';
              return 0;
            }),
            0);
  EXPECT_EQ(p[0], 'c');
  munmap(p, kPage);
}

// ---- System V shared memory ----

struct shmid_ds Stat(int id) {
  struct shmid_ds ds;
  memset(&ds, 0, sizeof ds);
  EXPECT_EQ(shmctl(id, IPC_STAT, &ds), 0) << ErrnoName(errno);
  return ds;
}

TEST(SysvShmTest, ParentAndChildShareASegment) {
  int id = shmget(IPC_PRIVATE, 3 * kPage, IPC_CREAT | 0600);
  ASSERT_GE(id, 0) << ErrnoName(errno);
  struct shmid_ds ds = Stat(id);
  EXPECT_EQ(ds.shm_segsz, 3 * kPage);
  EXPECT_EQ(ds.shm_nattch, 0u);
  EXPECT_EQ(ds.shm_perm.mode & 0777, 0600);
  EXPECT_EQ(ds.shm_cpid, getpid());

  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1)) << ErrnoName(errno);
  EXPECT_EQ(Stat(id).shm_nattch, 1u);
  EXPECT_EQ(Stat(id).shm_lpid, getpid());
  EXPECT_EQ(p[0], 0);
  p[0] = 'p';

  std::string line = MapsLine(p);
  char name[64];
  snprintf(name, sizeof name, "/SYSV%08x (deleted)", 0);
  EXPECT_NE(line.find(name), std::string::npos) << line;
  EXPECT_NE(line.find(" rw-s "), std::string::npos) << line;

  EXPECT_EQ(InChild([p, id] {
              if (p[0] != 'p') return 1;
              p[1] = 'c';
              // The child's inherited attachment counts.
              struct shmid_ds d;
              if (shmctl(id, IPC_STAT, &d) != 0 || d.shm_nattch != 2) return 2;
              // A second attachment in the child sees the same memory.
              char* q = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
              if (q == reinterpret_cast<char*>(-1) || q[1] != 'c') return 3;
              if (shmctl(id, IPC_STAT, &d) != 0 || d.shm_nattch != 3) return 4;
              if (shmdt(q) != 0) return 5;
              return 0;
            }),
            0);
  EXPECT_EQ(p[1], 'c');
  // The child's attachments went with it.
  EXPECT_EQ(Stat(id).shm_nattch, 1u);
  ASSERT_EQ(shmdt(p), 0);
  EXPECT_EQ(Stat(id).shm_nattch, 0u);
  errno = 0;
  EXPECT_EQ(shmdt(p), -1);
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
  errno = 0;
  struct shmid_ds gone;
  EXPECT_EQ(shmctl(id, IPC_STAT, &gone), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST(SysvShmTest, RmidIsDeferredUntilTheLastDetach) {
  const key_t key = 0x43560000 + (getpid() & 0xffff);
  int id = shmget(key, kPage, IPC_CREAT | IPC_EXCL | 0600);
  ASSERT_GE(id, 0) << ErrnoName(errno);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  p[0] = 'r';
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
  // Still attached and usable; marked for destruction; the key is free.
  EXPECT_EQ(p[0], 'r');
  struct shmid_ds ds = Stat(id);
  EXPECT_EQ(ds.shm_nattch, 1u);
  EXPECT_NE(ds.shm_perm.mode & SHM_DEST, 0);
  EXPECT_EQ(ds.shm_perm.__key, IPC_PRIVATE);
  errno = 0;
  EXPECT_EQ(shmget(key, kPage, 0600), -1);
  EXPECT_EQ(errno, ENOENT);
  // A fork child holds it too; its exit does not destroy it.
  EXPECT_EQ(InChild([p] { return p[0] == 'r' ? 0 : 1; }), 0);
  EXPECT_EQ(Stat(id).shm_nattch, 1u);
  ASSERT_EQ(shmdt(p), 0);
  errno = 0;
  struct shmid_ds gone;
  EXPECT_EQ(shmctl(id, IPC_STAT, &gone), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST(SysvShmTest, GetByKey) {
  const key_t key = 0x43570000 + (getpid() & 0xffff);
  errno = 0;
  EXPECT_EQ(shmget(key, kPage, 0600), -1);
  EXPECT_EQ(errno, ENOENT);
  int id = shmget(key, 2 * kPage, IPC_CREAT | 0640);
  ASSERT_GE(id, 0);
  EXPECT_EQ(shmget(key, kPage, 0), id);
  EXPECT_EQ(shmget(key, 2 * kPage, IPC_CREAT | 0600), id);
  errno = 0;
  EXPECT_EQ(shmget(key, 3 * kPage, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(shmget(key, kPage, IPC_CREAT | IPC_EXCL | 0600), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(Stat(id).shm_perm.__key, key);
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
}

TEST(SysvShmTest, ArgumentErrors) {
  errno = 0;
  EXPECT_EQ(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(shmget(IPC_PRIVATE, ~size_t{0}, IPC_CREAT | 0600), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(shmat(-1, nullptr, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(shmctl(-1, IPC_STAT, nullptr), -1);
  EXPECT_EQ(errno, EINVAL);

  int id = shmget(IPC_PRIVATE, kPage, IPC_CREAT | 0600);
  ASSERT_GE(id, 0);
  errno = 0;
  EXPECT_EQ(shmctl(id, 12345, nullptr), -1);
  EXPECT_EQ(errno, EINVAL);
  // An unaligned address: EINVAL without SHM_RND, rounded down with it.
  char* area = static_cast<char*>(
      mmap(nullptr, 4 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(area, MAP_FAILED);
  ASSERT_EQ(munmap(area, 4 * kPage), 0);
  errno = 0;
  EXPECT_EQ(shmat(id, area + kPage + 8, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  char* p = static_cast<char*>(shmat(id, area + kPage + 8, SHM_RND));
  ASSERT_EQ(p, area + kPage) << ErrnoName(errno);
  // Over an existing mapping: EINVAL, unless SHM_REMAP.
  errno = 0;
  EXPECT_EQ(shmat(id, p, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(shmat(id, nullptr, SHM_REMAP), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  char* again = static_cast<char*>(shmat(id, p, SHM_REMAP));
  EXPECT_EQ(again, p);
  EXPECT_EQ(Stat(id).shm_nattch, 1u);  // the first one was replaced
  ASSERT_EQ(shmdt(p), 0);
  errno = 0;
  EXPECT_EQ(shmdt(p + 1), -1);
  EXPECT_EQ(errno, EINVAL);

  // SHM_RDONLY: not writable, and mprotect cannot change that.
  char* ro = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
  ASSERT_NE(ro, reinterpret_cast<char*>(-1));
  errno = 0;
  EXPECT_EQ(mprotect(ro, kPage, PROT_READ | PROT_WRITE), -1);
  EXPECT_EQ(errno, EACCES);
  ASSERT_EQ(shmdt(ro), 0);
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
}

TEST(SysvShmTest, SetInfoAndStat) {
  int id = shmget(IPC_PRIVATE, kPage, IPC_CREAT | 0600);
  ASSERT_GE(id, 0);
  struct shmid_ds ds = Stat(id);
  ds.shm_perm.mode = 0640;
  ASSERT_EQ(shmctl(id, IPC_SET, &ds), 0);
  EXPECT_EQ(Stat(id).shm_perm.mode & 0777, 0640);

  struct shminfo info;
  int max_index =
      shmctl(0, IPC_INFO, reinterpret_cast<struct shmid_ds*>(&info));
  EXPECT_GE(max_index, 0);
  EXPECT_EQ(info.shmmin, 1u);
  EXPECT_GT(info.shmmax, 0u);
  struct shm_info sinfo;
  EXPECT_GE(shmctl(0, SHM_INFO, reinterpret_cast<struct shmid_ds*>(&sinfo)), 0);
  EXPECT_GE(sinfo.used_ids, 1);
  // SHM_STAT takes an index and returns the id: find ours.
  bool found = false;
  for (int i = 0; i <= max_index; ++i) {
    struct shmid_ds s;
    if (shmctl(i, SHM_STAT, &s) == id) found = true;
  }
  EXPECT_TRUE(found);
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
}

}  // namespace
}  // namespace cvisor::syscall_test
