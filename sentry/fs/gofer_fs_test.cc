// The gofer file system against a real gofer::Serve on a thread, serving a
// temporary directory over a socketpair.
#include "sentry/fs/gofer_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/errno_status.h"
#include "gofer/gofer.h"
#include "gtest/gtest.h"
#include "sentry/vfs/mutate.h"

namespace sentry::fs {
namespace {

constexpr char kFakePasswd[] = "root:x:0:0:the container's passwd:/:/bin/sh\n";
constexpr int kManyFiles = 300;

void WriteFile(const std::string& path, const std::string& data,
               mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary) << data;
  chmod(path.c_str(), mode);
}

class GoferFsTest : public ::testing::TestWithParam<bool> {
 protected:
  bool readonly() const { return GetParam(); }

  void SetUp() override {
    char tmpl[] = "/tmp/gofer_fs_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    mkdir((dir_ + "/etc").c_str(), 0755);
    mkdir((dir_ + "/bin").c_str(), 0755);
    mkdir((dir_ + "/many").c_str(), 0755);
    mkdir((dir_ + "/empty").c_str(), 0755);
    WriteFile(dir_ + "/etc/passwd", kFakePasswd);
    WriteFile(dir_ + "/bin/sh",
              "\x7f"
              "ELF fake shell",
              0755);
    WriteFile(dir_ + "/data", "0123456789");
    for (int i = 0; i < kManyFiles; i++) {
      WriteFile(dir_ + "/many/file_with_a_long_name_" + std::to_string(i), "");
    }
    // Absolute targets must resolve in the container, never on the host.
    symlink("/etc/passwd", (dir_ + "/abs").c_str());
    symlink("etc/passwd", (dir_ + "/rel").c_str());
    symlink("../../../../../etc/passwd", (dir_ + "/escape").c_str());
    symlink("etc", (dir_ + "/etclink").c_str());
    symlink("/bin/sh", (dir_ + "/bin/link_to_sh").c_str());

    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    server_sock_ = sv[1];
    // Attach point 1: a file outside the root, as Docker's /etc/hosts.
    outside_ = dir_ + ".outside";
    mkdir(outside_.c_str(), 0755);
    WriteFile(outside_ + "/hosts", "127.0.0.1 localhost\n");
    std::vector<gofer::AttachPoint> points(2);
    points[0].fd.reset(open(dir_.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(points[0].fd.valid());
    points[0].readonly = readonly();
    points[1].fd.reset(open(outside_.c_str(), O_PATH | O_DIRECTORY));
    points[1].name = "hosts";
    points[1].readonly = readonly();
    server_ = std::thread([this, points = std::move(points)]() mutable {
      serve_status_ = gofer::Serve(std::move(points), server_sock_);
    });
    client_ = std::make_shared<gofer::Client>(cv::UniqueFd(sv[0]));
    auto ctx = MountGoferRoot(client_, readonly());
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    ctx_ = *ctx;
  }

  void TearDown() override {
    ctx_.reset();
    // Every inode, dentry and file is gone: nothing else holds the client.
    EXPECT_EQ(client_.use_count(), 1);
    client_.reset();  // closes the connection: the server returns
    if (server_.joinable()) {
      shutdown(server_sock_, SHUT_RDWR);  // in case something leaked
      server_.join();
    }
    EXPECT_TRUE(serve_status_.ok()) << serve_status_;
    close(server_sock_);
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(outside_);
  }

  absl::StatusOr<vfs::FileRef> Open(const std::string& path, int flags) {
    return vfs::OpenAt(*ctx_, root_, vfs::Path{}, path, flags, 0644);
  }
  int OpenErr(const std::string& path, int flags) {
    return cv::StatusToErrno(Open(path, flags).status());
  }
  absl::StatusOr<vfs::Path> Resolve(const std::string& path, int flags) {
    vfs::ResolveContext c = vfs::MakeResolveContext(*ctx_, nullptr);
    return vfs::ResolvePath(c, path, flags);
  }

  std::string Read(const vfs::FileRef& f, size_t n) {
    std::string out(n, '\0');
    vfs::IoSequence io = vfs::IoSequence::Buffer(out.data(), n);
    int64_t got = f->Read(io);
    EXPECT_GE(got, 0);
    out.resize(got < 0 ? 0 : got);
    return out;
  }

  struct stat Lstat(const std::string& rel) {
    struct stat st {};
    EXPECT_EQ(lstat((dir_ + rel).c_str(), &st), 0) << rel;
    return st;
  }
  struct stat VfsStat(const std::string& path) {
    auto p = Resolve(path, 0);
    EXPECT_TRUE(p.ok()) << path << ": " << p.status();
    if (!p.ok()) return {};
    auto st = p->inode()->Stat();
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? *st : (struct stat){};
  }
  int Err(const absl::Status& s) { return cv::StatusToErrno(s); }

  std::string dir_;
  std::string outside_;
  int server_sock_ = -1;
  std::thread server_;
  absl::Status serve_status_;
  std::shared_ptr<gofer::Client> client_;
  std::shared_ptr<vfs::FsContext> ctx_;
  // Root with every capability, as the sandbox's init is by default.
  Credentials root_ = [] {
    Credentials c;
    c.cap_effective = c.cap_permitted = ~uint64_t{0};
    return c;
  }();
};

TEST_P(GoferFsTest, ReadsFilesThroughTheDonatedFd) {
  auto f = Open("/etc/passwd", O_RDONLY);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_GE((*f)->host_fd(), 0);
  EXPECT_EQ(Read(*f, 4096), kFakePasswd);
  EXPECT_EQ(Read(*f, 4096), "");  // at the end
  char buf[4];
  EXPECT_EQ((*f)->ReadAt(buf, 4, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "root");
  auto st = (*f)->Stat();
  ASSERT_TRUE(st.ok());
  struct stat host;
  ASSERT_EQ(stat((dir_ + "/etc/passwd").c_str(), &host), 0);
  EXPECT_EQ(st->st_ino, host.st_ino);
  EXPECT_EQ(st->st_size, host.st_size);
  EXPECT_TRUE(S_ISREG(st->st_mode));
}

TEST_P(GoferFsTest, Seek) {
  auto f = Open("/data", O_RDONLY);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Seek(3, SEEK_SET), 3);
  EXPECT_EQ(Read(*f, 2), "34");
  EXPECT_EQ((*f)->Seek(2, SEEK_CUR), 7);
  EXPECT_EQ(Read(*f, 10), "789");
  EXPECT_EQ((*f)->Seek(-4, SEEK_END), 6);
  EXPECT_EQ(Read(*f, 1), "6");
  EXPECT_EQ((*f)->Seek(-11, SEEK_END), -EINVAL);
  EXPECT_EQ((*f)->Seek(-1, SEEK_SET), -EINVAL);
  EXPECT_EQ((*f)->Seek(0, SEEK_CUR), 7);  // failed seeks move nothing
  EXPECT_EQ((*f)->Seek(0, SEEK_DATA), 0);
  EXPECT_EQ((*f)->Seek(1, SEEK_HOLE), 10);
  EXPECT_EQ((*f)->Seek(100, SEEK_DATA), -ENXIO);
  EXPECT_EQ((*f)->Seek(1000, SEEK_SET), 1000);  // past the end is fine
  EXPECT_EQ(Read(*f, 10), "");
  EXPECT_EQ((*f)->Seek(0, 7), -EINVAL);
}

TEST_P(GoferFsTest, SymlinksResolveInsideTheContainer) {
  for (const char* path : {"/abs", "/rel", "/escape", "/etclink/passwd",
                           "/etclink/../etc/passwd", "/../../etc/passwd"}) {
    auto f = Open(path, O_RDONLY);
    ASSERT_TRUE(f.ok()) << path << ": " << f.status();
    EXPECT_EQ(Read(*f, 4096), kFakePasswd) << path;
  }
  auto l = Resolve("/bin/link_to_sh", 0);
  ASSERT_TRUE(l.ok());
  auto target = l->inode()->Readlink();
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "/bin/sh");
  EXPECT_EQ(OpenErr("/abs", O_RDONLY | O_NOFOLLOW), ELOOP);
  auto p = Open("/abs", O_PATH | O_NOFOLLOW);
  ASSERT_TRUE(p.ok());
  auto st = (*p)->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(S_ISLNK(st->st_mode));
}

TEST_P(GoferFsTest, Errors) {
  EXPECT_EQ(OpenErr("/missing", O_RDONLY), ENOENT);
  EXPECT_EQ(OpenErr("/missing/x", O_RDONLY), ENOENT);
  EXPECT_EQ(OpenErr("/etc/passwd/x", O_RDONLY), ENOTDIR);
  EXPECT_EQ(OpenErr("/etc/passwd/", O_RDONLY), ENOTDIR);
  EXPECT_EQ(OpenErr("/etc/passwd", O_RDONLY | O_DIRECTORY), ENOTDIR);
  EXPECT_EQ(OpenErr("/etc", O_RDWR), EISDIR);
  EXPECT_EQ(OpenErr("/" + std::string(256, 'x'), O_RDONLY), ENAMETOOLONG);
  // Misses are remembered: the second costs no gofer request, and the
  // answer is the same.
  EXPECT_EQ(OpenErr("/etc/missing", O_RDONLY), ENOENT);
  EXPECT_EQ(OpenErr("/etc/missing", O_RDONLY), ENOENT);
}

TEST_P(GoferFsTest, ListsDirectories) {
  std::set<std::string> want{".", ".."};
  for (int i = 0; i < kManyFiles; i++) {
    want.insert("file_with_a_long_name_" + std::to_string(i));
  }
  // 300 entries of ~48 bytes: several getdents calls, and more than one
  // gofer reply (the gofer answers in batches that fit a message).
  for (size_t bufsize : {size_t{65536}, size_t{1024}, size_t{64}}) {
    auto d = Open("/many", O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(d.ok());
    std::set<std::string> got;
    std::vector<char> buf(bufsize);
    int calls = 0;
    for (;;) {
      vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), buf.size());
      int64_t n = (*d)->GetDents64(io);
      ASSERT_GE(n, 0);
      if (n == 0) break;
      ++calls;
      for (int64_t off = 0; off < n;) {
        uint16_t reclen;
        memcpy(&reclen, buf.data() + off + 16, 2);
        std::string name(buf.data() + off + 19);
        EXPECT_TRUE(got.insert(name).second) << "listed twice: " << name;
        if (name != "." && name != "..") {
          EXPECT_EQ(buf[off + 18], DT_REG) << name;
        }
        off += reclen;
      }
    }
    EXPECT_EQ(got, want) << "buffer " << bufsize;
    EXPECT_GT(calls, bufsize == 65536 ? 0 : 10);
    // A buffer too small for any record.
    EXPECT_EQ((*d)->Seek(0, SEEK_SET), 0);
    vfs::IoSequence tiny = vfs::IoSequence::Buffer(buf.data(), 8);
    EXPECT_EQ((*d)->GetDents64(tiny), -EINVAL);
  }
  auto e = Open("/empty", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(e.ok());
  std::vector<char> buf(4096);
  vfs::IoSequence io = vfs::IoSequence::Buffer(buf.data(), buf.size());
  EXPECT_GT((*e)->GetDents64(io), 0);  // "." and ".."
  EXPECT_EQ((*e)->GetDents64(io), 0);
}

TEST_P(GoferFsTest, Writes) {
  if (readonly()) {
    EXPECT_EQ(OpenErr("/data", O_WRONLY), EROFS);
    EXPECT_EQ(OpenErr("/data", O_RDWR), EROFS);
    EXPECT_EQ(OpenErr("/data", O_RDONLY | O_TRUNC), EROFS);
    EXPECT_EQ(OpenErr("/new", O_WRONLY | O_CREAT), EROFS);
    EXPECT_EQ(OpenErr("/etc/passwd", O_RDONLY | O_CREAT), 0);
    return;
  }
  auto f = Open("/data", O_RDWR);
  ASSERT_TRUE(f.ok()) << f.status();
  vfs::IoSequence in = vfs::IoSequence::Buffer("abc", 3);
  EXPECT_EQ((*f)->Write(in), 3);
  EXPECT_EQ(Read(*f, 3), "345");
  EXPECT_EQ((*f)->PWrite(in, 20), 3);
  // The size seen by path lookups follows the sentry's own writes.
  auto p = Resolve("/data", 0);
  ASSERT_TRUE(p.ok());
  auto st = p->inode()->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 23);
  std::ifstream host(dir_ + "/data");
  std::string content((std::istreambuf_iterator<char>(host)), {});
  EXPECT_EQ(content, std::string("abc3456789") + std::string(10, '\0') + "abc");
  // O_APPEND: every write goes to the end, and the offset follows.
  auto a = Open("/data", O_WRONLY | O_APPEND);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->Seek(0, SEEK_SET), 0);
  vfs::IoSequence xy = vfs::IoSequence::Buffer("xy", 2);
  EXPECT_EQ((*a)->Write(xy), 2);
  EXPECT_EQ((*a)->Seek(0, SEEK_CUR), 25);
  // Clearing O_APPEND with F_SETFL reaches the host fd.
  EXPECT_EQ((*a)->SetFlags(0), 0);
  EXPECT_EQ((*a)->Seek(0, SEEK_SET), 0);
  EXPECT_EQ((*a)->Write(xy), 2);
  char head[2];
  EXPECT_EQ((*f)->ReadAt(head, 2, 0), 2);
  EXPECT_EQ(std::string(head, 2), "xy");
  // O_TRUNC.
  auto t = Open("/data", O_WRONLY | O_TRUNC);
  ASSERT_TRUE(t.ok());
  st = p->inode()->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 0);
  // Reading a write-only file is the syscall layer's EBADF; the description
  // itself says it is not readable.
  EXPECT_FALSE((*t)->readable());
}

