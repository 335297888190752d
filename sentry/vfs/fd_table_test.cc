#include "sentry/vfs/fd_table.h"

#include <cerrno>
#include <memory>

#include "gtest/gtest.h"

namespace sentry::vfs {
namespace {

// A description that counts how many are alive, to see when the table
// really lets go of one.
class CountedFile final : public FileDescription {
 public:
  explicit CountedFile(int* live)
      : FileDescription(Path{}, O_RDONLY), live_(live) {
    ++*live_;
  }
  ~CountedFile() override { --*live_; }

 private:
  int* live_;
};

class FdTableTest : public ::testing::Test {
 protected:
  FileRef New() { return std::make_shared<CountedFile>(&live_); }
  int live_ = 0;
  FdTable t_;
  static constexpr uint64_t kLimit = 1024;
};

TEST_F(FdTableTest, LowestFreeFd) {
  EXPECT_EQ(t_.Install(New(), false, kLimit), 0);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 1);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 2);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 3);
  EXPECT_EQ(t_.Close(1), 0);
  EXPECT_EQ(t_.Close(2), 0);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 1);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 2);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 4);
  EXPECT_EQ(t_.count(), 5u);
  EXPECT_EQ(live_, 5);
}

TEST_F(FdTableTest, MinFd) {
  EXPECT_EQ(t_.Install(New(), false, kLimit, 10), 10);
  EXPECT_EQ(t_.Install(New(), false, kLimit, 10), 11);
  // Lower fds are still handed out first to plain opens.
  EXPECT_EQ(t_.Install(New(), false, kLimit), 0);
  EXPECT_EQ(t_.Install(New(), false, kLimit, 5), 5);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 1);
}

TEST_F(FdTableTest, Limit) {
  EXPECT_EQ(t_.Install(New(), false, 2), 0);
  EXPECT_EQ(t_.Install(New(), false, 2), 1);
  EXPECT_EQ(t_.Install(New(), false, 2), -EMFILE);
  EXPECT_EQ(t_.Install(New(), false, 100, 100), -EMFILE);
  EXPECT_EQ(live_, 2);  // refused files are not kept
  EXPECT_EQ(t_.Close(0), 0);
  EXPECT_EQ(t_.Install(New(), false, 2), 0);
  // The limit is the caller's RLIMIT_NOFILE at the time of the call.
  EXPECT_EQ(t_.Install(New(), false, 4), 2);
  // Nothing reaches nr_open.
  EXPECT_EQ(t_.Install(New(), false, UINT64_MAX, FdTable::kMaxFds), -EMFILE);
}

TEST_F(FdTableTest, GetAndClose) {
  FileRef f = New();
  int fd = t_.Install(f, true, kLimit);
  bool cloexec = false;
  EXPECT_EQ(t_.Get(fd, &cloexec), f);
  EXPECT_TRUE(cloexec);
  EXPECT_EQ(t_.Get(fd + 1), nullptr);
  EXPECT_EQ(t_.Get(-1), nullptr);
  EXPECT_EQ(t_.Get(1 << 30), nullptr);
  EXPECT_EQ(t_.Close(fd), 0);
  EXPECT_EQ(t_.Close(fd), -EBADF);
  EXPECT_EQ(t_.Close(-1), -EBADF);
  EXPECT_EQ(t_.Close(12345), -EBADF);
  EXPECT_EQ(t_.Get(fd), nullptr);
  f.reset();
  EXPECT_EQ(live_, 0);
}

TEST_F(FdTableTest, InstallAtReplaces) {
  FileRef a = New();
  FileRef b = New();
  ASSERT_EQ(t_.Install(a, false, kLimit), 0);
  ASSERT_EQ(t_.Install(b, false, kLimit), 1);
  a.reset();
  // dup2(1, 0): fd 0's old file is closed, both fds share b.
  EXPECT_EQ(t_.InstallAt(0, t_.Get(1), true, kLimit), 0);
  EXPECT_EQ(live_, 1);
  EXPECT_EQ(t_.Get(0), t_.Get(1));
  bool cloexec = false;
  t_.Get(0, &cloexec);
  EXPECT_TRUE(cloexec);
  t_.Get(1, &cloexec);
  EXPECT_FALSE(cloexec);
  // Beyond the end of the table: it grows; the gap stays free.
  EXPECT_EQ(t_.InstallAt(50, New(), false, kLimit), 50);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 2);
  // At or past the limit, or negative: EBADF.
  EXPECT_EQ(t_.InstallAt(kLimit, New(), false, kLimit), -EBADF);
  EXPECT_EQ(t_.InstallAt(-1, New(), false, kLimit), -EBADF);
  // Filling the lowest free slot moves the search past it.
  EXPECT_EQ(t_.InstallAt(3, New(), false, kLimit), 3);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 4);
  EXPECT_EQ(t_.count(), 6u);
}

