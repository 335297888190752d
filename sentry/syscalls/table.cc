#include "sentry/syscalls/syscall.h"

namespace sentry {

void SyscallTable::Register(int nr, SyscallHandler handler,
                            std::array<ArgKind, 6> args) {
  SyscallInfo& info = table_[nr];
  info.name = SyscallName(nr);
  info.handler = handler;
  info.args = args;
}

const SyscallTable& SyscallTable::Get() {
  static const SyscallTable* table = [] {
    auto* t = new SyscallTable;
    for (int nr = 0; nr < kMaxSyscall; nr++)
      t->table_[nr].name = SyscallName(nr);
    RegisterFsSyscalls(*t);
    RegisterMmSyscalls(*t);
    RegisterProcessSyscalls(*t);
    RegisterTimeSyscalls(*t);
    RegisterSignalSyscalls(*t);
    RegisterInfoSyscalls(*t);
    RegisterPollSyscalls(*t);
    RegisterFutexSyscalls(*t);
    RegisterPipeSyscalls(*t);
    RegisterCredsSyscalls(*t);
    RegisterTimerSyscalls(*t);
    RegisterLockSyscalls(*t);
    RegisterSpliceSyscalls(*t);
    RegisterXattrSyscalls(*t);
    RegisterStatfsSyscalls(*t);
    RegisterOpenat2Syscalls(*t);
    RegisterMountSyscalls(*t);
    RegisterMemfdSyscalls(*t);
    RegisterShmSyscalls(*t);
    RegisterInotifySyscalls(*t);
    return t;
  }();
  return *table;
}

}  // namespace sentry
