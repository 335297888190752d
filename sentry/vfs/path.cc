#include "sentry/vfs/path.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "common/errno_status.h"
#include "common/status_macros.h"

namespace sentry::vfs {

AccessIdentity FsIdentity(const Credentials& creds) {
  return AccessIdentity{creds.fsuid, creds.fsgid, &creds.groups,
                        creds.cap_effective};
}

AccessIdentity RealIdentity(const Credentials& creds) {
  // access(2) checks as the real ids; a real root keeps its permitted
  // capabilities for it, anyone else has none (Linux's access_override_creds).
  return AccessIdentity{creds.ruid, creds.rgid, &creds.groups,
                        creds.ruid == 0 ? creds.cap_permitted : 0};
}

int CheckPermission(const struct stat& st, const AccessIdentity& who, int may) {
  may &= kMayRead | kMayWrite | kMayExec;
  if (may == 0) return 0;
  unsigned mode = st.st_mode;
  unsigned granted;
  if (who.uid == st.st_uid) {
    granted = (mode >> 6) & 7;
  } else {
    bool in_group = who.gid == st.st_gid;
    if (!in_group && who.groups != nullptr) {
      in_group = std::find(who.groups->begin(), who.groups->end(), st.st_gid) !=
                 who.groups->end();
    }
    granted = in_group ? (mode >> 3) & 7 : mode & 7;
  }
  if ((granted & may) == static_cast<unsigned>(may)) return 0;
  constexpr uint64_t kDacOverride = 1 << 1, kDacReadSearch = 1 << 2;
  const uint64_t caps =
      who.caps.value_or(who.uid == 0 ? kDacOverride | kDacReadSearch : 0);
  if (caps & kDacOverride) {
    // Everything but executing a file nobody may execute.
    if (!(may & kMayExec) || S_ISDIR(mode) || (mode & 0111)) return 0;
  }
  if (caps & kDacReadSearch) {
    // Reading anything, and searching directories.
    if (may == kMayRead || (S_ISDIR(mode) && !(may & kMayWrite))) return 0;
  }
  return -EACCES;
}

namespace {

// How many uncached components one LookupPath call may take.
constexpr size_t kMaxLookupBatch = 32;

absl::Status Errno(int err) { return cv::ErrnoStatus(err); }

// One string being consumed: the caller's path, or a symlink target.
struct Frame {
  std::string owned;
  std::string_view external;
  bool is_owned = false;
  size_t pos = 0;
  // The symlink that pushed this frame was the last component and had a
  // trailing slash: whatever this frame ends in must be a directory.
  bool must_be_dir = false;

  std::string_view text() const {
    return is_owned ? std::string_view(owned) : external;
  }
  bool done() const { return pos == text().size(); }
};

struct Component {
  std::string_view name;  // valid until the next frame is pushed
  bool last = false;      // nothing follows it in the whole resolution
  bool trailing = false;  // when last: a "/" followed it
};

class Walker {
 public:
  Walker(const ResolveContext& ctx, int flags)
      : ctx_(ctx),
        flags_(flags),
        // RESOLVE_IN_ROOT: the start is the root for "/", ".." and
        // absolute symlinks alike.
        root_((ctx.restrictions & kResolveInRoot) ? ctx.start : ctx.root) {}

  absl::StatusOr<Resolved> Run(std::string_view path);

 private:
  bool Next(Component* c);
  void PeekNames(std::vector<std::string>* names, size_t max) const;
  Path Parent(Path p) const;
  absl::StatusOr<DentryRef> Lookup(const Path& dir, std::string_view name);
  absl::Status MaySearch(const Path& dir) const;
  bool Restricted(uint64_t bits) const { return ctx_.restrictions & bits; }
  // RESOLVE_NO_XDEV: EXDEV once the walk is on another mount.
  absl::Status CheckXdev(const Path& p) const;