TEST_P(GoferFsTest, Executables) {
  auto sh = vfs::OpenExecutable(*ctx_, root_, "/bin/link_to_sh");
  ASSERT_TRUE(sh.ok()) << sh.status();
  char buf[4];
  EXPECT_EQ((*sh)->ReadAt(buf, 4, 0), 4);
  EXPECT_EQ(memcmp(buf,
                   "\x7f"
                   "ELF",
                   4),
            0);
  EXPECT_EQ(cv::StatusToErrno(
                vfs::OpenExecutable(*ctx_, root_, "/etc/passwd").status()),
            EACCES);
  EXPECT_EQ(
      cv::StatusToErrno(vfs::OpenExecutable(*ctx_, root_, "/bin").status()),
      EACCES);
}

TEST_P(GoferFsTest, WorkingDirectory) {
  ASSERT_TRUE(vfs::ChangeDirectory(*ctx_, root_, "/etclink").ok());
  EXPECT_EQ(ctx_->PathName(ctx_->cwd()), "/etc");
  auto f = Open("passwd", O_RDONLY);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Read(*f, 4096), kFakePasswd);
  ASSERT_TRUE(vfs::ChangeDirectory(*ctx_, root_, "../..").ok());
  EXPECT_EQ(ctx_->PathName(ctx_->cwd()), "/");
}

