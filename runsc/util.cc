#include "runsc/util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/errno_status.h"
#include "common/unique_fd.h"

namespace runsc {

std::string ErrnoText(int err) {
  std::string s = strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(s[0]));
  return s;
}

absl::Status PathError(absl::string_view op, absl::string_view path, int err) {
  absl::Status base = cv::ErrnoStatus(err);
  absl::Status s(base.code(),
                 absl::StrCat(op, " ", path, ": ", ErrnoText(err)));
  s.SetPayload(cv::kErrnoPayload, *base.GetPayload(cv::kErrnoPayload));
  return s;
}

absl::StatusOr<std::string> AbsolutePath(absl::string_view path) {
  std::string full;
  if (!path.empty() && path[0] == '/') {
    full = std::string(path);
  } else {
    char buf[PATH_MAX];
    if (getcwd(buf, sizeof buf) == nullptr) {
      return cv::ErrnoStatus(errno, "getcwd");
    }
    full = absl::StrCat(buf, "/", path);
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(full, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

absl::StatusOr<std::string> ReadAll(int fd, size_t max_bytes) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return cv::ErrnoStatus(errno, "read");
    }
    if (n == 0) break;
    if (out.size() + n > max_bytes) {
      return absl::OutOfRangeError(
          absl::StrCat("larger than ", max_bytes, " bytes"));
    }
    out.append(buf, n);
  }
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes) {
  cv::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return PathError("open", path, errno);
  absl::StatusOr<std::string> data = ReadAll(fd.get(), max_bytes);
  if (!data.ok()) {
    if (data.status().code() == absl::StatusCode::kOutOfRange) {
      return absl::InvalidArgumentError(
          absl::StrCat("read ", path, ": ", data.status().message()));
    }
    return PathError("read", path, cv::StatusToErrno(data.status()));
  }
  return data;
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  std::string prefix;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, "/", part);
    if (mkdir(prefix.c_str(), mode) == 0 || errno == EEXIST) continue;
    return PathError("mkdir", prefix, errno);
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return PathError("stat", path, errno);
  if (!S_ISDIR(st.st_mode)) return PathError("mkdir", path, ENOTDIR);
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path,
                             absl::string_view contents, mode_t mode) {
  std::string tmp = absl::StrCat(path, ".tmp", getpid());
  cv::UniqueFd fd(
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return PathError("open", tmp, errno);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      unlink(tmp.c_str());
      return PathError("write", tmp, err);
    }
    done += n;
  }
  fd.reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return PathError("rename", path, err);
  }
  return absl::OkStatus();
}

}  // namespace runsc
