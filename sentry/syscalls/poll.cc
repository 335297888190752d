// poll, ppoll, select, pselect6. Files backed by a host fd (the container's
// stdio, gofer-donated files) are polled through the host. Other files
// answer vfs::FileDescription::Readiness (always ready by default, as
// Linux's DEFAULT_POLLMASK); those whose readiness changes (pipes) notify a
// per-thread eventfd that is polled along with the host fds, so one host
// ppoll() sleeps on both kinds at once.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/syscalls/syscall.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

using A = ArgKind;

// poll(2) always reports these, whether asked for or not.
constexpr short kAlwaysReported = POLLERR | POLLHUP | POLLNVAL;
constexpr timespec kZero = {0, 0};

// Polls `fds` (application pollfds, revents filled in) until one is ready or
// `timeout_ns` passes (-1: forever). Returns the number of ready entries.
int64_t DoPoll(Task& t, std::vector<pollfd>& fds, int64_t timeout_ns) {
  // References keep the files alive (and their waiter registrations valid)
  // even if another thread closes the fds meanwhile.
  std::vector<vfs::FileRef> files(fds.size());
  std::vector<size_t> sentry_index;
  std::vector<pollfd> host;
  std::vector<size_t> host_index;
  int nval = 0;
  for (size_t i = 0; i < fds.size(); i++) {
    pollfd& p = fds[i];
    p.revents = 0;
    if (p.fd < 0) continue;
    vfs::FileRef f = t.fd_table().Get(p.fd);
    if (f == nullptr) {
      p.revents = POLLNVAL;
      nval++;
      continue;
    }
    if (f->host_fd() >= 0) {
      host.push_back({f->host_fd(), p.events, 0});
      host_index.push_back(i);
      continue;
    }
    files[i] = std::move(f);
    sentry_index.push_back(i);
  }
  const size_t nhost = host.size();

  // Register before the first readiness check, so a change between the
  // check and the sleep still wakes the sleep.
  vfs::EventWaiter* waiter = nullptr;
  if (timeout_ns != 0 && nval == 0 && !sentry_index.empty()) {
    waiter = &vfs::ThreadEventWaiter();
    if (waiter->fd() < 0) return -ENOMEM;
    waiter->Drain();
    for (size_t i : sentry_index) files[i]->AddWaiter(waiter);
  }
  struct Unregister {
    vfs::EventWaiter* w;
    std::vector<vfs::FileRef>& files;
    std::vector<size_t>& index;
    ~Unregister() {
      if (w == nullptr) return;
      for (size_t i : index) files[i]->RemoveWaiter(w);
    }
  } unregister{waiter, files, sentry_index};

  std::optional<vfs::Deadline> deadline;
  if (timeout_ns > 0) deadline = vfs::Deadline::After(timeout_ns);
  bool first = true;
  for (;;) {
    int ready = nval;
    for (size_t i : sentry_index) {
      pollfd& p = fds[i];
      p.revents = files[i]->Readiness(p.events | kAlwaysReported);
      if (p.revents) ready++;
    }
    // A pass that finds nothing after the deadline is the last; the first
    // pass always looks at the host fds too.
    bool expired = timeout_ns == 0 || (deadline && deadline->Remaining() == 0);
    if (ready > 0 || expired) {
      if (nhost == 0 || (!first && ready > 0)) return ready;
      // One non-blocking look at the host fds.
      for (pollfd& h : host) h.revents = 0;
      int n = ppoll(host.data(), host.size(), &kZero, nullptr);
      if (n < 0) return -errno;
      for (size_t j = 0; j < nhost; j++) {
        pollfd& p = fds[host_index[j]];
        p.revents = host[j].revents & (p.events | kAlwaysReported);
        if (p.revents) ready++;
      }
      return ready;
    }
    first = false;
    // Sleep on the host fds, the waiter (sentry files) and the task's
    // interruptions at once.
    for (pollfd& h : host) h.revents = 0;
    int n = vfs::HostPoll(host, deadline);
    // poll and select never restart after a handler ran.
    if (n == -EINTR) return -kERestartNoHand;
    if (n < 0) return n;
    for (size_t j = 0; j < nhost; j++) {
      pollfd& p = fds[host_index[j]];
      p.revents = host[j].revents & (p.events | kAlwaysReported);
      if (p.revents) ready++;
    }
    if (ready > 0) {
      // Fill in the sentry files too before answering.
      for (size_t i : sentry_index) {
        pollfd& p = fds[i];
        p.revents = files[i]->Readiness(p.events | kAlwaysReported);
        if (p.revents) ready++;
      }
      return ready;
    }
  }
}

