#include "sentry/vfs/notify.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "common/errno_status.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

namespace notify_internal {
std::atomic<int> watch_count{0};
}  // namespace notify_internal

namespace {

struct FileId {
  dev_t dev;
  ino_t ino;
  bool operator<(const FileId& o) const {
    return dev != o.dev ? dev < o.dev : ino < o.ino;
  }
};

bool IdOf(Inode* inode, FileId* out) {
  if (inode == nullptr) return false;
  absl::StatusOr<struct stat> st = inode->Stat();
  if (!st.ok()) return false;
  *out = FileId{st->st_dev, st->st_ino};
  return true;
}

// Move cookies are unique across the sandbox, as Linux's global counter.
std::atomic<uint32_t> next_cookie{1};

}  // namespace

struct InotifyWatch {
  Inotify* owner;
  int wd;
  FileId id;
  uint32_t mask;  // events plus IN_ONESHOT / IN_EXCL_UNLINK
};

// Every watch, by file. One mutex guards it and each instance's watch table;
// it is taken before an instance's queue mutex.
struct InotifyRegistry {
  std::mutex mu;
  std::map<FileId, std::vector<InotifyWatch*>> by_id;

  static InotifyRegistry& Get() {
    static InotifyRegistry* r = new InotifyRegistry;
    return *r;
  }

  // mu held. Unlinks `w` from by_id and its owner's table and frees it;
  // queues IN_IGNORED first when `ignored`.
  void DropLocked(InotifyWatch* w, bool ignored) {
    if (ignored) w->owner->Queue(w->wd, IN_IGNORED, 0, {});
    auto it = by_id.find(w->id);
    if (it != by_id.end()) {
      auto& v = it->second;
      v.erase(std::remove(v.begin(), v.end(), w), v.end());
      if (v.empty()) by_id.erase(it);
    }
    notify_internal::watch_count.fetch_sub(1, std::memory_order_relaxed);
    w->owner->watches_.erase(w->wd);  // frees w
  }

  // Delivers `mask` about file `id` to its watches. `name` is set for an
  // event about a child of the watched directory. `unlinked`: the event
  // comes through a name that has been removed (IN_EXCL_UNLINK).
  void Deliver(const FileId& id, uint32_t mask, uint32_t cookie,
               const std::string& name, bool unlinked) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = by_id.find(id);
    if (it == by_id.end()) return;
    std::vector<InotifyWatch*> ws = it->second;  // DropLocked edits it
    for (InotifyWatch* w : ws) {
      if ((w->mask & mask & IN_ALL_EVENTS) == 0) continue;
      if (unlinked && (w->mask & IN_EXCL_UNLINK)) continue;
      w->owner->Queue(w->wd, mask, cookie, name);
      if (w->mask & IN_ONESHOT) DropLocked(w, true);
    }
  }

  // The file `id` is gone: every watch on it ends with IN_IGNORED.
  void Gone(const FileId& id) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = by_id.find(id);
    if (it == by_id.end()) return;
    std::vector<InotifyWatch*> ws = it->second;
    for (InotifyWatch* w : ws) DropLocked(w, true);
  }
};

// ---- Inotify ----

size_t Inotify::Event::size() const {
  size_t n = sizeof(struct inotify_event);
  if (!name.empty()) {
    size_t h = sizeof(struct inotify_event);
    n += (name.size() + 1 + h - 1) / h * h;
  }
  return n;
}

Inotify::Inotify(int flags) : FileDescription(Path{}, O_RDONLY | flags) {}

Inotify::~Inotify() {
  InotifyRegistry& r = InotifyRegistry::Get();
  std::lock_guard<std::mutex> lock(r.mu);
  while (!watches_.empty()) r.DropLocked(watches_.begin()->second.get(), false);
}

void Inotify::Queue(int wd, uint32_t mask, uint32_t cookie,
                    const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Event e{wd, mask, cookie, name};
  if (events_.size() >= kInotifyMaxQueuedEvents) {
    // One IN_Q_OVERFLOW marks the loss; later events are dropped.
    if (events_.back().mask == IN_Q_OVERFLOW) return;
    e = Event{-1, IN_Q_OVERFLOW, 0, {}};
  } else if (!events_.empty()) {
    // Linux merges an event identical to the last one still queued.
    const Event& last = events_.back();
    if (last.wd == e.wd && last.mask == e.mask && last.cookie == e.cookie &&
        last.name == e.name) {
      return;
    }
  }
  bytes_ += e.size();
  events_.push_back(std::move(e));
  waiters_.NotifyAll();
}

