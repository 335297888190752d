#include "sentry/vfs/path.h"

#include <cerrno>
#include <string>

#include "common/errno_status.h"
#include "gtest/gtest.h"
#include "sentry/vfs/test_fs.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

using testing::MemFs;

// A tree most tests share:
//   /etc/passwd            "root:x:0:0"
//   /usr/bin/sh            "#!"
//   /usr/lib/libc.so       "elf"
//   /bin -> usr/bin
//   /lib -> /usr/lib       (absolute)
//   /etc/abs -> /etc/passwd
//   /loop -> loop
//   /dangling -> /nowhere
//   /empty -> ""
//   /tmp/dirlink -> ..
class PathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<MemFs>();
    fs_->File("etc/passwd", "root:x:0:0");
    fs_->File("usr/bin/sh", "#!");
    fs_->File("usr/lib/libc.so", "elf");
    fs_->Symlink("bin", "usr/bin");
    fs_->Symlink("lib", "/usr/lib");
    fs_->Symlink("etc/abs", "/etc/passwd");
    fs_->Symlink("loop", "loop");
    fs_->Symlink("dangling", "/nowhere");
    fs_->Symlink("empty", "");
    fs_->Dir("tmp");
    fs_->Symlink("tmp/dirlink", "..");
    root_dentry_ = Dentry::NewRoot(fs_->root);
    ns_ = MountNamespace::New(fs_, root_dentry_, 0);
  }

  ResolveContext Ctx(Path start = {}) {
    ResolveContext ctx;
    ctx.mntns = ns_.get();
    ctx.root = ns_->root();
    ctx.start = start.valid() ? start : ns_->root();
    return ctx;
  }

  absl::StatusOr<Path> Get(const std::string& path, int flags = kFollowFinal,
                           Path start = {}) {
    return ResolvePath(Ctx(start), path, flags);
  }

  int Err(const std::string& path, int flags = kFollowFinal, Path start = {}) {
    return cv::StatusToErrno(Get(path, flags, start).status());
  }

  std::string NameOf(const Path& p) { return PathName(ns_->root(), p); }

  // The name of what `path` resolves to, or "E<errno>".
  std::string Where(const std::string& path, int flags = kFollowFinal,
                    Path start = {}) {
    absl::StatusOr<Path> p = Get(path, flags, start);
    if (!p.ok()) return "E" + std::to_string(cv::StatusToErrno(p.status()));
    return NameOf(*p);
  }

  std::shared_ptr<MemFs> fs_;
  DentryRef root_dentry_;
  std::shared_ptr<MountNamespace> ns_;
};

TEST_F(PathTest, AbsoluteAndRelative) {
  EXPECT_EQ(Where("/"), "/");
  EXPECT_EQ(Where("/etc/passwd"), "/etc/passwd");
  EXPECT_EQ(Where("//etc///passwd"), "/etc/passwd");
  auto usr = Get("/usr");
  ASSERT_TRUE(usr.ok());
  EXPECT_EQ(Where("bin/sh", kFollowFinal, *usr), "/usr/bin/sh");
  EXPECT_EQ(Where("./bin/./sh", kFollowFinal, *usr), "/usr/bin/sh");
  // An absolute path ignores the start.
  EXPECT_EQ(Where("/etc", kFollowFinal, *usr), "/etc");
}

TEST_F(PathTest, DotDot) {
  EXPECT_EQ(Where("/usr/bin/.."), "/usr");
  EXPECT_EQ(Where("/usr/bin/../../etc/passwd"), "/etc/passwd");
  // ".." at the root stays at the root.
  EXPECT_EQ(Where("/.."), "/");
  EXPECT_EQ(Where("/../../../etc/.."), "/");
  auto usr = Get("/usr");
  ASSERT_TRUE(usr.ok());
  EXPECT_EQ(Where("../../..", kFollowFinal, *usr), "/");
}

TEST_F(PathTest, EmptyPath) {
  EXPECT_EQ(Err(""), ENOENT);
  auto etc = Get("/etc/passwd");
  ASSERT_TRUE(etc.ok());
  // AT_EMPTY_PATH names the start itself, even a non-directory.
  EXPECT_EQ(Where("", kAllowEmpty, *etc), "/etc/passwd");
}