TEST_P(GoferFsTest, ConcurrentLookups) {
  // Many threads walking the same uncached names agree on one dentry each.
  std::vector<std::thread> threads;
  std::vector<vfs::DentryRef> seen(8);
  for (int i = 0; i < 8; i++) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 50; j++) {
        auto p = Resolve("/many/file_with_a_long_name_" + std::to_string(j), 0);
        ASSERT_TRUE(p.ok());
        if (j == 7) seen[i] = p->dentry;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 1; i < 8; i++) EXPECT_EQ(seen[i], seen[0]);
}

TEST_P(GoferFsTest, CreateWriteRenameUnlink) {
  const vfs::Path none;
  if (readonly()) {
    EXPECT_EQ(Err(vfs::MkdirAt(*ctx_, root_, none, "/d", 0755)), EROFS);
    EXPECT_EQ(Err(vfs::UnlinkAt(*ctx_, root_, none, "/data", 0)), EROFS);
    EXPECT_EQ(Err(vfs::RenameAt2(*ctx_, root_, none, "/data", none, "/x", 0)),
              EROFS);
    EXPECT_EQ(Lstat("/data").st_size, 10);
    return;
  }
  const nlink_t root_links = VfsStat("/").st_nlink;
  ASSERT_TRUE(vfs::MkdirAt(*ctx_, root_, none, "/newdir", 0750).ok());
  struct stat host = Lstat("/newdir");
  EXPECT_TRUE(S_ISDIR(host.st_mode));
  EXPECT_EQ(host.st_mode & 07777, 0750u);
  EXPECT_EQ(VfsStat("/newdir").st_ino, host.st_ino);
  // The parent's cached link count and times follow.
  EXPECT_EQ(VfsStat("/").st_nlink, root_links + 1);
  EXPECT_EQ(VfsStat("/").st_mtim.tv_nsec, Lstat("/").st_mtim.tv_nsec);
  EXPECT_EQ(Err(vfs::MkdirAt(*ctx_, root_, none, "/newdir", 0750)), EEXIST);

  // open(O_CREAT|O_WRONLY, 0444): the creator may write.
  auto f =
      vfs::OpenAt(*ctx_, root_, none, "/newdir/f", O_CREAT | O_WRONLY, 0444);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE((*f)->readable());
  EXPECT_TRUE((*f)->writable());
  vfs::IoSequence hello = vfs::IoSequence::Buffer("hello", 5);
  EXPECT_EQ((*f)->Write(hello), 5);
  host = Lstat("/newdir/f");
  EXPECT_EQ(host.st_mode & 07777, 0444u);
  EXPECT_EQ(host.st_size, 5);
  // The size seen through the name follows the write.
  struct stat seen = VfsStat("/newdir/f");
  EXPECT_EQ(seen.st_size, 5);
  EXPECT_EQ(seen.st_ino, host.st_ino);
  EXPECT_EQ(Err(vfs::OpenAt(*ctx_, root_, none, "/newdir/f",
                            O_CREAT | O_EXCL | O_WRONLY, 0644)
                    .status()),
            EEXIST);
  // O_CREAT of an existing file opens it.
  auto again =
      vfs::OpenAt(*ctx_, root_, none, "/newdir/f", O_CREAT | O_RDONLY, 0644);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Read(*again, 10), "hello");

  // rename: the open file and the moved name keep working.
  ASSERT_TRUE(
      vfs::RenameAt2(*ctx_, root_, none, "/newdir/f", none, "/g", 0).ok());
  struct stat gone;
  EXPECT_NE(lstat((dir_ + "/newdir/f").c_str(), &gone), 0);
  EXPECT_EQ(Lstat("/g").st_ino, host.st_ino);
  vfs::IoSequence more = vfs::IoSequence::Buffer("!", 1);
  EXPECT_EQ((*f)->Write(more), 1);
  auto g = Open("/g", O_RDONLY);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(Read(*g, 10), "hello!");
  EXPECT_EQ(VfsStat("/g").st_size, 6);
  EXPECT_EQ(Err(vfs::RenameAt2(*ctx_, root_, none, "/g", none, "/data",
                               RENAME_NOREPLACE)),
            EEXIST);
  ASSERT_TRUE(
      vfs::RenameAt2(*ctx_, root_, none, "/g", none, "/data", RENAME_EXCHANGE)
          .ok());
  EXPECT_EQ(Lstat("/data").st_ino, host.st_ino);
  ASSERT_TRUE(
      vfs::RenameAt2(*ctx_, root_, none, "/data", none, "/g", RENAME_EXCHANGE)
          .ok());
  // Over a non-empty directory.
  ASSERT_TRUE(vfs::MkdirAt(*ctx_, root_, none, "/newdir/sub", 0755).ok());
  EXPECT_EQ(
      Err(vfs::RenameAt2(*ctx_, root_, none, "/empty", none, "/newdir", 0)),
      ENOTEMPTY);
  EXPECT_EQ(Err(vfs::UnlinkAt(*ctx_, root_, none, "/newdir", AT_REMOVEDIR)),
            ENOTEMPTY);

  // unlink, then ftruncate and fstat of the still-open file.
  auto rw = Open("/g", O_RDWR);
  ASSERT_TRUE(rw.ok());
  ASSERT_TRUE(vfs::UnlinkAt(*ctx_, root_, none, "/g", 0).ok());
  EXPECT_NE(lstat((dir_ + "/g").c_str(), &gone), 0);
  EXPECT_EQ(Err(Resolve("/g", 0).status()), ENOENT);
  ASSERT_TRUE(vfs::Ftruncate(**rw, 2).ok());
  auto st = (*rw)->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 2);
  EXPECT_EQ(st->st_nlink, 0u);
  auto ist = (*rw)->inode()->Stat();
  ASSERT_TRUE(ist.ok());
  EXPECT_EQ(ist->st_nlink, 0u);
  EXPECT_EQ(ist->st_size, 2);
  EXPECT_EQ(Err(vfs::UnlinkAt(*ctx_, root_, none, "/g", 0)), ENOENT);

  ASSERT_TRUE(
      vfs::UnlinkAt(*ctx_, root_, none, "/newdir/sub", AT_REMOVEDIR).ok());
  ASSERT_TRUE(vfs::UnlinkAt(*ctx_, root_, none, "/newdir", AT_REMOVEDIR).ok());
  EXPECT_NE(lstat((dir_ + "/newdir").c_str(), &gone), 0);
  EXPECT_EQ(VfsStat("/").st_nlink, root_links);
}

