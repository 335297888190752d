// System V shared memory: shmget, shmat, shmdt, shmctl. Each segment is a
// host memfd the sentry owns; shmat maps it MAP_SHARED in the stub through
// the memory manager (sentry/mm), whose VMAs hold one attachment token per
// shmat (and per fork copy): shm_nattch counts the live tokens, and a
// segment marked with IPC_RMID goes when the last one does.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <map>
#include <memory>
#include <mutex>

#include "absl/strings/str_format.h"
#include "common/unique_fd.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/mm/mm.h"
#include "sentry/syscalls/syscall.h"

namespace sentry {
namespace {

using A = ArgKind;

// Linux's defaults (include/uapi/linux/shm.h, ipc/shm.c).
constexpr uint64_t kShmMin = 1;
constexpr uint64_t kShmMax = ULONG_MAX - (1UL << 24);
constexpr uint64_t kShmAll = ULONG_MAX - (1UL << 24);
constexpr int kShmMni = 4096;
constexpr int kIdSeqMultiplier = 32768;  // ipc ids: seq * this + index
constexpr int kIpc64 = 0x100;
constexpr int kShmStatAny = 15;
constexpr int kCapIpcOwner = 15;
constexpr int kCapSysAdmin = 21;
constexpr int kCapIpcLock = 14;
constexpr int kShmDest = 01000;
constexpr int kShmLocked = 02000;

// The kernel's struct shmid64_ds / ipc64_perm on x86-64 (what glibc's
// struct shmid_ds mirrors).
struct KIpcPerm {
  int32_t key;
  uint32_t uid, gid, cuid, cgid;
  uint16_t mode;
  uint16_t pad1;
  uint16_t seq;
  uint16_t pad2;
  uint64_t unused1, unused2;
};
struct KShmidDs {
  KIpcPerm perm;
  uint64_t segsz;
  int64_t atime, dtime, ctime;
  int32_t cpid, lpid;
  uint64_t nattch;
  uint64_t unused4, unused5;
};
static_assert(sizeof(KShmidDs) == 112);
struct KShmInfo64 {
  uint64_t shmmax, shmmin, shmmni, shmseg, shmall;
  uint64_t unused1, unused2, unused3, unused4;
};
struct KShmInfo {
  int32_t used_ids;
  uint64_t shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes;
};

int64_t Now() { return time(nullptr); }

struct Segment {
  int id = 0;
  int index = 0;
  int32_t key = IPC_PRIVATE;
  uint64_t size = 0;
  cv::UniqueFd fd;
  std::string name;  // what /proc/[pid]/maps shows
  uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  uint16_t mode = 0;  // permission bits plus SHM_DEST / SHM_LOCKED
  uint16_t seq = 0;
  int64_t atime = 0, dtime = 0, ctime = 0;
  int32_t cpid = 0, lpid = 0;
  uint64_t nattch = 0;
};

// The sandbox's segments: one kernel per sentry process, so one registry.
class Registry {
 public:
  std::mutex mu;
  std::map<int, std::shared_ptr<Segment>> by_index;  // guarded by mu
  uint16_t next_seq = 0;

  std::shared_ptr<Segment> FindLocked(int id) {
    if (id < 0) return nullptr;
    auto it = by_index.find(id % kIdSeqMultiplier);
    if (it == by_index.end() || it->second->id != id) return nullptr;
    return it->second;
  }
  std::shared_ptr<Segment> FindKeyLocked(int32_t key) {
    for (auto& [i, s] : by_index) {
      if (s->key == key && !(s->mode & kShmDest)) return s;
    }
    return nullptr;
  }
  void DestroyLocked(const Segment& s) { by_index.erase(s.index); }

  // A new attachment: counted until the returned token is dropped (by the
  // last VMA holding it).
  std::shared_ptr<void> Attach(const std::shared_ptr<Segment>& seg) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seg->nattch++;
    }
    return std::shared_ptr<void>(nullptr, [this, seg](void*) {
      std::lock_guard<std::mutex> lock(mu);
      seg->nattch--;
      seg->dtime = Now();
      if (seg->nattch == 0 && (seg->mode & kShmDest)) DestroyLocked(*seg);
    });
  }
};

Registry& Shm() {
  static Registry* r = new Registry;
  return *r;
}

// ipcperms(): the owner's, group's or others' bits of `mode` must grant
// `want` (rwx bits in the "other" position); CAP_IPC_OWNER overrides.
bool Permitted(Task& t, const Segment& s, int want) {
  if (want == 0) return true;
  const Credentials& c = t.creds();
  int granted = s.mode;
  if (c.euid == s.cuid || c.euid == s.uid) {
    granted >>= 6;
  } else {
    bool in_group = c.egid == s.cgid || c.egid == s.gid;
    for (uint32_t g : c.groups) in_group |= g == s.cgid || g == s.gid;
    if (in_group) granted >>= 3;
  }
  if ((want & ~granted & 07) == 0) return true;
  return c.HasCap(kCapIpcOwner);
}

