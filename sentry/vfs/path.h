// Path resolution (Linux's namei): turns a path string into a Path in the
// mount tree. The sentry resolves every path itself — the gofer only ever
// walks single names — so "..", symlinks and mount crossings are decided
// here, against the task's root, never the host's.
#ifndef CVISOR_SENTRY_VFS_PATH_H_
#define CVISOR_SENTRY_VFS_PATH_H_

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sentry/kernel/task.h"  // Credentials
#include "sentry/vfs/inode.h"
#include "sentry/vfs/mount.h"

namespace sentry::vfs {

inline constexpr size_t kPathMax = 4096;  // PATH_MAX, counting the NUL
inline constexpr size_t kNameMax = 255;   // NAME_MAX
inline constexpr int kMaxSymlinks = 40;   // MAXSYMLINKS per resolution

// Permission bits asked for (MAY_EXEC, MAY_WRITE, MAY_READ).
inline constexpr int kMayExec = 1;
inline constexpr int kMayWrite = 2;
inline constexpr int kMayRead = 4;

// Who a permission check is made as.
struct AccessIdentity {
  uint32_t uid = 0;
  uint32_t gid = 0;
  const std::vector<uint32_t>* groups = nullptr;
  // The effective capabilities that bypass the mode bits
  // (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). Unset: uid 0 has both (the
  // kernel's own lookups, tests).
  std::optional<uint64_t> caps;
};
// The file system ids, for everything but access(2).
AccessIdentity FsIdentity(const Credentials& creds);
// The real ids, for access(2) and faccessat(2) without AT_EACCESS.
AccessIdentity RealIdentity(const Credentials& creds);

// Unix permission check of `may` (kMay* bits) on a file with `st`: 0 or
// -EACCES. uid 0 may read and write anything, search any directory, and
// execute a file with at least one x bit (CAP_DAC_OVERRIDE).
int CheckPermission(const struct stat& st, const AccessIdentity& who, int may);

enum ResolveFlags : int {
  // Follow a symlink in the last component (stat vs lstat). A trailing "/"
  // always follows.
  kFollowFinal = 1 << 0,
  // An empty path names the start itself (AT_EMPTY_PATH); else ENOENT.
  kAllowEmpty = 1 << 1,
  // A missing last component is not an error: the result names the
  // directory it would be created in (O_CREAT, mkdir). Nor is a trailing "/"
  // after a non-directory: must_be_dir tells the caller.
  kAllowMissingFinal = 1 << 2,
};

// openat2(2)'s RESOLVE_* restrictions (values as <linux/openat2.h>).
enum ResolveRestrictions : uint64_t {
  kResolveNoXdev = 0x01,        // never leave the starting mount: EXDEV
  kResolveNoMagiclinks = 0x02,  // no /proc/.../fd/N-style jumps: ELOOP
  kResolveNoSymlinks = 0x04,    // no symlinks at all: ELOOP
  kResolveBeneath = 0x08,       // stay below the start: EXDEV
  kResolveInRoot = 0x10,        // the start is "/" for this lookup
  kResolveCached = 0x20,        // only cached dentries (EAGAIN here)
};

struct ResolveContext {
  const MountNamespace* mntns = nullptr;
  Path root;   // "/" and absolute symlink targets start here
  Path start;  // relative paths start here (cwd or a dirfd)
  // Search permission on every directory walked is checked as this
  // identity; null skips the checks (the kernel's own lookups).
  const AccessIdentity* who = nullptr;
  uint64_t restrictions = 0;  // kResolve* bits
};

// Where a magic link leads: a file in the tree (`path`), or an anonymous
// file such as a pipe (only `file`).
struct MagicLinkTarget {
  Path path;
  FileRef file;
};

// A symlink whose meaning is not its text but a file the kernel knows:
// /proc/[pid]/fd/N, exe, cwd, root. The resolver jumps to Follow()'s
// target instead of reading the link, as Linux's nd_jump_link.
class MagicLink {
 public:
  virtual absl::StatusOr<MagicLinkTarget> Follow() = 0;

 protected:
  ~MagicLink() = default;
};

struct Resolved {
  // The file; invalid when the last component is missing (with
  // kAllowMissingFinal), in which case `parent` and `name` say where it
  // would be.
  Path path;
  Path parent;
  std::string name;
  // The path ended in "/" (directly or through a followed symlink): only a
  // directory may be named.
  bool must_be_dir = false;
  // The last component was a magic link to an anonymous file (a pipe's
  // /proc/self/fd/N): `path` is invalid and this is the file.
  FileRef file;
};

// Resolves `path`. Errors, as Linux: ENOENT (missing component, empty path,
// empty symlink), ENOTDIR (a non-directory used as one, or named with a
// trailing "/"), ELOOP (more than 40 symlinks), ENAMETOOLONG (a component
// over 255 bytes or a path of 4096 or more), EACCES (no search permission).
absl::StatusOr<Resolved> Resolve(const ResolveContext& ctx,
                                 std::string_view path, int flags);
// Resolve, for callers that need an existing file. A magic link to an
// anonymous file is ENXIO here (it has no path to return).
absl::StatusOr<Path> ResolvePath(const ResolveContext& ctx,
                                 std::string_view path, int flags);

}  // namespace sentry::vfs

#endif  // CVISOR_SENTRY_VFS_PATH_H_
