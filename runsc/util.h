// Small host helpers shared by the runsc commands: Go-style error texts (the
// form runc prints, so tools that match on them keep working), paths, files.
#ifndef CVISOR_RUNSC_UTIL_H_
#define CVISOR_RUNSC_UTIL_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace runsc {

// strerror(err) with a lower-case first letter: "no such file or directory".
std::string ErrnoText(int err);

// "<op> <path>: <ErrnoText(err)>", e.g. "open /b/config.json: no such file or
// directory", carrying err (common/errno_status.h).
absl::Status PathError(absl::string_view op, absl::string_view path, int err);

// `path` made absolute against the current directory and cleaned lexically
// ("a/../b" -> "b", no trailing slash). Symlinks are not resolved.
absl::StatusOr<std::string> AbsolutePath(absl::string_view path);

// Reads a whole file, refusing one larger than max_bytes.
absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes);

// Reads an fd to EOF.
absl::StatusOr<std::string> ReadAll(int fd, size_t max_bytes);

// mkdir -p with `mode` for the directories it creates.
absl::Status MakeDirs(const std::string& path, mode_t mode);

// Writes `contents` to `path` atomically: a temporary file beside it, then
// rename, so a reader never sees a half-written file.
absl::Status WriteFileAtomic(const std::string& path,
                             absl::string_view contents, mode_t mode);

}  // namespace runsc

#endif  // CVISOR_RUNSC_UTIL_H_
