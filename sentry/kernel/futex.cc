#include "sentry/kernel/futex.h"

#include <errno.h>
#include <linux/futex.h>

#include "sentry/kernel/signal.h"
#include "sentry/kernel/task.h"
#include "sentry/mm/mm.h"

namespace sentry {

FutexKey FutexKeyFor(Task& task, uint64_t addr, bool private_op) {
  mm::MemoryManager* mm = task.shared_mm().get();
  FutexKey key{mm, addr};
  key.uaddr = addr;
  if (!private_op && mm != nullptr &&
      mm->SharedObjectAt(addr, &key.dev, &key.ino, &key.addr)) {
    key.space = nullptr;
  }
  return key;
}

int FutexTable::Wait(Task& task, FutexKey key, uint32_t val, uint32_t bitset,
                     const std::optional<vfs::Deadline>& deadline) {
  Waiter w;
  w.key = key;
  w.bitset = bitset;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint32_t cur;
    if (task.CopyInObj(key.uaddr, &cur) != 0) return -EFAULT;
    if (cur != val) return -EAGAIN;
    waiters_.emplace(key, &w);
  }
  // Woken, timed out or interrupted: whichever it was, a wake that raced
  // with the end of the sleep counts (it was taken off the queue).
  int rc = w.sync.WaitInterruptible(deadline);
  std::lock_guard<std::mutex> lock(mu_);
  if (w.woken) return 0;
  // Requeue may have moved us: find our entry wherever it is now.
  for (auto i = waiters_.begin(); i != waiters_.end(); ++i) {
    if (i->second == &w) {
      waiters_.erase(i);
      break;
    }
  }
  // A signal ends the wait; it restarts unless a handler without
  // SA_RESTART runs. (A restarted relative wait starts its timeout anew.)
  if (rc == -EINTR) return -kERestartSys;
  return -ETIMEDOUT;
}

int FutexTable::WakeLocked(FutexKey key, int n, uint32_t bitset) {
  int woken = 0;
  auto [begin, end] = waiters_.equal_range(key);
  for (auto i = begin; i != end && woken < n;) {
    if ((i->second->bitset & bitset) == 0) {
      ++i;
      continue;
    }
    i->second->woken = true;
    i->second->sync.Notify();
    i = waiters_.erase(i);
    woken++;
  }
  return woken;
}

int FutexTable::Wake(FutexKey key, int n, uint32_t bitset) {
  std::lock_guard<std::mutex> lock(mu_);
  return WakeLocked(key, n, bitset);
}

int FutexTable::Requeue(Task& task, FutexKey from, FutexKey to, int nwake,
                        int nrequeue, std::optional<uint32_t> cmpval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cmpval) {
    uint32_t cur;
    if (task.CopyInObj(from.uaddr, &cur) != 0) return -EFAULT;
    if (cur != *cmpval) return -EAGAIN;
  }
  int done = WakeLocked(from, nwake, FUTEX_BITSET_MATCH_ANY);
  int moved = 0;
  auto [begin, end] = waiters_.equal_range(from);
  std::vector<Waiter*> move;
  for (auto i = begin; i != end && moved < nrequeue; moved++) {
    move.push_back(i->second);
    i = waiters_.erase(i);
  }
  for (Waiter* w : move) {
    w->key = to;
    waiters_.emplace(to, w);
  }
  // Like Linux, the result counts the woken and the requeued waiters.
  return done + moved;
}

int FutexTable::WakeOp(Task& task, FutexKey key1, FutexKey key2, int nwake1,
                       int nwake2, uint32_t encoded) {
  int op = (encoded >> 28) & 0xf;
  int cmp = (encoded >> 24) & 0xf;
  uint32_t oparg = (encoded >> 12) & 0xfff;
  uint32_t cmparg = encoded & 0xfff;
  if (op & FUTEX_OP_OPARG_SHIFT) {
    op &= ~FUTEX_OP_OPARG_SHIFT;
    if (oparg > 31) return -EINVAL;
    oparg = 1u << oparg;
  }
  std::lock_guard<std::mutex> lock(mu_);
  // The read-modify-write is atomic with respect to other futex operations
  // but not to application threads storing to the word at the same moment:
  // doing it atomically would take an injected instruction sequence.
  uint32_t old;
  if (task.CopyInObj(key2.uaddr, &old) != 0) return -EFAULT;
  uint32_t next;
  switch (op) {
    case FUTEX_OP_SET:
      next = oparg;
      break;
    case FUTEX_OP_ADD:
      next = old + oparg;
      break;
    case FUTEX_OP_OR:
      next = old | oparg;
      break;
    case FUTEX_OP_ANDN:
      next = old & ~oparg;
      break;
    case FUTEX_OP_XOR:
      next = old ^ oparg;
      break;
    default:
      return -ENOSYS;
  }
  bool take;
  int32_t o = static_cast<int32_t>(old), c = static_cast<int32_t>(cmparg);
  switch (cmp) {
    case FUTEX_OP_CMP_EQ:
      take = o == c;
      break;
    case FUTEX_OP_CMP_NE:
      take = o != c;
      break;
    case FUTEX_OP_CMP_LT:
      take = o < c;
      break;
    case FUTEX_OP_CMP_LE:
      take = o <= c;
      break;
    case FUTEX_OP_CMP_GT:
      take = o > c;
      break;
    case FUTEX_OP_CMP_GE:
      take = o >= c;
      break;
    default:
      return -ENOSYS;
  }
  if (task.CopyOutObj(key2.uaddr, next) != 0) return -EFAULT;
  int woken = WakeLocked(key1, nwake1, FUTEX_BITSET_MATCH_ANY);
  if (take) woken += WakeLocked(key2, nwake2, FUTEX_BITSET_MATCH_ANY);
  return woken;
}

}  // namespace sentry
