#include "sentry/vfs/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "sentry/vfs/wait.h"

namespace sentry::vfs {
namespace {

// How often a blocked lock request looks again for holders that died
// without releasing (a process whose fd table went away unannounced).
constexpr int64_t kRecheckNs = 100'000'000;

struct FileKey {
  dev_t dev;
  ino_t ino;
  bool operator<(const FileKey& o) const {
    return dev != o.dev ? dev < o.dev : ino < o.ino;
  }
};

struct FlockRecord {
  const FileDescription* owner;
  bool exclusive;
};

struct Record {
  LockOwner owner;
  short type;
  uint64_t start;
  uint64_t end;
};

struct FileLocks {
  std::vector<FlockRecord> flocks;
  std::vector<Record> records;
  WaiterList waiters;
  int sleepers = 0;  // requests blocked on this file: keep the entry
};

bool SameOwner(const LockOwner& a, const LockOwner& b) {
  return a.ofd == b.ofd && a.id == b.id;
}

bool Overlap(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2) {
  return s1 <= e2 && s2 <= e1;
}

class LockTable {
 public:
  static LockTable& Get() {
    static LockTable* t = new LockTable;
    return *t;
  }

  int Flock(FileDescription& file, const FileKey& key, bool exclusive,
            bool unlock, bool nonblock);
  int SetRecord(FileDescription& file, const FileKey& key, LockOwner owner,
                short type, uint64_t start, uint64_t end, bool wait);
  bool GetRecord(const FileKey& key, const LockOwner& owner, short type,
                 uint64_t start, uint64_t end, LockInfo* out);
  void ReleasePosix(const FileKey* key, uint64_t tgid);

 private:
  // Makes sure `file`'s flock and OFD locks on `key` go with it.
  void HookRelease(FileDescription& file, const FileKey& key);
  void ReleaseDescription(const FileDescription* d, const FileKey& key);
  void PurgeDead(FileLocks& fl);
  const Record* Conflict(FileLocks& fl, const LockOwner& owner, short type,
                         uint64_t start, uint64_t end);
  void Apply(FileLocks& fl, const LockOwner& owner, short type, uint64_t start,
             uint64_t end);
  void MaybeErase(const FileKey& key);

