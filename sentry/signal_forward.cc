#include "sentry/signal_forward.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"

namespace sentry {
namespace {

// What runsc forwards, as runc and youki do (SIGCHLD and SIGURG are not).
constexpr int kForwarded[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                              SIGUSR1, SIGUSR2, SIGWINCH};

sigset_t ForwardedSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kForwarded) sigaddset(&set, sig);
  return set;
}

}  // namespace

void SignalForwarder::BlockForwardedSignals() {
  sigset_t set = ForwardedSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalForwarder::SignalForwarder(Kernel& kernel) : kernel_(kernel) {
  sigset_t set = ForwardedSet();
  signal_fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC));
  if (!signal_fd_ || !stop_fd_) {
    cv::LogWarning("signal forwarding unavailable: ", strerror(errno));
    return;
  }
  thread_ = std::thread([this] { Loop(); });
}

SignalForwarder::~SignalForwarder() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!write(stop_fd_.get(), &one, sizeof one);
  thread_.join();
}

void SignalForwarder::Loop() {
  for (;;) {
    pollfd p[2] = {{signal_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    signalfd_siginfo si;
    while (read(signal_fd_.get(), &si, sizeof si) == sizeof si) {
      int sig = static_cast<int>(si.ssi_signo);
      cv::LogDebug("forwarding signal ", sig, " to the container's init");
      // From outside the sandbox: sender pid 0, as a signal from an
      // ancestor PID namespace appears.
      kernel_.SignalProcess(1, MakeSigInfo(sig, SI_USER, 0, 0),
                            /*from_outside=*/true);
    }
  }
}

}  // namespace sentry
