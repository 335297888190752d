#include "sentry/vfs/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>

#include "gtest/gtest.h"

namespace sentry::vfs {
namespace {

// A description of a file with a fixed identity; two of them with the same
// ino stand for two opens of one file.
class FakeFile final : public FileDescription {
 public:
  explicit FakeFile(ino_t ino, int flags = O_RDWR)
      : FileDescription(Path{}, flags), ino_(ino) {}
  absl::StatusOr<struct stat> Stat() override {
    struct stat st = {};
    st.st_dev = 99;
    st.st_ino = ino_;
    st.st_mode = S_IFREG | 0644;
    return st;
  }

 private:
  const ino_t ino_;
};

LockOwner Posix(uint64_t id, std::shared_ptr<int> alive = nullptr) {
  LockOwner o;
  o.id = id;
  o.pid = static_cast<pid_t>(id);
  if (alive) {
    o.alive = [w = std::weak_ptr<int>(alive)] { return !w.expired(); };
  }
  return o;
}

LockOwner Ofd() {
  LockOwner o;
  o.ofd = true;
  return o;
}

TEST(FlockTest, ConflictsAndReleaseOnDestruction) {
  auto a = std::make_shared<FakeFile>(1);
  auto b = std::make_shared<FakeFile>(1);
  auto other_file = std::make_shared<FakeFile>(2);
  ASSERT_EQ(Flock(*a, LOCK_EX), 0);
  EXPECT_EQ(Flock(*b, LOCK_SH | LOCK_NB), -EWOULDBLOCK);
  EXPECT_EQ(Flock(*other_file, LOCK_EX | LOCK_NB), 0);
  a.reset();  // the last reference: its lock goes
  EXPECT_EQ(Flock(*b, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(Flock(*b, 0), -EINVAL);
}

TEST(FlockTest, BlockedRequestWakesOnUnlock) {
  auto a = std::make_shared<FakeFile>(3);
  auto b = std::make_shared<FakeFile>(3);
  ASSERT_EQ(Flock(*a, LOCK_EX), 0);
  std::atomic<int> rc{1};
  std::thread t([&] { rc = Flock(*b, LOCK_SH); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rc.load(), 1);
  ASSERT_EQ(Flock(*a, LOCK_UN), 0);
  t.join();
  EXPECT_EQ(rc.load(), 0);
}

TEST(RecordLockTest, SplitAndReport) {
  FakeFile f(10);
  ASSERT_EQ(SetRecordLock(f, Posix(1), F_WRLCK, 0, 99, false), 0);
  ASSERT_EQ(SetRecordLock(f, Posix(1), F_UNLCK, 40, 59, false), 0);
  LockInfo info;
  bool found = false;
  ASSERT_EQ(GetRecordLock(f, Posix(2), F_RDLCK, 45, 49, &info, &found), 0);
  EXPECT_FALSE(found);
  ASSERT_EQ(GetRecordLock(f, Posix(2), F_RDLCK, 30, 70, &info, &found), 0);
  ASSERT_TRUE(found);
  EXPECT_EQ(info.type, F_WRLCK);
  EXPECT_EQ(info.start, 0u);
  EXPECT_EQ(info.end, 39u);
  EXPECT_EQ(info.pid, 1);
  // Re-locking the hole merges the ranges back into one.
  ASSERT_EQ(SetRecordLock(f, Posix(1), F_WRLCK, 40, 59, false), 0);
  ASSERT_EQ(GetRecordLock(f, Posix(2), F_RDLCK, 0, kLockEof, &info, &found), 0);
  EXPECT_EQ(info.start, 0u);
  EXPECT_EQ(info.end, 99u);
  EXPECT_EQ(SetRecordLock(f, Posix(2), F_RDLCK, 50, 50, false), -EAGAIN);
  ASSERT_EQ(SetRecordLock(f, Posix(1), F_UNLCK, 0, kLockEof, false), 0);
  EXPECT_EQ(SetRecordLock(f, Posix(2), F_RDLCK, 50, 50, false), 0);
  ReleaseAllPosixLocks(2);
}

TEST(RecordLockTest, ReadLocksShare) {
  FakeFile f(11);
  ASSERT_EQ(SetRecordLock(f, Posix(1), F_RDLCK, 0, kLockEof, false), 0);
  EXPECT_EQ(SetRecordLock(f, Posix(2), F_RDLCK, 5, 10, false), 0);
  EXPECT_EQ(SetRecordLock(f, Posix(3), F_WRLCK, 5, 5, false), -EAGAIN);
  ReleasePosixLocks(f, 1);
  ReleasePosixLocks(f, 2);
  EXPECT_EQ(SetRecordLock(f, Posix(3), F_WRLCK, 5, 5, false), 0);
  ReleaseAllPosixLocks(3);
}

TEST(RecordLockTest, OfdLocksGoWithTheDescription) {
  auto a = std::make_shared<FakeFile>(12);
  auto b = std::make_shared<FakeFile>(12);
  ASSERT_EQ(SetRecordLock(*a, Ofd(), F_WRLCK, 0, 9, false), 0);
  EXPECT_EQ(SetRecordLock(*b, Ofd(), F_WRLCK, 5, 5, false), -EAGAIN);
  EXPECT_EQ(SetRecordLock(*b, Posix(7), F_WRLCK, 5, 5, false), -EAGAIN);
  LockInfo info;
  bool found = false;
  ASSERT_EQ(GetRecordLock(*b, Ofd(), F_RDLCK, 0, 0, &info, &found), 0);
  ASSERT_TRUE(found);
  EXPECT_EQ(info.pid, -1);
  a.reset();
  EXPECT_EQ(SetRecordLock(*b, Ofd(), F_WRLCK, 5, 5, false), 0);
}

TEST(RecordLockTest, DeadOwnersLocksAreVoid) {
  FakeFile f(13);
  auto alive = std::make_shared<int>(0);
  ASSERT_EQ(SetRecordLock(f, Posix(1, alive), F_WRLCK, 0, kLockEof, false), 0);
  EXPECT_EQ(SetRecordLock(f, Posix(2), F_WRLCK, 0, 0, false), -EAGAIN);
  alive.reset();
  EXPECT_EQ(SetRecordLock(f, Posix(2), F_WRLCK, 0, 0, false), 0);
  ReleaseAllPosixLocks(2);
}

TEST(RecordLockTest, WaiterWakesAndDeadlockIsDetected) {
  FakeFile f(14);
  ASSERT_EQ(SetRecordLock(f, Posix(1), F_WRLCK, 0, 9, false), 0);
  ASSERT_EQ(SetRecordLock(f, Posix(2), F_WRLCK, 100, 109, false), 0);
  std::atomic<int> rc{1};
  std::thread t([&] { rc = SetRecordLock(f, Posix(2), F_WRLCK, 0, 9, true); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rc.load(), 1);
  EXPECT_EQ(SetRecordLock(f, Posix(1), F_WRLCK, 100, 109, true), -EDEADLK);
  ReleasePosixLocks(f, 1);
  t.join();
  EXPECT_EQ(rc.load(), 0);
  ReleaseAllPosixLocks(2);
}

}  // namespace
}  // namespace sentry::vfs
