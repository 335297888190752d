// The overlay through the VFS, over a lower tmpfs whose contents are
// checked unchanged after every test.
#include "sentry/fs/overlay.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>  // RENAME_*
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "gofer/client.h"
#include "gofer/gofer.h"
#include "gtest/gtest.h"
#include "sentry/fs/gofer_fs.h"
#include "sentry/fs/tmpfs.h"
#include "sentry/vfs/test_fs.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fs {
namespace {

using vfs::FileRef;
using vfs::InodeRef;
using vfs::Path;

int Errno(const absl::Status& s) { return cv::StatusToErrno(s); }

// Builds the lower layer through the Inode interface.
class LowerBuilder {
 public:
  explicit LowerBuilder(InodeRef root) : root_(std::move(root)) {}

  InodeRef Dir(const std::string& path, mode_t perm = 0755, uint32_t uid = 0) {
    InodeRef cur = root_;
    for (const std::string& name : Split(path)) {
      absl::StatusOr<InodeRef> c = cur->Lookup(name);
      if (!c.ok()) c = cur->Mkdir(name, {S_IFDIR | perm, uid, uid, 0});
      EXPECT_TRUE(c.ok()) << c.status();
      cur = *c;
    }
    return cur;
  }
  InodeRef File(const std::string& path, const std::string& data,
                mode_t perm = 0644, uint32_t uid = 0) {
    auto [dir, name] = Parent(path);
    auto f = dir->Create(name, {S_IFREG | perm, uid, uid, 0});
    EXPECT_TRUE(f.ok()) << f.status();
    auto file = (*f)->Open(Path{nullptr, vfs::Dentry::NewRoot(*f)}, O_WRONLY);
    EXPECT_TRUE(file.ok());
    auto io = vfs::IoSequence::Buffer(data.data(), data.size());
    EXPECT_EQ((*file)->Write(io), static_cast<int64_t>(data.size()));
    return *f;
  }
  InodeRef Symlink(const std::string& path, const std::string& target) {
    auto [dir, name] = Parent(path);
    auto l = dir->Symlink(name, target, {S_IFLNK | 0777, 0, 0, 0});
    EXPECT_TRUE(l.ok());
    return *l;
  }

 private:
  static std::vector<std::string> Split(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      if (j > i) out.push_back(path.substr(i, j - i));
      i = j + 1;
    }
    return out;
  }
  std::pair<InodeRef, std::string> Parent(const std::string& path) {
    size_t slash = path.rfind('/');
    return {Dir(path.substr(0, slash)), path.substr(slash + 1)};
  }

  InodeRef root_;
};

std::vector<vfs::DirEntry> AllEntries(vfs::Inode& dir) {
  std::vector<vfs::DirEntry> out;
  uint64_t off = 0;
  for (;;) {
    auto b = dir.ReadDir(off);
    EXPECT_TRUE(b.ok());
    if (!b.ok()) break;
    for (auto& e : b->entries) {
      off = e.next_offset;
      out.push_back(e);
    }
    if (b->eof || b->entries.empty()) break;
  }
  return out;
}

// Everything observable about a tree, one line per file.
void Dump(const InodeRef& ref, const std::string& path,
          std::map<std::string, std::string>& out) {
  vfs::Inode& inode = *ref;
  auto st = inode.Stat();
  ASSERT_TRUE(st.ok());
  std::string d = absl::StrCat(
      st->st_mode, " ", st->st_uid, ":", st->st_gid, " ino=", st->st_ino,
      " nlink=", st->st_nlink, " size=", st->st_size,
      " mtime=", st->st_mtim.tv_sec, ".", st->st_mtim.tv_nsec,
      " ctime=", st->st_ctim.tv_sec, ".", st->st_ctim.tv_nsec);
  auto names = inode.ListXattr();
  if (names.ok()) {
    std::sort(names->begin(), names->end());
    for (const auto& n : *names) {
      absl::StrAppend(&d, " ", n, "=", inode.GetXattr(n).value_or("?"));
    }
  }
  if (inode.IsSymlink()) absl::StrAppend(&d, " -> ", *inode.Readlink());
  if (inode.IsRegular()) {
    auto f = inode.Open(Path{nullptr, vfs::Dentry::NewRoot(ref)}, O_RDONLY);
    ASSERT_TRUE(f.ok());
    std::string data(st->st_size, '\0');
    EXPECT_EQ((*f)->ReadAt(data.data(), data.size(), 0), st->st_size);
    absl::StrAppend(&d, " data=", data);
  }
  out[path] = d;
  if (inode.IsDir()) {
    for (const auto& e : AllEntries(inode)) {
      if (e.name == "." || e.name == "..") continue;
      auto c = inode.Lookup(e.name);
      ASSERT_TRUE(c.ok());
      Dump(*c, path + "/" + e.name, out);
    }
  }
}

class OverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lower_ = NewTmpfs({0755, 0, 0});
    LowerBuilder b(lower_.root->inode());
    b.Dir("etc");
    InodeRef passwd = b.File("etc/passwd", "root:x:0:0\n");
    ASSERT_TRUE(passwd->SetXattr("user.tag", "lowertag", 0).ok());
    vfs::SetAttrRequest old;
    old.mask = vfs::SetAttrRequest::kAtime | vfs::SetAttrRequest::kMtime;
    old.atime = {1000, 1};
    old.mtime = {2000, 2};
    ASSERT_TRUE(passwd->SetAttr(old).ok());
    b.File("etc/hosts", "127.0.0.1 localhost\n");
    b.File("bin/busybox", "ELF", 0755);
    b.Symlink("bin/sh", "busybox");
    b.File("usr/lib/a.so", "A");
    b.File("usr/lib/b.so", "B");
    b.File("usr/share/doc/x/readme", "read me");
    b.Dir("empty", 0700, 1000);
    b.Dir("home/user", 0750, 1000);
    b.File("home/user/notes", "mine", 0600, 1000);
    Dump(lower_.root->inode(), "", initial_);
    lower_ino_ = lower_.root->inode()->Stat()->st_ino;

    auto m = NewOverlay(lower_.root->inode());
    ASSERT_TRUE(m.ok()) << m.status();
    ov_ = *m;
    ns_ = vfs::MountNamespace::New(ov_.fs, ov_.root, 0);
    ctx_ = vfs::FsContext::New(ns_);
    root_.cap_effective = ~0ULL;
    user_.ruid = user_.euid = user_.suid = user_.fsuid = 1000;
    user_.rgid = user_.egid = user_.sgid = user_.fsgid = 1000;
  }

  void TearDown() override {
    // The lower layer is never written, whatever happened above it.
    std::map<std::string, std::string> now;
    Dump(lower_.root->inode(), "", now);
    EXPECT_EQ(now, initial_);
  }

  uint64_t LowerIno(const std::string& path) {
    InodeRef cur = lower_.root->inode();
    size_t i = 1;
    while (i < path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      cur = *cur->Lookup(path.substr(i, j - i));
      i = j + 1;
    }
    return cur->Stat()->st_ino;
  }

  const Credentials& Who(const Credentials* c) const { return c ? *c : root_; }
  int Mkdir(const std::string& p, mode_t mode = 0777) {
    return Errno(vfs::MkdirAt(*ctx_, root_, Path{}, p, mode));
  }
  absl::StatusOr<FileRef> Open(const std::string& p, int flags,
                               mode_t mode = 0644,
                               const Credentials* c = nullptr) {
    return vfs::OpenAt(*ctx_, Who(c), Path{}, p, flags, mode);
  }
  int OpenErr(const std::string& p, int flags) {
    return Errno(Open(p, flags).status());
  }
  int Create(const std::string& p, const std::string& data = "") {
    auto f = Open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (!f.ok()) return Errno(f.status());
    if (!data.empty()) {
      auto io = vfs::IoSequence::Buffer(data.data(), data.size());
      EXPECT_EQ((*f)->Write(io), static_cast<int64_t>(data.size()));
    }
    return 0;
  }
  static int64_t Put(const FileRef& f, const std::string& s, int64_t off = -1) {
    auto io = vfs::IoSequence::Buffer(s.data(), s.size());
    return off < 0 ? f->Write(io) : f->PWrite(io, off);
  }
  static std::string Get(const FileRef& f, size_t n) {
    std::string buf(n, '\0');
    auto io = vfs::IoSequence::Buffer(buf.data(), buf.size());
    int64_t got = f->Read(io);
    buf.resize(got < 0 ? 0 : got);
    return buf;
  }
  int Unlink(const std::string& p) {
    return Errno(vfs::UnlinkAt(*ctx_, root_, Path{}, p, 0));
  }
  int Rmdir(const std::string& p) {
    return Errno(vfs::UnlinkAt(*ctx_, root_, Path{}, p, AT_REMOVEDIR));
  }
  int Rename(const std::string& a, const std::string& b, unsigned flags = 0) {
    return Errno(vfs::RenameAt2(*ctx_, root_, Path{}, a, Path{}, b, flags));
  }
  int Symlink(const std::string& target, const std::string& p) {
    return Errno(vfs::SymlinkAt(*ctx_, root_, target, Path{}, p));
  }
  int Link(const std::string& a, const std::string& b) {
    auto old = Resolve(a, false);
    if (!old.ok()) return Errno(old.status());
    return Errno(vfs::LinkAt(*ctx_, root_, *old, Path{}, b));
  }
  absl::StatusOr<Path> Resolve(const std::string& p, bool follow = true) {
    vfs::ResolveContext rc = vfs::MakeResolveContext(*ctx_, nullptr);
    return vfs::ResolvePath(rc, p, follow ? vfs::kFollowFinal : 0);
  }
  absl::StatusOr<struct stat> Stat(const std::string& p, bool follow = true) {
    auto r = Resolve(p, follow);
    if (!r.ok()) return r.status();
    return r->inode()->Stat();
  }
  int StatErr(const std::string& p) { return Errno(Stat(p).status()); }
  std::string Read(const std::string& p) {
    auto f = Open(p, O_RDONLY);
    EXPECT_TRUE(f.ok()) << p << ": " << f.status();
    if (!f.ok()) return "";
    std::string out(4096, '\0');
    int64_t n = (*f)->ReadAt(out.data(), out.size(), 0);
    EXPECT_GE(n, 0);
    out.resize(n < 0 ? 0 : n);
    return out;
  }
  // name -> d_ino, from getdents64 with a small buffer.
  std::map<std::string, uint64_t> ListInos(const std::string& p) {
    std::map<std::string, uint64_t> out;
    auto d = Open(p, O_RDONLY | O_DIRECTORY);
    EXPECT_TRUE(d.ok()) << d.status();
    if (!d.ok()) return out;
    std::vector<char> buf(64);
    for (;;) {
      auto io = vfs::IoSequence::Buffer(buf.data(), buf.size());
      int64_t n = (*d)->GetDents64(io);
      EXPECT_GE(n, 0);
      if (n <= 0) break;
      for (int64_t off = 0; off < n;) {
        uint64_t ino;
        uint16_t reclen;
        memcpy(&ino, buf.data() + off, 8);
        memcpy(&reclen, buf.data() + off + 16, 2);
        std::string name(buf.data() + off + 19);
        EXPECT_EQ(out.count(name), 0u) << "listed twice: " << name;
        out[name] = ino;
        off += reclen;
      }
    }
    return out;
  }
  std::vector<std::string> List(const std::string& p) {
    std::vector<std::string> names;
    for (const auto& [name, ino] : ListInos(p)) names.push_back(name);
    return names;
  }

  TmpfsMount lower_;
  std::map<std::string, std::string> initial_;
  uint64_t lower_ino_ = 0;
  OverlayMount ov_;
  std::shared_ptr<vfs::MountNamespace> ns_;
  std::shared_ptr<vfs::FsContext> ctx_;
  Credentials root_;
  Credentials user_;
};

