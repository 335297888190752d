// Tests of the gofer server (gofer::Serve, gofer::RunGofer) through its
// client (gofer::Client) and through raw packets on the socket.
#include "gofer/gofer.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/unique_fd.h"
#include "gmock/gmock.h"
#include "gofer/client.h"
#include "gofer/filter.h"
#include "gofer/wire.h"
#include "gtest/gtest.h"
#include "proto/gofer.pb.h"

namespace gofer {
namespace {

namespace pb = ::cvisor::gofer;
using ::testing::UnorderedElementsAreArray;

constexpr char kHello[] = "hello, gofer\n";
constexpr char kFakePasswd[] = "root:x:0:0:not the host's passwd:/:/bin/sh\n";
constexpr int kManyEntries = 700;

int Errno(const absl::Status& s) { return cv::StatusToErrno(s); }
template <typename T>
int Errno(const absl::StatusOr<T>& s) {
  return cv::StatusToErrno(s.status());
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, n);
  return out;
}

std::string ManyName(int i) {
  // Long names so that the listing is well over one 64 KiB message.
  return absl::StrCat("entry_", i, "_", std::string(150, 'x'));
}

// A host directory tree for the gofer to serve:
//   hello.txt              kHello
//   dir/file2              "two"
//   dir/sub/deep.txt       "deep"
//   dir/sub/rel_link   ->  ../../..
//   abs_link           ->  /etc/passwd
//   dir_link           ->  dir
//   etc/passwd             kFakePasswd (what /etc/passwd means in the root)
//   many/                  kManyEntries entries with long names
//   chain/d/d/d/...        300 nested directories named "d"
//   fifo, null (char 1:3), sock (a bound unix socket)
class TempTree {
 public:
  TempTree() {
    char tmpl[] = "/tmp/gofer_test.XXXXXX";
    char* dir = mkdtemp(tmpl);
    if (dir == nullptr) abort();
    root_ = dir;
    Build();
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }
  std::string Path(const std::string& rel) const {
    return rel.empty() ? root_ : root_ + "/" + rel;
  }

 private:
  void Build() {
    WriteFile(Path("hello.txt"), kHello);
    mkdir(Path("dir").c_str(), 0755);
    mkdir(Path("dir/sub").c_str(), 0755);
    WriteFile(Path("dir/file2"), "two");
    WriteFile(Path("dir/sub/deep.txt"), "deep");
    symlink("../../..", Path("dir/sub/rel_link").c_str());
    symlink("/etc/passwd", Path("abs_link").c_str());
    symlink("dir", Path("dir_link").c_str());
    mkdir(Path("etc").c_str(), 0755);
    WriteFile(Path("etc/passwd"), kFakePasswd);
    mkdir(Path("many").c_str(), 0755);
    for (int i = 0; i < kManyEntries; ++i) {
      WriteFile(Path("many/" + ManyName(i)), "");
    }
    std::string chain = Path("chain");
    mkdir(chain.c_str(), 0755);
    for (int i = 0; i < 300; ++i) {
      chain += "/d";
      // Relative to keep below PATH_MAX is not needed: 300 * 2 bytes.
      mkdir(chain.c_str(), 0755);
    }
    mkfifo(Path("fifo").c_str(), 0644);
    mknod(Path("null").c_str(), S_IFCHR | 0666, makedev(1, 3));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", Path("sock").c_str());
    bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    close(s);
  }

  std::string root_;
};

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

void ExpectSameStat(const struct stat& got, const struct stat& want) {
  EXPECT_EQ(got.st_dev, want.st_dev);
  EXPECT_EQ(got.st_ino, want.st_ino);
  EXPECT_EQ(got.st_mode, want.st_mode);
  EXPECT_EQ(got.st_nlink, want.st_nlink);
  EXPECT_EQ(got.st_uid, want.st_uid);
  EXPECT_EQ(got.st_gid, want.st_gid);
  EXPECT_EQ(got.st_rdev, want.st_rdev);
  EXPECT_EQ(got.st_size, want.st_size);
  EXPECT_EQ(got.st_blksize, want.st_blksize);
  EXPECT_EQ(got.st_blocks, want.st_blocks);
  EXPECT_EQ(got.st_mtim.tv_sec, want.st_mtim.tv_sec);
  EXPECT_EQ(got.st_mtim.tv_nsec, want.st_mtim.tv_nsec);
  EXPECT_EQ(got.st_ctim.tv_sec, want.st_ctim.tv_sec);
  EXPECT_EQ(got.st_ctim.tv_nsec, want.st_ctim.tv_nsec);
}

int CountOpenFds() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

// Runs gofer::Serve on a thread over a socketpair.
class ServerThread {
 public:
  ServerThread(const std::string& root, bool readonly) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) abort();
    client_end_.reset(sv[0]);
    server_end_.reset(sv[1]);
    cv::UniqueFd root_fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    thread_ = std::thread([this, fd = std::move(root_fd), readonly]() mutable {
      status_ = Serve(std::move(fd), readonly, server_end_.get());
      server_end_.reset();
    });
  }
  explicit ServerThread(std::vector<AttachPoint> points) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) abort();
    client_end_.reset(sv[0]);
    server_end_.reset(sv[1]);
    thread_ = std::thread([this, points = std::move(points)]() mutable {
      status_ = Serve(std::move(points), server_end_.get());
      server_end_.reset();
    });
  }
  ~ServerThread() { Join().IgnoreError(); }
  // The client's end; hand it to a Client or use it raw.
  cv::UniqueFd TakeClientEnd() { return std::move(client_end_); }
  absl::Status Join() {
    client_end_.reset();
    if (thread_.joinable()) thread_.join();
    return status_;
  }

 private:
  cv::UniqueFd client_end_;
  cv::UniqueFd server_end_;
  std::thread thread_;
  absl::Status status_;
};

class GoferTest : public ::testing::Test {
 protected:
  void Start(bool readonly) {
    server_ = std::make_unique<ServerThread>(tree_.root(), readonly);
    client_ = std::make_unique<Client>(server_->TakeClientEnd());
    auto root = client_->Attach();
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = *root;
  }
  void SetUp() override { Start(/*readonly=*/false); }
  void TearDown() override {
    client_.reset();  // closes the socket: the server must end cleanly
    EXPECT_TRUE(server_->Join().ok());
  }

  // Walks a '/'-separated path from the root, expecting every component.
  InodeInfo WalkPath(const std::string& path) {
    std::vector<std::string> names;
    std::stringstream ss(path);
    for (std::string part; std::getline(ss, part, '/');) names.push_back(part);
    auto r = client_->Walk(root_.fid, names);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    EXPECT_EQ(r->stop_errno, 0) << path;
    EXPECT_EQ(r->inodes.size(), names.size()) << path;
    if (r->inodes.empty()) return {};
    return r->inodes.back();
  }

  TempTree tree_;
  std::unique_ptr<ServerThread> server_;
  std::unique_ptr<Client> client_;
  InodeInfo root_;
};

TEST_F(GoferTest, AttachStatMatchesLstatOfRoot) {
  ExpectSameStat(root_.stat, Lstat(tree_.root()));
  EXPECT_TRUE(S_ISDIR(root_.stat.st_mode));
  // Each attach hands out a fresh fid for the same directory.
  auto again = client_->Attach();
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->fid, root_.fid);
  EXPECT_EQ(again->stat.st_ino, root_.stat.st_ino);
}

TEST_F(GoferTest, WalkAndStatValuesMatchLstat) {
  auto r = client_->Walk(root_.fid, {"hello.txt"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->inodes.size(), 1u);
  EXPECT_EQ(r->stop_errno, 0);
  struct stat want = Lstat(tree_.Path("hello.txt"));
  ExpectSameStat(r->inodes[0].stat, want);
  EXPECT_EQ(r->inodes[0].stat.st_size, static_cast<off_t>(strlen(kHello)));

  auto st = client_->Stat(r->inodes[0].fid);
  ASSERT_TRUE(st.ok()) << st.status();
  ExpectSameStat(*st, want);

  // Stat is fresh, not the walk-time copy.
  ASSERT_EQ(truncate(tree_.Path("hello.txt").c_str(), 3), 0);
  st = client_->Stat(r->inodes[0].fid);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 3);
}

