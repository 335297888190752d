// The inotify registry and queue over the in-memory test file system: hooks
// reaching the right watches, the one-load fast path, coalescing, overflow
// and identity by (st_dev, st_ino) rather than by Inode object.
#include "sentry/vfs/notify.h"

#include <sys/inotify.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sentry/vfs/test_fs.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

using testing::MemFs;

struct Ev {
  int wd;
  uint32_t mask;
  std::string name;
  bool operator==(const Ev& o) const {
    return wd == o.wd && mask == o.mask && name == o.name;
  }
};

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<MemFs>();
    fs_->File("d/f", "data");
    ns_ = MountNamespace::New(fs_, Dentry::NewRoot(fs_->root), 0);
    ctx_ = FsContext::New(ns_);
  }

  Path Resolve(const std::string& p) {
    ResolveContext ctx = MakeResolveContext(*ctx_, nullptr);
    absl::StatusOr<Path> r = ResolvePath(ctx, p, kFollowFinal);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  static std::vector<Ev> Drain(Inotify& in) {
    std::vector<Ev> out;
    char buf[4096];
    IoSequence io = IoSequence::Buffer(buf, sizeof buf);
    int64_t n = in.Read(io);
    if (n < 0) {
      EXPECT_EQ(n, -EAGAIN);
      return out;
    }
    for (int64_t at = 0; at < n;) {
      struct inotify_event h;
      memcpy(&h, buf + at, sizeof h);
      out.push_back({h.wd, h.mask,
                     h.len ? std::string(buf + at + sizeof h) : std::string()});
      at += sizeof h + h.len;
    }
    return out;
  }

  std::shared_ptr<MemFs> fs_;
  std::shared_ptr<MountNamespace> ns_;
  std::shared_ptr<FsContext> ctx_;
};

TEST_F(NotifyTest, ActiveOnlyWhileWatchesExist) {
  EXPECT_FALSE(NotifyActive());
  {
    Inotify in(O_NONBLOCK);
    int wd = in.AddWatch(Resolve("/d/f"), IN_MODIFY);
    EXPECT_EQ(wd, 1);
    EXPECT_TRUE(NotifyActive());
    EXPECT_EQ(in.RemoveWatch(wd), 0);
    EXPECT_FALSE(NotifyActive());
    EXPECT_EQ(in.AddWatch(Resolve("/d/f"), IN_MODIFY), 2);
    EXPECT_TRUE(NotifyActive());
  }
  // Destroying the instance drops its watches.
  EXPECT_FALSE(NotifyActive());
}

TEST_F(NotifyTest, EventsReachFileAndParentWatches) {
  Inotify in(O_NONBLOCK);
  int wf = in.AddWatch(Resolve("/d/f"), IN_ALL_EVENTS);
  int wd = in.AddWatch(Resolve("/d"), IN_ALL_EVENTS);
  NotifyFileEvent(Resolve("/d/f"), IN_OPEN);
  EXPECT_EQ(Drain(in),
            (std::vector<Ev>{{wd, IN_OPEN, "f"}, {wf, IN_OPEN, ""}}));
  NotifyFileEvent(Resolve("/d"), IN_ACCESS);
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ACCESS | IN_ISDIR, ""}}));
}

TEST_F(NotifyTest, IdentityIsDeviceAndInodeNumber) {
  Inotify in(O_NONBLOCK);
  int wd = in.AddWatch(Resolve("/d/f"), IN_ATTRIB);
  // A different Inode object with the same (st_dev, st_ino) is the same
  // file, as when a file system looks a file up again.
  auto twin = fs_->NewInode(S_IFREG | 0644);
  twin->st_.st_ino = Resolve("/d/f").inode()->Stat()->st_ino;
  fs_->root->children["twin"] = twin;
  Path p = Resolve("/twin");
  ASSERT_NE(p.inode().get(), Resolve("/d/f").inode().get());
  EXPECT_TRUE(
      NotifyAttrChanged(p, SetAttrRequest::kUid, absl::OkStatus()).ok());
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, ""}}));
  twin->st_.st_ino = 999;
  EXPECT_TRUE(
      NotifyAttrChanged(p, SetAttrRequest::kUid, absl::OkStatus()).ok());
  EXPECT_EQ(Drain(in), std::vector<Ev>{});
  EXPECT_TRUE(NotifyAttrChanged(Resolve("/d/f"), SetAttrRequest::kMode,
                                absl::OkStatus())
                  .ok());
  EXPECT_EQ(Drain(in), (std::vector<Ev>{{wd, IN_ATTRIB, ""}}));
  // A failed change notifies nobody.
  EXPECT_FALSE(NotifyAttrChanged(Resolve("/d/f"), SetAttrRequest::kMode,
                                 absl::PermissionDeniedError("no"))
                   .ok());
  EXPECT_EQ(Drain(in), std::vector<Ev>{});
}

TEST_F(NotifyTest, CoalescesAndOverflows) {
  Inotify in(O_NONBLOCK);
  int wd = in.AddWatch(Resolve("/d"), IN_CREATE);
  in.Queue(wd, IN_CREATE, 0, "a");
  in.Queue(wd, IN_CREATE, 0, "a");
  in.Queue(wd, IN_CREATE, 0, "b");
  EXPECT_EQ(Drain(in),
            (std::vector<Ev>{{wd, IN_CREATE, "a"}, {wd, IN_CREATE, "b"}}));
  for (size_t i = 0; i < kInotifyMaxQueuedEvents + 5; i++) {
    in.Queue(wd, IN_CREATE, 0, std::to_string(i));
  }
  size_t total = 0;
  Ev last{};
  for (;;) {
    std::vector<Ev> evs = Drain(in);
    if (evs.empty()) break;
    total += evs.size();
    last = evs.back();
  }
  EXPECT_EQ(total, kInotifyMaxQueuedEvents + 1);
  EXPECT_EQ(last, (Ev{-1, IN_Q_OVERFLOW, ""}));
}

TEST_F(NotifyTest, ReadNeedsRoomForARecord) {
  Inotify in(O_NONBLOCK);
  in.Queue(1, IN_CREATE, 0, "name");
  char buf[31];
  IoSequence io = IoSequence::Buffer(buf, sizeof buf);
  EXPECT_EQ(in.Read(io), -EINVAL);
  char big[32];
  IoSequence io2 = IoSequence::Buffer(big, sizeof big);
  EXPECT_EQ(in.Read(io2), 32);
  EXPECT_EQ(in.Read(io2), -EAGAIN);
}

}  // namespace
}  // namespace sentry::vfs