TEST_F(OverlayTest, ReadsThroughToTheLowerLayer) {
  EXPECT_EQ(ov_.fs->type(), "overlay");
  EXPECT_EQ(Read("/etc/passwd"), "root:x:0:0\n");
  EXPECT_EQ(Read("/bin/sh"), "ELF");
  auto st = Stat("/etc/passwd");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_ino, LowerIno("/etc/passwd"));
  EXPECT_EQ(st->st_mtim.tv_sec, 2000);
  EXPECT_EQ(st->st_dev, Stat("/")->st_dev);
  EXPECT_NE(st->st_dev, lower_.root->inode()->Stat()->st_dev);
  EXPECT_EQ(Stat("/")->st_ino, lower_ino_);
  EXPECT_EQ(*Resolve("/bin/sh", false)->inode()->Readlink(), "busybox");
  EXPECT_EQ(List("/usr/lib"),
            (std::vector<std::string>{".", "..", "a.so", "b.so"}));
  EXPECT_EQ(StatErr("/nothere"), ENOENT);
  // A read-only open hands out the lower file's own data fd.
  auto f = Open("/etc/hosts", O_RDONLY);
  ASSERT_TRUE(f.ok());
  InodeRef lower_hosts =
      *(*lower_.root->inode()->Lookup("etc"))->Lookup("hosts");
  auto lf = lower_hosts->Open(Path{nullptr, vfs::Dentry::NewRoot(lower_hosts)},
                              O_RDONLY);
  ASSERT_TRUE(lf.ok());
  EXPECT_GE((*f)->host_fd(), 0);
  EXPECT_EQ((*f)->host_fd(), (*lf)->host_fd());
  // fstat answers for the overlay.
  EXPECT_EQ((*f)->Stat()->st_dev, Stat("/")->st_dev);
  auto fst = (*f)->Stat();
  auto pst = Stat("/etc/hosts");
  EXPECT_EQ(fst->st_ino, pst->st_ino);
  EXPECT_EQ(fst->st_mode, pst->st_mode);
  EXPECT_EQ(fst->st_size, pst->st_size);
}

TEST_F(OverlayTest, WriteCopiesUpKeepingIdentityAndAttributes) {
  auto f = Open("/etc/passwd", O_WRONLY | O_APPEND);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(Put(*f, "user:x:1000\n"), 12);
  EXPECT_EQ(Read("/etc/passwd"), "root:x:0:0\nuser:x:1000\n");
  auto st = Stat("/etc/passwd");
  EXPECT_EQ(st->st_ino, LowerIno("/etc/passwd"));
  EXPECT_EQ(st->st_mode, S_IFREG | 0644u);
  // Attributes and user xattrs came along.
  EXPECT_EQ(*Resolve("/etc/passwd")->inode()->GetXattr("user.tag"), "lowertag");
  EXPECT_EQ(st->st_atim.tv_sec, 1000);
  // The parent was copied up: a merged directory reports one link.
  EXPECT_EQ(Stat("/etc")->st_nlink, 1u);
  EXPECT_EQ(Stat("/etc")->st_ino, LowerIno("/etc"));
  // A copy-up made by chmod keeps data, owner and times.
  ASSERT_TRUE(vfs::Chmod(root_, *Resolve("/home/user/notes"), 0640).ok());
  st = Stat("/home/user/notes");
  EXPECT_EQ(st->st_mode & 07777, 0640u);
  EXPECT_EQ(st->st_uid, 1000u);
  EXPECT_EQ(Read("/home/user/notes"), "mine");
  EXPECT_EQ(st->st_ino, LowerIno("/home/user/notes"));
  // Lower-only directories in between keep theirs too.
  EXPECT_EQ(Stat("/home/user")->st_uid, 1000u);
  EXPECT_EQ(Stat("/home/user")->st_mode & 07777, 0750u);
}

TEST_F(OverlayTest, TruncateCopiesUpWhatRemains) {
  ASSERT_TRUE(vfs::Truncate(root_, *Resolve("/etc/hosts"), 9).ok());
  EXPECT_EQ(Read("/etc/hosts"), "127.0.0.1");
  ASSERT_TRUE(Open("/etc/passwd", O_RDONLY | O_TRUNC).ok());
  EXPECT_EQ(Stat("/etc/passwd")->st_size, 0);
  EXPECT_EQ(Read("/etc/passwd"), "");
}

