// runsc: the cvisor OCI runtime's command line (see runsc/cli.h).
#include "gofer/gofer.h"
#include "runsc/cli.h"
#include "sentry/sentry.h"

int main(int argc, char** argv) {
  return runsc::Main(argc, argv,
                     {.boot = sentry::Boot, .gofer = gofer::RunGofer});
}
