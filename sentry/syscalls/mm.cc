// Memory syscalls: brk, mmap, munmap, mprotect, mremap, madvise, mincore,
// msync and the mlock family. The decisions are the memory manager's
// (sentry/mm/mm.h); this file decodes the arguments and finds the file
// behind an mmap fd.
#include "sentry/mm/mm.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <climits>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/vfs.h"

namespace sentry {

namespace {

// mmap's view of an fd: a regular file to copy from, or /dev/zero, which
// maps as anonymous memory (shared memory with MAP_SHARED), as in Linux.
int FileForMmap(Task& task, int fd, mm::MappedFile* out, bool* dev_zero) {
  *dev_zero = false;
  // mmap's fget: an O_PATH descriptor is not a file to it.
  vfs::FileRef file = task.fd_table().Get(fd);
  if (file == nullptr || file->is_path()) return -EBADF;
  absl::StatusOr<struct stat> st = file->Stat();
  if (!st.ok()) return -ENODEV;
  if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 5)) {
    if (!file->readable()) return -EACCES;
    *dev_zero = true;
    return 0;
  }
  // Directories, pipes, sockets, and devices without an mmap method.
  if (!S_ISREG(st->st_mode)) return -ENODEV;
  vfs::PReadFn pread = vfs::MakePReadFn(file);
  out->pread = [pread](void* buf, size_t len, uint64_t off) -> ssize_t {
    return pread(buf, len, static_cast<int64_t>(off));
  };
  out->size = st->st_size;
  if (file->path().valid()) {
    out->name = task.fs().PathName(file->path());
  } else if (file->host_fd() >= 0) {
    // A memfd: the host names it as Linux would ("/memfd:NAME (deleted)").
    char buf[PATH_MAX];
    ssize_t n =
        readlink(absl::StrCat("/proc/self/fd/", file->host_fd()).c_str(), buf,
                 sizeof buf);
    if (n > 0) out->name.assign(buf, n);
  }
  out->readable = file->readable();
  out->writable = file->writable();
  out->dev = st->st_dev;
  out->inode = st->st_ino;
  out->host_fd = file->host_fd();
  out->keep_alive = file;
  return 0;
}

}  // namespace

namespace mm {

int MappedFileForFd(Task& task, int fd, MappedFile* out) {
  bool dev_zero;
  int err = FileForMmap(task, fd, out, &dev_zero);
  if (err == 0 && dev_zero) {
    // Zero-filled memory: a file of size 0 copies nothing into the fresh
    // pages.
    out->pread = [](void*, size_t, uint64_t) -> ssize_t { return 0; };
    out->size = 0;
    out->name = "/dev/zero";
    out->readable = true;
    out->writable = false;
    out->host_fd = -1;
  }
  return err;
}

}  // namespace mm