TEST_F(OverlayTest, ReadOnlyDescriptionSeesTheCopyUp) {
  auto ro = Open("/etc/hosts", O_RDONLY);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(Get(*ro, 4), "127.");
  int lower_fd = (*ro)->host_fd();
  auto rw = Open("/etc/hosts", O_RDWR);
  ASSERT_TRUE(rw.ok());
  EXPECT_EQ(Put(*rw, "XXXXXXXX", 0), 8);
  // Same offset, the upper copy's data.
  EXPECT_EQ(Get(*ro, 6), "XXXX1 ");
  EXPECT_NE((*ro)->host_fd(), lower_fd);
  EXPECT_EQ((*ro)->host_fd(), (*rw)->host_fd());
}

TEST_F(OverlayTest, UnlinkLeavesAWhiteout) {
  ASSERT_EQ(Unlink("/etc/hosts"), 0);
  EXPECT_EQ(StatErr("/etc/hosts"), ENOENT);
  EXPECT_EQ(Unlink("/etc/hosts"), ENOENT);
  EXPECT_EQ(List("/etc"), (std::vector<std::string>{".", "..", "passwd"}));
  // A new file takes the name; it is not the old one.
  ASSERT_EQ(Create("/etc/hosts", "new"), 0);
  EXPECT_EQ(Read("/etc/hosts"), "new");
  EXPECT_NE(Stat("/etc/hosts")->st_ino, LowerIno("/etc/hosts"));
  EXPECT_EQ(List("/etc"),
            (std::vector<std::string>{".", "..", "hosts", "passwd"}));
  // Removing a copied-up file whites it out too.
  ASSERT_TRUE(Open("/etc/passwd", O_WRONLY).ok());
  ASSERT_EQ(Unlink("/etc/passwd"), 0);
  EXPECT_EQ(StatErr("/etc/passwd"), ENOENT);
  // And an upper-only file just goes.
  ASSERT_EQ(Unlink("/etc/hosts"), 0);
  EXPECT_EQ(List("/etc"), (std::vector<std::string>{".", ".."}));
  // Symlinks and files deep in lower-only directories.
  ASSERT_EQ(Unlink("/bin/sh"), 0);
  ASSERT_EQ(Unlink("/usr/share/doc/x/readme"), 0);
  EXPECT_EQ(List("/usr/share/doc/x"), (std::vector<std::string>{".", ".."}));
  EXPECT_EQ(Unlink("/usr"), EISDIR);
}

TEST_F(OverlayTest, RmdirChecksTheMergedView) {
  EXPECT_EQ(Rmdir("/usr/lib"), ENOTEMPTY);
  EXPECT_EQ(Rmdir("/etc/passwd"), ENOTDIR);
  ASSERT_EQ(Unlink("/usr/lib/a.so"), 0);
  EXPECT_EQ(Rmdir("/usr/lib"), ENOTEMPTY);
  ASSERT_EQ(Unlink("/usr/lib/b.so"), 0);
  ASSERT_EQ(Rmdir("/usr/lib"), 0);  // only whiteouts were left
  EXPECT_EQ(StatErr("/usr/lib"), ENOENT);
  EXPECT_EQ(List("/usr"), (std::vector<std::string>{".", "..", "share"}));
  // A directory made where a lower one was removed is opaque.
  ASSERT_EQ(Mkdir("/usr/lib"), 0);
  EXPECT_EQ(List("/usr/lib"), (std::vector<std::string>{".", ".."}));
  EXPECT_EQ(StatErr("/usr/lib/a.so"), ENOENT);
  ASSERT_EQ(Create("/usr/lib/c.so", "C"), 0);
  EXPECT_EQ(List("/usr/lib"), (std::vector<std::string>{".", "..", "c.so"}));
  // An empty lower directory goes at once.
  ASSERT_EQ(Rmdir("/empty"), 0);
  EXPECT_EQ(StatErr("/empty"), ENOENT);
  EXPECT_EQ(Rmdir("/empty"), ENOENT);
  // An upper-only directory.
  ASSERT_EQ(Mkdir("/new"), 0);
  ASSERT_EQ(Rmdir("/new"), 0);
  EXPECT_EQ(StatErr("/new"), ENOENT);
}

TEST_F(OverlayTest, CreateInLowerOnlyDirectories) {
  ASSERT_EQ(Create("/usr/share/doc/x/more", "m"), 0);
  EXPECT_EQ(List("/usr/share/doc/x"),
            (std::vector<std::string>{".", "..", "more", "readme"}));
  EXPECT_EQ(Read("/usr/share/doc/x/readme"), "read me");
  ASSERT_EQ(Symlink("readme", "/usr/share/doc/x/link"), 0);
  EXPECT_EQ(Read("/usr/share/doc/x/link"), "read me");
  ASSERT_EQ(Mkdir("/usr/share/doc/x/sub"), 0);
  EXPECT_EQ(Errno(vfs::MknodAt(*ctx_, root_, Path{}, "/usr/share/doc/x/fifo",
                               S_IFIFO | 0600, 0)),
            0);
  EXPECT_TRUE(S_ISFIFO(Stat("/usr/share/doc/x/fifo")->st_mode));
  // A FIFO in the overlay opens as a named pipe.
  auto p = Open("/usr/share/doc/x/fifo", O_RDWR);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Put(*p, "via fifo"), 8);
  EXPECT_EQ(Get(*p, 64), "via fifo");
  EXPECT_EQ(Mkdir("/usr/share/doc/x/readme"), EEXIST);
  EXPECT_EQ(Create("/usr/share/doc/x/readme"), EEXIST);
}