int64_t PollCommon(Task& t, uint64_t addr, uint64_t nfds, int64_t timeout_ns) {
  uint64_t limit;
  {
    std::lock_guard<std::mutex> lock(t.thread_group().mu);
    limit = t.thread_group().rlimits[RLIMIT_NOFILE].rlim_cur;
  }
  if (nfds > limit) return -EINVAL;
  std::vector<pollfd> fds(nfds);
  if (int err = t.CopyIn(addr, fds.data(), nfds * sizeof(pollfd)); err) {
    return err;
  }
  int64_t n = DoPoll(t, fds, timeout_ns);
  if (n < 0) return n;
  for (size_t i = 0; i < nfds; i++) {
    // Only revents is written back, as Linux does.
    if (int err = t.CopyOutObj(addr + i * sizeof(pollfd) + 6, fds[i].revents);
        err) {
      return err;
    }
  }
  return n;
}

int64_t Poll(Task& t, const SyscallArgs& a) {
  int timeout = static_cast<int>(a[2]);
  return PollCommon(t, a[0], static_cast<uint32_t>(a[1]),
                    timeout < 0 ? -1 : int64_t{timeout} * 1000000);
}

// Reads a relative timeout; -1 for none.
int ReadTimeout(Task& t, uint64_t addr, int64_t* ns) {
  if (addr == 0) {
    *ns = -1;
    return 0;
  }
  timespec ts;
  if (int err = t.CopyInObj(addr, &ts); err) return err;
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) {
    return -EINVAL;
  }
  *ns = ts.tv_sec * 1000000000LL + ts.tv_nsec;
  return 0;
}

// ppoll and pselect6 take a signal mask for the duration of the call: it is
// installed now and restored by signal delivery (after the handler, if one
// runs), as rt_sigsuspend's.
int ReadSigmask(Task& t, uint64_t addr, uint64_t size,
                std::optional<uint64_t>* mask) {
  if (addr == 0) return 0;
  if (size != sizeof(uint64_t)) return -EINVAL;
  uint64_t m;
  if (int err = t.CopyInObj(addr, &m); err) return err;
  *mask = m;
  return 0;
}

void InstallSigmask(Task& t, const std::optional<uint64_t>& mask) {
  if (!mask) return;
  std::lock_guard<std::mutex> lock(t.kernel().signal_mu());
  t.saved_mask = t.signal_mask;
  t.signal_mask = *mask & ~kUnblockableSignals;
  t.RecalcWakeLocked();
}

// After the call: if a signal interrupted it, delivery restores the old
// mask (saving it in the handler's frame); otherwise it comes back now, and
// signals only the temporary mask let through stay pending.
int64_t EndSigmask(Task& t, const std::optional<uint64_t>& mask, int64_t rc) {
  if (!mask || rc == -kERestartNoHand) return rc;
  std::lock_guard<std::mutex> lock(t.kernel().signal_mu());
  if (t.saved_mask) {
    t.signal_mask = *t.saved_mask;
    t.saved_mask.reset();
    t.RecalcWakeLocked();
  }
  return rc;
}

int64_t Ppoll(Task& t, const SyscallArgs& a) {
  int64_t ns;
  if (int err = ReadTimeout(t, a[2], &ns); err) return err;
  std::optional<uint64_t> mask;
  if (int err = ReadSigmask(t, a[3], a[4], &mask); err) return err;
  InstallSigmask(t, mask);
  int64_t rc = PollCommon(t, a[0], static_cast<uint32_t>(a[1]), ns);
  return EndSigmask(t, mask, rc);
}