int64_t Inotify::Read(IoSequence& dst) {
  SyncWaiter w;
  bool registered = false;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    int64_t result;
    if (!events_.empty()) {
      size_t done = 0;
      result = 0;
      while (!events_.empty()) {
        const Event& e = events_.front();
        size_t sz = e.size();
        if (sz > dst.size() - done) {
          if (done == 0) result = -EINVAL;
          break;
        }
        struct inotify_event hdr {};
        hdr.wd = e.wd;
        hdr.mask = e.mask;
        hdr.cookie = e.cookie;
        hdr.len = static_cast<uint32_t>(sz - sizeof hdr);
        std::vector<char> rec(sz, 0);
        memcpy(rec.data(), &hdr, sizeof hdr);
        memcpy(rec.data() + sizeof hdr, e.name.data(), e.name.size());
        if (int err = dst.CopyOut(done, rec.data(), sz); err != 0) {
          if (done == 0) result = err;
          break;
        }
        done += sz;
        bytes_ -= sz;
        events_.pop_front();
      }
      if (done > 0) result = static_cast<int64_t>(done);
    } else if (nonblocking()) {
      result = -EAGAIN;
    } else {
      if (!registered) {
        waiters_.Add(&w);
        registered = true;
      }
      lock.unlock();
      int rc = w.WaitInterruptible();
      lock.lock();
      if (rc != -EINTR) continue;
      result = -kERestartSys;
    }
    if (registered) waiters_.Remove(&w);
    return result;
  }
}

absl::StatusOr<struct stat> Inotify::Stat() {
  // An anon_inode: no file type bits, owner read/write.
  struct stat st = {};
  st.st_dev = makedev(0, 14);
  st.st_ino = 1;
  st.st_mode = S_IRUSR | S_IWUSR;
  st.st_nlink = 1;
  st.st_blksize = 4096;
  return st;
}

int64_t Inotify::Ioctl(uint32_t cmd, uint64_t arg, UserMemory& mem) {
  if (cmd != FIONREAD) return -ENOTTY;
  int n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    n = static_cast<int>(bytes_);
  }
  return mem.CopyOut(arg, &n, sizeof n);
}

short Inotify::Readiness(short mask) {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.empty() ? 0 : (mask & (POLLIN | POLLRDNORM));
}

void Inotify::AddWaiter(Waiter* w) {
  std::lock_guard<std::mutex> lock(mu_);
  waiters_.Add(w);
}

void Inotify::RemoveWaiter(Waiter* w) {
  std::lock_guard<std::mutex> lock(mu_);
  waiters_.Remove(w);
}

int Inotify::AddWatch(const Path& target, uint32_t mask) {
  FileId id;
  absl::StatusOr<struct stat> st = target.inode()->Stat();
  if (!st.ok()) return -cv::StatusToErrno(st.status());
  id = FileId{st->st_dev, st->st_ino};
  const uint32_t keep = mask & (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK);
  InotifyRegistry& r = InotifyRegistry::Get();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.by_id.find(id);
  if (it != r.by_id.end()) {
    for (InotifyWatch* w : it->second) {
      if (w->owner != this) continue;
      if (mask & IN_MASK_CREATE) return -EEXIST;
      w->mask = (mask & IN_MASK_ADD) ? (w->mask | keep) : keep;
      return w->wd;
    }
  }
  auto w =
      std::make_unique<InotifyWatch>(InotifyWatch{this, next_wd_++, id, keep});
  InotifyWatch* raw = w.get();
  watches_[raw->wd] = std::move(w);
  r.by_id[id].push_back(raw);
  notify_internal::watch_count.fetch_add(1, std::memory_order_relaxed);
  return raw->wd;
}

int Inotify::RemoveWatch(int wd) {
  InotifyRegistry& r = InotifyRegistry::Get();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = watches_.find(wd);
  if (it == watches_.end()) return -EINVAL;
  r.DropLocked(it->second.get(), true);
  return 0;
}

// ---- hooks ----

namespace {

// Whether `d` no longer has a name in its parent (d_unlinked).
bool Unlinked(const DentryRef& d, const DentryRef& parent,
              const std::string& name) {
  if (parent == nullptr) return false;
  return parent->CachedChild(name) != d;
}

void Deliver(Inode* inode, uint32_t mask, uint32_t cookie,
             const std::string& name, bool unlinked) {
  FileId id;
  if (IdOf(inode, &id)) {
    InotifyRegistry::Get().Deliver(id, mask, cookie, name, unlinked);
  }
}

// An event about `inode` itself, on its own watches only (link count
// changes, moves, deletion).
void SelfEvent(const InodeRef& inode, uint32_t mask) {
  // inotify never reported IN_ISDIR with IN_MOVE_SELF / IN_DELETE_SELF.
  if (inode->IsDir() && !(mask & (IN_MOVE_SELF | IN_DELETE_SELF))) {
    mask |= IN_ISDIR;
  }
  Deliver(inode.get(), mask, 0, {}, false);
}

// The file is gone: IN_DELETE_SELF, then IN_IGNORED as its watches end.
void DeleteSelf(const InodeRef& inode) {
  FileId id;
  if (!IdOf(inode.get(), &id)) return;
  InotifyRegistry::Get().Deliver(id, IN_DELETE_SELF, 0, {}, false);
  InotifyRegistry::Get().Gone(id);
}

bool NoLinksLeft(const InodeRef& inode) {
  absl::StatusOr<struct stat> st = inode->Stat();
  return st.ok() && st->st_nlink == 0;
}

// An event in directory `dir` about its entry `name`.
void DirEvent(const Path& dir, uint32_t mask, uint32_t cookie,
              const std::string& name) {
  Deliver(dir.inode().get(), mask, cookie, name, false);
}

}  // namespace