TEST_F(OverlayTest, ListingsAreMergedWithMatchingInodeNumbers) {
  ASSERT_EQ(Create("/etc/new", "n"), 0);
  ASSERT_EQ(Unlink("/etc/hosts"), 0);
  ASSERT_TRUE(Open("/etc/passwd", O_WRONLY).ok());  // copied up
  auto entries = ListInos("/etc");
  std::vector<std::string> names;
  for (const auto& [n, ino] : entries) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "new", "passwd"}));
  for (const auto& [n, ino] : entries) {
    EXPECT_EQ(ino, Stat("/etc/" + n)->st_ino) << n;
  }
  auto root_entries = ListInos("/");
  for (const auto& [n, ino] : root_entries) {
    EXPECT_EQ(ino, Stat("/" + n)->st_ino) << n;
  }
  EXPECT_EQ(root_entries.at(".."), lower_ino_);
}

TEST_F(OverlayTest, ListingOffsetsStayValidWhileTheDirectoryChanges) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Create(absl::StrCat("/etc/f", i)), 0);
  }
  auto d = Open("/etc", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(d.ok());
  std::set<std::string> seen;
  std::vector<char> buf(64);  // a couple of entries per call
  int created = 0;
  for (;;) {
    auto io = vfs::IoSequence::Buffer(buf.data(), buf.size());
    int64_t n = (*d)->GetDents64(io);
    ASSERT_GE(n, 0);
    if (n == 0) break;
    for (int64_t off = 0; off < n;) {
      uint16_t reclen;
      memcpy(&reclen, buf.data() + off + 16, 2);
      EXPECT_TRUE(seen.insert(buf.data() + off + 19).second);
      off += reclen;
    }
    // Changes in the middle of the listing, and a seek back to where we
    // are, which asks the file system for a later offset.
    ASSERT_EQ(Create(absl::StrCat("/etc/g", created++)), 0);
    ASSERT_EQ(Unlink(absl::StrCat("/etc/f", created)), 0);
    int64_t pos = (*d)->Seek(0, SEEK_CUR);
    ASSERT_EQ((*d)->Seek(0, SEEK_SET), 0);
    ASSERT_EQ((*d)->Seek(pos, SEEK_SET), pos);
  }
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(seen.count(absl::StrCat("f", i))) << i;
  }
  EXPECT_TRUE(seen.count("passwd"));
  EXPECT_TRUE(seen.count("hosts"));
}

TEST_F(OverlayTest, RenameFiles) {
  const uint64_t ino = LowerIno("/etc/hosts");
  ASSERT_EQ(Rename("/etc/hosts", "/etc/hosts2"), 0);
  EXPECT_EQ(StatErr("/etc/hosts"), ENOENT);
  EXPECT_EQ(Read("/etc/hosts2"), "127.0.0.1 localhost\n");
  EXPECT_EQ(Stat("/etc/hosts2")->st_ino, ino);
  EXPECT_EQ(List("/etc"),
            (std::vector<std::string>{".", "..", "hosts2", "passwd"}));
  // Across directories, over a lower file.
  ASSERT_EQ(Rename("/etc/hosts2", "/usr/lib/a.so"), 0);
  EXPECT_EQ(Read("/usr/lib/a.so"), "127.0.0.1 localhost\n");
  EXPECT_EQ(Stat("/usr/lib/a.so")->st_ino, ino);
  EXPECT_EQ(Rename("/etc/passwd", "/usr/lib/b.so", RENAME_NOREPLACE), EEXIST);
  // Onto a whited-out name.
  ASSERT_EQ(Unlink("/usr/lib/b.so"), 0);
  ASSERT_EQ(Rename("/etc/passwd", "/usr/lib/b.so", RENAME_NOREPLACE), 0);
  EXPECT_EQ(Read("/usr/lib/b.so"), "root:x:0:0\n");
  EXPECT_EQ(List("/usr/lib"),
            (std::vector<std::string>{".", "..", "a.so", "b.so"}));
  EXPECT_EQ(List("/etc"), (std::vector<std::string>{".", ".."}));
  // Identity survives the dentry cache forgetting it.
  ov_.fs->dentry_cache().Clear();
  EXPECT_EQ(Stat("/usr/lib/a.so")->st_ino, ino);
  // Exchange: only names without lower files.
  EXPECT_EQ(Rename("/usr/lib/a.so", "/bin/busybox", RENAME_EXCHANGE), EXDEV);
  ASSERT_EQ(Create("/x", "X"), 0);
  ASSERT_EQ(Create("/y", "Y"), 0);
  ASSERT_EQ(Rename("/x", "/y", RENAME_EXCHANGE), 0);
  EXPECT_EQ(Read("/x"), "Y");
  EXPECT_EQ(Read("/y"), "X");
}