TEST_F(GoferTest, MultiComponentWalk) {
  auto r = client_->Walk(root_.fid, {"dir", "sub", "deep.txt"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stop_errno, 0);
  ASSERT_EQ(r->inodes.size(), 3u);
  ExpectSameStat(r->inodes[0].stat, Lstat(tree_.Path("dir")));
  ExpectSameStat(r->inodes[1].stat, Lstat(tree_.Path("dir/sub")));
  ExpectSameStat(r->inodes[2].stat, Lstat(tree_.Path("dir/sub/deep.txt")));
  std::set<uint64_t> fids{root_.fid};
  for (const auto& in : r->inodes) fids.insert(in.fid);
  EXPECT_EQ(fids.size(), 4u) << "fids must be distinct";

  // Walking on from an intermediate fid.
  auto r2 = client_->Walk(r->inodes[0].fid, {"file2"});
  ASSERT_TRUE(r2.ok());
  ASSERT_EQ(r2->inodes.size(), 1u);
  ExpectSameStat(r2->inodes[0].stat, Lstat(tree_.Path("dir/file2")));

  // An empty walk walks nothing.
  auto r3 = client_->Walk(root_.fid, {});
  ASSERT_TRUE(r3.ok());
  EXPECT_TRUE(r3->inodes.empty());
  EXPECT_EQ(r3->stop_errno, 0);
}

TEST_F(GoferTest, WalkStopsAfterSymlink) {
  auto r = client_->Walk(root_.fid, {"abs_link", "x", "y"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->inodes.size(), 1u);
  EXPECT_EQ(r->stop_errno, 0);
  EXPECT_TRUE(S_ISLNK(r->inodes[0].stat.st_mode));
  ExpectSameStat(r->inodes[0].stat, Lstat(tree_.Path("abs_link")));
  auto target = client_->Readlink(r->inodes[0].fid);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(*target, "/etc/passwd");

  // A symlink to a directory is not followed either.
  r = client_->Walk(root_.fid, {"dir_link", "file2"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->inodes.size(), 1u);
  EXPECT_TRUE(S_ISLNK(r->inodes[0].stat.st_mode));

  r = client_->Walk(root_.fid, {"dir", "sub", "rel_link", "dir", "sub"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->inodes.size(), 3u);
  EXPECT_EQ(r->stop_errno, 0);
  EXPECT_TRUE(S_ISLNK(r->inodes[2].stat.st_mode));
  target = client_->Readlink(r->inodes[2].fid);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "../../..");

  // The symlink as the last component is a complete walk.
  r = client_->Walk(root_.fid, {"abs_link"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->inodes.size(), 1u);
  EXPECT_EQ(r->stop_errno, 0);
}

TEST_F(GoferTest, BadNamesAreRefusedWithEinval) {
  const std::vector<std::vector<std::string>> bad = {
      {".."},
      {"."},
      {"a/b"},
      {""},
      {"dir", ".."},
      {"dir", "sub", "..", "..", ".."},
      {std::string(NAME_MAX + 1, 'n')},
      {std::string("hello.txt\0x", 11)},
  };
  for (const auto& names : bad) {
    auto r = client_->Walk(root_.fid, names);
    EXPECT_EQ(Errno(r), EINVAL) << names.back();
  }
  // NAME_MAX itself is a valid (missing) name.
  auto r = client_->Walk(root_.fid, {std::string(NAME_MAX, 'n')});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop_errno, ENOENT);
}

TEST_F(GoferTest, WalkThroughNonDirectoryIsEnotdir) {
  auto r = client_->Walk(root_.fid, {"hello.txt", "x"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->inodes.size(), 1u);
  EXPECT_EQ(r->stop_errno, ENOTDIR);

  // From a fid that is not a directory.
  r = client_->Walk(r->inodes[0].fid, {"x"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->inodes.empty());
  EXPECT_EQ(r->stop_errno, ENOTDIR);

  r = client_->Walk(root_.fid, {"null", "x"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->inodes.size(), 1u);
  EXPECT_TRUE(S_ISCHR(r->inodes[0].stat.st_mode));
  EXPECT_EQ(r->stop_errno, ENOTDIR);
}

TEST_F(GoferTest, MissingComponentReturnsPrefixAndEnoent) {
  auto r = client_->Walk(root_.fid, {"dir", "sub", "nope", "x"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->inodes.size(), 2u);
  EXPECT_EQ(r->stop_errno, ENOENT);
  ExpectSameStat(r->inodes[1].stat, Lstat(tree_.Path("dir/sub")));
}

TEST_F(GoferTest, LongWalksSpanSeveralRequests) {
  std::vector<std::string> names{"chain"};
  for (int i = 0; i < 300; ++i) names.push_back("d");
  auto r = client_->Walk(root_.fid, names);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stop_errno, 0);
  ASSERT_EQ(r->inodes.size(), 301u);
  std::string path = "chain";
  for (int i = 0; i < 300; ++i) path += "/d";
  ExpectSameStat(r->inodes.back().stat, Lstat(tree_.Path(path)));

  // Stopping inside a later chunk keeps the earlier inodes.
  names.resize(201);
  names.insert(names.end(), {"missing", "x", "y"});
  for (int i = 0; i < 100; ++i) names.push_back("z");
  r = client_->Walk(root_.fid, names);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->inodes.size(), 201u);
  EXPECT_EQ(r->stop_errno, ENOENT);
}

TEST_F(GoferTest, OpenDonatesReadableFd) {
  InodeInfo hello = WalkPath("hello.txt");
  auto fd = client_->Open(hello.fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), kHello);
  struct stat st;
  ASSERT_EQ(fstat(fd->get(), &st), 0);
  EXPECT_EQ(st.st_ino, hello.stat.st_ino);
  EXPECT_EQ(fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  int fl = fcntl(fd->get(), F_GETFL);
  EXPECT_EQ(fl & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(fl & O_NONBLOCK, 0) << "the gofer's own O_NONBLOCK must not leak";

  // O_NONBLOCK asked for is kept.
  fd = client_->Open(hello.fid, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_NE(fcntl(fd->get(), F_GETFL) & O_NONBLOCK, 0);

  InodeInfo deep = WalkPath("dir/sub/deep.txt");
  fd = client_->Open(deep.fid, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadAll(fd->get()), "deep");
}

TEST_F(GoferTest, OpenDirectory) {
  InodeInfo dir = WalkPath("dir");
  auto fd = client_->Open(dir.fid, O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  struct stat st;
  ASSERT_EQ(fstat(fd->get(), &st), 0);
  EXPECT_EQ(st.st_ino, dir.stat.st_ino);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  // The root too.
  fd = client_->Open(root_.fid, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(fstat(fd->get(), &st), 0);
  EXPECT_EQ(st.st_ino, root_.stat.st_ino);

  EXPECT_EQ(Errno(client_->Open(dir.fid, O_WRONLY)), EISDIR);
  EXPECT_EQ(Errno(client_->Open(dir.fid, O_RDWR)), EISDIR);
}

TEST_F(GoferTest, OpenForWriting) {
  InodeInfo hello = WalkPath("hello.txt");
  auto fd = client_->Open(hello.fid, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(Lstat(tree_.Path("hello.txt")).st_size, 0);
  ASSERT_EQ(write(fd->get(), "abc", 3), 3);
  EXPECT_EQ(Lstat(tree_.Path("hello.txt")).st_size, 3);

  fd = client_->Open(hello.fid, O_RDWR | O_APPEND);
  ASSERT_TRUE(fd.ok());
  ASSERT_EQ(write(fd->get(), "de", 2), 2);
  ASSERT_EQ(lseek(fd->get(), 0, SEEK_SET), 0);
  EXPECT_EQ(ReadAll(fd->get()), "abcde");

  // O_RDONLY|O_TRUNC truncates too, as on Linux.
  fd = client_->Open(hello.fid, O_RDONLY | O_TRUNC);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(Lstat(tree_.Path("hello.txt")).st_size, 0);
  EXPECT_EQ(fcntl(fd->get(), F_GETFL) & O_ACCMODE, O_RDONLY);
}

TEST_F(GoferTest, OpenRefusals) {
  InodeInfo hello = WalkPath("hello.txt");
  InodeInfo link = WalkPath("abs_link");
  EXPECT_EQ(Errno(client_->Open(link.fid, O_RDONLY)), ELOOP);
  EXPECT_EQ(Errno(client_->Open(link.fid, O_RDONLY | O_NOFOLLOW)), ELOOP);
  EXPECT_EQ(Errno(client_->Open(hello.fid, O_RDWR | O_CREAT)), EINVAL);
  EXPECT_EQ(Errno(client_->Open(hello.fid, O_RDONLY | O_PATH)), EINVAL);
  EXPECT_EQ(Errno(client_->Open(root_.fid, O_RDWR | O_TMPFILE)), EINVAL);
  EXPECT_EQ(Errno(client_->Open(hello.fid, O_ACCMODE)), EINVAL);
  EXPECT_EQ(Errno(client_->Open(hello.fid, O_RDONLY | O_DIRECTORY)), ENOTDIR);
  // A FIFO must not block the gofer, a device never opens as the host's.
  EXPECT_EQ(Errno(client_->Open(WalkPath("fifo").fid, O_RDONLY)), EACCES);
  EXPECT_EQ(Errno(client_->Open(WalkPath("null").fid, O_RDWR)), EACCES);
  EXPECT_EQ(Errno(client_->Open(WalkPath("sock").fid, O_RDWR)), ENXIO);
  // Still serving.
  auto fd = client_->Open(hello.fid, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadAll(fd->get()), kHello);
}

TEST_F(GoferTest, OpenOfAReplacedFileIsEstale) {
  InodeInfo hello = WalkPath("hello.txt");
  WriteFile(tree_.Path("other"), "other");
  ASSERT_EQ(
      rename(tree_.Path("other").c_str(), tree_.Path("hello.txt").c_str()), 0);
  EXPECT_EQ(Errno(client_->Open(hello.fid, O_RDONLY)), ESTALE);
  // A fresh walk reaches the new file.
  auto fd = client_->Open(WalkPath("hello.txt").fid, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadAll(fd->get()), "other");
}

class ReadonlyGoferTest : public GoferTest {
 protected:
  void SetUp() override { Start(/*readonly=*/true); }
};

TEST_F(ReadonlyGoferTest, RefusesWriteAccessWithErofs) {
  InodeInfo hello = WalkPath("hello.txt");
  EXPECT_EQ(Errno(client_->Open(hello.fid, O_WRONLY)), EROFS);
  EXPECT_EQ(Errno(client_->Open(hello.fid, O_RDWR)), EROFS);
  EXPECT_EQ(Errno(client_->Open(hello.fid, O_WRONLY | O_APPEND)), EROFS);
  EXPECT_EQ(Errno(client_->Open(hello.fid, O_RDONLY | O_TRUNC)), EROFS);
  EXPECT_EQ(Lstat(tree_.Path("hello.txt")).st_size,
            static_cast<off_t>(strlen(kHello)));
  // Directories keep Linux's EISDIR, which comes first.
  EXPECT_EQ(Errno(client_->Open(root_.fid, O_RDWR)), EISDIR);
  auto fd = client_->Open(hello.fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), kHello);
}

std::vector<std::string> ExpectedManyNames() {
  std::vector<std::string> names{".", ".."};
  for (int i = 0; i < kManyEntries; ++i) names.push_back(ManyName(i));
  return names;
}

TEST_F(GoferTest, ReadDirPaginatesByCount) {
  InodeInfo many = WalkPath("many");
  std::vector<std::string> names;
  uint64_t offset = 0;
  int pages = 0;
  for (;;) {
    auto r = client_->ReadDir(many.fid, offset, 7);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_LE(r->entries.size(), 7u);
    ++pages;
    ASSERT_LT(pages, 1000) << "no progress";
    for (const auto& e : r->entries) {
      names.push_back(e.name);
      if (e.name == "." || e.name == "..") {
        EXPECT_EQ(e.type, DT_DIR);
      } else {
        EXPECT_EQ(e.type, DT_REG);
        EXPECT_EQ(e.ino, Lstat(tree_.Path("many/" + e.name)).st_ino);
      }
    }
    if (r->eof) break;
    ASSERT_FALSE(r->entries.empty());
    offset = r->entries.back().next_offset;
  }
  EXPECT_GE(pages, (kManyEntries + 2) / 7);
  EXPECT_EQ(names.size(), static_cast<size_t>(kManyEntries + 2))
      << "no duplicates, nothing missed";
  EXPECT_THAT(names, UnorderedElementsAreArray(ExpectedManyNames()));
}

TEST_F(GoferTest, ReadDirPaginatesBySize) {
  InodeInfo many = WalkPath("many");
  std::vector<std::string> names;
  uint64_t offset = 0;
  int pages = 0;
  for (;;) {
    // count 0 and a huge count both mean "as many as fit".
    auto r = client_->ReadDir(many.fid, offset, pages % 2 ? 0 : 1000000);
    ASSERT_TRUE(r.ok()) << r.status();
    ++pages;
    ASSERT_LT(pages, 100);
    for (const auto& e : r->entries) names.push_back(e.name);
    if (r->eof) break;
    ASSERT_FALSE(r->entries.empty());
    offset = r->entries.back().next_offset;
  }
  // 700 names of ~160 bytes do not fit in one 64 KiB reply.
  EXPECT_GE(pages, 2);
  EXPECT_THAT(names, UnorderedElementsAreArray(ExpectedManyNames()));

  // Offset 0 starts over.
  auto r = client_->ReadDir(many.fid, 0, 2);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->entries.size(), 2u);
  EXPECT_FALSE(r->eof);
}

TEST_F(GoferTest, ReadDirSmallDirectoryAndErrors) {
  InodeInfo dir = WalkPath("dir");
  auto r = client_->ReadDir(dir.fid, 0, 100);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> names;
  for (const auto& e : r->entries) names.push_back(e.name);
  EXPECT_THAT(names, UnorderedElementsAreArray(
                         std::vector<std::string>{".", "..", "file2", "sub"}));
  // All of it fit; the end may be reported now or on the next call.
  if (!r->eof) {
    auto r2 = client_->ReadDir(dir.fid, r->entries.back().next_offset, 100);
    ASSERT_TRUE(r2.ok());
    EXPECT_TRUE(r2->entries.empty());
    EXPECT_TRUE(r2->eof);
  }
  EXPECT_EQ(Errno(client_->ReadDir(WalkPath("hello.txt").fid, 0, 10)), ENOTDIR);
  EXPECT_EQ(Errno(client_->ReadDir(WalkPath("abs_link").fid, 0, 10)), ENOTDIR);
}

TEST_F(GoferTest, ReadlinkOfNonSymlinkIsEinval) {
  EXPECT_EQ(Errno(client_->Readlink(WalkPath("hello.txt").fid)), EINVAL);
  EXPECT_EQ(Errno(client_->Readlink(root_.fid)), EINVAL);
}

TEST_F(GoferTest, CloseReleasesFids) {
  auto r = client_->Walk(root_.fid, {"dir", "sub", "deep.txt"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->inodes.size(), 3u);
  // Closing the ancestors does not break the child: it still reopens.
  client_->Close({r->inodes[0].fid, r->inodes[1].fid});
  EXPECT_EQ(Errno(client_->Stat(r->inodes[0].fid)), EBADF);
  EXPECT_EQ(Errno(client_->Walk(r->inodes[1].fid, {"deep.txt"})), EBADF);
  auto fd = client_->Open(r->inodes[2].fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), "deep");

  client_->Close({r->inodes[2].fid});
  EXPECT_EQ(Errno(client_->Open(r->inodes[2].fid, O_RDONLY)), EBADF);
  EXPECT_EQ(Errno(client_->ReadDir(r->inodes[0].fid, 0, 1)), EBADF);
  EXPECT_EQ(Errno(client_->Readlink(r->inodes[2].fid)), EBADF);
  // Closing twice or closing nonsense is harmless.
  client_->Close({r->inodes[2].fid, 12345678});
  client_->Close({});
  auto bad = client_->Stat(987654321);
  EXPECT_EQ(Errno(bad), EBADF);
  EXPECT_EQ(bad.status().message(),
            "gofer stat: fid 987654321: Bad file descriptor");
  EXPECT_EQ(Errno(client_->Walk(0, {"dir"})), EBADF);
  // The root fid is unaffected.
  EXPECT_TRUE(client_->Stat(root_.fid).ok());
}

TEST_F(GoferTest, ClosingFidsReleasesHostFds) {
  const int before = CountOpenFds();
  std::vector<std::string> names{"chain"};
  for (int i = 0; i < 200; ++i) names.push_back("d");
  auto r = client_->Walk(root_.fid, names);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->inodes.size(), 201u);
  // The server runs in this process: its O_PATH fds are ours to count.
  EXPECT_GE(CountOpenFds(), before + 201);
  std::vector<uint64_t> fids;
  for (const auto& in : r->inodes) fids.push_back(in.fid);
  client_->Close(fids);
  EXPECT_TRUE(client_->Stat(root_.fid).ok());  // the close was processed
  EXPECT_EQ(CountOpenFds(), before);
}

TEST_F(GoferTest, ConcurrentCallsFromManyThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  const ino_t deep_ino = Lstat(tree_.Path("dir/sub/deep.txt")).st_ino;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto r = client_->Walk(root_.fid, {"dir", "sub", "deep.txt"});
        if (!r.ok() || r->inodes.size() != 3 ||
            r->inodes[2].stat.st_ino != deep_ino) {
          ++failures;
          continue;
        }
        auto fd = client_->Open(r->inodes[2].fid, O_RDONLY);
        if (!fd.ok() || ReadAll(fd->get()) != "deep") ++failures;
        std::vector<uint64_t> fids;
        for (const auto& in : r->inodes) fids.push_back(in.fid);
        client_->Close(fids);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// Raw packets, bypassing the client's own checks.
class RawGoferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerThread>(tree_.root(), false);
    sock_ = server_->TakeClientEnd();
    wire::ConfigureSocket(sock_.get());
  }
  void TearDown() override {
    sock_.reset();
    EXPECT_TRUE(server_->Join().ok());
  }

  void SendRaw(const std::string& bytes, int fd = -1) {
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
      mh.msg_control = control;
      mh.msg_controllen = sizeof control;
      cmsghdr* cm = CMSG_FIRSTHDR(&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    }
    ASSERT_EQ(sendmsg(sock_.get(), &mh, MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()))
        << strerror(errno);
  }
  pb::Response Receive() {
    std::string buf(wire::kMaxMessageSize, '\0');
    ssize_t n = recv(sock_.get(), buf.data(), buf.size(), 0);
    EXPECT_GT(n, 0) << strerror(errno);
    pb::Response resp;
    EXPECT_TRUE(resp.ParseFromArray(buf.data(), n > 0 ? n : 0));
    return resp;
  }
  pb::Response Call(const pb::Request& req) {
    SendRaw(req.SerializeAsString());
    return Receive();
  }
  // A good request after the bad one still gets a good answer.
  void ExpectStillServing() {
    pb::Request req;
    req.mutable_attach();
    pb::Response resp = Call(req);
    EXPECT_EQ(resp.errnum(), 0);
    ASSERT_TRUE(resp.has_attach());
    EXPECT_EQ(resp.attach().root().stat().ino(), Lstat(tree_.root()).st_ino);
  }

  TempTree tree_;
  std::unique_ptr<ServerThread> server_;
  cv::UniqueFd sock_;
};

TEST_F(RawGoferTest, GarbageBytes) {
  SendRaw(std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11));
  pb::Response resp = Receive();
  EXPECT_EQ(resp.errnum(), EINVAL);
  EXPECT_EQ(resp.msg_case(), pb::Response::MSG_NOT_SET);
  ExpectStillServing();
  SendRaw("\x12\x7f" + std::string(10, 'a'));  // field 2, length past the end
  EXPECT_EQ(Receive().errnum(), EINVAL);
  ExpectStillServing();
}

TEST_F(RawGoferTest, RequestWithNoOperation) {
  pb::Request empty;
  ASSERT_EQ(empty.SerializeAsString().size(), 0u);
  SendRaw("");  // a zero-length packet, not a hang-up
  EXPECT_EQ(Receive().errnum(), EINVAL);
  // An operation this gofer does not know (a field from the future).
  SendRaw(std::string("\xca\x01\x00", 3));  // field 25, empty message
  EXPECT_EQ(Receive().errnum(), EINVAL);
  ExpectStillServing();
}

TEST_F(RawGoferTest, TruncatedRequest) {
  pb::Request req;
  req.mutable_walk()->set_fid(1);
  req.mutable_walk()->add_names("a-rather-long-name");
  std::string bytes = req.SerializeAsString();
  SendRaw(bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(Receive().errnum(), EINVAL);
  ExpectStillServing();
}

TEST_F(RawGoferTest, OversizedRequest) {
  pb::Request req;
  req.mutable_walk()->set_fid(1);
  req.mutable_walk()->add_names(std::string(100 * 1024, 'n'));
  std::string bytes = req.SerializeAsString();
  ASSERT_GT(bytes.size(), wire::kMaxMessageSize);
  SendRaw(bytes);
  pb::Response resp = Receive();
  EXPECT_EQ(resp.errnum(), EINVAL);
  ExpectStillServing();
}

TEST_F(RawGoferTest, HugeNameListAndBadNames) {
  ExpectStillServing();  // fid 1 is the root
  pb::Request req;
  req.mutable_walk()->set_fid(1);
  for (int i = 0; i < 10000; ++i) req.mutable_walk()->add_names("a");
  pb::Response resp = Call(req);
  EXPECT_EQ(resp.errnum(), EINVAL);
  EXPECT_FALSE(resp.has_walk());

  for (const std::string& bad :
       {std::string(".."), std::string("."), std::string("a/b"),
        std::string(""), std::string(NAME_MAX + 1, 'x'),
        std::string("dir\0x", 5)}) {
    pb::Request walk;
    walk.mutable_walk()->set_fid(1);
    walk.mutable_walk()->add_names("dir");
    walk.mutable_walk()->add_names(bad);
    resp = Call(walk);
    EXPECT_EQ(resp.errnum(), EINVAL) << bad;
    // Refused before anything was walked: no fids handed out.
    EXPECT_FALSE(resp.has_walk());
  }
  // Non-UTF-8 names are fine (Linux names are bytes).
  pb::Request walk;
  walk.mutable_walk()->set_fid(1);
  walk.mutable_walk()->add_names("\xff\xfe");
  resp = Call(walk);
  EXPECT_EQ(resp.errnum(), 0);
  EXPECT_EQ(resp.walk().stop_errno(), ENOENT);
  ExpectStillServing();
}

TEST_F(RawGoferTest, FdsSentToTheGoferAreNeverInstalled) {
  ExpectStillServing();
  cv::UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int before = CountOpenFds();
  pb::Request req;
  req.mutable_stat()->set_fid(1);
  SendRaw(req.SerializeAsString(), fd.get());
  pb::Response resp = Receive();
  EXPECT_EQ(resp.errnum(), 0);
  EXPECT_TRUE(resp.has_stat());
  // The server shares this process's fd table.
  EXPECT_EQ(CountOpenFds(), before);
}

TEST_F(RawGoferTest, OpenReplyCarriesExactlyOneFd) {
  ExpectStillServing();
  pb::Request req;
  req.mutable_walk()->set_fid(1);
  req.mutable_walk()->add_names("hello.txt");
  pb::Response resp = Call(req);
  ASSERT_EQ(resp.walk().inodes_size(), 1);
  pb::Request open;
  open.mutable_open()->set_fid(resp.walk().inodes(0).fid());
  SendRaw(open.SerializeAsString());
  char buf[256];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n = recvmsg(sock_.get(), &mh, MSG_CMSG_CLOEXEC);
  ASSERT_GT(n, 0);
  pb::Response reply;
  ASSERT_TRUE(reply.ParseFromArray(buf, n));
  EXPECT_TRUE(reply.has_open());
  cmsghdr* cm = CMSG_FIRSTHDR(&mh);
  ASSERT_NE(cm, nullptr);
  EXPECT_EQ(cm->cmsg_type, SCM_RIGHTS);
  ASSERT_EQ(cm->cmsg_len, CMSG_LEN(sizeof(int)));
  int fd;
  memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  cv::UniqueFd owned(fd);
  EXPECT_EQ(ReadAll(fd), kHello);
  EXPECT_EQ(CMSG_NXTHDR(&mh, cm), nullptr);
}

// The client against a gofer that is gone or misbehaves.
TEST(GoferClientTest, PeerClosedBeforeCall) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  close(sv[1]);
  Client client{cv::UniqueFd(sv[0])};
  auto r = client.Attach();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Errno(r), EIO);
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("gofer"));
  // Fails fast afterwards, never crashes.
  EXPECT_EQ(Errno(client.Walk(1, {"a"})), EIO);
  EXPECT_EQ(Errno(client.Open(1, O_RDONLY)), EIO);
  EXPECT_EQ(Errno(client.ReadDir(1, 0, 1)), EIO);
  EXPECT_EQ(Errno(client.Readlink(1)), EIO);
  EXPECT_EQ(Errno(client.Stat(1)), EIO);
  client.Close({1, 2});
}

TEST(GoferClientTest, PeerDiesMidCall) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  // A "gofer" that reads one request and dies without answering.
  std::thread peer([fd = sv[1]] {
    char buf[1024];
    (void)!recv(fd, buf, sizeof buf, 0);
    close(fd);
  });
  Client client{cv::UniqueFd(sv[0])};
  auto r = client.Stat(1);
  peer.join();
  EXPECT_EQ(Errno(r), EIO);
  EXPECT_EQ(Errno(client.Stat(1)), EIO);
}

TEST(GoferClientTest, OutOfProtocolReplyIsEio) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  cv::UniqueFd peer_end(sv[1]);
  std::thread peer([fd = sv[1]] {
    char buf[1024];
    // Answers a stat with a readlink reply.
    (void)!recv(fd, buf, sizeof buf, 0);
    pb::Response wrong;
    wrong.mutable_readlink()->set_target("x");
    std::string bytes = wrong.SerializeAsString();
    (void)!send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  });
  Client client{cv::UniqueFd(sv[0])};
  auto r = client.Stat(1);
  peer.join();
  EXPECT_EQ(Errno(r), EIO);
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("does not match"));
}

