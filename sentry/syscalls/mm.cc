// Memory syscalls: brk, mmap, munmap, mprotect, mremap, madvise, mincore,
// msync and the mlock family. The decisions are the memory manager's
// (sentry/mm/mm.h); this file decodes the arguments and finds the file
// behind an mmap fd.
#include "sentry/mm/mm.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

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
  out->name = file->path().dentry ? task.fs().PathName(file->path()) : "";
  out->readable = file->readable();
  out->writable = file->writable();
  out->dev = st->st_dev;
  out->inode = st->st_ino;
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
  return t.mm().Msync(a[0], a[1], static_cast<int>(a[2]));
}

int64_t Mlock(Task& t, const SyscallArgs& a) {
  return t.mm().Mlock(a[0], a[1], /*populate=*/true);
}

int64_t Munlock(Task& t, const SyscallArgs& a) {
  return t.mm().Mlock(a[0], a[1], /*populate=*/false);
}

int64_t Mlock2(Task& t, const SyscallArgs& a) {
  if (a[2] & ~static_cast<uint64_t>(MLOCK_ONFAULT)) return -EINVAL;
  return t.mm().Mlock(a[0], a[1], /*populate=*/!(a[2] & MLOCK_ONFAULT));
}

int64_t Mlockall(Task&, const SyscallArgs& a) {
  const uint64_t flags = a[0];
  if (flags == 0 ||
      (flags & ~uint64_t{MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT}) ||
      flags == MCL_ONFAULT) {
    return -EINVAL;
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