TEST_F(OverlayTest, RenameDirectories) {
  // Lower content: EXDEV, so that mv falls back to copying.
  EXPECT_EQ(Rename("/usr", "/usr2"), EXDEV);
  EXPECT_EQ(Rename("/empty", "/empty2"), EXDEV);
  ASSERT_EQ(Mkdir("/d"), 0);
  ASSERT_EQ(Create("/d/f", "F"), 0);
  ASSERT_EQ(Rename("/d", "/usr/share/d"), 0);
  EXPECT_EQ(Read("/usr/share/d/f"), "F");
  EXPECT_EQ(StatErr("/d"), ENOENT);
  // Over an empty lower directory: its lower entries (none) stay hidden,
  // and so would any it had.
  ASSERT_EQ(Rename("/usr/share/d", "/empty"), 0);
  EXPECT_EQ(List("/empty"), (std::vector<std::string>{".", "..", "f"}));
  // Over a lower directory emptied through the overlay.
  ASSERT_EQ(Unlink("/usr/lib/a.so"), 0);
  ASSERT_EQ(Unlink("/usr/lib/b.so"), 0);
  ASSERT_EQ(Rename("/empty", "/usr/lib"), 0);
  EXPECT_EQ(List("/usr/lib"), (std::vector<std::string>{".", "..", "f"}));
  ov_.fs->dentry_cache().Clear();
  EXPECT_EQ(List("/usr/lib"), (std::vector<std::string>{".", "..", "f"}));
  EXPECT_EQ(Rename("/etc", "/usr/lib"), EXDEV);
  ASSERT_EQ(Mkdir("/e"), 0);
  EXPECT_EQ(Rename("/e", "/usr/share"), ENOTEMPTY);
}

TEST_F(OverlayTest, HardLinksShareTheCopy) {
  ASSERT_EQ(Link("/etc/passwd", "/etc/pw2"), 0);
  EXPECT_EQ(Stat("/etc/pw2")->st_ino, Stat("/etc/passwd")->st_ino);
  EXPECT_EQ(Stat("/etc/passwd")->st_ino, LowerIno("/etc/passwd"));
  EXPECT_EQ(Stat("/etc/pw2")->st_nlink, 2u);
  auto f = Open("/etc/pw2", O_WRONLY | O_APPEND);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Put(*f, "more\n"), 5);
  EXPECT_EQ(Read("/etc/passwd"), "root:x:0:0\nmore\n");
  // A link into a lower-only directory.
  ASSERT_EQ(Link("/etc/passwd", "/usr/share/doc/pw"), 0);
  EXPECT_EQ(Read("/usr/share/doc/pw"), "root:x:0:0\nmore\n");
}

TEST_F(OverlayTest, Xattrs) {
  InodeRef pw = Resolve("/etc/passwd")->inode();
  EXPECT_EQ(*pw->GetXattr("user.tag"), "lowertag");
  EXPECT_EQ(Errno(pw->GetXattr("user.none").status()), ENODATA);
  ASSERT_TRUE(pw->SetXattr("user.new", "1", XATTR_CREATE).ok());
  EXPECT_EQ(Read("/etc/passwd"), "root:x:0:0\n");  // data came along
  auto names = pw->ListXattr();
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  // The origin mark overlay keeps on the copy is not shown.
  EXPECT_EQ(*names, (std::vector<std::string>{"user.new", "user.tag"}));
  EXPECT_EQ(Errno(pw->GetXattr("trusted.overlay.origin").status()), EOPNOTSUPP);
  EXPECT_EQ(Errno(pw->SetXattr("trusted.overlay.opaque", "y", 0)), EOPNOTSUPP);
  InodeRef hosts = Resolve("/etc/hosts")->inode();
  EXPECT_EQ(Errno(hosts->RemoveXattr("user.tag")), ENODATA);
  ASSERT_TRUE(pw->RemoveXattr("user.tag").ok());
  EXPECT_EQ(Errno(pw->GetXattr("user.tag").status()), ENODATA);
  // Opaque directories do not say so.
  ASSERT_EQ(Rmdir("/empty"), 0);
  ASSERT_EQ(Mkdir("/empty"), 0);
  EXPECT_TRUE(Resolve("/empty")->inode()->ListXattr()->empty());
}

TEST_F(OverlayTest, StatFsIsTheUpperLayers) {
  auto s = Resolve("/etc/passwd")->inode()->StatFs();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->f_type, kOverlayfsMagic);
  EXPECT_EQ(s->f_bsize, 4096);
  EXPECT_GT(s->f_bavail, 0u);
}

TEST_F(OverlayTest, ChangesToAnUnlinkedOpenFile) {
  auto f = Open("/etc/hosts", O_RDONLY);
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(Unlink("/etc/hosts"), 0);
  ASSERT_TRUE(vfs::Chmod(root_, (*f)->path(), 0600).ok());
  EXPECT_EQ((*f)->Stat()->st_mode & 07777, 0600u);
  EXPECT_EQ(StatErr("/etc/hosts"), ENOENT);
  EXPECT_EQ(Get(*f, 3), "127");
}

TEST_F(OverlayTest, ConcurrentCopyUpsMakeOneFile) {
  constexpr int kThreads = 8;
  std::vector<FileRef> files(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto f = Open("/etc/passwd", O_WRONLY);
      ASSERT_TRUE(f.ok());
      files[i] = *f;
      EXPECT_EQ(Put(*f, std::string(1, 'a' + i), i), 1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Read("/etc/passwd"), "abcdefgh:0\n");
  for (const FileRef& f : files) {
    EXPECT_EQ(f->host_fd(), files[0]->host_fd());
  }
}

TEST_F(OverlayTest, ConcurrentChangesAndLookups) {
  std::atomic<bool> done{false};
  std::vector<std::thread> changers;
  for (int t = 0; t < 3; ++t) {
    changers.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        std::string a = absl::StrCat("/etc/t", t, "_", i);
        std::string b = absl::StrCat("/usr/share/doc/x/t", t, "_", i);
        ASSERT_EQ(Create(a, "data"), 0);
        ASSERT_EQ(Rename(a, b), 0);
        ASSERT_EQ(Read(b), "data");
        ASSERT_EQ(Unlink(b), 0);
        ASSERT_EQ(StatErr(b), ENOENT);
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      std::vector<std::string> names = List("/etc");
      EXPECT_TRUE(std::count(names.begin(), names.end(), "passwd") == 1);
      EXPECT_EQ(StatErr("/usr/share/doc/x/readme"), 0);
      EXPECT_EQ(StatErr("/etc/hosts"), 0);
    }
  });
  std::thread copier([&] {
    auto f = Open("/etc/hosts", O_WRONLY);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(vfs::Chmod(root_, *Resolve("/usr/lib/a.so"), 0600).ok());
  });
  for (auto& t : changers) t.join();
  copier.join();
  done = true;
  reader.join();
  EXPECT_EQ(List("/etc"),
            (std::vector<std::string>{".", "..", "hosts", "passwd"}));
  EXPECT_EQ(List("/usr/share/doc/x"),
            (std::vector<std::string>{".", "..", "readme"}));
}