namespace {

using A = ArgKind;

int64_t Brk(Task& t, const SyscallArgs& a) {
  return t.mm().Brk(t.context(), a[0]);
}

int64_t Mmap(Task& t, const SyscallArgs& a) {
  const uint64_t addr = a[0], len = a[1], offset = a[5];
  const int prot = static_cast<int>(a[2]);
  int flags = static_cast<int>(a[3]);
  const int fd = static_cast<int>(a[4]);
  // sys_mmap checks the offset before looking at the fd.
  if (offset & mm::kPageMask) return -EINVAL;
  if (flags & MAP_ANONYMOUS) {
    return t.mm().Mmap(t.context(), addr, len, prot, flags, nullptr, offset);
  }
  mm::MappedFile file;
  bool dev_zero;
  if (int err = FileForMmap(t, fd, &file, &dev_zero); err != 0) return err;
  if (dev_zero) {
    // Linux's mmap_zero: private or shared anonymous memory.
    int type = flags & 0x0f;
    if (type == MAP_SHARED_VALIDATE) flags = (flags & ~0x0f) | MAP_SHARED;
    return t.mm().Mmap(t.context(), addr, len, prot, flags | MAP_ANONYMOUS,
                       nullptr, offset);
  }
  return t.mm().Mmap(t.context(), addr, len, prot, flags, &file, offset);
}

int64_t Munmap(Task& t, const SyscallArgs& a) {
  return t.mm().Munmap(t.context(), a[0], a[1]);
}

int64_t Mprotect(Task& t, const SyscallArgs& a) {
  return t.mm().Mprotect(t.context(), a[0], a[1], static_cast<int>(a[2]));
}

int64_t Mremap(Task& t, const SyscallArgs& a) {
  return t.mm().Mremap(t.context(), a[0], a[1], a[2], static_cast<int>(a[3]),
                       a[4]);
}

int64_t Madvise(Task& t, const SyscallArgs& a) {
  return t.mm().Madvise(t.context(), a[0], a[1], static_cast<int>(a[2]));
}

int64_t Mincore(Task& t, const SyscallArgs& a) {
  return t.mm().Mincore(t.context(), a[0], a[1], a[2]);
}

int64_t Msync(Task& t, const SyscallArgs& a) {
  return t.mm().Msync(t.context(), a[0], a[1], static_cast<int>(a[2]));
}

constexpr int kCapIpcLock = 14;

// RLIMIT_MEMLOCK in bytes.
uint64_t MemlockLimit(Task& t) {
  std::lock_guard<std::mutex> lock(t.thread_group().mu);
  return t.thread_group().rlimits[RLIMIT_MEMLOCK].rlim_cur;
}

// Linux's do_mlock() checks before it looks at the range: without
// CAP_IPC_LOCK a zero RLIMIT_MEMLOCK forbids locking (EPERM), and more
// than the limit is ENOMEM. Pages are not locked on the host, so only this
// call's length counts (Linux adds what the process already has locked).
int64_t CheckMlockLimit(Task& t, uint64_t addr, uint64_t len) {
  if (t.creds().HasCap(kCapIpcLock)) return 0;
  const uint64_t limit = MemlockLimit(t);
  if (limit == 0) return -EPERM;
  const uint64_t in_page = addr & mm::kPageMask;
  if (len > UINT64_MAX - mm::kPageMask - in_page) return 0;  // EINVAL later
  const uint64_t pages = mm::PageRoundUp(len + in_page) / mm::kPageSize;
  if (limit != RLIM_INFINITY && pages > limit / mm::kPageSize) return -ENOMEM;
  return 0;
}

int64_t Mlock(Task& t, const SyscallArgs& a) {
  if (int64_t err = CheckMlockLimit(t, a[0], a[1]); err != 0) return err;
  return t.mm().Mlock(a[0], a[1], /*populate=*/true);
}

int64_t Munlock(Task& t, const SyscallArgs& a) {
  return t.mm().Mlock(a[0], a[1], /*populate=*/false);
}

int64_t Mlock2(Task& t, const SyscallArgs& a) {
  if (a[2] & ~static_cast<uint64_t>(MLOCK_ONFAULT)) return -EINVAL;
  if (int64_t err = CheckMlockLimit(t, a[0], a[1]); err != 0) return err;
  return t.mm().Mlock(a[0], a[1], /*populate=*/!(a[2] & MLOCK_ONFAULT));
}

int64_t Mlockall(Task& t, const SyscallArgs& a) {
  const uint64_t flags = a[0];
  if (flags == 0 ||
      (flags & ~uint64_t{MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT}) ||
      flags == MCL_ONFAULT) {
    return -EINVAL;
  }
  if (!t.creds().HasCap(kCapIpcLock)) {
    const uint64_t limit = MemlockLimit(t);
    if (limit == 0) return -EPERM;
    // MCL_CURRENT would lock everything mapped now.
    if ((flags & MCL_CURRENT) && limit != RLIM_INFINITY) {
      uint64_t total = 0;
      for (const auto& [start, v] : t.mm().vmas()) total += v.size();
      if (total / mm::kPageSize > limit / mm::kPageSize) return -ENOMEM;
    }
  }
  // Nothing is locked on the host; the sandbox has no memory to pin.
  return 0;
}

int64_t Munlockall(Task&, const SyscallArgs&) { return 0; }

}  // namespace

void RegisterMmSyscalls(SyscallTable& table) {
  table.Register(SYS_brk, Brk, {A::kHex});
  table.Register(
      SYS_mmap, Mmap,
      {A::kHex, A::kInt, A::kMmapProt, A::kMmapFlags, A::kFd, A::kHex});
  table.Register(SYS_munmap, Munmap, {A::kHex, A::kInt});
  table.Register(SYS_mprotect, Mprotect, {A::kHex, A::kInt, A::kMmapProt});
  table.Register(SYS_mremap, Mremap,
                 {A::kHex, A::kInt, A::kInt, A::kHex, A::kHex});
  table.Register(SYS_madvise, Madvise, {A::kHex, A::kInt, A::kInt});
  table.Register(SYS_mincore, Mincore, {A::kHex, A::kInt, A::kHex});
  table.Register(SYS_msync, Msync, {A::kHex, A::kInt, A::kHex});
  table.Register(SYS_mlock, Mlock, {A::kHex, A::kInt});
  table.Register(SYS_munlock, Munlock, {A::kHex, A::kInt});
  table.Register(SYS_mlock2, Mlock2, {A::kHex, A::kInt, A::kHex});
  table.Register(SYS_mlockall, Mlockall, {A::kHex});
  table.Register(SYS_munlockall, Munlockall, {});
}

}  // namespace sentry
