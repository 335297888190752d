// absl::Status values that carry a Linux errno, so that an error raised deep
// in the gofer protocol or the VFS reaches the syscall path as the errno
// Linux would return.
#ifndef CVISOR_COMMON_ERRNO_STATUS_H_
#define CVISOR_COMMON_ERRNO_STATUS_H_

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cv {

inline constexpr char kErrnoPayload[] = "cvisor/errno";

// A status for errno `err`, with `context` (what was being done) in the
// message.
inline absl::Status ErrnoStatus(int err, std::string_view context = {}) {
  absl::StatusCode code;
  switch (err) {
    case ENOENT:
      code = absl::StatusCode::kNotFound;
      break;
    case EEXIST:
      code = absl::StatusCode::kAlreadyExists;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = absl::StatusCode::kPermissionDenied;
      break;
    case EINVAL:
    case ENOTDIR:
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP:
      code = absl::StatusCode::kInvalidArgument;
      break;
    case ENOSYS:
    case EOPNOTSUPP:
      code = absl::StatusCode::kUnimplemented;
      break;
    case ENOMEM:
    case ENOSPC:
      code = absl::StatusCode::kResourceExhausted;
      break;
    default:
      code = absl::StatusCode::kInternal;
  }
  absl::Status s(code, context.empty() ? std::string(strerror(err))
                                       : absl::StrCat(std::string(context),
                                                      ": ", strerror(err)));
  s.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(err)));
  return s;
}

// The errno a status carries; a status without one maps from its code.
inline int StatusToErrno(const absl::Status& s) {
  if (s.ok()) return 0;
  if (auto p = s.GetPayload(kErrnoPayload)) {
    int err = 0;
    if (absl::SimpleAtoi(std::string(*p), &err)) return err;
  }
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
      return ENOENT;
    case absl::StatusCode::kAlreadyExists:
      return EEXIST;
    case absl::StatusCode::kPermissionDenied:
      return EACCES;
    case absl::StatusCode::kInvalidArgument:
      return EINVAL;
    case absl::StatusCode::kUnimplemented:
      return ENOSYS;
    case absl::StatusCode::kResourceExhausted:
      return ENOMEM;
    default:
      return EIO;
  }
}

}  // namespace cv

#endif  // CVISOR_COMMON_ERRNO_STATUS_H_