TEST_F(OverlayTest, SizeLimitedUpper) {
  TmpfsOptions opts;
  opts.size_bytes = 8;
  auto m = NewOverlay(lower_.root->inode(), opts);
  ASSERT_TRUE(m.ok());
  ns_ = vfs::MountNamespace::New(m->fs, m->root, 0);
  ctx_ = vfs::FsContext::New(ns_);
  // Too big to copy up: nothing half-made shows.
  EXPECT_EQ(OpenErr("/etc/hosts", O_WRONLY), ENOSPC);
  EXPECT_EQ(Read("/etc/hosts"), "127.0.0.1 localhost\n");
  EXPECT_EQ(List("/etc"),
            (std::vector<std::string>{".", "..", "hosts", "passwd"}));
  // Truncation copies only what is kept.
  ASSERT_TRUE(Open("/etc/hosts", O_WRONLY | O_TRUNC).ok());
  EXPECT_EQ(Read("/etc/hosts"), "");
}

TEST(OverlayOverMemFsTest, LowerFileSystemsFindTheirInodeInThePath) {
  // test_fs's MemInode::Open, like the gofer's, takes its inode from the
  // dentry it is given.
  auto mem = std::make_shared<vfs::testing::MemFs>();
  mem->File("dir/file", "lower data");
  auto m = NewOverlay(mem->root);
  ASSERT_TRUE(m.ok());
  auto ctx = vfs::FsContext::New(vfs::MountNamespace::New(m->fs, m->root, 0));
  Credentials root;
  root.cap_effective = ~0ULL;
  auto f = vfs::OpenAt(*ctx, root, Path{}, "/dir/file", O_RDONLY, 0);
  ASSERT_TRUE(f.ok()) << f.status();
  char buf[32] = {};
  EXPECT_EQ((*f)->ReadAt(buf, sizeof buf, 0), 10);
  EXPECT_STREQ(buf, "lower data");
  auto w = vfs::OpenAt(*ctx, root, Path{}, "/dir/file", O_RDWR, 0);
  ASSERT_TRUE(w.ok()) << w.status();
  auto io = vfs::IoSequence::Buffer("LOWER", 5);
  EXPECT_EQ((*w)->PWrite(io, 0), 5);
  memset(buf, 0, sizeof buf);
  EXPECT_EQ((*w)->ReadAt(buf, sizeof buf, 0), 10);
  EXPECT_STREQ(buf, "LOWER data");
  EXPECT_EQ(mem->root->children["dir"]->children["file"]->data, "lower data");
}

TEST(OverlayOverMemFsTest, PathWalksUnderLowerOnlyDirectoriesAreBatched) {
  auto mem = std::make_shared<vfs::testing::MemFs>();
  mem->File("a/b/c/d/file", "deep");
  mem->Symlink("a/b/link", "c/d/file");
  auto m = NewOverlay(mem->root);
  ASSERT_TRUE(m.ok());
  auto ctx = vfs::FsContext::New(vfs::MountNamespace::New(m->fs, m->root, 0));
  vfs::ResolveContext rc = vfs::MakeResolveContext(*ctx, nullptr);
  const int lookups = mem->counters->lookups;
  const int path_lookups = mem->counters->path_lookups;
  auto p = vfs::ResolvePath(rc, "/a/b/c/d/file", vfs::kFollowFinal);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->inode()->IsRegular());
  // "a" is looked up alone (the root is merged with its upper directory);
  // the rest is one walk of the lower file system, not one lookup a name.
  EXPECT_EQ(mem->counters->lookups - lookups, 1);
  EXPECT_EQ(mem->counters->path_lookups - path_lookups, 1);
  // Symlinks inside, and the errors a walk ends with.
  auto l = vfs::ResolvePath(rc, "/a/b/link", vfs::kFollowFinal);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->dentry, p->dentry);
  EXPECT_EQ(
      cv::StatusToErrno(vfs::ResolvePath(rc, "/a/b/missing/x", 0).status()),
      ENOENT);
  EXPECT_EQ(
      cv::StatusToErrno(vfs::ResolvePath(rc, "/a/b/c/d/file/x", 0).status()),
      ENOTDIR);
  // Direct LookupPath: stops after the symlink, fails at a missing name.
  auto r = m->root->inode()->LookupPath({"a", "b", "link", "x"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->inodes.size(), 3u);
  EXPECT_TRUE(r->inodes.back()->IsSymlink());
  auto miss = m->root->inode()->LookupPath({"a", "nope", "x"});
  ASSERT_TRUE(miss.ok());
  EXPECT_EQ(miss->inodes.size(), 1u);
  EXPECT_EQ(miss->stop_errno, ENOENT);
}