void NotifyFileEvent(const Path& p, uint32_t mask) {
  const InodeRef& inode = p.inode();
  if (inode == nullptr) return;
  if (inode->IsDir()) mask |= IN_ISDIR;
  // As fsnotify_parent: the directory's watches first, with the name, then
  // the file's own.
  DentryRef parent = p.dentry->parent();
  bool unlinked = false;
  if (parent != nullptr && parent->inode() != nullptr) {
    std::string name = p.dentry->name();
    unlinked = Unlinked(p.dentry, parent, name);
    Deliver(parent->inode().get(), mask, 0, name, unlinked);
  }
  Deliver(inode.get(), mask, 0, {}, unlinked);
}

void NotifyCreatedSlow(const Path& created, bool link) {
  DentryRef parent = created.dentry->parent();
  if (parent == nullptr || parent->inode() == nullptr) return;
  const InodeRef& inode = created.inode();
  if (link) SelfEvent(inode, IN_ATTRIB);
  uint32_t mask = IN_CREATE | (inode->IsDir() ? IN_ISDIR : 0);
  Deliver(parent->inode().get(), mask, 0, created.dentry->name(), false);
}

void NotifyRemovedSlow(const Path& dir, const std::string& name,
                       const InodeRef& victim, bool rmdir) {
  // Linux's order: the link count change and, once the last name is gone,
  // the file's own deletion, then IN_DELETE in the directory.
  if (!rmdir) SelfEvent(victim, IN_ATTRIB);
  if (rmdir || NoLinksLeft(victim)) DeleteSelf(victim);
  DirEvent(dir, IN_DELETE | (victim->IsDir() ? IN_ISDIR : 0), 0, name);
}

void NotifyRenamedSlow(const Path& old_dir, const std::string& old_name,
                       const Path& new_dir, const std::string& new_name,
                       const InodeRef& moved, const InodeRef& other,
                       bool exchange) {
  uint32_t cookie = next_cookie.fetch_add(1, std::memory_order_relaxed);
  uint32_t isdir = moved->IsDir() ? IN_ISDIR : 0;
  DirEvent(old_dir, IN_MOVED_FROM | isdir, cookie, old_name);
  DirEvent(new_dir, IN_MOVED_TO | isdir, cookie, new_name);
  if (other != nullptr && !exchange) SelfEvent(other, IN_ATTRIB);
  SelfEvent(moved, IN_MOVE_SELF);
  if (other == nullptr) return;
  if (exchange) {
    cookie = next_cookie.fetch_add(1, std::memory_order_relaxed);
    isdir = other->IsDir() ? IN_ISDIR : 0;
    DirEvent(new_dir, IN_MOVED_FROM | isdir, cookie, new_name);
    DirEvent(old_dir, IN_MOVED_TO | isdir, cookie, old_name);
    SelfEvent(other, IN_MOVE_SELF);
  } else if (other->IsDir() || NoLinksLeft(other)) {
    DeleteSelf(other);  // the replaced file lost its last name
  }
}

uint32_t AttrEventMask(unsigned m) {
  uint32_t ev = 0;
  if (m &
      (SetAttrRequest::kUid | SetAttrRequest::kGid | SetAttrRequest::kMode)) {
    ev |= IN_ATTRIB;
  }
  if (m & SetAttrRequest::kSize) ev |= IN_MODIFY;
  // Both times is utimes(2); one alone reads as an access or a write.
  const unsigned times = SetAttrRequest::kAtime | SetAttrRequest::kMtime;
  if ((m & times) == times) {
    ev |= IN_ATTRIB;
  } else if (m & SetAttrRequest::kAtime) {
    ev |= IN_ACCESS;
  } else if (m & SetAttrRequest::kMtime) {
    ev |= IN_MODIFY;
  }
  return ev;
}

}  // namespace sentry::vfs