TEST_F(PathTest, Missing) {
  EXPECT_EQ(Err("/nope"), ENOENT);
  EXPECT_EQ(Err("/nope/x"), ENOENT);
  EXPECT_EQ(Err("/etc/nope"), ENOENT);
}

TEST_F(PathTest, NotADirectory) {
  EXPECT_EQ(Err("/etc/passwd/x"), ENOTDIR);
  EXPECT_EQ(Err("/etc/passwd/"), ENOTDIR);
  EXPECT_EQ(Err("/etc/passwd/."), ENOTDIR);
  EXPECT_EQ(Err("/etc/passwd/.."), ENOTDIR);
  EXPECT_EQ(Err("/etc/passwd//"), ENOTDIR);
  // A relative path from a non-directory start.
  auto f = Get("/etc/passwd");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Err("x", kFollowFinal, *f), ENOTDIR);
  // Trailing slashes on directories are fine.
  EXPECT_EQ(Where("/etc/"), "/etc");
  EXPECT_EQ(Where("/etc//"), "/etc");
}

TEST_F(PathTest, SymlinksInTheMiddle) {
  EXPECT_EQ(Where("/bin/sh"), "/usr/bin/sh");
  // Followed in the middle even without kFollowFinal.
  EXPECT_EQ(Where("/bin/sh", 0), "/usr/bin/sh");
  EXPECT_EQ(Where("/lib/libc.so", 0), "/usr/lib/libc.so");
  EXPECT_EQ(Where("/tmp/dirlink/etc/passwd"), "/etc/passwd");
  // ".." after a followed symlink is relative to the target, as on Linux.
  EXPECT_EQ(Where("/bin/../lib/libc.so"), "/usr/lib/libc.so");
}

TEST_F(PathTest, FinalSymlink) {
  EXPECT_EQ(Where("/etc/abs"), "/etc/passwd");
  EXPECT_EQ(Where("/etc/abs", 0), "/etc/abs");
  auto l = Get("/etc/abs", 0);
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->dentry->IsSymlink());
  // A trailing slash forces following, and then needs a directory.
  EXPECT_EQ(Where("/bin/", 0), "/usr/bin");
  EXPECT_EQ(Err("/etc/abs/", 0), ENOTDIR);
  EXPECT_EQ(Err("/etc/abs/"), ENOTDIR);
}

TEST_F(PathTest, BrokenSymlinks) {
  EXPECT_EQ(Err("/dangling"), ENOENT);
  EXPECT_EQ(Where("/dangling", 0), "/dangling");
  EXPECT_EQ(Err("/empty"), ENOENT);
  EXPECT_EQ(Err("/empty/x"), ENOENT);
  EXPECT_EQ(Err("/loop"), ELOOP);
  EXPECT_EQ(Err("/loop/x"), ELOOP);
  EXPECT_EQ(Where("/loop", 0), "/loop");
}

TEST_F(PathTest, FortySymlinksResolveFortyOneLoop) {
  // l1 -> etc/passwd, l2 -> l1, ..., l41 -> l40.
  fs_->Symlink("l1", "etc/passwd");
  for (int i = 2; i <= 41; i++) {
    fs_->Symlink("l" + std::to_string(i), "l" + std::to_string(i - 1));
  }
  EXPECT_EQ(Where("/l40"), "/etc/passwd");
  EXPECT_EQ(Err("/l41"), ELOOP);
  EXPECT_EQ(Where("/l41", 0), "/l41");
  // The count is per resolution, across components and nesting: x and
  // the 39 links it leads through make 40; y makes 41.
  fs_->Dir("d");
  fs_->Symlink("d/x", "/l39");
  fs_->Symlink("d/y", "/l40");
  EXPECT_EQ(Where("/d/x"), "/etc/passwd");
  EXPECT_EQ(Err("/d/y"), ELOOP);
  fs_->Symlink("d/sub", "/d");
  EXPECT_EQ(Err("/d/sub/x"), ELOOP);
}

