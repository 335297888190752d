// The runsc command line: global flags, `run`, `do`, and the hidden `boot`
// and `gofer` commands that runsc re-executes itself as. The sentry and the
// gofer are passed in so that the CLI can be built and tested without them.
#ifndef CVISOR_RUNSC_CLI_H_
#define CVISOR_RUNSC_CLI_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "gofer/gofer.h"
#include "sentry/sentry.h"

namespace runsc {

struct Entrypoints {
  // sentry::Boot
  std::function<absl::StatusOr<int>(const sentry::BootConfig&)> boot;
  // gofer::RunGofer
  std::function<absl::Status(const gofer::GoferOptions&, cv::UniqueFd)> gofer;
};

// Runs one runsc invocation and returns its exit status.
int Main(int argc, char** argv, const Entrypoints& entrypoints);

// Exposed for tests. Global flags written Go-style with one dash before the
// command ("-debug", "-root=/x") get a second dash, since gVisor's users
// write them so; everything from the command on is left alone.
std::vector<std::string> NormalizeGlobalFlags(std::vector<std::string> args);

// Splits `runsc ... do [do-flags] CMD ARG...` at CMD (or after "--"), so that
// CMD's own flags never reach the flag parser. Returns the arguments for the
// parser in `head` and CMD ARG... in `command`; for any other command all
// arguments are in `head`.
struct SplitArgs {
  std::vector<std::string> head;
  std::vector<std::string> command;
  std::string subcommand;  // the command word, "" if none
};
SplitArgs SplitCommandLine(const std::vector<std::string>& args);

}  // namespace runsc

#endif  // CVISOR_RUNSC_CLI_H_