TEST(GoferClientTest, ClientRefusesBadNamesWithoutSending) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  cv::UniqueFd peer_end(sv[1]);
  Client client{cv::UniqueFd(sv[0])};
  EXPECT_EQ(Errno(client.Walk(1, {"ok", ".."})), EINVAL);
  char buf[16];
  EXPECT_EQ(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN) << "nothing may have been sent";
}

TEST(GoferServeTest, RootMustBeADirectory) {
  TempTree tree;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  cv::UniqueFd a(sv[0]), b(sv[1]);
  cv::UniqueFd file(open(tree.Path("hello.txt").c_str(), O_PATH | O_CLOEXEC));
  EXPECT_EQ(Errno(Serve(std::move(file), false, sv[1])), ENOTDIR);
}

// --- RunGofer in a child process (root, real namespaces and seccomp). ---

struct ChildGofer {
  pid_t pid = -1;
  std::unique_ptr<Client> client;
};

ChildGofer SpawnGofer(const GoferOptions& options) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    absl::Status s = RunGofer(options, cv::UniqueFd(sv[1]));
    if (!s.ok()) {
      std::string msg = absl::StrCat("RunGofer: ", s.ToString(), "\n");
      (void)!write(2, msg.data(), msg.size());
    }
    _exit(s.ok() ? 0 : 1);
  }
  close(sv[1]);
  ChildGofer child;
  child.pid = pid;
  child.client = std::make_unique<Client>(cv::UniqueFd(sv[0]));
  return child;
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 1000 + WTERMSIG(status);
}