TEST_F(PathTest, AbsoluteSymlinksResolveAtTheTaskRoot) {
  // A task whose root is /jail: "/" and absolute targets stay inside it.
  fs_->File("jail/etc/passwd", "jailed");
  fs_->Symlink("jail/abs", "/etc/passwd");
  fs_->Symlink("jail/up", "../../../etc");
  auto jail = Get("/jail");
  ASSERT_TRUE(jail.ok());
  ResolveContext ctx = Ctx(*jail);
  ctx.root = *jail;
  auto p = ResolvePath(ctx, "/abs", kFollowFinal);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(NameOf(*p), "/jail/etc/passwd");
  p = ResolvePath(ctx, "/../../etc/passwd", kFollowFinal);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(NameOf(*p), "/jail/etc/passwd");
  p = ResolvePath(ctx, "up/passwd", kFollowFinal);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(NameOf(*p), "/jail/etc/passwd");
  // Seen from the jail's root the name is "/etc/passwd"; something outside
  // it is unreachable.
  EXPECT_EQ(PathName(*jail, *p), "/etc/passwd");
  auto outside = Get("/usr");
  ASSERT_TRUE(outside.ok());
  EXPECT_EQ(PathName(*jail, *outside), "(unreachable)/usr");
}

TEST_F(PathTest, NameTooLong) {
  EXPECT_EQ(Err("/" + std::string(256, 'a')), ENAMETOOLONG);
  EXPECT_EQ(Err("/" + std::string(255, 'a')), ENOENT);
  EXPECT_EQ(Err(std::string(4096, '/')), ENAMETOOLONG);
  EXPECT_EQ(Where(std::string(4095, '/')), "/");
  // An error earlier in the path wins over a long name later.
  EXPECT_EQ(Err("/nope/" + std::string(300, 'a')), ENOENT);
}

TEST_F(PathTest, SearchPermission) {
  fs_->Dir("private", 0700, 1000, 1000);
  fs_->File("private/f", "x", 0644, 1000, 1000);
  fs_->File("open/f", "x");
  Credentials root;
  root.cap_effective = uint64_t{1} << 1;  // CAP_DAC_OVERRIDE
  Credentials capless_root;  // uid 0 without capabilities: the mode bits
  Credentials user;
  user.fsuid = user.ruid = user.euid = 2000;
  user.fsgid = user.rgid = user.egid = 2000;
  Credentials owner;
  owner.fsuid = 1000;
  owner.fsgid = 1000;
  for (auto [creds, want] : {std::pair{&root, 0},
                             {&capless_root, EACCES},
                             {&user, EACCES},
                             {&owner, 0}}) {
    AccessIdentity who = FsIdentity(*creds);
    ResolveContext ctx = Ctx();
    ctx.who = &who;
    EXPECT_EQ(cv::StatusToErrno(ResolvePath(ctx, "/private/f", 0).status()),
              want);
    // The directory itself can be named; only walking through it is
    // searched.
    EXPECT_TRUE(ResolvePath(ctx, "/private", 0).ok());
    EXPECT_TRUE(ResolvePath(ctx, "/open/f", 0).ok());
  }
  // Group and supplementary-group search.
  fs_->Dir("grp", 0710, 1000, 3000);
  fs_->File("grp/f", "x");
  user.groups = {3000};
  AccessIdentity who = FsIdentity(user);
  ResolveContext ctx = Ctx();
  ctx.who = &who;
  EXPECT_TRUE(ResolvePath(ctx, "/grp/f", 0).ok());
}

TEST_F(PathTest, CheckPermission) {
  struct stat st {};
  st.st_uid = 1000;
  st.st_gid = 100;
  st.st_mode = S_IFREG | 0640;
  std::vector<uint32_t> groups{100};
  AccessIdentity owner{1000, 1, nullptr, {}};
  AccessIdentity member{5, 5, &groups, {}};
  AccessIdentity other{5, 5, nullptr, {}};
  AccessIdentity root{0, 0, nullptr, {}};
  EXPECT_EQ(CheckPermission(st, owner, kMayRead | kMayWrite), 0);
  EXPECT_EQ(CheckPermission(st, owner, kMayExec), -EACCES);
  EXPECT_EQ(CheckPermission(st, member, kMayRead), 0);
  EXPECT_EQ(CheckPermission(st, member, kMayWrite), -EACCES);
  EXPECT_EQ(CheckPermission(st, other, kMayRead), -EACCES);
  EXPECT_EQ(CheckPermission(st, other, 0), 0);
  // Root reads and writes anything, executes only what has an x bit.
  EXPECT_EQ(CheckPermission(st, root, kMayRead | kMayWrite), 0);
  EXPECT_EQ(CheckPermission(st, root, kMayExec), -EACCES);
  st.st_mode = S_IFREG | 0001;
  EXPECT_EQ(CheckPermission(st, root, kMayExec), 0);
  st.st_mode = S_IFDIR | 0000;
  EXPECT_EQ(CheckPermission(st, root, kMayExec | kMayRead), 0);
  // The owner class applies even when it grants less than "other".
  st.st_mode = S_IFREG | 0007;
  EXPECT_EQ(CheckPermission(st, owner, kMayRead), -EACCES);
}

