#include "sentry/procfs/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/errno_status.h"
#include "sentry/kernel/cputime.h"
#include "sentry/mm/mm.h"
#include "sentry/procfs/proc_text.h"

namespace sentry::procfs {
namespace {

// What uname(2) reports (sentry/syscalls/info.cc).
constexpr char kRelease[] = "6.1.0";
constexpr char kVersion[] = "#1 SMP cvisor";

// Each procfs gets its own anonymous device number, above the devfs ones.
std::atomic<unsigned> next_procfs_minor{0xf8000};

using Generator = std::function<absl::StatusOr<std::string>()>;

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

std::string ReadHostFile(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The task whose syscall is being served on this thread, or null (a sentry
// thread of its own).
Task* CurrentTask() { return dynamic_cast<Task*>(vfs::ThreadInterruptor()); }

class ProcFileSystem final : public vfs::FileSystem {
 public:
  // No dentry cache: /proc/[pid] entries come and go with the processes,
  // and the VFS has no revalidation, so names live only while in use.
  explicit ProcFileSystem(Kernel& kernel)
      : vfs::FileSystem(0),
        kernel_(kernel),
        dev_(makedev(0, next_procfs_minor.fetch_add(1))) {
    clock_gettime(CLOCK_REALTIME, &mount_time_);
    char buf[37];
    RandomUuid(buf);
    boot_id_ = buf;
  }
  std::string_view type() const override { return "proc"; }

  Kernel& kernel() { return kernel_; }
  dev_t dev() const { return dev_; }
  const struct timespec& mount_time() const { return mount_time_; }
  const std::string& boot_id() const { return boot_id_; }

  static void RandomUuid(char out[37]) {
    unsigned char b[16];
    std::ifstream("/dev/urandom").read(reinterpret_cast<char*>(b), sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;  // version 4
    b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x"
             "%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
  }

 private:
  Kernel& kernel_;
  const dev_t dev_;
  struct timespec mount_time_;
  std::string boot_id_;
};

using FsRef = std::shared_ptr<ProcFileSystem>;

// ---- the state of a process, read under the kernel's locks ----

struct Snapshot {
  TaskInfo info;
  std::shared_ptr<ThreadGroup> tg;
  std::shared_ptr<mm::MemoryManager> mm;
  std::shared_ptr<vfs::FdTable> fds;
  std::shared_ptr<vfs::FsContext> fs;
  std::array<rlimit, RLIM_NLIMITS> rlimits{};
  pid_t stub_pid = 0;
};

// Reads what /proc shows of thread `tid` of process `tgid` (tid 0: the
// process, through its leader or, once the leader has exited, any thread).
// ENOENT if the process is gone. A zombie has no mm, files or fs context.
absl::StatusOr<Snapshot> TakeSnapshot(Kernel& kernel, int tgid, int tid) {
  Snapshot s;
  s.tg = kernel.FindThreadGroup(tgid);
  if (s.tg == nullptr) return cv::ErrnoStatus(ENOENT);
  ThreadGroup& tg = *s.tg;
  TaskInfo& i = s.info;
  Task* self = CurrentTask();
  {
    // The tree lock keeps every Task in tg.tasks alive (TaskExited removes
    // it under both locks before the task is destroyed); nothing here may
    // block or touch files.
    std::lock_guard<std::mutex> lock(kernel.signal_mu());
    std::lock_guard<std::mutex> tg_lock(tg.mu);
    Task* t = nullptr;
    for (Task* c : tg.tasks) {
      if (c->tid() == (tid != 0 ? tid : tgid)) t = c;
    }
    if (t == nullptr && tid == 0 && !tg.tasks.empty()) t = tg.tasks.front();
    if (t == nullptr && !(tid == 0 || tid == tgid)) {
      return cv::ErrnoStatus(ENOENT);
    }
    i.tgid = tgid;
    i.tid = tid != 0 ? tid : tgid;
    i.ppid = tg.ppid;
    i.pgid = tg.pgid;
    i.sid = tg.sid;
    i.exit_signal = tg.exit_signal;
    i.threads = static_cast<int>(tg.tasks.size());
    i.shared_pending = tg.pending.pending();
    for (int sig = 1; sig <= kNumSignals; ++sig) {
      uint64_t handler = tg.actions[sig - 1].handler;
      if (handler == kSigIgn) i.sig_ignored |= 1ULL << (sig - 1);
      if (handler > kSigIgn) i.sig_caught |= 1ULL << (sig - 1);
    }
    s.rlimits = tg.rlimits;
    i.sigq_limit = tg.rlimits[RLIMIT_SIGPENDING].rlim_cur;
    if (t == nullptr || tg.zombie) {
      i.state = 'Z';
      i.threads = 0;
    } else {
      i.comm = t->comm;
      i.creds = t->creds();
      i.nice = t->nice;
      i.no_new_privs = t->no_new_privs;
      i.sig_pending = t->pending.pending();
      i.sig_blocked = t->signal_mask;
      i.state = t == self ? 'R' : (tg.stopped || t->parked) ? 'T' : 'S';
      s.mm = t->shared_mm();
      s.fds = t->shared_fd_table();
      s.fs = t->shared_fs();
      pid_t stub_tid;
      if (!t->StubIds(&s.stub_pid, &stub_tid)) s.stub_pid = 0;
    }
  }
  if (s.fs) i.umask = s.fs->umask();
  CpuTimes cpu = ProcessCpuTimes(tg);
  i.utime_ns = cpu.user_ns;
  i.stime_ns = cpu.sys_ns;
  if (s.fds) {
    std::vector<int> fds = s.fds->Fds();
    int max = fds.empty() ? 0 : fds.back();
    i.fd_size = 64;
    while (i.fd_size <= max) i.fd_size *= 2;
  }
  if (s.mm) {
    mm::MemoryManager::ExecInfo e = s.mm->exec_info();
    i.arg_start = e.arg_start;
    i.arg_end = e.arg_end;
    i.env_start = e.env_start;
    i.env_end = e.env_end;
    i.start_code = e.start_code;
    i.end_code = e.end_code;
    i.start_data = e.start_data;
    i.end_data = e.end_data;
    i.start_stack = e.start_stack;
    i.start_brk = s.mm->brk_start();
    uint64_t exec_bytes = 0;
    for (const auto& [start, v] : s.mm->vmas()) {
      i.vm_size += v.size();
      if (v.name == "[stack]") {
        i.vm_stk += v.size();
      } else if ((v.prot & PROT_EXEC) && v.file != nullptr) {
        exec_bytes += v.size();
      } else if ((v.prot & PROT_WRITE) && !v.shared) {
        i.vm_data += v.size();
      }
    }
    // Linux's VmExe is the program's code range; the rest of the executable
    // mappings count as libraries.
    if (e.end_code > e.start_code) {
      i.vm_exe = mm::PageRoundUp(e.end_code) - mm::PageRoundDown(e.start_code);
    }
    i.vm_lib = exec_bytes - std::min(exec_bytes, i.vm_exe);
  }
  if (s.stub_pid > 0) {
    // The stub process holds exactly the application's memory (plus the
    // small stub code): its resident set is the application's.
    std::string statm =
        ReadHostFile(absl::StrCat("/proc/", s.stub_pid, "/statm").c_str());
    uint64_t size, resident, shared;
    if (sscanf(statm.c_str(), "%lu %lu %lu", &size, &resident, &shared) == 3) {
      i.vm_rss = resident * 4096;
      i.rss_file = shared * 4096;
    }
  }
  return s;
}

// ---- inodes ----

uint64_t InoFor(const std::string& key) {
  uint64_t h = std::hash<std::string>{}(key);
  return h == 0 ? 1 : h;
}

class ProcInode : public vfs::Inode {
 public:
  ProcInode(FsRef fs, std::string key, mode_t mode)
      : Inode(mode), fs_(std::move(fs)), key_(std::move(key)), mode_(mode) {}

  absl::StatusOr<struct stat> Stat() override {
    struct stat st = {};
    st.st_dev = fs_->dev();
    st.st_ino = ino();
    st.st_mode = mode_;
    st.st_nlink = IsDir() ? 2 : 1;
    st.st_blksize = 1024;
    st.st_atim = st.st_mtim = st.st_ctim = fs_->mount_time();
    Owner(&st.st_uid, &st.st_gid);
    return st;
  }

  absl::StatusOr<struct statfs> StatFs() override {
    struct statfs s = {};
    s.f_type = 0x9fa0;  // PROC_SUPER_MAGIC
    s.f_bsize = 4096;
    s.f_frsize = 4096;
    s.f_namelen = 255;
    s.f_flags = ST_NOSUID | ST_NODEV | ST_NOEXEC;
    return s;
  }

  uint64_t ino() const { return InoFor(key_); }
  const std::string& key() const { return key_; }

 protected:
  // Per-process files belong to the process's effective ids, as on Linux.
  virtual void Owner(uid_t*, gid_t*) {}

  FsRef fs_;
  const std::string key_;
  const mode_t mode_;
};

// A process's entries are owned by its euid/egid.
void ProcessOwner(Kernel& kernel, int tgid, uid_t* uid, gid_t* gid) {
  std::shared_ptr<ThreadGroup> tg = kernel.FindThreadGroup(tgid);
  if (tg == nullptr) return;
  std::lock_guard<std::mutex> lock(kernel.signal_mu());
  std::lock_guard<std::mutex> tg_lock(tg->mu);
  if (tg->tasks.empty()) return;
  *uid = tg->tasks.front()->creds().euid;
  *gid = tg->tasks.front()->creds().egid;
}

// An open /proc file: the text generated at open, read like a regular file
// (Linux's seq_file generates at read(0) instead; for a reader that reads
// from the start the result is the same).
class SeqFile final : public vfs::FileDescription {
 public:
  SeqFile(const vfs::Path& path, int flags, std::string text, bool sink)
      : FileDescription(path, flags), text_(std::move(text)), sink_(sink) {}

  int64_t Read(vfs::IoSequence& dst) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t n = Copy(dst, offset_);
    if (n > 0) offset_ += n;
    return n;
  }
  int64_t PRead(vfs::IoSequence& dst, int64_t offset) override {
    return Copy(dst, offset);
  }
  int64_t Write(vfs::IoSequence& src) override {
    return sink_ ? static_cast<int64_t>(src.size()) : -EIO;
  }
  int64_t Seek(int64_t offset, int whence) override {
    std::lock_guard<std::mutex> lock(offset_mu_);
    int64_t base = whence == SEEK_SET   ? 0
                   : whence == SEEK_CUR ? offset_
                   : whence == SEEK_END ? static_cast<int64_t>(text_.size())
                                        : -1;
    if (base < 0 || base + offset < 0) return -EINVAL;
    offset_ = base + offset;
    return offset_;
  }

 private:
  int64_t Copy(vfs::IoSequence& dst, int64_t offset) {
    if (offset < 0) return -EINVAL;
    if (static_cast<uint64_t>(offset) >= text_.size()) return 0;
    size_t n = std::min(dst.size(), text_.size() - offset);
    if (dst.CopyOut(0, text_.data() + offset, n) != 0) return -EFAULT;
    return static_cast<int64_t>(n);
  }

  const std::string text_;
  const bool sink_;
};

class ProcFile final : public ProcInode {
 public:
  // `owner_tgid` > 0: owned by that process. `sink`: writable, and writes
  // are accepted and dropped (oom_score_adj).
  ProcFile(FsRef fs, std::string key, mode_t perm, Generator gen,
           int owner_tgid = 0, bool sink = false)
      : ProcInode(std::move(fs), std::move(key), S_IFREG | perm),
        gen_(std::move(gen)),
        owner_tgid_(owner_tgid),
        sink_(sink) {}

  absl::StatusOr<vfs::FileRef> Open(const vfs::Path& path, int flags) override {
    if ((flags & O_ACCMODE) != O_RDONLY && !sink_) {
      return cv::ErrnoStatus(EACCES);
    }
    absl::StatusOr<std::string> text = gen_();
    if (!text.ok()) return text.status();
    return vfs::FileRef(
        std::make_shared<SeqFile>(path, flags, *std::move(text), sink_));
  }

 protected:
  void Owner(uid_t* uid, gid_t* gid) override {
    if (owner_tgid_ > 0) ProcessOwner(fs_->kernel(), owner_tgid_, uid, gid);
  }

 private:
  const Generator gen_;
  const int owner_tgid_;
  const bool sink_;
};

class ProcSymlink final : public ProcInode {
 public:
  ProcSymlink(FsRef fs, std::string key, Generator target, int owner_tgid = 0,
              mode_t perm = 0777)
      : ProcInode(std::move(fs), std::move(key), S_IFLNK | perm),
        target_(std::move(target)),
        owner_tgid_(owner_tgid) {}

  absl::StatusOr<std::string> Readlink() override { return target_(); }
  absl::StatusOr<vfs::FileRef> Open(const vfs::Path&, int) override {
    return cv::ErrnoStatus(ELOOP);
  }

 protected:
  void Owner(uid_t* uid, gid_t* gid) override {
    if (owner_tgid_ > 0) ProcessOwner(fs_->kernel(), owner_tgid_, uid, gid);
  }

 private:
  const Generator target_;
  const int owner_tgid_;
};

// A magic link (/proc/[pid]/fd/N, exe, cwd, root): readlink shows a name,
// but path resolution jumps to the file itself (vfs::MagicLink), so a
// deleted, moved or anonymous file is still reached.
class ProcMagicLink final : public ProcInode, public vfs::MagicLink {
 public:
  using FollowFn = std::function<absl::StatusOr<vfs::MagicLinkTarget>()>;

  ProcMagicLink(FsRef fs, std::string key, Generator target, FollowFn follow,
                int owner_tgid, mode_t perm = 0777)
      : ProcInode(std::move(fs), std::move(key), S_IFLNK | perm),
        target_(std::move(target)),
        follow_(std::move(follow)),
        owner_tgid_(owner_tgid) {}

  absl::StatusOr<std::string> Readlink() override { return target_(); }
  absl::StatusOr<vfs::FileRef> Open(const vfs::Path&, int) override {
    return cv::ErrnoStatus(ELOOP);
  }
  absl::StatusOr<vfs::MagicLinkTarget> Follow() override { return follow_(); }

 protected:
  void Owner(uid_t* uid, gid_t* gid) override {
    if (owner_tgid_ > 0) ProcessOwner(fs_->kernel(), owner_tgid_, uid, gid);
  }

 private:
  const Generator target_;
  const FollowFn follow_;
  const int owner_tgid_;
};

using ProcInodeRef = std::shared_ptr<ProcInode>;
struct Child {
  std::string name;
  ProcInodeRef inode;
};

class ProcDir : public ProcInode {
 public:
  ProcDir(FsRef fs, std::string key, mode_t perm = 0555, int owner_tgid = 0)
      : ProcInode(std::move(fs), std::move(key), S_IFDIR | perm),
        owner_tgid_(owner_tgid) {}

  // The entries now (built on every call: they follow the processes).
  virtual absl::StatusOr<std::vector<Child>> Children() = 0;

  absl::StatusOr<vfs::InodeRef> Lookup(const std::string& name) override {
    absl::StatusOr<std::vector<Child>> children = Children();
    if (!children.ok()) return children.status();
    for (Child& c : *children) {
      if (c.name == name) return vfs::InodeRef(std::move(c.inode));
    }
    return cv::ErrnoStatus(ENOENT);
  }

  // ".", "..", then the entries; entry i ends at offset i + 1. ".." shows
  // this directory's own number: procfs does not track parents by inode.
  absl::StatusOr<vfs::DirBatch> ReadDir(uint64_t offset) override {
    absl::StatusOr<std::vector<Child>> children = Children();
    if (!children.ok()) return children.status();
    vfs::DirBatch b;
    const uint64_t total = children->size() + 2;
    for (uint64_t i = offset; i < total; ++i) {
      if (i == 0) {
        b.entries.push_back({".", ino(), DT_DIR, 1});
      } else if (i == 1) {
        b.entries.push_back({"..", ino(), DT_DIR, 2});
      } else {
        const Child& c = (*children)[i - 2];
        b.entries.push_back({c.name, c.inode->ino(),
                             static_cast<uint8_t>(IFTODT(c.inode->type())),
                             i + 1});
      }
    }
    b.eof = true;
    return b;
  }

  absl::StatusOr<vfs::FileRef> Open(const vfs::Path& path, int flags) override {
    return vfs::NewDirectoryFile(path, flags);
  }

 protected:
  void Owner(uid_t* uid, gid_t* gid) override {
    if (owner_tgid_ > 0) ProcessOwner(fs_->kernel(), owner_tgid_, uid, gid);
  }

  const int owner_tgid_;
};

// A directory whose entries are fixed when it is made.
class StaticDir final : public ProcDir {
 public:
  StaticDir(FsRef fs, std::string key, std::vector<Child> children)
      : ProcDir(std::move(fs), std::move(key)),
        children_(std::move(children)) {}
  absl::StatusOr<std::vector<Child>> Children() override { return children_; }

 private:
  const std::vector<Child> children_;
};

Generator Text(std::string s) {
  return [s = std::move(s)]() -> absl::StatusOr<std::string> { return s; };
}

// ---- per-process files ----

// The name of an open file as /proc/[pid]/fd shows it.
std::string FdTarget(const vfs::FileRef& f, const vfs::FsContext* fs) {
  if (f->path().valid() && fs != nullptr) return fs->PathName(f->path());
  if (int host = f->host_fd(); host >= 0) {
    // The container's stdio: name what the caller handed in, as runc's
    // /proc would (a terminal, a pipe, a file).
    char buf[PATH_MAX];
    ssize_t n =
        readlink(absl::StrCat("/proc/self/fd/", host).c_str(), buf, sizeof buf);
    if (n > 0) return std::string(buf, n);
  }
  absl::StatusOr<struct stat> st = f->Stat();
  if (!st.ok()) return "anon_inode:[unknown]";
  switch (st->st_mode & S_IFMT) {
    case S_IFIFO:
      return absl::StrCat("pipe:[", st->st_ino, "]");
    case S_IFSOCK:
      return absl::StrCat("socket:[", st->st_ino, "]");
    case S_IFCHR:
      // The container's stdio on the host's terminal or /dev/null.
      if (major(st->st_rdev) == 136) {
        return absl::StrCat("/dev/pts/", minor(st->st_rdev));
      }
      if (st->st_rdev == makedev(1, 3)) return "/dev/null";
      if (st->st_rdev == makedev(5, 0)) return "/dev/tty";
      break;
  }
  return absl::StrCat("anon_inode:[", st->st_ino, "]");
}

std::vector<MountEntry> MountEntries(const vfs::FsContext& fs) {
  std::vector<vfs::MountRef> mounts = fs.mount_namespace()->Mounts();
  std::sort(mounts.begin(), mounts.end(),
            [](const vfs::MountRef& a, const vfs::MountRef& b) {
              return a->id() < b->id();
            });
  std::vector<MountEntry> out;
  for (const vfs::MountRef& m : mounts) {
    MountEntry e;
    e.id = m->id();
    e.parent_id = m->parent() ? m->parent()->id() : m->id();
    e.mount_point = fs.PathName(vfs::Path{m, m->root()});
    if (e.mount_point.rfind("(unreachable)", 0) == 0) continue;
    e.flags = m->flags();
    e.fs_type = std::string(m->fs()->type());
    e.source = e.fs_type == "proc" || e.fs_type == "tmpfs" ? e.fs_type : "none";
    if (absl::StatusOr<struct stat> st = m->root()->inode()->Stat(); st.ok()) {
      e.dev_major = major(st->st_dev);
      e.dev_minor = minor(st->st_dev);
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::string> ReadUserRange(
    const std::shared_ptr<mm::MemoryManager>& mm, uint64_t start,
    uint64_t end) {
  if (mm == nullptr || end <= start) return std::string();
  // Linux caps what one read returns; a page of slack over ARG_MAX's
  // string limit is plenty.
  std::string out(std::min<uint64_t>(end - start, 2 << 20), '\0');
  if (mm->CopyIn(start, out.data(), out.size()) != 0) return std::string();
  return out;
}

class FdDir final : public ProcDir {
 public:
  FdDir(FsRef fs, std::string key, int tgid, int tid, bool info)
      : ProcDir(std::move(fs), std::move(key), info ? 0555 : 0500, tgid),
        tgid_(tgid),
        tid_(tid),
        info_(info) {}

  absl::StatusOr<std::vector<Child>> Children() override {
    absl::StatusOr<Snapshot> s = TakeSnapshot(fs_->kernel(), tgid_, tid_);
    if (!s.ok()) return s.status();
    std::vector<Child> out;
    if (s->fds == nullptr) return out;
    std::shared_ptr<vfs::FsContext> ctx = s->fs;
    std::shared_ptr<vfs::FdTable> table = s->fds;
    for (int fd : table->Fds()) {
      std::string name = absl::StrCat(fd);
      std::string key = absl::StrCat(key_, "/", name);
      if (info_) {
        out.push_back({name, std::make_shared<ProcFile>(
                                 fs_, key, 0444,
                                 [table, fd]() -> absl::StatusOr<std::string> {
                                   return FdInfo(*table, fd);
                                 },
                                 tgid_)});
      } else {
        // Linux shows the open mode in the link's permissions (lr-x------
        // for O_RDONLY).
        mode_t perm = 0;
        if (vfs::FileRef f = table->Get(fd)) {
          perm = (f->readable() ? 0500 : 0) | (f->writable() ? 0300 : 0);
        }
        out.push_back(
            {name, std::make_shared<ProcMagicLink>(
                       fs_, key,
                       [table, ctx, fd]() -> absl::StatusOr<std::string> {
                         vfs::FileRef f = table->Get(fd);
                         if (f == nullptr) return cv::ErrnoStatus(ENOENT);
                         return FdTarget(f, ctx.get());
                       },
                       [table, fd]() -> absl::StatusOr<vfs::MagicLinkTarget> {
                         vfs::FileRef f = table->Get(fd);
                         if (f == nullptr) return cv::ErrnoStatus(ENOENT);
                         if (!f->path().valid())
                           return vfs::MagicLinkTarget{{}, f};
                         return vfs::MagicLinkTarget{f->path(), f};
                       },
                       tgid_, perm)});
      }
    }
    return out;
  }

 private:
  static absl::StatusOr<std::string> FdInfo(vfs::FdTable& table, int fd) {
    bool cloexec = false;
    vfs::FileRef f = table.Get(fd, &cloexec);
    if (f == nullptr) return cv::ErrnoStatus(ENOENT);
    int64_t pos = f->stream() ? 0 : f->Seek(0, SEEK_CUR);
    uint64_t ino = 0;
    if (absl::StatusOr<struct stat> st = f->Stat(); st.ok()) ino = st->st_ino;
    int flags = f->flags() | (cloexec ? O_CLOEXEC : 0);
    return absl::StrFormat("pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%u\n",
                           std::max<int64_t>(pos, 0), flags,
                           f->path().valid() ? f->path().mount->id() : 0, ino);
  }

  const int tgid_, tid_;
  const bool info_;
};

// /proc/[pid] (tid 0) or /proc/[pid]/task/[tid].
class PidDir final : public ProcDir {
 public:
  PidDir(FsRef fs, std::string key, int tgid, int tid)
      : ProcDir(std::move(fs), std::move(key), 0555, tgid),
        tgid_(tgid),
        tid_(tid) {}

  absl::StatusOr<std::vector<Child>> Children() override;

 private:
  Generator Gen(std::function<std::string(const Snapshot&)> fn) {
    Kernel* k = &fs_->kernel();
    return [k, tgid = tgid_, tid = tid_,
            fn = std::move(fn)]() -> absl::StatusOr<std::string> {
      absl::StatusOr<Snapshot> s = TakeSnapshot(*k, tgid, tid);
      if (!s.ok()) return s.status();
      return fn(*s);
    };
  }
  ProcInodeRef File(const std::string& name,
                    std::function<std::string(const Snapshot&)> fn,
                    mode_t perm = 0444) {
    return std::make_shared<ProcFile>(fs_, absl::StrCat(key_, "/", name), perm,
                                      Gen(std::move(fn)), tgid_);
  }
  // A magic link to a path of the process (its cwd, root, executable).
  ProcInodeRef Magic(
      const std::string& name, std::function<std::string(const Snapshot&)> fn,
      std::function<absl::StatusOr<vfs::Path>(const Snapshot&)> follow) {
    Kernel* k = &fs_->kernel();
    auto text = [k, tgid = tgid_, tid = tid_,
                 fn = std::move(fn)]() -> absl::StatusOr<std::string> {
      absl::StatusOr<Snapshot> s = TakeSnapshot(*k, tgid, tid);
      if (!s.ok()) return s.status();
      if (s->fs == nullptr) return cv::ErrnoStatus(ENOENT);
      std::string target = fn(*s);
      if (target.empty()) return cv::ErrnoStatus(ENOENT);
      return target;
    };
    auto jump =
        [k, tgid = tgid_, tid = tid_,
         follow = std::move(follow)]() -> absl::StatusOr<vfs::MagicLinkTarget> {
      absl::StatusOr<Snapshot> s = TakeSnapshot(*k, tgid, tid);
      if (!s.ok()) return s.status();
      if (s->fs == nullptr) return cv::ErrnoStatus(ENOENT);
      absl::StatusOr<vfs::Path> p = follow(*s);
      if (!p.ok()) return p.status();
      return vfs::MagicLinkTarget{*std::move(p), nullptr};
    };
    return std::make_shared<ProcMagicLink>(fs_, absl::StrCat(key_, "/", name),
                                           std::move(text), std::move(jump),
                                           tgid_);
  }

  const int tgid_, tid_;
};

class TaskDir final : public ProcDir {
 public:
  TaskDir(FsRef fs, std::string key, int tgid)
      : ProcDir(std::move(fs), std::move(key), 0555, tgid), tgid_(tgid) {}

  absl::StatusOr<std::vector<Child>> Children() override {
    std::shared_ptr<ThreadGroup> tg = fs_->kernel().FindThreadGroup(tgid_);
    if (tg == nullptr) return cv::ErrnoStatus(ENOENT);
    std::vector<int> tids;
    {
      std::lock_guard<std::mutex> lock(fs_->kernel().signal_mu());
      std::lock_guard<std::mutex> tg_lock(tg->mu);
      for (Task* t : tg->tasks) tids.push_back(t->tid());
    }
    std::sort(tids.begin(), tids.end());
    std::vector<Child> out;
    for (int tid : tids) {
      std::string name = absl::StrCat(tid);
      out.push_back(
          {name, std::make_shared<PidDir>(fs_, absl::StrCat(key_, "/", name),
                                          tgid_, tid)});
    }
    return out;
  }

 private:
  const int tgid_;
};

absl::StatusOr<std::vector<Child>> PidDir::Children() {
  if (fs_->kernel().FindThreadGroup(tgid_) == nullptr) {
    return cv::ErrnoStatus(ENOENT);
  }
  std::vector<Child> out;
  out.push_back({"cgroup", File("cgroup", [](const Snapshot&) {
                   return std::string("0::/\n");
                 })});
  out.push_back({"cmdline", File("cmdline", [](const Snapshot& s) {
                   return ReadUserRange(s.mm, s.info.arg_start, s.info.arg_end)
                       .value_or("");
                 })});
  out.push_back({"comm", File("comm", [](const Snapshot& s) {
                   return s.info.comm + "\n";
                 })});
  out.push_back(
      {"cwd",
       Magic(
           "cwd", [](const Snapshot& s) { return s.fs->PathName(s.fs->cwd()); },
           [](const Snapshot& s) -> absl::StatusOr<vfs::Path> {
             return s.fs->cwd();
           })});
  out.push_back({"environ", File(
                                "environ",
                                [](const Snapshot& s) {
                                  return ReadUserRange(s.mm, s.info.env_start,
                                                       s.info.env_end)
                                      .value_or("");
                                },
                                0400)});
  out.push_back(
      {"exe", Magic(
                  "exe",
                  [](const Snapshot& s) {
                    return s.mm ? s.mm->exec_info().exe : std::string();
                  },
                  [](const Snapshot& s) -> absl::StatusOr<vfs::Path> {
                    // The executable as the process's own root names it.
                    std::string exe = s.mm ? s.mm->exec_info().exe : "";
                    if (exe.empty()) return cv::ErrnoStatus(ENOENT);
                    vfs::ResolveContext ctx =
                        vfs::MakeResolveContext(*s.fs, nullptr, s.fs->root());
                    return vfs::ResolvePath(ctx, exe, vfs::kFollowFinal);
                  })});
  out.push_back({"fd", std::make_shared<FdDir>(fs_, absl::StrCat(key_, "/fd"),
                                               tgid_, tid_, false)});
  out.push_back(
      {"fdinfo", std::make_shared<FdDir>(fs_, absl::StrCat(key_, "/fdinfo"),
                                         tgid_, tid_, true)});
  out.push_back({"limits", File("limits", [](const Snapshot& s) {
                   return FormatLimits(s.rlimits);
                 })});
  out.push_back({"maps", File("maps", [](const Snapshot& s) {
                   return s.mm ? s.mm->MapsText() : std::string();
                 })});
  out.push_back({"smaps", File("smaps", [](const Snapshot& s) {
                   return s.mm ? FormatSmaps(s.mm->MapsText()) : std::string();
                 })});
  out.push_back({"mountinfo", File("mountinfo", [](const Snapshot& s) {
                   return s.fs ? FormatMountinfo(MountEntries(*s.fs))
                               : std::string();
                 })});
  out.push_back({"mounts", File("mounts", [](const Snapshot& s) {
                   return s.fs ? FormatMounts(MountEntries(*s.fs))
                               : std::string();
                 })});
  // Writes are accepted and ignored: the sandbox has no OOM killer of its
  // own to steer.
  out.push_back(
      {"oom_score_adj",
       std::make_shared<ProcFile>(fs_, absl::StrCat(key_, "/oom_score_adj"),
                                  0644, Text("0\n"), tgid_, /*sink=*/true)});
  out.push_back({"oom_score", File("oom_score", [](const Snapshot&) {
                   return std::string("0\n");
                 })});
  out.push_back(
      {"root",
       Magic(
           "root",
           [](const Snapshot& s) { return s.fs->PathName(s.fs->root()); },
           [](const Snapshot& s) -> absl::StatusOr<vfs::Path> {
             return s.fs->root();
           })});
  out.push_back({"stat", File("stat", [](const Snapshot& s) {
                   return FormatStat(s.info);
                 })});
  out.push_back({"statm", File("statm", [](const Snapshot& s) {
                   return FormatStatm(s.info);
                 })});
  out.push_back({"status", File("status", [](const Snapshot& s) {
                   return FormatStatus(s.info);
                 })});
  if (tid_ == 0) {
    out.push_back({"task", std::make_shared<TaskDir>(
                               fs_, absl::StrCat(key_, "/task"), tgid_)});
  }
  return out;
}

// ---- system-wide files ----

std::string MeminfoText() {
  struct sysinfo si;
  MemInfo m;
  if (sysinfo(&si) == 0) {
    const uint64_t unit = si.mem_unit ? si.mem_unit : 1;
    m.total_kb = si.totalram * unit / 1024;
    m.free_kb = si.freeram * unit / 1024;
    m.buffers_kb = si.bufferram * unit / 1024;
    m.shmem_kb = si.sharedram * unit / 1024;
    m.swap_total_kb = si.totalswap * unit / 1024;
    m.swap_free_kb = si.freeswap * unit / 1024;
  }
  // Cached and MemAvailable are not in sysinfo(2): take the host's.
  m.available_kb = m.free_kb + m.buffers_kb;
  std::istringstream host(ReadHostFile("/proc/meminfo"));
  std::string key;
  uint64_t v;
  std::string unit;
  while (host >> key >> v) {
    std::getline(host, unit);
    if (key == "MemAvailable:") m.available_kb = v;
    if (key == "Cached:") m.cached_kb = v;
  }
  return FormatMeminfo(m);
}

std::string StatText(Kernel& kernel) {
  std::string s;
  std::istringstream host(ReadHostFile("/proc/stat"));
  std::string line;
  while (std::getline(host, line)) {
    if (line.rfind("cpu", 0) == 0) absl::StrAppend(&s, line, "\n");
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t up_s = (MonotonicNs() - kernel.boot_time_ns()) / 1000000000LL;
  int processes = 0;
  for (const auto& tg : kernel.ThreadGroups()) {
    processes = std::max(processes, tg->tgid());
  }
  absl::StrAppend(&s, "intr 0\nctxt 0\nbtime ", now.tv_sec - up_s,
                  "\nprocesses ", processes,
                  "\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 "
                  "0 0 0 0\n");
  return s;
}

std::string LoadavgText(Kernel& kernel) {
  struct sysinfo si = {};
  sysinfo(&si);
  int total = 0, last = 0;
  for (const auto& tg : kernel.ThreadGroups()) {
    std::lock_guard<std::mutex> lock(tg->mu);
    total += static_cast<int>(tg->tasks.size());
    last = std::max(last, tg->tgid());
  }
  auto load = [](unsigned long l) { return l / 65536.0; };
  return FormatLoadavg(load(si.loads[0]), load(si.loads[1]), load(si.loads[2]),
                       1, total, last);
}

class RootDir final : public ProcDir {
 public:
  explicit RootDir(FsRef fs) : ProcDir(std::move(fs), "") {}

  void Init() {
    Kernel* k = &fs_->kernel();
    auto file = [this](const std::string& key, Generator gen,
                       mode_t perm = 0444) {
      return std::make_shared<ProcFile>(fs_, key, perm, std::move(gen));
    };
    auto fixed = [&file](const std::string& key, std::string text) {
      return file(key, Text(std::move(text)));
    };
    FsRef fsr = fs_;
    std::vector<Child> random = {
        {"boot_id", fixed("sys/kernel/random/boot_id", fsr->boot_id() + "\n")},
        {"uuid", file("sys/kernel/random/uuid",
                      []() -> absl::StatusOr<std::string> {
                        char buf[37];
                        ProcFileSystem::RandomUuid(buf);
                        return std::string(buf) + "\n";
                      })},
    };
    std::vector<Child> kernel = {
        {"cap_last_cap",
         fixed("sys/kernel/cap_last_cap", absl::StrCat(CAP_LAST_CAP, "\n"))},
        {"domainname", fixed("sys/kernel/domainname", k->domainname() + "\n")},
        {"hostname", fixed("sys/kernel/hostname", k->hostname() + "\n")},
        {"ngroups_max", fixed("sys/kernel/ngroups_max", "65536\n")},
        {"osrelease",
         fixed("sys/kernel/osrelease", std::string(kRelease) + "\n")},
        {"ostype", fixed("sys/kernel/ostype", "Linux\n")},
        {"pid_max", fixed("sys/kernel/pid_max", "4194304\n")},
        {"random", std::make_shared<StaticDir>(fs_, "sys/kernel/random",
                                               std::move(random))},
    };
    std::vector<Child> vm = {
        {"overcommit_memory", fixed("sys/vm/overcommit_memory", "0\n")},
        {"max_map_count", fixed("sys/vm/max_map_count",
                                absl::StrCat(mm::kDefaultMaxMapCount, "\n"))},
    };
    std::vector<Child> fsdir = {
        {"file-max", fixed("sys/fs/file-max", "9223372036854775807\n")},
        {"nr_open",
         fixed("sys/fs/nr_open", absl::StrCat(vfs::FdTable::kMaxFds, "\n"))},
    };
    std::vector<Child> sys = {
        {"fs", std::make_shared<StaticDir>(fs_, "sys/fs", std::move(fsdir))},
        {"kernel",
         std::make_shared<StaticDir>(fs_, "sys/kernel", std::move(kernel))},
        {"vm", std::make_shared<StaticDir>(fs_, "sys/vm", std::move(vm))},
    };
    static_ = {
        {"cpuinfo", file("cpuinfo",
                         []() -> absl::StatusOr<std::string> {
                           return ReadHostFile("/proc/cpuinfo");
                         })},
        {"filesystems", fixed("filesystems",
                              "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\n"
                              "nodev\tdevpts\nnodev\tmqueue\n")},
        {"loadavg", file("loadavg",
                         [k]() -> absl::StatusOr<std::string> {
                           return LoadavgText(*k);
                         })},
        {"meminfo",
         file("meminfo",
              []() -> absl::StatusOr<std::string> { return MeminfoText(); })},
        {"mounts",
         std::make_shared<ProcSymlink>(fs_, "mounts", Text("self/mounts"))},
        {"self", std::make_shared<ProcSymlink>(
                     fs_, "self",
                     []() -> absl::StatusOr<std::string> {
                       Task* t = CurrentTask();
                       if (t == nullptr) return cv::ErrnoStatus(ENOENT);
                       return absl::StrCat(t->thread_group().tgid());
                     })},
        {"stat",
         file("stat",
              [k]() -> absl::StatusOr<std::string> { return StatText(*k); })},
        {"sys", std::make_shared<StaticDir>(fs_, "sys", std::move(sys))},
        {"thread-self", std::make_shared<ProcSymlink>(
                            fs_, "thread-self",
                            []() -> absl::StatusOr<std::string> {
                              Task* t = CurrentTask();
                              if (t == nullptr) return cv::ErrnoStatus(ENOENT);
                              return absl::StrCat(t->thread_group().tgid(),
                                                  "/task/", t->tid());
                            })},
        {"uptime", file("uptime",
                        [k]() -> absl::StatusOr<std::string> {
                          return FormatUptime(MonotonicNs() - k->boot_time_ns(),
                                              0);
                        })},
        {"version",
         fixed("version", absl::StrCat("Linux version ", kRelease,
                                       " (cvisor) (gcc) ", kVersion, "\n"))},
    };
  }

  absl::StatusOr<std::vector<Child>> Children() override {
    std::vector<Child> out = static_;
    for (const std::shared_ptr<ThreadGroup>& tg :
         fs_->kernel().ThreadGroups()) {
      std::string name = absl::StrCat(tg->tgid());
      out.push_back({name, std::make_shared<PidDir>(fs_, name, tg->tgid(), 0)});
    }
    return out;
  }

  // Any thread is reachable as /proc/[tid] too, though only processes are
  // listed, as on Linux.
  absl::StatusOr<vfs::InodeRef> Lookup(const std::string& name) override {
    int id;
    if (absl::SimpleAtoi(name, &id) && id > 0 && name[0] != '0') {
      if (fs_->kernel().FindThreadGroup(id) != nullptr) {
        return vfs::InodeRef(std::make_shared<PidDir>(fs_, name, id, 0));
      }
      for (const auto& tg : fs_->kernel().ThreadGroups()) {
        std::lock_guard<std::mutex> lock(tg->mu);
        for (Task* t : tg->tasks) {
          if (t->tid() == id) {
            return vfs::InodeRef(
                std::make_shared<PidDir>(fs_, name, tg->tgid(), id));
          }
        }
      }
      return cv::ErrnoStatus(ENOENT);
    }
    for (const Child& c : static_) {
      if (c.name == name) return vfs::InodeRef(c.inode);
    }
    return cv::ErrnoStatus(ENOENT);
  }

 private:
  std::vector<Child> static_;
};

}  // namespace

ProcfsMount NewProcfs(Kernel& kernel) {
  auto fs = std::make_shared<ProcFileSystem>(kernel);
  auto root = std::make_shared<RootDir>(fs);
  root->Init();
  ProcfsMount m;
  m.fs = fs;
  m.root = vfs::Dentry::NewRoot(std::move(root));
  return m;
}

absl::Status MountProcfs(Kernel& kernel, const vfs::FsContext& fs) {
  // The kernel's own lookup: no permission checks.
  vfs::ResolveContext ctx = vfs::MakeResolveContext(fs, nullptr, fs.root());
  absl::StatusOr<vfs::Path> proc =
      vfs::ResolvePath(ctx, "/proc", vfs::kFollowFinal);
  if (!proc.ok()) {
    int err = cv::StatusToErrno(proc.status());
    if (err == ENOENT) {
      return absl::NotFoundError(
          "/proc does not exist in the container's root file system");
    }
    return cv::ErrnoStatus(err, "looking up /proc in the container's root");
  }
  if (!proc->dentry->IsDir()) {
    return absl::NotFoundError(
        "/proc in the container's root file system is not a directory");
  }
  ProcfsMount m = NewProcfs(kernel);
  return fs.mount_namespace()
      ->AddMount(*proc, std::move(m.fs), std::move(m.root), kProcfsMountFlags)
      .status();
}

}  // namespace sentry::procfs
