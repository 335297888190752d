// Futexes: wait queues keyed by an address in an address space. WAIT checks
// the futex word and queues the waiter under one lock, so a WAKE that follows
// the application's store can never be missed.
#ifndef CVISOR_SENTRY_KERNEL_FUTEX_H_
#define CVISOR_SENTRY_KERNEL_FUTEX_H_

#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "sentry/vfs/wait.h"

namespace sentry {

class Task;

// A private futex is (address space, address). A shared one in MAP_SHARED
// memory is (null, object's device and inode, offset in the object), so
// processes mapping the same object meet whatever their addresses.
struct FutexKey {
  const void* space;  // the address space (its MemoryManager), or null
  uint64_t addr;      // the address, or the offset in the shared object
  uint64_t dev = 0;
  uint64_t ino = 0;
  // Where the calling task reads the futex word; not part of the identity.
  uint64_t uaddr = 0;
  auto operator<=>(const FutexKey& o) const {
    return std::tie(space, addr, dev, ino) <=>
           std::tie(o.space, o.addr, o.dev, o.ino);
  }
  bool operator==(const FutexKey& o) const { return (*this <=> o) == 0; }
};

// The key for `addr` as the task sees it. `private_op` (FUTEX_PRIVATE_FLAG)
// always keys by address space, as Linux does.
FutexKey FutexKeyFor(Task& task, uint64_t addr, bool private_op);

class FutexTable final {
 public:
  // Blocks while the 32-bit word at `addr` equals `val` and no matching wake
  // came. Returns 0 (woken), -EAGAIN (value differed), -ETIMEDOUT, -EFAULT,
  // or -kERestartSys when the task is signalled.
  int Wait(Task& task, FutexKey key, uint32_t val, uint32_t bitset,
           const std::optional<vfs::Deadline>& deadline);
  // Wakes up to `n` waiters on `key` whose bitset intersects `bitset`.
  int Wake(FutexKey key, int n, uint32_t bitset);
  // Wakes up to `nwake` waiters on `from` and moves up to `nrequeue` more to
  // `to`. With `cmpval`, first checks the word at from (else -EAGAIN).
  int Requeue(Task& task, FutexKey from, FutexKey to, int nwake, int nrequeue,
              std::optional<uint32_t> cmpval);
  // FUTEX_WAKE_OP: *addr2 = op(*addr2, oparg); wake on key1; conditionally
  // wake on key2.
  int WakeOp(Task& task, FutexKey key1, FutexKey key2, int nwake1, int nwake2,
             uint32_t op);

 private:
  struct Waiter {
    vfs::SyncWaiter sync;
    FutexKey key;
    uint32_t bitset;
    bool woken = false;
  };
  int WakeLocked(FutexKey key, int n, uint32_t bitset);

  std::mutex mu_;
  std::multimap<FutexKey, Waiter*> waiters_;  // guarded by mu_
};

}  // namespace sentry

#endif  // CVISOR_SENTRY_KERNEL_FUTEX_H_