TEST_F(PathTest, AllowMissingFinal) {
  auto r = Resolve(Ctx(), "/etc/newfile", kAllowMissingFinal);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->path.valid());
  EXPECT_EQ(NameOf(r->parent), "/etc");
  EXPECT_EQ(r->name, "newfile");
  EXPECT_FALSE(r->must_be_dir);
  r = Resolve(Ctx(), "/etc/newdir/", kAllowMissingFinal);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->must_be_dir);
  // Through a dangling symlink: the target's directory.
  r = Resolve(Ctx(), "/dangling", kAllowMissingFinal | kFollowFinal);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(NameOf(r->parent), "/");
  EXPECT_EQ(r->name, "nowhere");
  // Only the last component may be missing.
  EXPECT_EQ(
      cv::StatusToErrno(Resolve(Ctx(), "/nope/x", kAllowMissingFinal).status()),
      ENOENT);
  // Existing files resolve as usual.
  r = Resolve(Ctx(), "/etc/passwd", kAllowMissingFinal);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(NameOf(r->path), "/etc/passwd");
}

TEST_F(PathTest, DentryCacheSavesLookups) {
  ASSERT_TRUE(Get("/etc/passwd").ok());
  int lookups = fs_->counters->lookups + fs_->counters->path_lookups;
  for (int i = 0; i < 10; i++) ASSERT_TRUE(Get("/etc/passwd").ok());
  EXPECT_EQ(fs_->counters->lookups + fs_->counters->path_lookups, lookups);
  // Misses are cached too (negative dentries).
  EXPECT_EQ(Err("/etc/missing"), ENOENT);
  lookups = fs_->counters->lookups + fs_->counters->path_lookups;
  for (int i = 0; i < 10; i++) EXPECT_EQ(Err("/etc/missing"), ENOENT);
  EXPECT_EQ(fs_->counters->lookups + fs_->counters->path_lookups, lookups);
  // Symlink targets are read each time they are followed (a file system
  // may cache them itself).
}

TEST_F(PathTest, UncachedPathsAreLookedUpInOneRequest) {
  fs_->File("a/b/c/d/e/f", "deep");
  EXPECT_EQ(Where("/a/b/c/d/e/f"), "/a/b/c/d/e/f");
  EXPECT_EQ(fs_->counters->path_lookups, 1);
  EXPECT_EQ(fs_->counters->lookups, 0);
  // A miss in the middle of a batch is cached as well.
  EXPECT_EQ(Err("/a/b/x/y/z"), ENOENT);
  int before = fs_->counters->lookups + fs_->counters->path_lookups;
  EXPECT_EQ(Err("/a/b/x/y/z"), ENOENT);
  EXPECT_EQ(fs_->counters->lookups + fs_->counters->path_lookups, before);
  // A batch stops at a symlink, which is then followed.
  fs_->Symlink("a/b/link", "/a/b/c");
  EXPECT_EQ(Where("/a/b/link/d/e/f"), "/a/b/c/d/e/f");
}

TEST_F(PathTest, DentryCacheIsBounded) {
  auto small = std::make_shared<MemFs>(/*cache=*/4);
  for (int i = 0; i < 20; i++) small->File("f" + std::to_string(i), "x");
  auto ns = MountNamespace::New(small, Dentry::NewRoot(small->root), 0);
  ResolveContext ctx;
  ctx.mntns = ns.get();
  ctx.root = ctx.start = ns->root();
  for (int i = 0; i < 20; i++) {
    ASSERT_TRUE(ResolvePath(ctx, "/f" + std::to_string(i), 0).ok());
  }
  EXPECT_EQ(small->dentry_cache().size(), 4u);
  // A dentry someone holds survives eviction, and so does its name.
  auto held = ResolvePath(ctx, "/f0", 0);
  ASSERT_TRUE(held.ok());
  for (int i = 1; i < 20; i++) {
    ASSERT_TRUE(ResolvePath(ctx, "/f" + std::to_string(i), 0).ok());
  }
  auto again = ResolvePath(ctx, "/f0", 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->dentry, held->dentry);
}