std::string ProcStatusField(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::string v = line.substr(field.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

// Resolves a path the way the sentry does: walk, and on a symlink read it
// and restart from the root of the gofer (absolute targets only).
absl::StatusOr<InodeInfo> ResolveLikeSentry(Client& client, uint64_t root,
                                            std::vector<std::string> names) {
  for (int hops = 0; hops < 8; ++hops) {
    auto r = client.Walk(root, names);
    if (!r.ok()) return r.status();
    if (r->stop_errno != 0) return cv::ErrnoStatus(r->stop_errno, "resolve");
    const InodeInfo& last = r->inodes.back();
    if (!S_ISLNK(last.stat.st_mode)) return last;
    auto target = client.Readlink(last.fid);
    if (!target.ok()) return target.status();
    if (target->empty() || (*target)[0] != '/') {
      return cv::ErrnoStatus(EINVAL, "test resolver: relative link");
    }
    std::vector<std::string> next;
    std::stringstream ss(target->substr(1));
    for (std::string part; std::getline(ss, part, '/');) next.push_back(part);
    next.insert(next.end(), names.begin() + r->inodes.size(), names.end());
    names = next;
  }
  return cv::ErrnoStatus(ELOOP, "resolve");
}

TEST(RunGoferTest, ConfinesToRootAndServesUnderSeccomp) {
  TempTree tree;
  ChildGofer g = SpawnGofer({tree.root(), /*readonly=*/false});
  Client& client = *g.client;
  auto root = client.Attach();
  ASSERT_TRUE(root.ok()) << root.status();
  struct stat want = Lstat(tree.root());
  EXPECT_EQ(root->stat.st_ino, want.st_ino);
  EXPECT_EQ(root->stat.st_dev, want.st_dev);

  // The gofer's own root directory is the tree, and it runs filtered.
  struct stat proc_root;
  ASSERT_EQ(stat(absl::StrCat("/proc/", g.pid, "/root/").c_str(), &proc_root),
            0);
  EXPECT_EQ(proc_root.st_ino, want.st_ino);
  EXPECT_EQ(proc_root.st_dev, want.st_dev);
  EXPECT_EQ(ProcStatusField(g.pid, "Seccomp"), "2");
  EXPECT_EQ(ProcStatusField(g.pid, "NoNewPrivs"), "1");

  // An absolute symlink to /etc/passwd: never followed by the gofer, and
  // resolved against the container root it names the container's file.
  auto link = client.Walk(root->fid, {"abs_link"});
  ASSERT_TRUE(link.ok());
  ASSERT_EQ(link->inodes.size(), 1u);
  EXPECT_EQ(Errno(client.Open(link->inodes[0].fid, O_RDONLY)), ELOOP);
  auto resolved = ResolveLikeSentry(client, root->fid, {"abs_link"});
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->stat.st_ino, Lstat(tree.Path("etc/passwd")).st_ino);
  auto fd = client.Open(resolved->fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), kFakePasswd);

  // Every operation, under the filter.
  auto r = client.Walk(root->fid, {"dir", "sub", "rel_link"});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->inodes.size(), 3u);
  auto target = client.Readlink(r->inodes[2].fid);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(*target, "../../..");
  EXPECT_TRUE(client.Stat(r->inodes[1].fid).ok());
  auto many = client.Walk(root->fid, {"many"});
  ASSERT_TRUE(many.ok());
  size_t listed = 0;
  uint64_t offset = 0;
  for (int page = 0; page < 100; ++page) {
    auto d = client.ReadDir(many->inodes[0].fid, offset, 0);
    ASSERT_TRUE(d.ok()) << d.status();
    listed += d->entries.size();
    if (d->eof) break;
    offset = d->entries.back().next_offset;
  }
  EXPECT_EQ(listed, static_cast<size_t>(kManyEntries + 2));
  auto hello = client.Walk(root->fid, {"hello.txt"});
  ASSERT_TRUE(hello.ok());
  fd = client.Open(hello->inodes[0].fid, O_RDWR | O_TRUNC);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(Lstat(tree.Path("hello.txt")).st_size, 0);
  ASSERT_EQ(write(fd->get(), "xyz", 3), 3);
  fd = client.Open(hello->inodes[0].fid, O_RDONLY | O_TRUNC);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(Lstat(tree.Path("hello.txt")).st_size, 0);
  fd = client.Open(root->fid, O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(Errno(client.Open(hello->inodes[0].fid, O_RDWR | O_CREAT)), EINVAL);
  EXPECT_EQ(Errno(client.Walk(root->fid, {".."})), EINVAL);
  auto missing = client.Walk(root->fid, {"nope"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->stop_errno, ENOENT);
  client.Close({hello->inodes[0].fid});
  EXPECT_EQ(Errno(client.Stat(hello->inodes[0].fid)), EBADF);

  // Still alive after all that (a forbidden call would have killed it).
  EXPECT_TRUE(client.Stat(root->fid).ok());
  g.client.reset();  // the peer closes: the gofer exits cleanly
  EXPECT_EQ(WaitExit(g.pid), 0);
}

TEST(RunGoferTest, ReadonlyMountIsReadonlyAndPrivate) {
  TempTree tree;
  ChildGofer g = SpawnGofer({tree.root(), /*readonly=*/true});
  auto root = g.client->Attach();
  ASSERT_TRUE(root.ok()) << root.status();
  auto hello = g.client->Walk(root->fid, {"hello.txt"});
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(Errno(g.client->Open(hello->inodes[0].fid, O_WRONLY)), EROFS);
  auto fd = g.client->Open(hello->inodes[0].fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  // The donated fd lives on a read-only mount: even metadata changes
  // through it fail, whatever the gofer's own checks.
  EXPECT_EQ(fchmod(fd->get(), 0600), -1);
  EXPECT_EQ(errno, EROFS);
  // The read-only bind exists only in the gofer's namespace.
  EXPECT_EQ(chmod(tree.Path("hello.txt").c_str(), 0600), 0);
  g.client.reset();
  EXPECT_EQ(WaitExit(g.pid), 0);
}

TEST(RunGoferTest, HostRootServedReadonly) {
  // `runsc do` serves "/" itself.
  ChildGofer g = SpawnGofer({"/", /*readonly=*/true});
  auto root = g.client->Attach();
  ASSERT_TRUE(root.ok()) << root.status();
  struct stat want = Lstat("/");
  EXPECT_EQ(root->stat.st_ino, want.st_ino);
  EXPECT_EQ(root->stat.st_dev, want.st_dev);
  auto passwd = g.client->Walk(root->fid, {"etc", "passwd"});
  ASSERT_TRUE(passwd.ok());
  ASSERT_EQ(passwd->stop_errno, 0);
  auto fd = g.client->Open(passwd->inodes.back().fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  std::ifstream in("/etc/passwd");
  std::string host((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  EXPECT_EQ(ReadAll(fd->get()), host);
  // The host's /proc and /sys were detached from the gofer's view: what is
  // left are the empty directories they were mounted on.
  for (const char* pseudo : {"proc", "sys"}) {
    auto r = g.client->Walk(root->fid, {pseudo, "self"});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->inodes.size(), 1u) << pseudo;
    EXPECT_EQ(r->stop_errno, ENOENT) << pseudo;
    EXPECT_NE(r->inodes[0].stat.st_dev, Lstat(absl::StrCat("/", pseudo)).st_dev)
        << pseudo << " is still the host's";
  }
  g.client.reset();
  EXPECT_EQ(WaitExit(g.pid), 0);
}

TEST(GoferServeTest, WalksNeverEnterKernelPseudoFileSystems) {
  // Serve without confinement over the host's "/": the walk itself refuses
  // to cross into procfs or sysfs.
  ServerThread server("/", /*readonly=*/true);
  {
    Client client(server.TakeClientEnd());
    auto root = client.Attach();
    ASSERT_TRUE(root.ok());
    for (const char* pseudo : {"proc", "sys"}) {
      auto r = client.Walk(root->fid, {pseudo, "self"});
      ASSERT_TRUE(r.ok());
      EXPECT_TRUE(r->inodes.empty()) << pseudo;
      EXPECT_EQ(r->stop_errno, EACCES) << pseudo;
    }
    auto r = client.Walk(root->fid, {"etc", "passwd"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->inodes.size(), 2u);
  }
  EXPECT_TRUE(server.Join().ok());
}

TEST(RunGoferTest, BadRootFailsAndTheClientSeesEio) {
  ChildGofer g = SpawnGofer({"/nonexistent/gofer/root", false});
  EXPECT_EQ(Errno(g.client->Attach()), EIO);
  EXPECT_EQ(WaitExit(g.pid), 1);

  TempTree tree;
  g = SpawnGofer({tree.Path("hello.txt"), false});
  EXPECT_EQ(Errno(g.client->Attach()), EIO);
  EXPECT_EQ(WaitExit(g.pid), 1);
}

TEST(RunGoferTest, KilledGoferGivesEio) {
  TempTree tree;
  ChildGofer g = SpawnGofer({tree.root(), false});
  auto root = g.client->Attach();
  ASSERT_TRUE(root.ok()) << root.status();
  ASSERT_EQ(kill(g.pid, SIGKILL), 0);
  EXPECT_EQ(WaitExit(g.pid), 1000 + SIGKILL);
  EXPECT_EQ(Errno(g.client->Stat(root->fid)), EIO);
  EXPECT_EQ(Errno(g.client->Walk(root->fid, {"dir"})), EIO);
}

TEST(GoferFilterTest, ForbiddenSyscallEndsTheProcess) {
  if (!kFilterEnforced) GTEST_SKIP() << "sanitizer build: filter not enforced";
  int err[2];
  ASSERT_EQ(pipe2(err, O_CLOEXEC), 0);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], 2);
    if (!InstallGoferFilter(sv[1]).ok()) _exit(2);
    // Only sendmsg/recvmsg are allowed on the socket; send() is sendto.
    (void)!send(sv[1], "x", 1, MSG_NOSIGNAL);
    _exit(0);
  }
  close(err[1]);
  close(sv[1]);
  EXPECT_EQ(WaitExit(pid), kSeccompViolationExit);
  cv::UniqueFd r(err[0]);
  EXPECT_THAT(ReadAll(r.get()), ::testing::HasSubstr(absl::StrCat(
                                    "forbidden syscall ", SYS_sendto)));
  close(sv[0]);
}

TEST(GoferFilterTest, CreatingFilesIsForbidden) {
  if (!kFilterEnforced) GTEST_SKIP() << "sanitizer build: filter not enforced";
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  pid_t pid = fork();
  if (pid == 0) {
    if (!InstallGoferFilter(sv[1]).ok()) _exit(2);
    int fd = openat(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) _exit(3);
    // Creating files without O_EXCL (which could open whatever a name
    // already holds) is not allowed even where the kernel would permit it.
    if (openat(fd, "x", O_CREAT | O_WRONLY, 0600) >= 0) _exit(4);
    _exit(0);  // not reached: the O_CREAT openat traps
  }
  close(sv[1]);
  EXPECT_EQ(WaitExit(pid), kSeccompViolationExit);
  close(sv[0]);
}

// --- Mutations, statfs and attach points. ---

class MutationTest : public GoferTest {
 protected:
  InodeInfo Dir(const std::string& path) {
    return path.empty() ? root_ : WalkPath(path);
  }
  bool Exists(const std::string& rel) {
    struct stat st;
    return lstat(tree_.Path(rel).c_str(), &st) == 0;
  }
};

TEST_F(MutationTest, CreateMakesOwnsAndOpensAtomically) {
  InodeInfo dir = Dir("dir");
  // Mode 0444 and write access: the creator may write whatever the mode.
  auto c = client_->Create(dir.fid, "new", 0444, 1234, 5678, O_WRONLY);
  ASSERT_TRUE(c.ok()) << c.status();
  struct stat host = Lstat(tree_.Path("dir/new"));
  EXPECT_TRUE(S_ISREG(host.st_mode));
  EXPECT_EQ(host.st_mode & 07777, 0444u);
  EXPECT_EQ(host.st_uid, 1234u);
  EXPECT_EQ(host.st_gid, 5678u);
  ExpectSameStat(c->inode.stat, host);
  ExpectSameStat(c->dir, Lstat(tree_.Path("dir")));
  ASSERT_EQ(write(c->fd.get(), "abc", 3), 3);
  EXPECT_EQ(fcntl(c->fd.get(), F_GETFL) & O_ACCMODE, O_WRONLY);
  EXPECT_EQ(Lstat(tree_.Path("dir/new")).st_size, 3);
  // The fid is the new file.
  auto st = client_->Stat(c->inode.fid);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_size, 3);
  // Set-ID bits survive the chown that follows the creation.
  auto suid = client_->Create(dir.fid, "suid", 04755, 1, 1, O_RDONLY);
  ASSERT_TRUE(suid.ok()) << suid.status();
  EXPECT_EQ(Lstat(tree_.Path("dir/suid")).st_mode & 07777, 04755u);
}

TEST_F(MutationTest, CreateErrors) {
  InodeInfo dir = Dir("");
  EXPECT_EQ(Errno(client_->Create(dir.fid, "hello.txt", 0644, 0, 0, O_RDWR)),
            EEXIST);
  // A dangling symlink's name exists: O_EXCL never follows it.
  auto dangling = client_->Symlink(dir.fid, "dangling", "nowhere", 0, 0);
  ASSERT_TRUE(dangling.ok()) << dangling.status();
  EXPECT_EQ(Errno(client_->Create(dir.fid, "dangling", 0644, 0, 0, O_RDWR)),
            EEXIST);
  EXPECT_FALSE(Exists("nowhere"));
  EXPECT_EQ(Errno(client_->Create(dir.fid, "a/b", 0644, 0, 0, O_RDWR)), EINVAL);
  EXPECT_EQ(Errno(client_->Create(dir.fid, "..", 0644, 0, 0, O_RDWR)), EINVAL);
  EXPECT_EQ(
      Errno(client_->Create(dir.fid, "x", 0644, 0, 0, O_RDWR | O_DIRECTORY)),
      EINVAL);
  EXPECT_EQ(
      Errno(client_->Create(dir.fid, "x", 0644, 0, 0, O_RDWR | O_TMPFILE)),
      EINVAL);
  EXPECT_FALSE(Exists("x"));
  InodeInfo file = WalkPath("hello.txt");
  EXPECT_EQ(Errno(client_->Create(file.fid, "x", 0644, 0, 0, O_RDWR)), ENOTDIR);
  // Through a symlink to a directory: the fid is the link, never followed.
  InodeInfo link = WalkPath("dir_link");
  EXPECT_EQ(Errno(client_->Create(link.fid, "x", 0644, 0, 0, O_RDWR)), ENOTDIR);
  EXPECT_EQ(Errno(client_->Mkdir(link.fid, "x", 0755, 0, 0)), ENOTDIR);
  EXPECT_FALSE(Exists("dir/x"));
}

TEST_F(MutationTest, MkdirMknodSymlink) {
  InodeInfo dir = Dir("dir");
  auto d = client_->Mkdir(dir.fid, "newdir", 01777, 42, 43);
  ASSERT_TRUE(d.ok()) << d.status();
  struct stat host = Lstat(tree_.Path("dir/newdir"));
  EXPECT_TRUE(S_ISDIR(host.st_mode));
  EXPECT_EQ(host.st_mode & 07777, 01777u);
  EXPECT_EQ(host.st_uid, 42u);
  ExpectSameStat(d->inode.stat, host);
  EXPECT_EQ(d->dir.st_nlink, Lstat(tree_.Path("dir")).st_nlink);
  EXPECT_EQ(Errno(client_->Mkdir(dir.fid, "newdir", 0755, 0, 0)), EEXIST);
  // The new directory's fid works for walks and further creation.
  auto inner = client_->Mkdir(d->inode.fid, "inner", 0700, 0, 0);
  ASSERT_TRUE(inner.ok()) << inner.status();
  EXPECT_TRUE(Exists("dir/newdir/inner"));

  auto fifo = client_->Mknod(dir.fid, "fifo", S_IFIFO | 0640, 7, 8);
  ASSERT_TRUE(fifo.ok()) << fifo.status();
  host = Lstat(tree_.Path("dir/fifo"));
  EXPECT_TRUE(S_ISFIFO(host.st_mode));
  EXPECT_EQ(host.st_mode & 07777, 0640u);
  EXPECT_EQ(host.st_gid, 8u);
  auto sock = client_->Mknod(dir.fid, "sock", S_IFSOCK | 0600, 0, 0);
  ASSERT_TRUE(sock.ok()) << sock.status();
  EXPECT_TRUE(S_ISSOCK(Lstat(tree_.Path("dir/sock")).st_mode));
  auto reg = client_->Mknod(dir.fid, "reg", 0600, 0, 0);  // type 0: regular
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_TRUE(S_ISREG(Lstat(tree_.Path("dir/reg")).st_mode));
  EXPECT_EQ(Errno(client_->Mknod(dir.fid, "null", S_IFCHR | 0666, 0, 0)),
            EPERM);
  EXPECT_EQ(Errno(client_->Mknod(dir.fid, "blk", S_IFBLK | 0666, 0, 0)), EPERM);
  EXPECT_EQ(Errno(client_->Mknod(dir.fid, "d", S_IFDIR | 0755, 0, 0)), EPERM);
  EXPECT_FALSE(Exists("dir/null"));
  EXPECT_EQ(Errno(client_->Mknod(dir.fid, "fifo", S_IFIFO | 0600, 0, 0)),
            EEXIST);

  auto link = client_->Symlink(dir.fid, "sym", "../../etc/shadow", 5, 6);
  ASSERT_TRUE(link.ok()) << link.status();
  host = Lstat(tree_.Path("dir/sym"));
  EXPECT_TRUE(S_ISLNK(host.st_mode));
  EXPECT_EQ(host.st_uid, 5u);
  EXPECT_EQ(host.st_gid, 6u);
  auto target = client_->Readlink(link->inode.fid);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "../../etc/shadow");
  EXPECT_EQ(Errno(client_->Symlink(dir.fid, "sym", "x", 0, 0)), EEXIST);
  EXPECT_EQ(Errno(client_->Symlink(dir.fid, "empty", "", 0, 0)), ENOENT);
  EXPECT_EQ(Errno(client_->Symlink(dir.fid, "a/b", "x", 0, 0)), EINVAL);

  // In a removed directory.
  ASSERT_EQ(rmdir(tree_.Path("dir/newdir/inner").c_str()), 0);
  EXPECT_EQ(Errno(client_->Mkdir(inner->inode.fid, "x", 0755, 0, 0)), ENOENT);
}