TEST_F(FdTableTest, CloseOnExec) {
  ASSERT_EQ(t_.Install(New(), true, kLimit), 0);
  ASSERT_EQ(t_.Install(New(), false, kLimit), 1);
  ASSERT_EQ(t_.Install(New(), true, kLimit), 2);
  ASSERT_EQ(t_.Install(New(), false, kLimit), 3);
  EXPECT_EQ(t_.SetCloseOnExec(3, true), 0);
  EXPECT_EQ(t_.SetCloseOnExec(1, false), 0);
  EXPECT_EQ(t_.SetCloseOnExec(7, true), -EBADF);
  t_.CloseOnExec();
  EXPECT_EQ(t_.Fds(), (std::vector<int>{1}));
  EXPECT_EQ(live_, 1);
  EXPECT_EQ(t_.Install(New(), false, kLimit), 0);
}

TEST_F(FdTableTest, ForkSharesDescriptionsNotSlots) {
  FileRef f = New();
  ASSERT_EQ(t_.Install(f, true, kLimit), 0);
  ASSERT_EQ(t_.Install(New(), false, kLimit), 1);
  std::shared_ptr<FdTable> child = t_.Fork();
  EXPECT_EQ(child->Get(0), f);  // the same open file description
  bool cloexec = false;
  child->Get(0, &cloexec);
  EXPECT_TRUE(cloexec);
  EXPECT_EQ(child->Close(0), 0);
  EXPECT_EQ(t_.Get(0), f);  // the parent's slot is untouched
  EXPECT_EQ(child->Install(New(), false, kLimit), 0);
  EXPECT_NE(child->Get(0), t_.Get(0));
  EXPECT_EQ(t_.Install(New(), false, kLimit), 2);
  EXPECT_EQ(child->Install(New(), false, kLimit), 2);
  child->CloseAll();
  EXPECT_EQ(child->count(), 0u);
  EXPECT_EQ(t_.count(), 3u);
}

TEST_F(FdTableTest, CloseRange) {
  for (int i = 0; i < 6; i++) ASSERT_EQ(t_.Install(New(), false, kLimit), i);
  ASSERT_EQ(t_.InstallAt(100, New(), false, kLimit), 100);
  t_.CloseRange(2, 3);
  EXPECT_EQ(t_.Fds(), (std::vector<int>{0, 1, 4, 5, 100}));
  EXPECT_EQ(live_, 5);
  // The lowest free fd is reused first.
  EXPECT_EQ(t_.Install(New(), false, kLimit), 2);
  // `last` beyond the table, and the largest possible.
  t_.CloseRange(5, ~0u);
  EXPECT_EQ(t_.Fds(), (std::vector<int>{0, 1, 2, 4}));
  t_.CloseRange(1000, ~0u);  // nothing there
  EXPECT_EQ(t_.count(), 4u);
  EXPECT_EQ(live_, 4);
}

TEST_F(FdTableTest, SetCloseOnExecRange) {
  for (int i = 0; i < 4; i++) ASSERT_EQ(t_.Install(New(), false, kLimit), i);
  t_.SetCloseOnExecRange(1, ~0u);
  bool cloexec = true;
  ASSERT_NE(t_.Get(0, &cloexec), nullptr);
  EXPECT_FALSE(cloexec);
  for (int fd = 1; fd < 4; fd++) {
    cloexec = false;
    ASSERT_NE(t_.Get(fd, &cloexec), nullptr);
    EXPECT_TRUE(cloexec) << fd;
  }
  EXPECT_EQ(t_.count(), 4u);
  t_.CloseOnExec();
  EXPECT_EQ(t_.Fds(), (std::vector<int>{0}));
}

}  // namespace
}  // namespace sentry::vfs