int64_t SelectCommon(Task& t, int nfds, uint64_t rd, uint64_t wr, uint64_t ex,
                     int64_t timeout_ns) {
  if (nfds < 0) return -EINVAL;
  nfds = std::min(nfds, FD_SETSIZE * 64);
  size_t words = (nfds + 63) / 64;
  std::vector<uint64_t> sets[3];
  uint64_t addrs[3] = {rd, wr, ex};
  for (int s = 0; s < 3; s++) {
    sets[s].assign(words, 0);
    if (addrs[s] != 0 && words > 0) {
      if (int err = t.CopyIn(addrs[s], sets[s].data(), (nfds + 7) / 8); err) {
        return err;
      }
    }
  }
  std::vector<pollfd> fds;
  for (int fd = 0; fd < nfds; fd++) {
    short events = 0;
    uint64_t bit = 1ULL << (fd % 64);
    if (sets[0][fd / 64] & bit) events |= POLLIN;
    if (sets[1][fd / 64] & bit) events |= POLLOUT;
    if (sets[2][fd / 64] & bit) events |= POLLPRI;
    if (events) fds.push_back({fd, events, 0});
  }
  int64_t n = DoPoll(t, fds, timeout_ns);
  if (n < 0) return n;
  for (auto& s : sets) std::fill(s.begin(), s.end(), 0);
  int64_t count = 0;
  for (const pollfd& p : fds) {
    if (p.revents & POLLNVAL) return -EBADF;
    uint64_t bit = 1ULL << (p.fd % 64);
    if ((p.events & POLLIN) && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
      sets[0][p.fd / 64] |= bit;
      count++;
    }
    if ((p.events & POLLOUT) && (p.revents & (POLLOUT | POLLERR))) {
      sets[1][p.fd / 64] |= bit;
      count++;
    }
    if ((p.events & POLLPRI) && (p.revents & POLLPRI)) {
      sets[2][p.fd / 64] |= bit;
      count++;
    }
  }
  for (int s = 0; s < 3; s++) {
    if (addrs[s] != 0 && words > 0) {
      if (int err = t.CopyOut(addrs[s], sets[s].data(), (nfds + 7) / 8); err) {
        return err;
      }
    }
  }
  return count;
}

int64_t Select(Task& t, const SyscallArgs& a) {
  int64_t ns = -1;
  if (a[4] != 0) {
    timeval tv;
    if (int err = t.CopyInObj(a[4], &tv); err) return err;
    if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
      return -EINVAL;
    ns = tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
  }
  return SelectCommon(t, static_cast<int>(a[0]), a[1], a[2], a[3], ns);
}

int64_t Pselect6(Task& t, const SyscallArgs& a) {
  int64_t ns;
  if (int err = ReadTimeout(t, a[4], &ns); err) return err;
  std::optional<uint64_t> mask;
  if (a[5] != 0) {
    // The sixth argument points at {const sigset_t* ss; size_t ss_len;}.
    uint64_t sig[2];
    if (int err = t.CopyIn(a[5], sig, sizeof sig); err) return err;
    if (int err = ReadSigmask(t, sig[0], sig[1], &mask); err) return err;
  }
  InstallSigmask(t, mask);
  int64_t rc = SelectCommon(t, static_cast<int>(a[0]), a[1], a[2], a[3], ns);
  return EndSigmask(t, mask, rc);
}

}  // namespace

void RegisterPollSyscalls(SyscallTable& table) {
  table.Register(7, Poll, {A::kHex, A::kInt, A::kInt});
  table.Register(271, Ppoll, {A::kHex, A::kInt, A::kHex, A::kHex, A::kInt});
  table.Register(23, Select, {A::kInt, A::kHex, A::kHex, A::kHex, A::kHex});
  table.Register(270, Pselect6,
                 {A::kInt, A::kHex, A::kHex, A::kHex, A::kHex, A::kHex});
}

}  // namespace sentry