  std::mutex mu_;
  std::map<FileKey, FileLocks> files_;                           // mu_
  std::set<std::pair<const FileDescription*, FileKey>> hooked_;  // mu_
  // POSIX owners blocked in F_SETLKW -> the owner they wait for.
  std::map<uint64_t, uint64_t> waits_for_;  // mu_
};

void LockTable::HookRelease(FileDescription& file, const FileKey& key) {
  if (!hooked_.insert({&file, key}).second) return;
  const FileDescription* d = &file;
  file.OnRelease([this, d, key] { ReleaseDescription(d, key); });
}

void LockTable::ReleaseDescription(const FileDescription* d,
                                   const FileKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  hooked_.erase({d, key});
  auto it = files_.find(key);
  if (it == files_.end()) return;
  FileLocks& fl = it->second;
  std::erase_if(fl.flocks, [d](const FlockRecord& r) { return r.owner == d; });
  uint64_t id = reinterpret_cast<uintptr_t>(d);
  std::erase_if(fl.records, [id](const Record& r) {
    return r.owner.ofd && r.owner.id == id;
  });
  fl.waiters.NotifyAll();
  MaybeErase(key);
}

void LockTable::MaybeErase(const FileKey& key) {
  auto it = files_.find(key);
  if (it == files_.end()) return;
  FileLocks& fl = it->second;
  if (fl.flocks.empty() && fl.records.empty() && fl.sleepers == 0) {
    files_.erase(it);
  }
}

void LockTable::PurgeDead(FileLocks& fl) {
  size_t before = fl.records.size();
  std::erase_if(fl.records, [](const Record& r) {
    return r.owner.alive != nullptr && !r.owner.alive();
  });
  if (fl.records.size() != before) fl.waiters.NotifyAll();
}

int LockTable::Flock(FileDescription& file, const FileKey& key, bool exclusive,
                     bool unlock, bool nonblock) {
  std::unique_lock<std::mutex> lock(mu_);
  FileLocks& fl = files_[key];
  const FileDescription* me = &file;
  auto mine =
      std::find_if(fl.flocks.begin(), fl.flocks.end(),
                   [me](const FlockRecord& r) { return r.owner == me; });
  if (mine != fl.flocks.end()) {
    if (!unlock && mine->exclusive == exclusive) return 0;
    // A conversion is not atomic on Linux: the old lock goes first, and
    // stays gone if the new one cannot be had.
    fl.flocks.erase(mine);
    fl.waiters.NotifyAll();
  }
  if (unlock) {
    MaybeErase(key);
    return 0;
  }
  SyncWaiter w;
  bool sleeping = false;
  int result = 0;
  for (;;) {
    bool conflict = std::any_of(
        fl.flocks.begin(), fl.flocks.end(), [&](const FlockRecord& r) {
          return r.owner != me && (exclusive || r.exclusive);
        });
    if (!conflict) {
      fl.flocks.push_back({me, exclusive});
      HookRelease(file, key);
      break;
    }
    if (nonblock) {
      result = -EWOULDBLOCK;
      break;
    }
    if (!sleeping) {
      fl.waiters.Add(&w);
      ++fl.sleepers;
      sleeping = true;
    }
    lock.unlock();
    int rc = w.WaitInterruptible();
    lock.lock();
    if (rc == -EINTR) {
      result = -kERestartSys;
      break;
    }
  }
  if (sleeping) {
    fl.waiters.Remove(&w);
    --fl.sleepers;
  }
  MaybeErase(key);
  return result;
}

const Record* LockTable::Conflict(FileLocks& fl, const LockOwner& owner,
                                  short type, uint64_t start, uint64_t end) {
  for (const Record& r : fl.records) {
    if (SameOwner(r.owner, owner)) continue;
    if (!Overlap(r.start, r.end, start, end)) continue;
    if (type == F_WRLCK || r.type == F_WRLCK) return &r;
  }
  return nullptr;
}

void LockTable::Apply(FileLocks& fl, const LockOwner& owner, short type,
                      uint64_t start, uint64_t end) {
  // Cut [start, end] out of the owner's locks, then add the new range and
  // merge it with the owner's touching locks of the same type, so F_GETLK
  // reports ranges as Linux does.
  std::vector<Record> out;
  for (Record& r : fl.records) {
    if (!SameOwner(r.owner, owner) || !Overlap(r.start, r.end, start, end)) {
      out.push_back(std::move(r));
      continue;
    }
    if (r.start < start) {
      Record left = r;
      left.end = start - 1;
      out.push_back(std::move(left));
    }
    if (end != kLockEof && r.end > end) {
      Record right = r;
      right.start = end + 1;
      out.push_back(std::move(right));
    }
  }
  fl.records = std::move(out);
  if (type != F_UNLCK) {
    Record n;
    n.owner = owner;
    n.type = type;
    n.start = start;
    n.end = end;
    bool merged = true;
    while (merged) {
      merged = false;
      for (auto it = fl.records.begin(); it != fl.records.end(); ++it) {
        if (!SameOwner(it->owner, owner) || it->type != type) continue;
        bool touches = (it->end != kLockEof && it->end + 1 == n.start) ||
                       (n.end != kLockEof && n.end + 1 == it->start);
        if (!touches) continue;
        n.start = std::min(n.start, it->start);
        n.end = std::max(n.end, it->end);
        fl.records.erase(it);
        merged = true;
        break;
      }
    }
    fl.records.push_back(std::move(n));
  }
  fl.waiters.NotifyAll();
}

int LockTable::SetRecord(FileDescription& file, const FileKey& key,
                         LockOwner owner, short type, uint64_t start,
                         uint64_t end, bool wait) {
  std::unique_lock<std::mutex> lock(mu_);
  FileLocks& fl = files_[key];
  PurgeDead(fl);
  if (type == F_UNLCK) {
    Apply(fl, owner, type, start, end);
    MaybeErase(key);
    return 0;
  }
  SyncWaiter w;
  bool sleeping = false;
  int result = 0;
  for (;;) {
    const Record* c = Conflict(fl, owner, type, start, end);
    if (c == nullptr) {
      Apply(fl, owner, type, start, end);
      if (owner.ofd) HookRelease(file, key);
      break;
    }
    if (!wait) {
      result = -EAGAIN;
      break;
    }
    if (!owner.ofd && !c->owner.ofd) {
      // The classic deadlock: the holder waits (maybe through others) for
      // us.
      uint64_t next = c->owner.id;
      bool cycle = false;
      for (int hops = 0; hops < 64; ++hops) {
        if (next == owner.id) {
          cycle = true;
          break;
        }
        auto it = waits_for_.find(next);
        if (it == waits_for_.end()) break;
        next = it->second;
      }
      if (cycle) {
        result = -EDEADLK;
        break;
      }
      waits_for_[owner.id] = c->owner.id;
    }
    if (!sleeping) {
      fl.waiters.Add(&w);
      ++fl.sleepers;
      sleeping = true;
    }
    lock.unlock();
    int rc = w.WaitInterruptible(Deadline::After(kRecheckNs));
    lock.lock();
    if (!owner.ofd) waits_for_.erase(owner.id);
    if (rc == -EINTR) {
      result = -kERestartSys;
      break;
    }
    PurgeDead(fl);
  }
  if (sleeping) {
    fl.waiters.Remove(&w);
    --fl.sleepers;
  }
  MaybeErase(key);
  return result;
}

bool LockTable::GetRecord(const FileKey& key, const LockOwner& owner,
                          short type, uint64_t start, uint64_t end,
                          LockInfo* out) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(key);
  if (it == files_.end()) return false;
  PurgeDead(it->second);
  const Record* c = Conflict(it->second, owner, type, start, end);
  if (c == nullptr) return false;
  out->type = c->type;
  out->start = c->start;
  out->end = c->end;
  out->pid = c->owner.ofd ? -1 : c->owner.pid;
  return true;
}

void LockTable::ReleasePosix(const FileKey* key, uint64_t tgid) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FileKey> empty;
  for (auto& [k, fl] : files_) {
    if (key != nullptr && (k.dev != key->dev || k.ino != key->ino)) continue;
    size_t before = fl.records.size();
    std::erase_if(fl.records, [tgid](const Record& r) {
      return !r.owner.ofd && r.owner.id == tgid;
    });
    if (fl.records.size() != before) fl.waiters.NotifyAll();
    if (fl.flocks.empty() && fl.records.empty() && fl.sleepers == 0) {
      empty.push_back(k);
    }
  }
  for (const FileKey& k : empty) files_.erase(k);
}

