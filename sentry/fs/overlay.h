// The overlay file system: a writable tmpfs upper layer over a lower layer
// that is never written (the container's root as the gofer serves it), with
// Linux overlayfs's rules: lookups see the upper layer first, a whiteout (a
// 0/0 character device) in the upper layer hides a lower name, an opaque
// upper directory (trusted.overlay.opaque=y) hides the whole lower one, and
// any change to a lower file first copies it (and its parent directories)
// up. Renaming a directory that has lower content gives EXDEV, as overlayfs
// without redirect_dir; `mv` then copies.
#ifndef CVISOR_SENTRY_FS_OVERLAY_H_
#define CVISOR_SENTRY_FS_OVERLAY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "sentry/fs/tmpfs.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fs {

// statfs(2)'s f_type for an overlay (linux/magic.h OVERLAYFS_SUPER_MAGIC).
inline constexpr long kOverlayfsMagic = 0x794c7630;

struct OverlayMount {
  std::shared_ptr<vfs::FileSystem> fs;
  vfs::DentryRef root;
};

// A new overlay over the directory `lower_root`, with a fresh tmpfs as its
// upper layer (`upper_opts.size_bytes` bounds what may be written; the
// mode/uid/gid options are unused: the root takes the lower root's). The
// lower layer is only read.
absl::StatusOr<OverlayMount> NewOverlay(vfs::InodeRef lower_root,
                                        const TmpfsOptions& upper_opts = {});

// The container's root as an overlay over `lower_root`: a new mount
// namespace with the overlay as its root mount, and a file system context
// with root and cwd there (as MountGoferRoot).
absl::StatusOr<std::shared_ptr<vfs::FsContext>> MountOverlayRoot(
    vfs::InodeRef lower_root, const TmpfsOptions& upper_opts = {});

}  // namespace sentry::fs

#endif  // CVISOR_SENTRY_FS_OVERLAY_H_