TEST_F(MutationTest, LinkAndUnlink) {
  InodeInfo root = Dir("");
  InodeInfo file = WalkPath("dir/file2");
  auto l = client_->Link(file.fid, root.fid, "hard");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(Lstat(tree_.Path("hard")).st_ino, file.stat.st_ino);
  EXPECT_EQ(l->target.st_nlink, 2u);
  ExpectSameStat(l->dir, Lstat(tree_.Path("")));
  EXPECT_EQ(Errno(client_->Link(file.fid, root.fid, "hello.txt")), EEXIST);
  EXPECT_EQ(Errno(client_->Link(WalkPath("dir").fid, root.fid, "d2")), EPERM);
  EXPECT_EQ(Errno(client_->Link(file.fid, root.fid, "a/b")), EINVAL);
  // A symlink is linked itself, not its target.
  InodeInfo sym = WalkPath("abs_link");
  ASSERT_TRUE(client_->Link(sym.fid, root.fid, "sym2").ok());
  EXPECT_TRUE(S_ISLNK(Lstat(tree_.Path("sym2")).st_mode));

  auto u = client_->Unlink(root.fid, "hard", 0);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_FALSE(Exists("hard"));
  ASSERT_TRUE(u->victim.has_value());
  EXPECT_EQ(u->victim->st_nlink, 1u);
  EXPECT_EQ(u->victim->st_ino, file.stat.st_ino);
  ExpectSameStat(u->dir, Lstat(tree_.Path("")));
  EXPECT_EQ(Errno(client_->Unlink(root.fid, "hard", 0)), ENOENT);
  EXPECT_EQ(Errno(client_->Unlink(root.fid, "dir", 0)), EISDIR);
  EXPECT_EQ(Errno(client_->Unlink(root.fid, "dir", AT_REMOVEDIR)), ENOTEMPTY);
  EXPECT_EQ(Errno(client_->Unlink(root.fid, "hello.txt", AT_REMOVEDIR)),
            ENOTDIR);
  EXPECT_EQ(Errno(client_->Unlink(root.fid, "hello.txt", 0x1000)), EINVAL);
  EXPECT_EQ(Errno(client_->Unlink(root.fid, "dir/file2", 0)), EINVAL);
  // Removing a symlink to a directory removes the link only.
  ASSERT_TRUE(client_->Unlink(root.fid, "dir_link", 0).ok());
  EXPECT_FALSE(Exists("dir_link"));
  EXPECT_TRUE(Exists("dir/file2"));
  ASSERT_TRUE(client_->Mkdir(root.fid, "gone", 0755, 0, 0).ok());
  ASSERT_TRUE(client_->Unlink(root.fid, "gone", AT_REMOVEDIR).ok());
  EXPECT_FALSE(Exists("gone"));
  // A removed file cannot be linked back in.
  InodeInfo sub = WalkPath("dir/sub/deep.txt");
  ASSERT_TRUE(client_->Unlink(WalkPath("dir/sub").fid, "deep.txt", 0).ok());
  EXPECT_EQ(Errno(client_->Link(sub.fid, root.fid, "back")), ENOENT);
}

