// The VFS side of tree changes over a file system that implements none of
// them (testing::MemFs): Linux's errnos for missing operations, and the
// checks made before a file system is asked.
#include "sentry/vfs/mutate.h"

#include <fcntl.h>
#include <linux/fs.h>  // RENAME_*
#include <sys/mount.h>

#include <cerrno>

#include "common/errno_status.h"
#include "gtest/gtest.h"
#include "sentry/vfs/test_fs.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

using testing::MemFs;

class MutateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<MemFs>();
    fs_->File("etc/passwd", "root:x:0:0\n");
    fs_->Dir("home");
    fs_->Dir("empty");
    ns_ = MountNamespace::New(fs_, Dentry::NewRoot(fs_->root), 0);
    ctx_ = FsContext::New(ns_);
    root_.cap_effective = ~0ULL;
    user_.ruid = user_.euid = user_.suid = user_.fsuid = 1000;
    user_.rgid = user_.egid = user_.sgid = user_.fsgid = 1000;
  }
  static int E(const absl::Status& s) { return cv::StatusToErrno(s); }

  std::shared_ptr<MemFs> fs_;
  std::shared_ptr<MountNamespace> ns_;
  std::shared_ptr<FsContext> ctx_;
  Credentials root_;
  Credentials user_;
};

TEST_F(MutateTest, FileSystemWithoutOperations) {
  EXPECT_EQ(E(MkdirAt(*ctx_, root_, Path{}, "/new", 0755)), EPERM);
  EXPECT_EQ(E(MknodAt(*ctx_, root_, Path{}, "/fifo", S_IFIFO | 0600, 0)),
            EPERM);
  EXPECT_EQ(E(SymlinkAt(*ctx_, root_, "x", Path{}, "/l")), EPERM);
  EXPECT_EQ(E(UnlinkAt(*ctx_, root_, Path{}, "/etc/passwd", 0)), EPERM);
  EXPECT_EQ(E(UnlinkAt(*ctx_, root_, Path{}, "/empty", AT_REMOVEDIR)), EPERM);
  EXPECT_EQ(E(RenameAt2(*ctx_, root_, Path{}, "/etc/passwd", Path{}, "/p", 0)),
            EPERM);
  EXPECT_EQ(E(OpenAt(*ctx_, root_, Path{}, "/new", O_WRONLY | O_CREAT, 0644)
                  .status()),
            EACCES);
}

TEST_F(MutateTest, ChecksComeBeforeTheFileSystem) {
  // Names that exist, missing parents, wrong types and permissions are the
  // VFS's to answer.
  EXPECT_EQ(E(MkdirAt(*ctx_, root_, Path{}, "/home", 0755)), EEXIST);
  EXPECT_EQ(E(MkdirAt(*ctx_, root_, Path{}, "/nodir/x", 0755)), ENOENT);
  EXPECT_EQ(E(MkdirAt(*ctx_, root_, Path{}, "/etc/passwd/x", 0755)), ENOTDIR);
  EXPECT_EQ(E(MkdirAt(*ctx_, user_, Path{}, "/home/x", 0755)), EACCES);
  EXPECT_EQ(E(UnlinkAt(*ctx_, root_, Path{}, "/missing", 0)), ENOENT);
  EXPECT_EQ(E(UnlinkAt(*ctx_, root_, Path{}, "/home", 0)), EISDIR);
  EXPECT_EQ(E(UnlinkAt(*ctx_, root_, Path{}, "/etc/passwd", AT_REMOVEDIR)),
            ENOTDIR);
  EXPECT_EQ(E(UnlinkAt(*ctx_, root_, Path{}, "/", AT_REMOVEDIR)), EBUSY);
  EXPECT_EQ(E(UnlinkAt(*ctx_, root_, Path{}, "/home", 2)), EINVAL);
  EXPECT_EQ(E(UnlinkAt(*ctx_, user_, Path{}, "/etc/passwd", 0)), EACCES);
  EXPECT_EQ(E(RenameAt2(*ctx_, root_, Path{}, "/home", Path{}, "/home/x", 0)),
            EINVAL);
  EXPECT_EQ(
      E(RenameAt2(*ctx_, root_, Path{}, "/a", Path{}, "/b", RENAME_WHITEOUT)),
      EINVAL);
  EXPECT_EQ(E(RenameAt2(*ctx_, root_, Path{}, "/a", Path{}, "/b", 1u << 5)),
            EINVAL);
  EXPECT_EQ(E(MknodAt(*ctx_, root_, Path{}, "/null", S_IFCHR | 0600, 0)),
            EPERM);
  EXPECT_EQ(E(SymlinkAt(*ctx_, root_, "", Path{}, "/l")), ENOENT);
}

TEST_F(MutateTest, ReadOnlyMount) {
  auto ro = MountNamespace::New(fs_, Dentry::NewRoot(fs_->root), MS_RDONLY);
  auto ctx = FsContext::New(ro);
  EXPECT_EQ(E(MkdirAt(*ctx, root_, Path{}, "/new", 0755)), EROFS);
  EXPECT_EQ(E(MkdirAt(*ctx, root_, Path{}, "/home", 0755)), EEXIST);
  EXPECT_EQ(E(UnlinkAt(*ctx, root_, Path{}, "/etc/passwd", 0)), EROFS);
  EXPECT_EQ(E(UnlinkAt(*ctx, root_, Path{}, "/missing", 0)), EROFS);
  EXPECT_EQ(E(RenameAt2(*ctx, root_, Path{}, "/etc/passwd", Path{}, "/x", 0)),
            EROFS);
  EXPECT_EQ(
      E(OpenAt(*ctx, root_, Path{}, "/new", O_WRONLY | O_CREAT, 0644).status()),
      EROFS);
  ResolveContext rc = MakeResolveContext(*ctx, nullptr);
  Path p = *ResolvePath(rc, "/etc/passwd", kFollowFinal);
  EXPECT_EQ(E(Chmod(root_, p, 0600)), EROFS);
  EXPECT_EQ(E(Chown(root_, p, 1, 1)), EROFS);
  EXPECT_EQ(E(Truncate(root_, p, 0)), EROFS);
  EXPECT_EQ(E(Utimens(root_, p, nullptr)), EROFS);
}

TEST_F(MutateTest, AttributesWithoutSetAttr) {
  ResolveContext rc = MakeResolveContext(*ctx_, nullptr);
  Path p = *ResolvePath(rc, "/etc/passwd", kFollowFinal);
  EXPECT_EQ(E(Chmod(root_, p, 0600)), EPERM);
  EXPECT_EQ(E(Chmod(user_, p, 0600)), EPERM);  // not the owner
}

}  // namespace
}  // namespace sentry::vfs