TEST_F(PathTest, DeepChainsAreReleasedWithoutRecursion) {
  // 20000 nested directories: releasing the leaf releases every ancestor,
  // which must not take one stack frame per level.
  auto deep = std::make_shared<MemFs>(/*cache=*/1);
  std::shared_ptr<testing::MemInode> dir = deep->root;
  for (int i = 0; i < 20000; i++) {
    auto child = deep->NewInode(S_IFDIR | 0755);
    dir->children["d"] = child;
    dir = child;
  }
  auto ns = MountNamespace::New(deep, Dentry::NewRoot(deep->root), 0);
  ResolveContext ctx;
  ctx.mntns = ns.get();
  ctx.root = ctx.start = ns->root();
  Path cur = ns->root();
  for (int i = 0; i < 20000; i++) {
    ctx.start = cur;
    auto next = ResolvePath(ctx, "d", 0);
    ASSERT_TRUE(next.ok());
    cur = *next;
  }
  deep->dentry_cache().Clear();
  cur = Path{};  // drops the whole chain
  ctx.start = ns->root();
  // Only the root's inode is still referenced by a dentry.
  EXPECT_EQ(deep->root.use_count(), 2);  // `deep` and the root dentry
  // The test file system's own tree is torn down level by level.
  std::shared_ptr<testing::MemInode> d = deep->root->children["d"];
  deep->root->children.clear();
  while (d != nullptr) {
    auto it = d->children.find("d");
    std::shared_ptr<testing::MemInode> next =
        it == d->children.end() ? nullptr : it->second;
    d->children.clear();
    d = std::move(next);
  }
}

class MountTest : public PathTest {
 protected:
  void SetUp() override {
    PathTest::SetUp();
    fs_->Dir("mnt");
    fs_->File("mnt/hidden", "covered by the mount");
    other_ = std::make_shared<MemFs>();
    other_->File("inside", "x");
    other_->Dir("sub");
    other_->Symlink("up", "..");
    other_->Symlink("abs", "/etc/passwd");
    auto mnt = Get("/mnt");
    ASSERT_TRUE(mnt.ok());
    auto m = ns_->AddMount(*mnt, other_, Dentry::NewRoot(other_->root), 0);
    ASSERT_TRUE(m.ok());
    mount_ = *m;
  }
  std::shared_ptr<MemFs> other_;
  MountRef mount_;
};

TEST_F(MountTest, WalksIntoMounts) {
  auto p = Get("/mnt/inside");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->mount, mount_);
  EXPECT_EQ(NameOf(*p), "/mnt/inside");
  EXPECT_EQ(Err("/mnt/hidden"), ENOENT);
  p = Get("/mnt");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->mount, mount_);
  EXPECT_EQ(p->dentry, mount_->root());
}

TEST_F(MountTest, DotDotLeavesMounts) {
  EXPECT_EQ(Where("/mnt/.."), "/");
  EXPECT_EQ(Where("/mnt/sub/../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(Where("/mnt/up/etc/passwd"), "/etc/passwd");
  // Absolute symlinks inside a mount still start at the task's root.
  EXPECT_EQ(Where("/mnt/abs"), "/etc/passwd");
  auto sub = Get("/mnt/sub");
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(Where("../..", kFollowFinal, *sub), "/");
  EXPECT_EQ(NameOf(*sub), "/mnt/sub");
  // Walking back in lands on the mount again, not the covered directory.
  EXPECT_EQ(Where("/mnt/../mnt/inside"), "/mnt/inside");
}

TEST_F(MountTest, StackedMounts) {
  auto third = std::make_shared<MemFs>();
  third->File("top", "x");
  auto mnt = Get("/mnt");
  ASSERT_TRUE(mnt.ok());
  ASSERT_TRUE(ns_->AddMount(*mnt, third, Dentry::NewRoot(third->root), 0).ok());
  EXPECT_EQ(Where("/mnt/top"), "/mnt/top");
  EXPECT_EQ(Err("/mnt/inside"), ENOENT);
  EXPECT_EQ(Where("/mnt/.."), "/");
}

}  // namespace
}  // namespace sentry::vfs