// IPC_SET / IPC_RMID: the creator, the owner, or CAP_SYS_ADMIN.
bool MayChange(Task& t, const Segment& s) {
  const Credentials& c = t.creds();
  return c.euid == s.cuid || c.euid == s.uid || c.HasCap(kCapSysAdmin);
}

KShmidDs ToKernel(const Segment& s) {
  KShmidDs d{};
  d.perm.key = s.key;
  d.perm.uid = s.uid;
  d.perm.gid = s.gid;
  d.perm.cuid = s.cuid;
  d.perm.cgid = s.cgid;
  d.perm.mode = s.mode;
  d.perm.seq = s.seq;
  d.segsz = s.size;
  d.atime = s.atime;
  d.dtime = s.dtime;
  d.ctime = s.ctime;
  d.cpid = s.cpid;
  d.lpid = s.lpid;
  d.nattch = s.nattch;
  return d;
}

int64_t Shmget(Task& t, const SyscallArgs& a) {
  const int32_t key = static_cast<int32_t>(a[0]);
  const uint64_t size = a[1];
  const int flags = static_cast<int>(a[2]);
  Registry& r = Shm();
  std::lock_guard<std::mutex> lock(r.mu);
  if (key != IPC_PRIVATE) {
    if (std::shared_ptr<Segment> s = r.FindKeyLocked(key)) {
      if ((flags & IPC_CREAT) && (flags & IPC_EXCL)) return -EEXIST;
      const int want = ((flags >> 6) | (flags >> 3) | flags) & 07;
      if (!Permitted(t, *s, want)) {
        return -EACCES;
      }
      if (size > s->size) return -EINVAL;
      return s->id;
    }
    if (!(flags & IPC_CREAT)) return -ENOENT;
  }
  // newseg.
  if (size < kShmMin || size > kShmMax) return -EINVAL;
  int index = 0;
  while (r.by_index.count(index)) ++index;
  if (index >= kShmMni) return -ENOSPC;
  auto s = std::make_shared<Segment>();
  s->index = index;
  s->seq = r.next_seq++;
  s->id = (s->seq % (INT_MAX / kIdSeqMultiplier)) * kIdSeqMultiplier + index;
  s->key = key;
  s->size = size;
  std::string memfd_name =
      absl::StrFormat("SYSV%08x", static_cast<uint32_t>(key));
  int fd = static_cast<int>(
      syscall(SYS_memfd_create, memfd_name.c_str(), MFD_CLOEXEC));
  if (fd < 0) return -ENOMEM;
  s->fd.reset(fd);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) return -ENOMEM;
  s->name = "/" + memfd_name + " (deleted)";
  const Credentials& c = t.creds();
  s->uid = s->cuid = c.euid;
  s->gid = s->cgid = c.egid;
  s->mode = flags & 0777;
  s->ctime = Now();
  s->cpid = t.thread_group().tgid();
  r.by_index[index] = s;
  return s->id;
}

int64_t Shmat(Task& t, const SyscallArgs& a) {
  const int id = static_cast<int>(a[0]);
  uint64_t addr = a[1];
  const int shmflg = static_cast<int>(a[2]);
  constexpr uint64_t kShmLba = mm::kPageSize;
  int map_flags = MAP_SHARED;
  if (addr != 0) {
    if (addr & (kShmLba - 1)) {
      if (!(shmflg & SHM_RND)) return -EINVAL;
      addr &= ~(kShmLba - 1);
      if (addr == 0 && (shmflg & SHM_REMAP)) return -EINVAL;
    }
    map_flags |= MAP_FIXED;
  } else if (shmflg & SHM_REMAP) {
    return -EINVAL;
  }
  int prot = PROT_READ, want = 04;
  if (!(shmflg & SHM_RDONLY)) {
    prot |= PROT_WRITE;
    want |= 02;
  }
  if (shmflg & SHM_EXEC) {
    prot |= PROT_EXEC;
    want |= 01;
  }
  Registry& r = Shm();
  std::shared_ptr<Segment> seg;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    seg = r.FindLocked(id);
    if (seg == nullptr) return -EINVAL;
    if (!Permitted(t, *seg, want)) return -EACCES;
  }
  // Without SHM_REMAP a given address must be free.
  if (addr != 0 && !(shmflg & SHM_REMAP) &&
      !t.mm()
           .vmas()
           .Overlapping(addr, addr + mm::PageRoundUp(seg->size))
           .empty()) {
    return -EINVAL;
  }
  mm::MappedFile file;
  const int fd = seg->fd.get();
  file.pread = [fd](void* buf, size_t len, uint64_t off) -> ssize_t {
    ssize_t n = pread(fd, buf, len, static_cast<off_t>(off));
    return n < 0 ? -errno : n;
  };
  file.name = seg->name;
  file.size = seg->size;
  file.readable = true;
  file.writable = !(shmflg & SHM_RDONLY);
  // Linux's SysV segments are shmem files: device 00:01, inode = the id.
  file.dev = makedev(0, 1);
  file.inode = static_cast<uint64_t>(seg->id);
  file.host_fd = fd;
  file.sysv_shm = true;
  file.keep_alive = r.Attach(seg);
  file.on_fork = [&r, seg]() { return r.Attach(seg); };
  int64_t res =
      t.mm().Mmap(t.context(), addr, seg->size, prot, map_flags, &file, 0);
  if (res < 0) return res;
  std::lock_guard<std::mutex> lock(r.mu);
  seg->atime = Now();
  seg->lpid = t.thread_group().tgid();
  return res;
}

