// The gofer-backed file system: the container's root file system and its
// bind mounts as the gofer serves them. Inodes hold gofer fids;
// lookups walk through the gofer and are cached in dentries; opening a
// regular file asks the gofer for a host fd, and from then on read, write,
// seek and mmap use that fd without a gofer round trip. Directory listings
// go through the protocol.
//
// The sandbox is assumed to be the only writer of these files (as gVisor's
// default "exclusive" mode): attributes and negative lookups are cached and
// updated by the sentry's own changes (every mutation's reply carries the
// new attributes of what it touched), not revalidated against the host.
#ifndef CVISOR_SENTRY_FS_GOFER_FS_H_
#define CVISOR_SENTRY_FS_GOFER_FS_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "gofer/client.h"
#include "sentry/vfs/vfs.h"

namespace sentry::fs {

struct GoferMount {
  std::shared_ptr<vfs::FileSystem> fs;
  vfs::DentryRef root;
};

// Attaches to attach point `mount_index` of the gofer behind `client` (0:
// the container's root; i: the gofer's i-th extra mount, GoferOptions::
// mounts[i - 1]) and returns the file system and its root dentry, to be
// mounted anywhere (MountNamespace::New or AddMount). The root is whatever
// the attach point is: a directory, or a regular file for a file bind
// mount. Several file systems may share one client; renames and links
// between them are EXDEV.
absl::StatusOr<GoferMount> NewGoferFileSystem(
    std::shared_ptr<gofer::Client> client, uint32_t mount_index);
// The same for attach point 0.
absl::StatusOr<GoferMount> NewGoferFileSystem(
    std::shared_ptr<gofer::Client> client);

// The container's root: attaches, makes it the root mount of a new mount
// namespace (MS_RDONLY if `readonly`: every write and O_CREAT gives EROFS
// before the gofer is asked), and returns a file system context with root
// and cwd there. Give each task a FsContext::Fork() of it, or share it.
absl::StatusOr<std::shared_ptr<vfs::FsContext>> MountGoferRoot(
    std::shared_ptr<gofer::Client> client, bool readonly);

}  // namespace sentry::fs

#endif  // CVISOR_SENTRY_FS_GOFER_FS_H_
