// pipe and pipe2 (being written).
#include "sentry/syscalls/syscall.h"

namespace sentry {

void RegisterPipeSyscalls(SyscallTable&) {}

}  // namespace sentry