bool KeyOf(FileDescription& file, FileKey* key) {
  absl::StatusOr<struct stat> st = file.Stat();
  if (!st.ok()) return false;
  *key = FileKey{st->st_dev, st->st_ino};
  return true;
}

}  // namespace

int Flock(FileDescription& file, int op) {
  bool nonblock = op & LOCK_NB;
  int cmd = op & ~LOCK_NB;
  if (cmd != LOCK_SH && cmd != LOCK_EX && cmd != LOCK_UN) return -EINVAL;
  FileKey key;
  if (!KeyOf(file, &key)) return -EBADF;
  return LockTable::Get().Flock(file, key, cmd == LOCK_EX, cmd == LOCK_UN,
                                nonblock);
}

int SetRecordLock(FileDescription& file, LockOwner owner, short type,
                  uint64_t start, uint64_t end, bool wait) {
  FileKey key;
  if (!KeyOf(file, &key)) return -EBADF;
  if (owner.ofd) {
    owner.id = reinterpret_cast<uintptr_t>(&file);
    owner.pid = -1;
  }
  return LockTable::Get().SetRecord(file, key, std::move(owner), type, start,
                                    end, wait);
}

int GetRecordLock(FileDescription& file, LockOwner owner, short type,
                  uint64_t start, uint64_t end, LockInfo* conflict,
                  bool* found) {
  FileKey key;
  if (!KeyOf(file, &key)) return -EBADF;
  if (owner.ofd) owner.id = reinterpret_cast<uintptr_t>(&file);
  *found = LockTable::Get().GetRecord(key, owner, type, start, end, conflict);
  return 0;
}

void ReleasePosixLocks(FileDescription& file, uint64_t owner) {
  FileKey key;
  if (!KeyOf(file, &key)) return;
  LockTable::Get().ReleasePosix(&key, owner);
}

void ReleaseAllPosixLocks(uint64_t owner) {
  LockTable::Get().ReleasePosix(nullptr, owner);
}

}  // namespace sentry::vfs