TEST_F(MutationTest, Rename) {
  InodeInfo root = Dir("");
  InodeInfo dir = Dir("dir");
  InodeInfo hello = WalkPath("hello.txt");
  auto r = client_->Rename(root.fid, "hello.txt", dir.fid, "moved", 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(Exists("hello.txt"));
  EXPECT_EQ(Lstat(tree_.Path("dir/moved")).st_ino, hello.stat.st_ino);
  ExpectSameStat(r->old_dir, Lstat(tree_.Path("")));
  ExpectSameStat(r->new_dir, Lstat(tree_.Path("dir")));
  ASSERT_TRUE(r->moved.has_value());
  EXPECT_EQ(r->moved->st_ino, hello.stat.st_ino);
  EXPECT_FALSE(r->replaced.has_value());
  // The old fid still opens the file under its new name.
  auto fd = client_->Open(hello.fid, O_RDWR);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), kHello);

  // Replacing: the replaced file's link count is reported.
  InodeInfo file2 = WalkPath("dir/file2");
  r = client_->Rename(dir.fid, "moved", dir.fid, "file2", 0);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->replaced.has_value());
  EXPECT_EQ(r->replaced->st_ino, file2.stat.st_ino);
  EXPECT_EQ(r->replaced->st_nlink, 0u);

  WriteFile(tree_.Path("a"), "A");
  WriteFile(tree_.Path("b"), "B");
  InodeInfo a = WalkPath("a");
  InodeInfo b = WalkPath("b");
  EXPECT_EQ(
      Errno(client_->Rename(root.fid, "a", root.fid, "b", RENAME_NOREPLACE)),
      EEXIST);
  ASSERT_TRUE(
      client_->Rename(root.fid, "a", root.fid, "b", RENAME_EXCHANGE).ok());
  EXPECT_EQ(Lstat(tree_.Path("a")).st_ino, b.stat.st_ino);
  // Both fids follow the exchange.
  fd = client_->Open(a.fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), "A");
  fd = client_->Open(b.fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), "B");

  EXPECT_EQ(Errno(client_->Rename(root.fid, "nope", root.fid, "x", 0)), ENOENT);
  EXPECT_EQ(
      Errno(client_->Rename(root.fid, "a", root.fid, "x", RENAME_EXCHANGE)),
      ENOENT);
  ASSERT_TRUE(client_->Mkdir(root.fid, "empty", 0755, 0, 0).ok());
  EXPECT_EQ(Errno(client_->Rename(root.fid, "empty", root.fid, "dir", 0)),
            ENOTEMPTY);
  EXPECT_EQ(Errno(client_->Rename(root.fid, "a", root.fid, "x/y", 0)), EINVAL);
  EXPECT_EQ(Errno(client_->Rename(root.fid, "a", root.fid, "x",
                                  RENAME_EXCHANGE | RENAME_NOREPLACE)),
            EINVAL);
}