TEST_P(GoferFsTest, LinksNodesAndAttributes) {
  const vfs::Path none;
  Credentials all = root_;
  all.cap_effective = ~0ull;
  if (readonly()) {
    auto p = Resolve("/data", 0);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(Err(vfs::SymlinkAt(*ctx_, root_, "x", none, "/sl")), EROFS);
    EXPECT_EQ(Err(vfs::MknodAt(*ctx_, root_, none, "/p", S_IFIFO | 0600, 0)),
              EROFS);
    EXPECT_EQ(Err(vfs::LinkAt(*ctx_, root_, *p, none, "/d2")), EROFS);
    EXPECT_EQ(Err(vfs::Chmod(root_, *p, 0600)), EROFS);
    EXPECT_EQ(Err(vfs::Chown(all, *p, 1, 1)), EROFS);
    EXPECT_EQ(Err(vfs::Truncate(root_, *p, 0)), EROFS);
    EXPECT_EQ(Lstat("/data").st_mode & 07777, 0644u);
    // statfs works on a read-only mount too.
    EXPECT_TRUE(p->inode()->StatFs().ok());
    return;
  }
  ASSERT_TRUE(vfs::SymlinkAt(*ctx_, root_, "etc/passwd", none, "/sl").ok());
  char buf[64];
  ssize_t n = readlink((dir_ + "/sl").c_str(), buf, sizeof buf);
  ASSERT_EQ(n, 10);
  EXPECT_EQ(std::string(buf, n), "etc/passwd");
  auto sl = Open("/sl", O_RDONLY);  // followed by the sentry
  ASSERT_TRUE(sl.ok());
  EXPECT_EQ(Read(*sl, 4096), kFakePasswd);

  ASSERT_TRUE(
      vfs::MknodAt(*ctx_, root_, none, "/fifo", S_IFIFO | 0640, 0).ok());
  EXPECT_TRUE(S_ISFIFO(Lstat("/fifo").st_mode));
  ASSERT_TRUE(
      vfs::MknodAt(*ctx_, root_, none, "/sock", S_IFSOCK | 0640, 0).ok());
  EXPECT_TRUE(S_ISSOCK(Lstat("/sock").st_mode));

  auto data = Resolve("/data", 0);
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE(vfs::LinkAt(*ctx_, root_, *data, none, "/data2").ok());
  EXPECT_EQ(Lstat("/data2").st_ino, Lstat("/data").st_ino);
  EXPECT_EQ(VfsStat("/data").st_nlink, 2u);
  EXPECT_EQ(VfsStat("/data2").st_nlink, 2u);
  {
    // A write through one name shows in the stat of the other.
    auto w = Open("/data", O_WRONLY | O_APPEND);
    ASSERT_TRUE(w.ok());
    vfs::IoSequence tail = vfs::IoSequence::Buffer("++", 2);
    EXPECT_EQ((*w)->Write(tail), 2);
    EXPECT_EQ(VfsStat("/data2").st_size, 12);
  }
  ASSERT_TRUE(vfs::UnlinkAt(*ctx_, root_, none, "/data2", 0).ok());
  EXPECT_EQ(VfsStat("/data").st_nlink, 1u);

  ASSERT_TRUE(vfs::Chmod(root_, *data, 0604).ok());
  EXPECT_EQ(Lstat("/data").st_mode & 07777, 0604u);
  EXPECT_EQ(VfsStat("/data").st_mode & 07777, 0604u);
  ASSERT_TRUE(vfs::Chown(all, *data, 1000, 1001).ok());
  EXPECT_EQ(Lstat("/data").st_uid, 1000u);
  EXPECT_EQ(VfsStat("/data").st_gid, 1001u);
  ASSERT_TRUE(vfs::Truncate(all, *data, 3).ok());
  EXPECT_EQ(Lstat("/data").st_size, 3);
  EXPECT_EQ(VfsStat("/data").st_size, 3);
  struct timespec times[2] = {{1000, 0}, {2000, 500}};
  ASSERT_TRUE(vfs::Utimens(all, *data, times).ok());
  EXPECT_EQ(Lstat("/data").st_mtim.tv_sec, 2000);
  EXPECT_EQ(Lstat("/data").st_mtim.tv_nsec, 500);
  EXPECT_EQ(VfsStat("/data").st_atim.tv_sec, 1000);
  // O_TRUNC through open.
  auto t = Open("/data", O_WRONLY | O_TRUNC);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Lstat("/data").st_size, 0);
  EXPECT_EQ(VfsStat("/data").st_size, 0);

  auto sfs = data->inode()->StatFs();
  ASSERT_TRUE(sfs.ok()) << sfs.status();
  struct statfs want;
  ASSERT_EQ(statfs(dir_.c_str(), &want), 0);
  EXPECT_EQ(sfs->f_type, want.f_type);
  EXPECT_EQ(sfs->f_bsize, want.f_bsize);
  EXPECT_EQ(sfs->f_blocks, want.f_blocks);
}

