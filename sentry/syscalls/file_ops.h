// Helpers shared by the file syscall families split out of fs.cc (locks,
// splice, xattrs, statfs/sync, openat2): fcntl's lock and seal commands, and
// the close-time release of a process's POSIX locks.
#ifndef CVISOR_SENTRY_SYSCALLS_FILE_OPS_H_
#define CVISOR_SENTRY_SYSCALLS_FILE_OPS_H_

#include <cstdint>

#include "sentry/vfs/file.h"

namespace sentry {

class Task;

// fcntl(2) commands about locks, leases, notifications and seals:
// F_GETLK/F_SETLK/F_SETLKW, the F_OFD_* forms, F_GETLEASE/F_SETLEASE,
// F_NOTIFY, F_ADD_SEALS/F_GET_SEALS. Sets *handled to false for any other
// command.
int64_t FcntlLockOrSeal(Task& t, vfs::FileRef f, unsigned cmd, uint64_t arg,
                        bool* handled);

// `t`'s process closed an fd of `file`: its POSIX locks on the file go.
void ReleasePosixLocksOnClose(Task& t, vfs::FileDescription& file);

}  // namespace sentry

#endif  // CVISOR_SENTRY_SYSCALLS_FILE_OPS_H_