  const ResolveContext& ctx_;
  const int flags_;
  const Path root_;
  std::vector<Frame> frames_;
  // RESOLVE_BENEATH: how deep below the start the walk is.
  int depth_ = 0;
  // RESOLVE_NO_XDEV: the mount the walk began on (the root's for an
  // absolute path, which Linux allows).
  MountRef walk_mount_;
};

absl::Status Walker::CheckXdev(const Path& p) const {
  if (Restricted(kResolveNoXdev) && p.mount != walk_mount_) {
    return Errno(EXDEV);
  }
  return absl::OkStatus();
}

bool Walker::Next(Component* c) {
  while (!frames_.empty()) {
    Frame& f = frames_.back();
    std::string_view t = f.text();
    while (f.pos < t.size() && t[f.pos] == '/') ++f.pos;
    if (f.pos == t.size()) {
      frames_.pop_back();
      continue;
    }
    size_t start = f.pos;
    while (f.pos < t.size() && t[f.pos] != '/') ++f.pos;
    c->name = t.substr(start, f.pos - start);
    bool slash_follows = f.pos < t.size();
    while (f.pos < t.size() && t[f.pos] == '/') ++f.pos;
    // Frames below were left just past their component and its slashes.
    c->last = std::all_of(frames_.begin(), frames_.end(),
                          [](const Frame& fr) { return fr.done(); });
    c->trailing = c->last && (slash_follows || f.must_be_dir);
    return true;
  }
  return false;
}

// The plain names that follow in the current frame, for a batched lookup.
void Walker::PeekNames(std::vector<std::string>* names, size_t max) const {
  if (frames_.empty()) return;
  const Frame& f = frames_.back();
  std::string_view t = f.text();
  size_t pos = f.pos;
  while (names->size() < max) {
    while (pos < t.size() && t[pos] == '/') ++pos;
    if (pos == t.size()) return;
    size_t start = pos;
    while (pos < t.size() && t[pos] != '/') ++pos;
    std::string_view name = t.substr(start, pos - start);
    if (name == "." || name == ".." || name.size() > kNameMax) return;
    names->emplace_back(name);
  }
}

// "..": stays at the task's root and at the namespace's root; from the root
// of a mount, goes to the mount point's parent in the mount below.
Path Walker::Parent(Path p) const {
  for (;;) {
    if (p == root_) return p;
    if (p.dentry != p.mount->root()) break;
    if (p.mount->parent() == nullptr) return p;
    p = Path{p.mount->parent(), p.mount->mountpoint()};
  }
  DentryRef parent = p.dentry->parent();
  if (parent == nullptr) return p;
  return ctx_.mntns->CrossMounts(Path{p.mount, std::move(parent)});
}

absl::Status Walker::MaySearch(const Path& dir) const {
  if (ctx_.who == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(struct stat st, dir.inode()->Stat());
  if (int err = CheckPermission(st, *ctx_.who, kMayExec); err != 0) {
    return Errno(-err);
  }
  return absl::OkStatus();
}

absl::StatusOr<DentryRef> Walker::Lookup(const Path& dir,
                                         std::string_view name) {
  DentryCache& cache = dir.mount->fs()->dentry_cache();
  if (DentryRef c = dir.dentry->CachedChild(name)) {
    cache.Touch(c);
    return c;
  }
  std::vector<std::string> names{std::string(name)};
  PeekNames(&names, kMaxLookupBatch);
  Inode& inode = *dir.inode();
  if (names.size() == 1) {
    absl::StatusOr<InodeRef> found = inode.Lookup(names[0]);
    if (!found.ok()) {
      if (cv::StatusToErrno(found.status()) != ENOENT) return found.status();
      found = InodeRef(nullptr);  // remember the miss: a negative dentry
    }
    DentryRef d = dir.dentry->AddChild(names[0], *std::move(found));
    cache.Touch(d);
    return d;
  }
  // Nothing below an uncached name is cached either: fetch the rest of the
  // names in one request and cache them for the steps that follow.
  ASSIGN_OR_RETURN(LookupPathResult r, inode.LookupPath(names));
  DentryRef parent = dir.dentry;
  DentryRef first;
  size_t i = 0;
  for (; i < r.inodes.size(); ++i) {
    DentryRef d = parent->AddChild(names[i], std::move(r.inodes[i]));
    cache.Touch(d);
    if (i == 0) first = d;
    parent = std::move(d);
    if (!parent->IsDir()) break;
  }
  if (i == r.inodes.size() && i < names.size() && r.stop_errno == ENOENT &&
      parent->IsDir()) {
    DentryRef d = parent->AddChild(names[i], nullptr);
    cache.Touch(d);
    if (i == 0) first = d;
  }
  if (first != nullptr) return first;
  return Errno(r.stop_errno != 0 ? r.stop_errno : EIO);
}

absl::StatusOr<Resolved> Walker::Run(std::string_view path) {
  if (path.empty()) {
    if (flags_ & kAllowEmpty)
      return Resolved{ctx_.start, {}, {}, false, nullptr};
    return Errno(ENOENT);
  }
  if (path.size() >= kPathMax) return Errno(ENAMETOOLONG);
  if (path[0] == '/' && Restricted(kResolveBeneath)) return Errno(EXDEV);
  Path cur = path[0] == '/' ? root_ : ctx_.start;
  walk_mount_ = cur.mount;
  Frame first;
  first.external = path;
  frames_.push_back(std::move(first));
  int links = 0;
  bool must_be_dir = false;
  Component c;
  while (Next(&c)) {
    if (c.last) must_be_dir = c.trailing;
    // Linux checks the type before the permission: a file used as a
    // directory is ENOTDIR even when the caller may not search anything.
    if (!cur.dentry->IsDir()) return Errno(ENOTDIR);
    RETURN_IF_ERROR(MaySearch(cur));
    if (c.name == ".") continue;
    if (c.name == "..") {
      if (Restricted(kResolveBeneath)) {
        if (depth_ == 0) return Errno(EXDEV);
        --depth_;
      }
      cur = Parent(std::move(cur));
      RETURN_IF_ERROR(CheckXdev(cur));
      continue;
    }
    if (c.name.size() > kNameMax) return Errno(ENAMETOOLONG);
    ASSIGN_OR_RETURN(DentryRef child, Lookup(cur, c.name));
    if (child->negative()) {
      if (c.last && (flags_ & kAllowMissingFinal)) {
        return Resolved{
            {}, std::move(cur), std::string(c.name), c.trailing, nullptr};
      }
      return Errno(ENOENT);
    }
    Path next = ctx_.mntns->CrossMounts(Path{cur.mount, std::move(child)});
    if (next.dentry->IsSymlink() &&
        (!c.last || (flags_ & kFollowFinal) || c.trailing)) {
      if (Restricted(kResolveNoSymlinks)) return Errno(ELOOP);
      if (++links > kMaxSymlinks) return Errno(ELOOP);
      if (auto* magic = dynamic_cast<MagicLink*>(next.inode().get())) {
        // Linux's nd_jump_link: refused under RESOLVE_NO_MAGICLINKS, and
        // under BENEATH/IN_ROOT, which cannot vouch for where it leads.
        if (Restricted(kResolveNoMagiclinks)) return Errno(ELOOP);
        ASSIGN_OR_RETURN(MagicLinkTarget target, magic->Follow());
        if (Restricted(kResolveNoXdev) &&
            (!target.path.valid() || target.path.mount != cur.mount)) {
          return Errno(EXDEV);
        }
        if (Restricted(kResolveBeneath | kResolveInRoot)) return Errno(EXDEV);
        if (!target.path.valid()) {
          if (!c.last) return Errno(ENOTDIR);
          if (c.trailing) return Errno(ENOTDIR);
          Resolved r;
          r.file = std::move(target.file);
          return r;
        }
        cur = std::move(target.path);
        if (c.last && c.trailing) must_be_dir = true;
        continue;
      }
      ASSIGN_OR_RETURN(std::string target, next.inode()->Readlink());
      if (target.empty()) return Errno(ENOENT);
      if (target.size() >= kPathMax) return Errno(ENAMETOOLONG);
      Frame f;
      f.is_owned = true;
      f.owned = std::move(target);
      f.must_be_dir = c.last && c.trailing;  // c.name is invalid from here
      if (f.owned[0] == '/') {
        if (Restricted(kResolveBeneath)) return Errno(EXDEV);
        cur = root_;
        depth_ = 0;
        RETURN_IF_ERROR(CheckXdev(cur));
      }
      frames_.push_back(std::move(f));
      continue;
    }
    RETURN_IF_ERROR(CheckXdev(next));
    cur = std::move(next);
    ++depth_;
  }
  // A creating caller decides for itself: open(O_CREAT) of "name/" is
  // EISDIR whatever "name" is.
  if (must_be_dir && !cur.dentry->IsDir() && !(flags_ & kAllowMissingFinal)) {
    return Errno(ENOTDIR);
  }
  return Resolved{std::move(cur), {}, {}, must_be_dir, nullptr};
}

}  // namespace

absl::StatusOr<Resolved> Resolve(const ResolveContext& ctx,
                                 std::string_view path, int flags) {
  Walker w(ctx, flags);
  return w.Run(path);
}

absl::StatusOr<Path> ResolvePath(const ResolveContext& ctx,
                                 std::string_view path, int flags) {
  ASSIGN_OR_RETURN(Resolved r, Resolve(ctx, path, flags & ~kAllowMissingFinal));
  if (!r.path.valid()) return Errno(ENXIO);  // a magic link to a pipe
  return std::move(r.path);
}

}  // namespace sentry::vfs