TEST_P(GoferFsTest, FileBindMount) {
  auto m = NewGoferFileSystem(client_, 1);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->root->IsDir());
  EXPECT_TRUE(m->root->inode()->IsRegular());
  auto at = Resolve("/data", 0);
  ASSERT_TRUE(at.ok());
  ASSERT_TRUE(ctx_->mount_namespace()
                  ->AddMount(*at, std::move(m->fs), std::move(m->root),
                             readonly() ? MS_RDONLY : 0)
                  .ok());
  auto f = Open("/data", O_RDONLY);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(Read(*f, 100), "127.0.0.1 localhost\n");
  if (readonly()) {
    EXPECT_EQ(OpenErr("/data", O_WRONLY), EROFS);
  } else {
    auto w = Open("/data", O_WRONLY | O_TRUNC);
    ASSERT_TRUE(w.ok()) << w.status();
    vfs::IoSequence x = vfs::IoSequence::Buffer("::1", 3);
    EXPECT_EQ((*w)->Write(x), 3);
    std::ifstream in(outside_ + "/hosts");
    std::string content((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(content, "::1");
    EXPECT_EQ(VfsStat("/data").st_size, 3);
  }
  EXPECT_EQ(cv::StatusToErrno(NewGoferFileSystem(client_, 2).status()), ENOENT);
}

INSTANTIATE_TEST_SUITE_P(ReadWriteAndReadOnly, GoferFsTest,
                         ::testing::Values(false, true), [](const auto& info) {
                           return info.param ? "ReadOnly" : "ReadWrite";
                         });

}  // namespace
}  // namespace sentry::fs
