// The sandbox's end of signal forwarding: runsc relays the signals it gets
// (SIGINT, SIGTERM, SIGHUP, ...) to the sentry process, which passes each to
// the container's init as a signal from outside the sandbox.
#ifndef CVISOR_SENTRY_SIGNAL_FORWARD_H_
#define CVISOR_SENTRY_SIGNAL_FORWARD_H_

#include <signal.h>

#include <thread>

#include "common/unique_fd.h"
#include "sentry/kernel/kernel.h"

namespace sentry {

class SignalForwarder final {
 public:
  // Blocks the forwarded signals in the calling thread. Call it before any
  // other thread starts, so that every sentry thread inherits the mask and
  // only the forwarder's signalfd sees them.
  static void BlockForwardedSignals();

  // Starts the forwarding thread for `kernel`'s init.
  explicit SignalForwarder(Kernel& kernel);
  // Stops and joins the thread.
  ~SignalForwarder();
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;

 private:
  void Loop();

  Kernel& kernel_;
  cv::UniqueFd signal_fd_;
  cv::UniqueFd stop_fd_;
  std::thread thread_;
};

}  // namespace sentry

#endif  // CVISOR_SENTRY_SIGNAL_FORWARD_H_