TEST_F(MutationTest, SetAttr) {
  InodeInfo file = WalkPath("dir/file2");
  SetAttrArgs args;
  args.mask = SetAttrArgs::kMode;
  args.mode = 0604;
  auto st = client_->SetAttr(file.fid, args);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(Lstat(tree_.Path("dir/file2")).st_mode & 07777, 0604u);
  ExpectSameStat(*st, Lstat(tree_.Path("dir/file2")));

  args.mask = SetAttrArgs::kUid | SetAttrArgs::kGid;
  args.uid = 99;
  args.gid = 98;
  ASSERT_TRUE(client_->SetAttr(file.fid, args).ok());
  EXPECT_EQ(Lstat(tree_.Path("dir/file2")).st_uid, 99u);
  EXPECT_EQ(Lstat(tree_.Path("dir/file2")).st_gid, 98u);

  args.mask = SetAttrArgs::kSize;
  args.size = 10000;
  st = client_->SetAttr(file.fid, args);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->st_size, 10000);
  EXPECT_EQ(Lstat(tree_.Path("dir/file2")).st_size, 10000);

  args.mask = SetAttrArgs::kAtime | SetAttrArgs::kMtime;
  args.atime = {1000, 5};
  args.mtime = {2000, 6};
  st = client_->SetAttr(file.fid, args);
  ASSERT_TRUE(st.ok()) << st.status();
  struct stat host = Lstat(tree_.Path("dir/file2"));
  EXPECT_EQ(host.st_atim.tv_sec, 1000);
  EXPECT_EQ(host.st_atim.tv_nsec, 5);
  EXPECT_EQ(host.st_mtim.tv_sec, 2000);
  EXPECT_EQ(host.st_mtim.tv_nsec, 6);
  // Only mtime: atime stays.
  args.mask = SetAttrArgs::kMtime;
  args.mtime = {3000, 0};
  ASSERT_TRUE(client_->SetAttr(file.fid, args).ok());
  EXPECT_EQ(Lstat(tree_.Path("dir/file2")).st_atim.tv_sec, 1000);
  EXPECT_EQ(Lstat(tree_.Path("dir/file2")).st_mtim.tv_sec, 3000);

  // Set-ID bits cleared on request.
  args.mask = SetAttrArgs::kMode;
  args.mode = 06755;
  ASSERT_TRUE(client_->SetAttr(file.fid, args).ok());
  args.mask = SetAttrArgs::kKillSuid;
  ASSERT_TRUE(client_->SetAttr(file.fid, args).ok());
  EXPECT_EQ(Lstat(tree_.Path("dir/file2")).st_mode & 07777, 0755u);

  // A symlink: owner and times of the link itself; its target untouched.
  InodeInfo link = WalkPath("abs_link");
  struct stat before = Lstat(tree_.Path("etc/passwd"));
  args.mask = SetAttrArgs::kUid | SetAttrArgs::kMtime;
  args.uid = 77;
  args.mtime = {4000, 0};
  ASSERT_TRUE(client_->SetAttr(link.fid, args).ok());
  EXPECT_EQ(Lstat(tree_.Path("abs_link")).st_uid, 77u);
  EXPECT_EQ(Lstat(tree_.Path("abs_link")).st_mtim.tv_sec, 4000);
  ExpectSameStat(Lstat(tree_.Path("etc/passwd")), before);
  args.mask = SetAttrArgs::kMode;
  EXPECT_EQ(Errno(client_->SetAttr(link.fid, args)), EOPNOTSUPP);
  args.mask = SetAttrArgs::kSize;
  EXPECT_EQ(Errno(client_->SetAttr(link.fid, args)), EINVAL);
  // A directory.
  InodeInfo dir = WalkPath("dir");
  EXPECT_EQ(Errno(client_->SetAttr(dir.fid, args)), EISDIR);
  args.mask = SetAttrArgs::kMode;
  args.mode = 0711;
  ASSERT_TRUE(client_->SetAttr(dir.fid, args).ok());
  EXPECT_EQ(Lstat(tree_.Path("dir")).st_mode & 07777, 0711u);
  args.mask = SetAttrArgs::kMtime;
  args.mtime = {0, 1000000000};
  EXPECT_EQ(Errno(client_->SetAttr(dir.fid, args)), EINVAL);
  // A file replaced on the host since the walk is not truncated.
  InodeInfo deep = WalkPath("dir/sub/deep.txt");
  ASSERT_EQ(unlink(tree_.Path("dir/sub/deep.txt").c_str()), 0);
  WriteFile(tree_.Path("dir/sub/deep.txt"), "other");
  args.mask = SetAttrArgs::kSize;
  args.size = 0;
  EXPECT_EQ(Errno(client_->SetAttr(deep.fid, args)), ESTALE);
  EXPECT_EQ(Lstat(tree_.Path("dir/sub/deep.txt")).st_size, 5);
}

TEST_F(MutationTest, StatFs) {
  auto sfs = client_->StatFs(root_.fid);
  ASSERT_TRUE(sfs.ok()) << sfs.status();
  struct statfs want;
  ASSERT_EQ(statfs(tree_.root().c_str(), &want), 0);
  EXPECT_EQ(sfs->f_type, want.f_type);
  EXPECT_EQ(sfs->f_bsize, want.f_bsize);
  EXPECT_EQ(sfs->f_blocks, want.f_blocks);
  EXPECT_EQ(sfs->f_files, want.f_files);
  EXPECT_EQ(sfs->f_namelen, want.f_namelen);
  EXPECT_EQ(memcmp(&sfs->f_fsid, &want.f_fsid, sizeof want.f_fsid), 0);
  EXPECT_EQ(Errno(client_->StatFs(987654)), EBADF);
}

class ReadonlyMutationTest : public MutationTest {
 protected:
  void SetUp() override { Start(/*readonly=*/true); }
};

TEST_F(ReadonlyMutationTest, EveryMutationIsErofs) {
  InodeInfo root = Dir("");
  InodeInfo file = WalkPath("hello.txt");
  EXPECT_EQ(Errno(client_->Create(root.fid, "x", 0644, 0, 0, O_RDWR)), EROFS);
  EXPECT_EQ(Errno(client_->Mkdir(root.fid, "x", 0755, 0, 0)), EROFS);
  EXPECT_EQ(Errno(client_->Mknod(root.fid, "x", S_IFIFO | 0644, 0, 0)), EROFS);
  EXPECT_EQ(Errno(client_->Symlink(root.fid, "x", "y", 0, 0)), EROFS);
  EXPECT_EQ(Errno(client_->Link(file.fid, root.fid, "x")), EROFS);
  EXPECT_EQ(Errno(client_->Unlink(root.fid, "hello.txt", 0)), EROFS);
  EXPECT_EQ(Errno(client_->Rename(root.fid, "hello.txt", root.fid, "x", 0)),
            EROFS);
  SetAttrArgs args;
  args.mask = SetAttrArgs::kMode;
  args.mode = 0600;
  EXPECT_EQ(Errno(client_->SetAttr(file.fid, args)), EROFS);
  EXPECT_FALSE(Exists("x"));
  EXPECT_TRUE(Exists("hello.txt"));
  EXPECT_EQ(Lstat(tree_.Path("hello.txt")).st_mode & 07777, 0644u);
  // Reading is fine, and so is statfs.
  EXPECT_TRUE(client_->StatFs(file.fid).ok());
  EXPECT_TRUE(client_->Open(file.fid, O_RDONLY).ok());
}