int64_t Shmdt(Task& t, const SyscallArgs& a) {
  int64_t r = t.mm().DetachShm(t.context(), a[0]);
  return r;
}

int64_t Shmctl(Task& t, const SyscallArgs& a) {
  const int id = static_cast<int>(a[0]);
  const int cmd = static_cast<int>(a[1]) & ~kIpc64;
  const uint64_t buf = a[2];
  Registry& r = Shm();
  switch (cmd) {
    case IPC_INFO: {
      KShmInfo64 info{};
      info.shmmax = kShmMax;
      info.shmmin = kShmMin;
      info.shmmni = kShmMni;
      info.shmseg = kShmMni;
      info.shmall = kShmAll;
      int max_index;
      {
        std::lock_guard<std::mutex> lock(r.mu);
        max_index = r.by_index.empty() ? 0 : r.by_index.rbegin()->first;
      }
      if (int err = t.CopyOut(buf, &info, sizeof(info)); err) return err;
      return max_index;
    }
    case SHM_INFO: {
      KShmInfo info{};
      int max_index;
      {
        std::lock_guard<std::mutex> lock(r.mu);
        info.used_ids = static_cast<int32_t>(r.by_index.size());
        for (auto& [i, s] : r.by_index) {
          info.shm_tot += mm::PageRoundUp(s->size) / mm::kPageSize;
        }
        info.shm_rss = info.shm_tot;
        max_index = r.by_index.empty() ? 0 : r.by_index.rbegin()->first;
      }
      if (int err = t.CopyOut(buf, &info, sizeof(info)); err) return err;
      return max_index;
    }
    case SHM_STAT:
    case kShmStatAny:
    case IPC_STAT: {
      KShmidDs ds;
      int ret = 0;
      {
        std::lock_guard<std::mutex> lock(r.mu);
        std::shared_ptr<Segment> s;
        if (cmd == IPC_STAT) {
          s = r.FindLocked(id);
        } else {
          // SHM_STAT takes an index and returns the full id.
          auto it = r.by_index.find(id);
          if (id >= 0 && it != r.by_index.end()) s = it->second;
        }
        if (s == nullptr) return -EINVAL;
        if (cmd != kShmStatAny && !Permitted(t, *s, 04)) return -EACCES;
        ds = ToKernel(*s);
        ret = cmd == IPC_STAT ? 0 : s->id;
      }
      if (int err = t.CopyOut(buf, &ds, sizeof(ds)); err) return err;
      return ret;
    }
    case IPC_SET: {
      KShmidDs in;
      if (int err = t.CopyIn(buf, &in, sizeof(in)); err) return err;
      std::lock_guard<std::mutex> lock(r.mu);
      std::shared_ptr<Segment> s = r.FindLocked(id);
      if (s == nullptr) return -EINVAL;
      if (!MayChange(t, *s)) return -EPERM;
      s->uid = in.perm.uid;
      s->gid = in.perm.gid;
      s->mode = (s->mode & ~0777) | (in.perm.mode & 0777);
      s->ctime = Now();
      return 0;
    }
    case IPC_RMID: {
      std::lock_guard<std::mutex> lock(r.mu);
      std::shared_ptr<Segment> s = r.FindLocked(id);
      if (s == nullptr) return -EINVAL;
      if (!MayChange(t, *s)) return -EPERM;
      if (s->nattch == 0) {
        r.DestroyLocked(*s);
      } else {
        // Destroyed at the last detach; no longer found by its key.
        s->mode |= kShmDest;
        s->key = IPC_PRIVATE;
      }
      return 0;
    }
    case SHM_LOCK:
    case SHM_UNLOCK: {
      std::lock_guard<std::mutex> lock(r.mu);
      std::shared_ptr<Segment> s = r.FindLocked(id);
      if (s == nullptr) return -EINVAL;
      if (!t.creds().HasCap(kCapIpcLock) && t.creds().euid != s->uid &&
          t.creds().euid != s->cuid) {
        return -EPERM;
      }
      // Nothing is pinned on the host; the flag is what IPC_STAT shows.
      if (cmd == SHM_LOCK) {
        s->mode |= kShmLocked;
      } else {
        s->mode &= ~kShmLocked;
      }
      return 0;
    }
    default:
      return -EINVAL;
  }
}

}  // namespace

void RegisterShmSyscalls(SyscallTable& table) {
  table.Register(SYS_shmget, Shmget, {A::kHex, A::kInt, A::kOct});
  table.Register(SYS_shmat, Shmat, {A::kInt, A::kHex, A::kHex});
  table.Register(SYS_shmdt, Shmdt, {A::kHex});
  table.Register(SYS_shmctl, Shmctl, {A::kInt, A::kInt, A::kHex});
}

}  // namespace sentry
