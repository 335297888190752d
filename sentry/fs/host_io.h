// Moving data between a host fd and an IoSequence (application memory or a
// sentry buffer) through a per-thread bounce buffer. Shared by every file
// whose data lives in a host fd: files the gofer donated, the container's
// stdio.
#ifndef CVISOR_SENTRY_FS_HOST_IO_H_
#define CVISOR_SENTRY_FS_HOST_IO_H_

#include <cstddef>
#include <cstdint>

#include "sentry/vfs/file.h"

namespace sentry::fs {

// Reads into `dst` from `fd`: with pread at `offset` if offset >= 0, else at
// the host fd's own offset. Keeps reading until `dst` is full or the host
// returns less than asked (end of file), unless `single`: streams answer
// with one host read, because a second one could block although data was
// already delivered. Returns the count, or -errno if nothing was read
// (-EFAULT if the first chunk could not be delivered). `rwf` are
// preadv2 flags (RWF_NOWAIT: never block, whatever the host fd's own
// O_NONBLOCK says; -EOPNOTSUPP where the file cannot do that).
int64_t HostRead(int fd, vfs::IoSequence& dst, int64_t offset, bool single,
                 int rwf = 0);

// Writes `src` from byte `skip` on to `fd` (pwrite at `offset + ...` if
// offset >= 0, else at the host offset, which O_APPEND moves to the end).
// Stops at the first short write. Returns the count, or -errno if nothing
// was written. `rwf` as for HostRead (pwritev2 flags).
int64_t HostWrite(int fd, vfs::IoSequence& src, int64_t offset, size_t skip = 0,
                  int rwf = 0);

// lseek(2) for a description whose data is host fd `fd` and whose offset
// `cur` it keeps itself (the host fd's own offset is never used): the new
// offset, or a negative errno. SEEK_END uses the host file's size;
// SEEK_DATA and SEEK_HOLE ask the host, which alone knows the holes.
int64_t HostSeekTarget(int fd, int64_t cur, int64_t offset, int whence);

}  // namespace sentry::fs

#endif  // CVISOR_SENTRY_FS_HOST_IO_H_