// The production set-up: a read-only gofer serving a host directory as the
// lower layer.
TEST(OverlayOverGoferTest, HostFilesAreReadButNeverWritten) {
  char tmpl[] = "/tmp/overlay_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  mkdir((dir + "/etc").c_str(), 0755);
  std::ofstream(dir + "/etc/passwd") << "root:x:0:0\n";
  std::ofstream(dir + "/etc/group") << "root:x:0:\n";
  symlink("etc/passwd", (dir + "/pw").c_str());
  struct stat host_passwd;
  ASSERT_EQ(stat((dir + "/etc/passwd").c_str(), &host_passwd), 0);

  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  absl::Status serve_status;
  std::thread server([&] {
    serve_status = gofer::Serve(
        cv::UniqueFd(open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC)),
        /*readonly=*/true, sv[1]);
  });
  {
    auto client = std::make_shared<gofer::Client>(cv::UniqueFd(sv[0]));
    auto lower = NewGoferFileSystem(client);
    ASSERT_TRUE(lower.ok()) << lower.status();
    auto ctx = MountOverlayRoot(lower->root->inode());
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    Credentials root;
    root.cap_effective = ~0ULL;
    auto open = [&](const std::string& p, int flags) {
      return vfs::OpenAt(**ctx, root, Path{}, p, flags, 0644);
    };
    auto read_all = [&](const std::string& p) {
      auto f = open(p, O_RDONLY);
      EXPECT_TRUE(f.ok()) << p << ": " << f.status();
      if (!f.ok()) return std::string();
      std::string out(256, '\0');
      int64_t n = (*f)->ReadAt(out.data(), out.size(), 0);
      out.resize(n < 0 ? 0 : n);
      return out;
    };

    // Reads use the fd the gofer donated.
    auto ro = open("/etc/passwd", O_RDONLY);
    ASSERT_TRUE(ro.ok()) << ro.status();
    EXPECT_GE((*ro)->host_fd(), 0);
    EXPECT_EQ(read_all("/pw"), "root:x:0:0\n");
    vfs::ResolveContext rc = vfs::MakeResolveContext(**ctx, nullptr);
    auto st = vfs::ResolvePath(rc, "/etc/passwd", 0)->inode()->Stat();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->st_ino, host_passwd.st_ino);
    EXPECT_NE(st->st_dev, host_passwd.st_dev);

    // Writes land in the upper layer.
    auto rw = open("/etc/passwd", O_WRONLY | O_APPEND);
    ASSERT_TRUE(rw.ok()) << rw.status();
    auto io = vfs::IoSequence::Buffer("user:x:1000\n", 12);
    EXPECT_EQ((*rw)->Write(io), 12);
    EXPECT_EQ(read_all("/etc/passwd"), "root:x:0:0\nuser:x:1000\n");
    EXPECT_EQ(vfs::ResolvePath(rc, "/etc/passwd", 0)->inode()->Stat()->st_ino,
              host_passwd.st_ino);
    ASSERT_TRUE(vfs::MkdirAt(**ctx, root, Path{}, "/tmp", 01777).ok());
    ASSERT_TRUE(open("/tmp/x", O_WRONLY | O_CREAT).ok());
    ASSERT_TRUE(vfs::UnlinkAt(**ctx, root, Path{}, "/etc/group", 0).ok());
    ASSERT_TRUE(
        vfs::RenameAt2(**ctx, root, Path{}, "/pw", Path{}, "/pw2", 0).ok());
    EXPECT_EQ(cv::StatusToErrno(
                  vfs::RenameAt2(**ctx, root, Path{}, "/etc", Path{}, "/e", 0)),
              EXDEV);
    auto d = open("/", O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(d.ok());
    std::vector<char> buf(4096);
    auto dio = vfs::IoSequence::Buffer(buf.data(), buf.size());
    int64_t n = (*d)->GetDents64(dio);
    std::set<std::string> names;
    for (int64_t off = 0; off < n;) {
      uint16_t reclen;
      memcpy(&reclen, buf.data() + off + 16, 2);
      names.insert(buf.data() + off + 19);
      off += reclen;
    }
    EXPECT_EQ(names, (std::set<std::string>{".", "..", "etc", "pw2", "tmp"}));
  }
  server.join();  // every gofer reference is gone: the connection closed
  EXPECT_TRUE(serve_status.ok()) << serve_status;
  close(sv[1]);

  // The host directory is as it was.
  std::ifstream in(dir + "/etc/passwd");
  std::string content((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "root:x:0:0\n");
  std::set<std::string> host_names;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    host_names.insert(e.path().lexically_relative(dir).string());
  }
  EXPECT_EQ(host_names,
            (std::set<std::string>{"etc", "etc/group", "etc/passwd", "pw"}));
  std::filesystem::remove_all(dir);
}

TEST(MountOverlayRootTest, MakesTheOverlayTheRoot) {
  TmpfsMount lower = NewTmpfs();
  auto ctx = MountOverlayRoot(lower.root->inode());
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ((*ctx)->root().mount->fs()->type(), "overlay");
  Credentials root;
  root.cap_effective = ~0ULL;
  ASSERT_TRUE(vfs::MkdirAt(**ctx, root, Path{}, "/tmp", 01777).ok());
  EXPECT_EQ(cv::StatusToErrno(lower.root->inode()->Lookup("tmp").status()),
            ENOENT);
  EXPECT_EQ(cv::StatusToErrno(NewOverlay(nullptr).status()), ENOTDIR);
}

}  // namespace
}  // namespace sentry::fs