// Attach points: 0 the tree (writable), 1 a file in it (writable), 2 the
// "etc" directory (read-only), 3 a file (read-only), 4 "dir/sub" (writable).
class AttachPointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<AttachPoint> points(5);
    points[0].fd.reset(open(tree_.root().c_str(), O_PATH | O_DIRECTORY));
    points[1].fd.reset(open(tree_.Path("dir").c_str(), O_PATH | O_DIRECTORY));
    points[1].name = "file2";
    points[2].fd.reset(open(tree_.Path("etc").c_str(), O_PATH | O_DIRECTORY));
    points[2].readonly = true;
    points[3].fd.reset(open(tree_.root().c_str(), O_PATH | O_DIRECTORY));
    points[3].name = "hello.txt";
    points[3].readonly = true;
    points[4].fd.reset(
        open(tree_.Path("dir/sub").c_str(), O_PATH | O_DIRECTORY));
    server_ = std::make_unique<ServerThread>(std::move(points));
    client_ = std::make_unique<Client>(server_->TakeClientEnd());
  }
  void TearDown() override {
    client_.reset();
    EXPECT_TRUE(server_->Join().ok());
  }

  TempTree tree_;
  std::unique_ptr<ServerThread> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(AttachPointTest, EachAttachPointHasItsRootAndFlag) {
  auto root = client_->Attach(0);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->stat.st_ino, Lstat(tree_.root()).st_ino);
  EXPECT_EQ(Errno(client_->Attach(5)), ENOENT);
  EXPECT_EQ(Errno(client_->Attach(0xffffffff)), ENOENT);

  // A file attach point: its inode, opened read-write, truncated.
  auto file = client_->Attach(1);
  ASSERT_TRUE(file.ok()) << file.status();
  ExpectSameStat(file->stat, Lstat(tree_.Path("dir/file2")));
  auto fd = client_->Open(file->fid, O_RDWR | O_APPEND);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), "two");
  ASSERT_EQ(write(fd->get(), "!", 1), 1);
  SetAttrArgs args;
  args.mask = SetAttrArgs::kSize;
  args.size = 2;
  auto st = client_->SetAttr(file->fid, args);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->st_size, 2);
  auto walk = client_->Walk(file->fid, {"x"});
  ASSERT_TRUE(walk.ok());
  EXPECT_EQ(walk->stop_errno, ENOTDIR);
  EXPECT_EQ(Errno(client_->Mkdir(file->fid, "x", 0755, 0, 0)), ENOTDIR);
  auto sfs = client_->StatFs(file->fid);
  EXPECT_TRUE(sfs.ok()) << sfs.status();

  // A read-only directory attach point: reads work, changes are EROFS, and
  // fids walked from it inherit the flag.
  auto etc = client_->Attach(2);
  ASSERT_TRUE(etc.ok()) << etc.status();
  EXPECT_EQ(etc->stat.st_ino, Lstat(tree_.Path("etc")).st_ino);
  EXPECT_EQ(Errno(client_->Mkdir(etc->fid, "x", 0755, 0, 0)), EROFS);
  auto passwd = client_->Walk(etc->fid, {"passwd"});
  ASSERT_TRUE(passwd.ok());
  ASSERT_EQ(passwd->inodes.size(), 1u);
  EXPECT_EQ(Errno(client_->Open(passwd->inodes[0].fid, O_WRONLY)), EROFS);
  EXPECT_EQ(Errno(client_->SetAttr(passwd->inodes[0].fid, args)), EROFS);
  fd = client_->Open(passwd->inodes[0].fid, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(ReadAll(fd->get()), kFakePasswd);
  // The same directory through the writable root is writable.
  auto etc_rw = client_->Walk(root->fid, {"etc"});
  ASSERT_TRUE(etc_rw.ok());
  ASSERT_TRUE(client_->Mkdir(etc_rw->inodes[0].fid, "x", 0755, 0, 0).ok());
  // Renames and links never cross attach points, even on one host fs.
  auto sub = client_->Attach(4);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(
      Errno(client_->Rename(etc_rw->inodes[0].fid, "x", sub->fid, "y", 0)),
      EXDEV);
  EXPECT_EQ(Errno(client_->Rename(etc->fid, "passwd", root->fid, "y", 0)),
            EROFS);
  EXPECT_TRUE(Lstat(tree_.Path("etc/x")).st_ino != 0);
  EXPECT_EQ(Errno(client_->Link(passwd->inodes[0].fid, root->fid, "p")), EXDEV);

  // A read-only file attach point.
  auto hello = client_->Attach(3);
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_EQ(Errno(client_->Open(hello->fid, O_RDWR)), EROFS);
  EXPECT_EQ(Errno(client_->Open(hello->fid, O_RDONLY | O_TRUNC)), EROFS);
  fd = client_->Open(hello->fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), kHello);
}

TEST(GoferServeTest, BadAttachPoints) {
  TempTree tree;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  cv::UniqueFd a(sv[0]), b(sv[1]);
  EXPECT_EQ(Errno(Serve(std::vector<AttachPoint>{}, sv[1])), EINVAL);
  std::vector<AttachPoint> points(1);
  points[0].fd.reset(open(tree.root().c_str(), O_PATH | O_DIRECTORY));
  points[0].name = "../hello.txt";
  EXPECT_EQ(Errno(Serve(std::move(points), sv[1])), EINVAL);
  points.resize(1);
  points[0].fd.reset(open(tree.root().c_str(), O_PATH | O_DIRECTORY));
  points[0].name = "missing";
  EXPECT_EQ(Errno(Serve(std::move(points), sv[1])), ENOENT);
}

TEST(RunGoferTest, MountsAndMutationsUnderSeccomp) {
  TempTree tree;
  TempTree other;  // the bind mount sources
  GoferOptions options;
  options.root = tree.root();
  options.mounts.push_back({other.Path("dir"), /*readonly=*/true});
  options.mounts.push_back({other.Path("hello.txt"), /*readonly=*/false});
  options.mounts.push_back({other.Path("etc/passwd"), /*readonly=*/true});
  ChildGofer g = SpawnGofer(options);
  Client& client = *g.client;
  auto root = client.Attach(0);
  ASSERT_TRUE(root.ok()) << root.status();

  // Every mutation, under the filter (a forbidden call kills the gofer).
  auto c = client.Create(root->fid, "created", 0600, 10, 20, O_RDWR);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(write(c->fd.get(), "data", 4), 4);
  EXPECT_EQ(Lstat(tree.Path("created")).st_size, 4);
  EXPECT_EQ(Lstat(tree.Path("created")).st_uid, 10u);
  ASSERT_TRUE(client.Mkdir(root->fid, "d", 0700, 0, 0).ok());
  ASSERT_TRUE(client.Mknod(root->fid, "p", S_IFIFO | 0600, 0, 0).ok());
  ASSERT_TRUE(client.Mknod(root->fid, "s", S_IFSOCK | 0600, 0, 0).ok());
  EXPECT_EQ(Errno(client.Mknod(root->fid, "n", S_IFCHR | 0600, 0, 0)), EPERM);
  ASSERT_TRUE(client.Symlink(root->fid, "l", "/etc/passwd", 0, 0).ok());
  ASSERT_TRUE(client.Link(c->inode.fid, root->fid, "created2").ok());
  ASSERT_TRUE(client.Unlink(root->fid, "created2", 0).ok());
  ASSERT_TRUE(
      client.Rename(root->fid, "created", root->fid, "renamed", 0).ok());
  ASSERT_TRUE(
      client.Rename(root->fid, "renamed", root->fid, "l", RENAME_EXCHANGE)
          .ok());
  SetAttrArgs args;
  args.mask = SetAttrArgs::kMode | SetAttrArgs::kUid | SetAttrArgs::kSize |
              SetAttrArgs::kAtime | SetAttrArgs::kMtime;
  args.mode = 0640;
  args.uid = 3;
  args.size = 1;
  args.atime = {100, 0};
  args.mtime = {200, 0};
  ASSERT_TRUE(client.SetAttr(c->inode.fid, args).ok());
  struct stat st = Lstat(tree.Path("l"));  // the created file, exchanged
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_size, 1);
  EXPECT_EQ(st.st_mtim.tv_sec, 200);
  ASSERT_TRUE(client.Unlink(root->fid, "d", AT_REMOVEDIR).ok());
  EXPECT_TRUE(client.StatFs(root->fid).ok());

  // The read-only directory mount.
  auto dir = client.Attach(1);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(dir->stat.st_ino, Lstat(other.Path("dir")).st_ino);
  EXPECT_EQ(Errno(client.Mkdir(dir->fid, "x", 0755, 0, 0)), EROFS);
  auto f2 = ResolveLikeSentry(client, dir->fid, {"file2"});
  ASSERT_TRUE(f2.ok()) << f2.status();
  auto fd = client.Open(f2->fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), "two");
  EXPECT_EQ(Errno(client.Open(f2->fid, O_WRONLY)), EROFS);

  // The writable file mount: the file itself, and writes reach the host.
  auto hello = client.Attach(2);
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_TRUE(S_ISREG(hello->stat.st_mode));
  EXPECT_EQ(hello->stat.st_ino, Lstat(other.Path("hello.txt")).st_ino);
  fd = client.Open(hello->fid, O_RDWR | O_TRUNC);
  ASSERT_TRUE(fd.ok()) << fd.status();
  ASSERT_EQ(write(fd->get(), "new", 3), 3);
  std::ifstream in(other.Path("hello.txt"));
  std::string content((std::istreambuf_iterator<char>(in)),
                      std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "new");
  args.mask = SetAttrArgs::kSize;
  args.size = 1;
  ASSERT_TRUE(client.SetAttr(hello->fid, args).ok());
  EXPECT_EQ(Lstat(other.Path("hello.txt")).st_size, 1);

  // The read-only file mount.
  auto passwd = client.Attach(3);
  ASSERT_TRUE(passwd.ok()) << passwd.status();
  EXPECT_EQ(Errno(client.Open(passwd->fid, O_WRONLY)), EROFS);
  fd = client.Open(passwd->fid, O_RDONLY);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(ReadAll(fd->get()), kFakePasswd);
  EXPECT_EQ(Errno(client.Attach(4)), ENOENT);

  EXPECT_TRUE(client.Stat(root->fid).ok());
  g.client.reset();
  EXPECT_EQ(WaitExit(g.pid), 0);
}

TEST(RunGoferTest, MissingMountSourceFails) {
  TempTree tree;
  GoferOptions options;
  options.root = tree.root();
  options.mounts.push_back({tree.Path("does-not-exist"), false});
  ChildGofer g = SpawnGofer(options);
  EXPECT_EQ(Errno(g.client->Attach()), EIO);
  g.client.reset();
  EXPECT_EQ(WaitExit(g.pid), 1);
}

TEST(GoferFilterTest, DeviceNodesAreForbidden) {
  if (!kFilterEnforced) GTEST_SKIP() << "sanitizer build: filter not enforced";
  char tmpl[] = "/tmp/gofer_filter.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !InstallGoferFilter(sv[1]).ok()) _exit(2);
    // What the gofer does is allowed...
    if (mknodat(fd, "fifo", S_IFIFO | 0600, 0) != 0) _exit(3);
    int f = openat(fd, "f", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (f < 0) _exit(4);
    // ...a device node is not, even for root.
    mknodat(fd, "null", S_IFCHR | 0600, makedev(1, 3));
    _exit(0);  // not reached
  }
  close(sv[1]);
  EXPECT_EQ(WaitExit(pid), kSeccompViolationExit);
  struct stat st;
  EXPECT_EQ(lstat((dir + "/fifo").c_str(), &st), 0);
  EXPECT_EQ(lstat((dir + "/f").c_str(), &st), 0);
  EXPECT_NE(lstat((dir + "/null").c_str(), &st), 0);
  close(sv[0]);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gofer
