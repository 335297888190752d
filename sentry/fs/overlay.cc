#include "sentry/fs/overlay.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>  // RENAME_*
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/status_macros.h"

namespace sentry::fs {
namespace {

// Linux overlayfs's own xattrs: never shown through the overlay.
constexpr char kOverlayXattrPrefix[] = "trusted.overlay.";
// "y" on an upper directory: the lower directory of that name is hidden.
constexpr char kOpaqueXattr[] = "trusted.overlay.opaque";
// On a copied-up non-directory: the inode number it had in the lower layer,
// so that it keeps its identity after a rename or a second hard link.
constexpr char kOriginXattr[] = "trusted.overlay.origin";

// Files that exist only in the upper layer report their tmpfs inode number
// with this bit set, apart from the lower layer's numbers (as Linux's xino
// puts a layer index in the high bits).
constexpr uint64_t kUpperInoBit = uint64_t{1} << 62;

// Apart from tmpfs's, devfs's and procfs's anonymous minors.
std::atomic<unsigned> next_overlay_minor{0xf4000};

absl::Status Errno(int err) { return cv::ErrnoStatus(err); }
int ErrnoOf(const absl::Status& s) { return cv::StatusToErrno(s); }

bool IsOverlayXattr(const std::string& name) {
  return name.rfind(kOverlayXattrPrefix, 0) == 0;
}

// Linux overlayfs's whiteout: a character device with device number 0/0.
bool IsWhiteout(vfs::Inode& inode) {
  if (inode.type() != S_IFCHR) return false;
  absl::StatusOr<struct stat> st = inode.Stat();
  return st.ok() && st->st_rdev == 0;
}

bool IsOpaque(vfs::Inode& dir) {
  absl::StatusOr<std::string> v = dir.GetXattr(kOpaqueXattr);
  return v.ok() && *v == "y";
}

absl::Status MakeWhiteout(vfs::Inode& dir, const std::string& name) {
  vfs::NewFileSpec spec;
  spec.mode = S_IFCHR;
  spec.rdev = makedev(0, 0);
  return dir.Mknod(name, spec).status();
}

absl::StatusOr<uint64_t> UpperIno(vfs::Inode& upper) {
  ASSIGN_OR_RETURN(struct stat st, upper.Stat());
  absl::StatusOr<std::string> origin = upper.GetXattr(kOriginXattr);
  uint64_t ino;
  if (origin.ok() && absl::SimpleAtoi(*origin, &ino)) return ino;
  return static_cast<uint64_t>(st.st_ino) | kUpperInoBit;
}

absl::StatusOr<uint64_t> LowerIno(vfs::Inode& lower) {
  ASSIGN_OR_RETURN(struct stat st, lower.Stat());
  return static_cast<uint64_t>(st.st_ino);
}

// Every entry of a directory but "." and "..", over as many ReadDir calls
// as the file system needs.
absl::StatusOr<std::vector<vfs::DirEntry>> ReadAll(vfs::Inode& dir) {
  std::vector<vfs::DirEntry> out;
  uint64_t offset = 0;
  for (;;) {
    ASSIGN_OR_RETURN(vfs::DirBatch b, dir.ReadDir(offset));
    for (vfs::DirEntry& e : b.entries) {
      offset = e.next_offset;
      if (e.name == "." || e.name == "..") continue;
      out.push_back(std::move(e));
    }
    if (b.eof || b.entries.empty()) break;
  }
  return out;
}

// The state every inode of one overlay shares. It is not the FileSystem
// itself: that owns the dentry cache, whose dentries hold inodes, and an
// inode holding the FileSystem would keep the whole tree (and the gofer
// connection under it) alive after the last mount goes.
class Overlay final {
 public:
  Overlay(TmpfsMount upper, vfs::InodeRef work)
      : dev_(makedev(0, next_overlay_minor.fetch_add(1))),
        upper_(std::move(upper)),
        work_(std::move(work)) {}
  Overlay(const Overlay&) = delete;
  Overlay& operator=(const Overlay&) = delete;

  dev_t dev() const { return dev_; }
  // A hidden directory in the upper tmpfs where copies are built before
  // they are moved into place (Linux's workdir), so that a copy-up that
  // fails half way never shows.
  vfs::Inode& work() { return *work_; }
  const vfs::InodeRef& upper_root() const { return upper_.root->inode(); }
  std::string NextWorkName() { return absl::StrCat("#", next_work_++); }

  // Serialises every change made through the overlay, copy-ups included:
  // which layer holds a name only changes under it.
  std::mutex mutate_mu;
  // Held shared by lookups and listings, exclusively by the steps of a
  // change, so that nobody sees a name half way (a whiteout removed before
  // the new file is made, a lower file through a gap).
  std::shared_mutex ns_mu;

 private:
  const dev_t dev_;
  const TmpfsMount upper_;
  const vfs::InodeRef work_;
  std::atomic<uint64_t> next_work_{0};
};

class OverlayFs final : public vfs::FileSystem {
 public:
  explicit OverlayFs(std::shared_ptr<Overlay> overlay)
      : overlay_(std::move(overlay)) {}
  std::string_view type() const override { return "overlay"; }

 private:
  const std::shared_ptr<Overlay> overlay_;
};

class OverlayInode final : public vfs::Inode,
                           public std::enable_shared_from_this<OverlayInode> {
 public:
  // `lower` is, for a directory, the lower directory merged into it (null
  // if there is none or the upper one is opaque); for anything else, the
  // lower file it was (or will be) copied up from.
  OverlayInode(std::shared_ptr<Overlay> fs, mode_t type, vfs::InodeRef upper,
               vfs::InodeRef lower, uint64_t ino,
               std::shared_ptr<OverlayInode> parent, std::string name)
      : Inode(type),
        fs_(std::move(fs)),
        lower_(std::move(lower)),
        ino_(ino),
        upper_(std::move(upper)),
        copied_up_(upper_ != nullptr),
        parent_(std::move(parent)),
        name_(std::move(name)) {}

  ~OverlayInode() override {
    if (!orphan_name_.empty()) {
      if (IsDir()) {
        (void)fs_->work().Rmdir(orphan_name_);
      } else {
        (void)fs_->work().Unlink(orphan_name_);
      }
    }
    // Forget this inode in its parent's table unless a newer one took its
    // name meanwhile.
    if (parent_ == nullptr) return;
    std::lock_guard<std::mutex> lock(parent_->mu_);
    auto it = parent_->children_.find(name_);
    if (it != parent_->children_.end() && it->second.expired()) {
      parent_->children_.erase(it);
    }
  }

  vfs::InodeRef upper() {
    std::lock_guard<std::mutex> lock(mu_);
    return upper_;
  }
  bool copied_up() const { return copied_up_.load(std::memory_order_acquire); }
  uint64_t ino() const { return ino_; }

  absl::StatusOr<struct stat> Stat() override {
    vfs::InodeRef up = upper();
    vfs::Inode& real = up ? *up : *lower_;
    ASSIGN_OR_RETURN(struct stat st, real.Stat());
    st.st_dev = fs_->dev();
    st.st_ino = ino_;
    // Linux reports 1 for a merged directory rather than count the
    // subdirectories of both layers; find(1) takes 1 as "unknown".
    if (IsDir() && up && lower_) st.st_nlink = 1;
    return st;
  }

  absl::StatusOr<vfs::InodeRef> Lookup(const std::string& name) override {
    std::shared_lock<std::shared_mutex> ns(fs_->ns_mu);
    ASSIGN_OR_RETURN(std::shared_ptr<OverlayInode> child, LookupLocked(name));
    return vfs::InodeRef(std::move(child));
  }

  // Walks as the default does, but hands each run of names under a
  // directory that exists only in the lower layer to the lower file system
  // in one go (for the gofer, one round trip), since nothing under such a
  // directory can be in the upper layer.
  absl::StatusOr<vfs::LookupPathResult> LookupPath(
      const std::vector<std::string>& names) override {
    std::shared_lock<std::shared_mutex> ns(fs_->ns_mu);
    vfs::LookupPathResult result;
    std::shared_ptr<OverlayInode> cur = shared_from_this();
    size_t i = 0;
    while (i < names.size()) {
      if (!cur->IsDir()) {
        result.stop_errno = ENOTDIR;
        break;
      }
      if (!cur->copied_up() && !cur->HasLiveChild(names[i])) {
        std::vector<std::string> rest(names.begin() + i, names.end());
        ASSIGN_OR_RETURN(vfs::LookupPathResult low,
                         cur->lower_->LookupPath(rest));
        for (size_t k = 0; k < low.inodes.size(); ++k, ++i) {
          ASSIGN_OR_RETURN(cur, cur->AdoptLower(names[i], low.inodes[k]));
          result.inodes.push_back(cur);
        }
        if (low.stop_errno != 0 && low.stop_errno != ENOTDIR) {
          result.stop_errno = low.stop_errno;
          break;
        }
        if (low.inodes.empty()) {  // no progress: say the name is missing
          result.stop_errno = ENOENT;
          break;
        }
        continue;
      }
      absl::StatusOr<std::shared_ptr<OverlayInode>> child =
          cur->LookupLocked(names[i]);
      if (!child.ok()) {
        result.stop_errno = ErrnoOf(child.status());
        break;
      }
      cur = *std::move(child);
      result.inodes.push_back(cur);
      ++i;
    }
    return result;
  }

  absl::StatusOr<std::string> Readlink() override {
    if (!IsSymlink()) return Errno(EINVAL);
    vfs::InodeRef up = upper();
    return up ? up->Readlink() : lower_->Readlink();
  }

  absl::StatusOr<vfs::FileRef> Open(const vfs::Path& path, int flags) override;

  absl::StatusOr<vfs::DirBatch> ReadDir(uint64_t offset) override {
    if (!IsDir()) return Errno(ENOTDIR);
    std::shared_ptr<const std::vector<vfs::DirEntry>> snap;
    if (offset != 0) {
      std::lock_guard<std::mutex> lock(mu_);
      snap = snapshot_;
    }
    if (snap == nullptr) {
      // A listing from the start takes a snapshot of the merged directory;
      // later offsets (after a seek) index into the latest one, so they
      // stay valid while the directory changes underneath.
      ASSIGN_OR_RETURN(std::vector<vfs::DirEntry> all, MergedEntries());
      snap = std::make_shared<const std::vector<vfs::DirEntry>>(std::move(all));
      std::lock_guard<std::mutex> lock(mu_);
      snapshot_ = snap;
    }
    vfs::DirBatch b;
    for (size_t i = offset; i < snap->size(); ++i) {
      b.entries.push_back((*snap)[i]);
    }
    b.eof = true;
    return b;
  }

  absl::StatusOr<vfs::InodeRef> Create(const std::string& name,
                                       const vfs::NewFileSpec& spec) override {
    return MakeChild(name, spec,
                     [&](vfs::Inode& dir) { return dir.Create(name, spec); });
  }
  absl::StatusOr<vfs::InodeRef> Mkdir(const std::string& name,
                                      const vfs::NewFileSpec& spec) override {
    return MakeChild(name, spec,
                     [&](vfs::Inode& dir) { return dir.Mkdir(name, spec); });
  }
  absl::StatusOr<vfs::InodeRef> Mknod(const std::string& name,
                                      const vfs::NewFileSpec& spec) override {
    return MakeChild(name, spec,
                     [&](vfs::Inode& dir) { return dir.Mknod(name, spec); });
  }
  absl::StatusOr<vfs::InodeRef> Symlink(const std::string& name,
                                        const std::string& target,
                                        const vfs::NewFileSpec& spec) override {
    return MakeChild(name, spec, [&](vfs::Inode& dir) {
      return dir.Symlink(name, target, spec);
    });
  }

  absl::Status Link(const std::string& name,
                    const vfs::InodeRef& target) override;
  absl::Status Unlink(const std::string& name) override;
  absl::Status Rmdir(const std::string& name) override;
  absl::Status Rename(const std::string& name, vfs::Inode& new_dir,
                      const std::string& new_name, unsigned flags) override;

  absl::Status SetAttr(const vfs::SetAttrRequest& req) override {
    if (vfs::InodeRef up = upper()) return up->SetAttr(req);
    std::optional<uint64_t> limit;
    // A truncation copies only what survives it.
    if (req.mask & vfs::SetAttrRequest::kSize) limit = req.size;
    {
      std::lock_guard<std::mutex> lock(fs_->mutate_mu);
      RETURN_IF_ERROR(CopyUpLocked(limit));
    }
    return upper()->SetAttr(req);
  }

  absl::StatusOr<struct statfs> StatFs() override {
    ASSIGN_OR_RETURN(struct statfs s, fs_->upper_root()->StatFs());
    s.f_type = kOverlayfsMagic;
    s.f_fsid.__val[0] = static_cast<int>(minor(fs_->dev()));
    s.f_fsid.__val[1] = static_cast<int>(major(fs_->dev()));
    return s;
  }

  // Overlayfs keeps its own trusted.overlay.* attributes out of reach
  // (EOPNOTSUPP, as Linux's ovl_own_xattr_get/set).
  absl::StatusOr<std::string> GetXattr(const std::string& name) override {
    if (IsOverlayXattr(name)) return Errno(EOPNOTSUPP);
    vfs::InodeRef up = upper();
    return up ? up->GetXattr(name) : lower_->GetXattr(name);
  }
  absl::StatusOr<std::vector<std::string>> ListXattr() override {
    vfs::InodeRef up = upper();
    ASSIGN_OR_RETURN(std::vector<std::string> names,
                     up ? up->ListXattr() : lower_->ListXattr());
    names.erase(std::remove_if(names.begin(), names.end(), IsOverlayXattr),
                names.end());
    return names;
  }
  absl::Status SetXattr(const std::string& name, const std::string& value,
                        int flags) override {
    if (IsOverlayXattr(name)) return Errno(EOPNOTSUPP);
    RETURN_IF_ERROR(EnsureUpper());
    return upper()->SetXattr(name, value, flags);
  }
  absl::Status RemoveXattr(const std::string& name) override {
    if (IsOverlayXattr(name)) return Errno(EOPNOTSUPP);
    RETURN_IF_ERROR(EnsureUpper());
    return upper()->RemoveXattr(name);
  }

  // Copies this file up unless it already is (with all its data).
  absl::Status EnsureUpper() {
    if (copied_up()) return absl::OkStatus();
    std::lock_guard<std::mutex> lock(fs_->mutate_mu);
    return CopyUpLocked({});
  }

  // Opens the real file (upper if copied up, else lower) with `flags`.
  absl::StatusOr<vfs::FileRef> OpenReal(const vfs::Path& path, int flags) {
    vfs::InodeRef real;
    vfs::DentryRef shadow;
    {
      std::lock_guard<std::mutex> lock(mu_);
      real = upper_ ? upper_ : lower_;
      // The real file system's Open sees a path whose dentry holds its own
      // inode (some file systems find their inode there); the description
      // the application holds keeps the overlay's path.
      vfs::DentryRef& d = upper_ ? upper_dentry_ : lower_dentry_;
      if (d == nullptr) d = vfs::Dentry::NewRoot(real);
      shadow = d;
    }
    return real->Open(vfs::Path{path.mount, shadow}, flags);
  }

 private:
  // The child called `name`, one inode per name while it is in use; the
  // caller holds ns_mu (either way).
  absl::StatusOr<std::shared_ptr<OverlayInode>> LookupLocked(
      const std::string& name) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = children_.find(name);
      if (it != children_.end()) {
        if (auto c = it->second.lock()) return c;
      }
    }
    ASSIGN_OR_RETURN(std::shared_ptr<OverlayInode> child, Resolve(name));
    std::lock_guard<std::mutex> lock(mu_);
    std::weak_ptr<OverlayInode>& slot = children_[name];
    if (auto c = slot.lock()) return c;
    slot = child;
    return child;
  }

  bool HasLiveChild(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(name);
    return it != children_.end() && !it->second.expired();
  }

  // The child `name` of this lower-only directory, given the lower inode a
  // lower walk found for it (ns_mu held).
  absl::StatusOr<std::shared_ptr<OverlayInode>> AdoptLower(
      const std::string& name, const vfs::InodeRef& low) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = children_.find(name);
      if (it != children_.end()) {
        if (auto c = it->second.lock()) return c;
      }
    }
    ASSIGN_OR_RETURN(uint64_t ino, LowerIno(*low));
    std::shared_ptr<OverlayInode> child = NewChild(name, nullptr, low, ino);
    std::lock_guard<std::mutex> lock(mu_);
    std::weak_ptr<OverlayInode>& slot = children_[name];
    if (auto c = slot.lock()) return c;
    slot = child;
    return child;
  }

  // Builds the inode for `name` from the layers.
  absl::StatusOr<std::shared_ptr<OverlayInode>> Resolve(
      const std::string& name) {
    vfs::InodeRef up_dir = upper();
    vfs::InodeRef up;
    if (up_dir) {
      absl::StatusOr<vfs::InodeRef> r = up_dir->Lookup(name);
      if (r.ok()) {
        up = *std::move(r);
      } else if (ErrnoOf(r.status()) != ENOENT) {
        return r.status();
      }
    }
    if (up) {
      if (IsWhiteout(*up)) return Errno(ENOENT);
      if (!up->IsDir()) {
        ASSIGN_OR_RETURN(uint64_t ino, UpperIno(*up));
        return NewChild(name, up, nullptr, ino);
      }
      vfs::InodeRef low;
      if (lower_ != nullptr && !IsOpaque(*up)) {
        absl::StatusOr<vfs::InodeRef> r = lower_->Lookup(name);
        if (r.ok() && (*r)->IsDir()) {
          low = *std::move(r);
        } else if (!r.ok() && ErrnoOf(r.status()) != ENOENT) {
          return r.status();
        }
      }
      ASSIGN_OR_RETURN(uint64_t ino, low ? LowerIno(*low) : UpperIno(*up));
      return NewChild(name, up, low, ino);
    }
    if (lower_ == nullptr) return Errno(ENOENT);
    ASSIGN_OR_RETURN(vfs::InodeRef low, lower_->Lookup(name));
    ASSIGN_OR_RETURN(uint64_t ino, LowerIno(*low));
    return NewChild(name, nullptr, low, ino);
  }

  std::shared_ptr<OverlayInode> NewChild(const std::string& name,
                                         vfs::InodeRef up, vfs::InodeRef low,
                                         uint64_t ino) {
    mode_t type = (up ? up : low)->type();
    return std::make_shared<OverlayInode>(fs_, type, std::move(up),
                                          std::move(low), ino,
                                          shared_from_this(), name);
  }

  // Whether the lower directory merged here has `name`.
  bool LowerHas(const std::string& name) {
    return lower_ != nullptr && IsDir() && lower_->Lookup(name).ok();
  }

  // A directory that was removed takes no new names (Linux's IS_DEADDIR).
  absl::Status CheckLive() {
    std::lock_guard<std::mutex> lock(mu_);
    if (removed_) return Errno(ENOENT);
    return absl::OkStatus();
  }

  // The name was removed or replaced: drop its inode from the table.
  void ForgetChild(const std::string& name) {
    std::shared_ptr<OverlayInode> child;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = children_.find(name);
      if (it == children_.end()) return;
      child = it->second.lock();
      children_.erase(it);
    }
    if (child) {
      std::lock_guard<std::mutex> lock(child->mu_);
      child->removed_ = true;
    }
  }

  // The merged listing: ".", "..", the upper entries but whiteouts, then
  // the lower entries neither in the upper directory nor whited out.
  absl::StatusOr<std::vector<vfs::DirEntry>> MergedEntries() {
    std::shared_lock<std::shared_mutex> ns(fs_->ns_mu);
    std::vector<vfs::DirEntry> out;
    out.push_back({".", ino_, DT_DIR, 1});
    uint64_t parent_ino = ino_;  // the root's ".." is itself
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (parent_) parent_ino = parent_->ino_;
    }
    out.push_back({"..", parent_ino, DT_DIR, 2});
    ASSIGN_OR_RETURN(std::vector<vfs::DirEntry> names, ChildEntries());
    for (vfs::DirEntry& e : names) {
      e.next_offset = out.size() + 1;
      out.push_back(std::move(e));
    }
    return out;
  }

  // The entries of the merged directory (caller holds ns_mu), with the
  // inode numbers Stat reports for them.
  absl::StatusOr<std::vector<vfs::DirEntry>> ChildEntries() {
    vfs::InodeRef up = upper();
    std::vector<vfs::DirEntry> lower;
    std::map<std::string, size_t> lower_index;
    if (lower_ != nullptr) {
      ASSIGN_OR_RETURN(lower, ReadAll(*lower_));
      for (size_t i = 0; i < lower.size(); ++i) lower_index[lower[i].name] = i;
    }
    std::vector<vfs::DirEntry> out;
    std::set<std::string> in_upper;
    if (up) {
      ASSIGN_OR_RETURN(std::vector<vfs::DirEntry> upper_entries, ReadAll(*up));
      for (vfs::DirEntry& e : upper_entries) {
        in_upper.insert(e.name);
        absl::StatusOr<vfs::InodeRef> u = up->Lookup(e.name);
        if (!u.ok()) continue;  // gone meanwhile
        if (IsWhiteout(**u)) continue;
        uint64_t ino = 0;
        auto l = lower_index.find(e.name);
        if ((*u)->IsDir() && l != lower_index.end() &&
            lower[l->second].type == DT_DIR && !IsOpaque(**u)) {
          ino = lower[l->second].ino;  // a merged directory
        } else {
          ASSIGN_OR_RETURN(ino, UpperIno(**u));
        }
        out.push_back({e.name, ino, e.type, 0});
      }
    }
    for (vfs::DirEntry& e : lower) {
      if (in_upper.count(e.name)) continue;
      out.push_back(std::move(e));
    }
    return out;
  }

  // Removes the whiteouts an upper directory holds, before it is removed
  // (it only holds whiteouts if its merged view is empty).
  static absl::Status ClearWhiteouts(vfs::Inode& dir) {
    ASSIGN_OR_RETURN(std::vector<vfs::DirEntry> entries, ReadAll(dir));
    for (const vfs::DirEntry& e : entries) {
      absl::StatusOr<vfs::InodeRef> u = dir.Lookup(e.name);
      if (!u.ok()) continue;
      if (!IsWhiteout(**u)) return Errno(ENOTEMPTY);
      RETURN_IF_ERROR(dir.Unlink(e.name));
    }
    return absl::OkStatus();
  }

  absl::Status CheckEmpty() {
    std::shared_lock<std::shared_mutex> ns(fs_->ns_mu);
    ASSIGN_OR_RETURN(std::vector<vfs::DirEntry> entries, ChildEntries());
    if (!entries.empty()) return Errno(ENOTEMPTY);
    return absl::OkStatus();
  }

  // Makes `name` free in the upper directory `dir` for a new file: EEXIST
  // if it exists in the merged view; a whiteout there is removed (returns
  // true: it must come back if the creation fails). ns_mu held.
  absl::StatusOr<bool> ClaimName(vfs::Inode& dir, const std::string& name) {
    absl::StatusOr<vfs::InodeRef> u = dir.Lookup(name);
    if (u.ok()) {
      if (!IsWhiteout(**u)) return Errno(EEXIST);
      RETURN_IF_ERROR(dir.Unlink(name));
      return true;
    }
    if (ErrnoOf(u.status()) != ENOENT) return u.status();
    if (LowerHas(name)) return Errno(EEXIST);
    return false;
  }

  template <typename MakeFn>
  absl::StatusOr<vfs::InodeRef> MakeChild(const std::string& name,
                                          const vfs::NewFileSpec& spec,
                                          MakeFn make) {
    std::lock_guard<std::mutex> m(fs_->mutate_mu);
    RETURN_IF_ERROR(CheckLive());
    RETURN_IF_ERROR(CopyUpLocked({}));
    vfs::InodeRef dir = upper();
    std::shared_ptr<OverlayInode> child;
    {
      std::unique_lock<std::shared_mutex> ns(fs_->ns_mu);
      ASSIGN_OR_RETURN(bool whiteout, ClaimName(*dir, name));
      absl::StatusOr<vfs::InodeRef> made = make(*dir);
      if (!made.ok()) {
        if (whiteout) (void)MakeWhiteout(*dir, name);
        return made.status();
      }
      // A directory made where a lower one was removed must not show the
      // old one's entries: Linux marks it opaque.
      if (whiteout && S_ISDIR(spec.mode)) {
        absl::Status s = (*made)->SetXattr(kOpaqueXattr, "y", 0);
        if (!s.ok()) {
          (void)dir->Rmdir(name);
          (void)MakeWhiteout(*dir, name);
          return s;
        }
      }
      ASSIGN_OR_RETURN(uint64_t ino, UpperIno(**made));
      child = NewChild(name, *made, nullptr, ino);
      std::lock_guard<std::mutex> lock(mu_);
      children_[name] = child;
    }
    return vfs::InodeRef(std::move(child));
  }

  absl::Status CopyUpLocked(std::optional<uint64_t> data_limit);
  absl::StatusOr<vfs::InodeRef> BuildCopy(const struct stat& st,
                                          const std::string& tmp,
                                          std::optional<uint64_t> data_limit);

  const std::shared_ptr<Overlay> fs_;
  const vfs::InodeRef lower_;
  const uint64_t ino_;

  std::mutex mu_;
  vfs::InodeRef upper_;  // guarded by mu_; set once
  std::atomic<bool> copied_up_;
  // Where this inode is named, for copying it up; not kept for the root.
  // Only names that have no lower file can be renamed without a copy-up,
  // so these stay right for every inode that may still need one.
  std::shared_ptr<OverlayInode> parent_;  // guarded by mu_ (once shared)
  std::string name_;                      // guarded by mu_
  bool removed_ = false;                  // guarded by mu_
  std::string orphan_name_;  // the copy's name in the work dir; mu_
  // Directories: the children in use, so that each name has one inode and
  // its copy-up state is seen by every user of it.
  std::map<std::string, std::weak_ptr<OverlayInode>, std::less<>>
      children_;  // guarded by mu_
  std::shared_ptr<const std::vector<vfs::DirEntry>> snapshot_;  // mu_
  vfs::DentryRef upper_dentry_;                                 // mu_
  vfs::DentryRef lower_dentry_;                                 // mu_
};

absl::StatusOr<vfs::InodeRef> OverlayInode::BuildCopy(
    const struct stat& st, const std::string& tmp,
    std::optional<uint64_t> data_limit) {
  vfs::Inode& work = fs_->work();
  vfs::NewFileSpec spec;
  spec.mode = st.st_mode;
  spec.uid = st.st_uid;
  spec.gid = st.st_gid;
  spec.rdev = st.st_rdev;
  vfs::InodeRef made;
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR: {
      ASSIGN_OR_RETURN(made, work.Mkdir(tmp, spec));
      break;
    }
    case S_IFLNK: {
      ASSIGN_OR_RETURN(std::string target, lower_->Readlink());
      ASSIGN_OR_RETURN(made, work.Symlink(tmp, target, spec));
      break;
    }
    case S_IFREG: {
      ASSIGN_OR_RETURN(made, work.Create(tmp, spec));
      uint64_t size = static_cast<uint64_t>(st.st_size);
      if (data_limit) size = std::min(size, *data_limit);
      if (size == 0) break;
      vfs::Path lp{nullptr, vfs::Dentry::NewRoot(lower_)};
      vfs::Path up{nullptr, vfs::Dentry::NewRoot(made)};
      ASSIGN_OR_RETURN(vfs::FileRef src,
                       lower_->Open(lp, O_RDONLY | vfs::kOLargefile));
      ASSIGN_OR_RETURN(vfs::FileRef dst,
                       made->Open(up, O_WRONLY | vfs::kOLargefile));
      std::vector<char> buf(std::min<uint64_t>(size, 1 << 20));
      uint64_t done = 0;
      while (done < size) {
        size_t want = std::min<uint64_t>(buf.size(), size - done);
        int64_t n = src->ReadAt(buf.data(), want, static_cast<int64_t>(done));
        if (n < 0) return cv::ErrnoStatus(static_cast<int>(-n), "copy-up read");
        if (n == 0) break;  // the lower file is shorter than it said
        auto io = vfs::IoSequence::Buffer(buf.data(), static_cast<size_t>(n));
        int64_t w = dst->PWrite(io, static_cast<int64_t>(done));
        if (w < 0)
          return cv::ErrnoStatus(static_cast<int>(-w), "copy-up write");
        if (w != n) return Errno(ENOSPC);
        done += static_cast<uint64_t>(n);
      }
      break;
    }
    default: {
      ASSIGN_OR_RETURN(made, work.Mknod(tmp, spec));
      break;
    }
  }
  // Extended attributes go along (but not overlay's own); a lower layer
  // without xattr support just has none.
  absl::StatusOr<std::vector<std::string>> names = lower_->ListXattr();
  if (names.ok()) {
    for (const std::string& n : *names) {
      if (IsOverlayXattr(n)) continue;
      absl::StatusOr<std::string> v = lower_->GetXattr(n);
      if (!v.ok()) continue;
      absl::Status s = made->SetXattr(n, *v, 0);
      if (!s.ok() && ErrnoOf(s) != EOPNOTSUPP) return s;
    }
  }
  if (!made->IsDir()) {
    RETURN_IF_ERROR(made->SetXattr(kOriginXattr, absl::StrCat(ino_), 0));
  }
  // Times last: writing the data moved mtime.
  vfs::SetAttrRequest attrs;
  attrs.mask = vfs::SetAttrRequest::kMode | vfs::SetAttrRequest::kAtime |
               vfs::SetAttrRequest::kMtime;
  attrs.mode = st.st_mode & 07777;
  attrs.atime = st.st_atim;
  attrs.mtime = st.st_mtim;
  RETURN_IF_ERROR(made->SetAttr(attrs));
  return made;
}

absl::Status OverlayInode::CopyUpLocked(std::optional<uint64_t> data_limit) {
  if (copied_up()) return absl::OkStatus();
  std::shared_ptr<OverlayInode> parent;
  std::string name;
  bool removed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    parent = parent_;
    name = name_;
    removed = removed_;
  }
  // The root always has its upper directory.
  if (parent == nullptr) return Errno(EIO);
  if (removed && IsDir()) return Errno(ENOENT);
  if (!removed) RETURN_IF_ERROR(parent->CopyUpLocked({}));
  ASSIGN_OR_RETURN(struct stat st, lower_->Stat());
  const std::string tmp = fs_->NextWorkName();
  absl::StatusOr<vfs::InodeRef> made = BuildCopy(st, tmp, data_limit);
  if (!made.ok()) {
    if (IsDir()) {
      (void)fs_->work().Rmdir(tmp);
    } else {
      (void)fs_->work().Unlink(tmp);
    }
    return made.status();
  }
  std::unique_lock<std::shared_mutex> ns(fs_->ns_mu);
  absl::Status placed = Errno(ENOENT);
  if (!removed) {
    vfs::InodeRef pu = parent->upper();
    placed = fs_->work().Rename(tmp, *pu, name, RENAME_NOREPLACE);
  }
  std::lock_guard<std::mutex> lock(mu_);
  // The name is gone (an open file of a removed name being changed): the
  // copy stays in the work directory, out of sight, while this inode lives
  // (as Linux's copy-up of an unlinked file; tmpfs would drop the data of
  // a file without a name and without open descriptions).
  if (!placed.ok()) orphan_name_ = tmp;
  upper_ = *std::move(made);
  copied_up_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status OverlayInode::Link(const std::string& name,
                                const vfs::InodeRef& target) {
  auto t = std::dynamic_pointer_cast<OverlayInode>(target);
  if (t == nullptr || t->fs_ != fs_) return Errno(EXDEV);
  std::lock_guard<std::mutex> m(fs_->mutate_mu);
  RETURN_IF_ERROR(CheckLive());
  RETURN_IF_ERROR(t->CopyUpLocked({}));
  RETURN_IF_ERROR(CopyUpLocked({}));
  vfs::InodeRef dir = upper();
  std::unique_lock<std::shared_mutex> ns(fs_->ns_mu);
  ASSIGN_OR_RETURN(bool whiteout, ClaimName(*dir, name));
  absl::Status s = dir->Link(name, t->upper());
  if (!s.ok()) {
    if (whiteout) (void)MakeWhiteout(*dir, name);
    return s;
  }
  return absl::OkStatus();
}

absl::Status OverlayInode::Unlink(const std::string& name) {
  std::lock_guard<std::mutex> m(fs_->mutate_mu);
  const bool lower_has = LowerHas(name);
  // The whiteout needs an upper directory to live in.
  if (lower_has) RETURN_IF_ERROR(CopyUpLocked({}));
  vfs::InodeRef dir = upper();
  {
    std::unique_lock<std::shared_mutex> ns(fs_->ns_mu);
    absl::StatusOr<vfs::InodeRef> u =
        dir ? dir->Lookup(name) : absl::StatusOr<vfs::InodeRef>(Errno(ENOENT));
    if (u.ok()) {
      if (IsWhiteout(**u)) return Errno(ENOENT);
      if ((*u)->IsDir()) return Errno(EISDIR);
      RETURN_IF_ERROR(dir->Unlink(name));
    } else if (ErrnoOf(u.status()) != ENOENT) {
      return u.status();
    } else if (!lower_has) {
      return Errno(ENOENT);
    } else {
      ASSIGN_OR_RETURN(vfs::InodeRef l, lower_->Lookup(name));
      if (l->IsDir()) return Errno(EISDIR);
    }
    if (lower_has) RETURN_IF_ERROR(MakeWhiteout(*dir, name));
    ForgetChild(name);
  }
  return absl::OkStatus();
}

absl::Status OverlayInode::Rmdir(const std::string& name) {
  std::lock_guard<std::mutex> m(fs_->mutate_mu);
  std::shared_ptr<OverlayInode> child;
  {
    std::shared_lock<std::shared_mutex> ns(fs_->ns_mu);
    ASSIGN_OR_RETURN(child, LookupLocked(name));
  }
  if (!child->IsDir()) return Errno(ENOTDIR);
  RETURN_IF_ERROR(child->CheckEmpty());
  const bool lower_has = LowerHas(name);
  if (lower_has) RETURN_IF_ERROR(CopyUpLocked({}));
  vfs::InodeRef dir = upper();
  {
    std::unique_lock<std::shared_mutex> ns(fs_->ns_mu);
    if (vfs::InodeRef cu = child->upper()) {
      RETURN_IF_ERROR(ClearWhiteouts(*cu));
      RETURN_IF_ERROR(dir->Rmdir(name));
    }
    if (lower_has) RETURN_IF_ERROR(MakeWhiteout(*dir, name));
    ForgetChild(name);
  }
  return absl::OkStatus();
}

absl::Status OverlayInode::Rename(const std::string& name,
                                  vfs::Inode& new_dir_inode,
                                  const std::string& new_name, unsigned flags) {
  auto* nd = dynamic_cast<OverlayInode*>(&new_dir_inode);
  if (nd == nullptr || nd->fs_ != fs_) return Errno(EXDEV);
  const bool exchange = flags & RENAME_EXCHANGE;
  std::lock_guard<std::mutex> m(fs_->mutate_mu);
  RETURN_IF_ERROR(nd->CheckLive());
  std::shared_ptr<OverlayInode> src;
  std::shared_ptr<OverlayInode> dst;
  {
    std::shared_lock<std::shared_mutex> ns(fs_->ns_mu);
    ASSIGN_OR_RETURN(src, LookupLocked(name));
    absl::StatusOr<std::shared_ptr<OverlayInode>> d =
        nd->LookupLocked(new_name);
    if (d.ok()) {
      dst = *std::move(d);
    } else if (ErrnoOf(d.status()) != ENOENT) {
      return d.status();
    }
  }
  if ((flags & RENAME_NOREPLACE) && dst) return Errno(EEXIST);
  if (exchange && !dst) return Errno(ENOENT);
  if (dst == src) return absl::OkStatus();
  if (dst && !exchange && src->copied_up() && dst->copied_up() &&
      src->upper() == dst->upper()) {
    return absl::OkStatus();  // two names of one file: nothing to do
  }
  const bool lower_at_old = LowerHas(name);
  const bool lower_at_new = nd->LowerHas(new_name);
  // Without redirect_dir a directory with lower content cannot move: the
  // caller (mv) falls back to copying.
  if (src->IsDir() && src->lower_ != nullptr) return Errno(EXDEV);
  if (exchange && (lower_at_old || lower_at_new ||
                   (dst->IsDir() && dst->lower_ != nullptr))) {
    // Exchanging would need whiteouts and opaque marks on both sides;
    // only names without lower files are exchanged.
    return Errno(EXDEV);
  }
  if (dst && dst->IsDir() && !exchange) RETURN_IF_ERROR(dst->CheckEmpty());
  RETURN_IF_ERROR(src->CopyUpLocked({}));
  RETURN_IF_ERROR(CopyUpLocked({}));
  RETURN_IF_ERROR(nd->CopyUpLocked({}));
  vfs::InodeRef dir = upper();
  vfs::InodeRef new_upper_dir = nd->upper();
  {
    std::unique_lock<std::shared_mutex> ns(fs_->ns_mu);
    bool new_whiteout = false;
    if (!exchange) {
      if (dst && dst->IsDir()) {
        if (vfs::InodeRef du = dst->upper())
          RETURN_IF_ERROR(ClearWhiteouts(*du));
      }
      absl::StatusOr<vfs::InodeRef> nu = new_upper_dir->Lookup(new_name);
      if (nu.ok() && IsWhiteout(**nu)) {
        RETURN_IF_ERROR(new_upper_dir->Unlink(new_name));
        new_whiteout = true;
      }
    }
    absl::Status s = dir->Rename(name, *new_upper_dir, new_name,
                                 exchange ? RENAME_EXCHANGE : 0);
    if (!s.ok()) {
      if (new_whiteout) (void)MakeWhiteout(*new_upper_dir, new_name);
      return s;
    }
    if (!exchange) {
      if (lower_at_old) RETURN_IF_ERROR(MakeWhiteout(*dir, name));
      // A directory arriving over a lower one must hide its entries.
      if (src->IsDir() && lower_at_new) {
        RETURN_IF_ERROR(src->upper()->SetXattr(kOpaqueXattr, "y", 0));
      }
    }
    // The table follows the move (the VFS moves the dentry the same way).
    if (dst && !exchange) nd->ForgetChild(new_name);
    {
      std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
      std::unique_lock<std::mutex> new_lock(nd->mu_, std::defer_lock);
      if (nd == this) {
        lock.lock();
      } else {
        std::lock(lock, new_lock);
      }
      children_.erase(name);
      nd->children_[new_name] = src;
      if (exchange) children_[name] = dst;
    }
    std::shared_ptr<OverlayInode> self = shared_from_this();
    std::shared_ptr<OverlayInode> new_parent = nd->shared_from_this();
    {
      std::lock_guard<std::mutex> lock(src->mu_);
      src->parent_ = new_parent;
      src->name_ = new_name;
    }
    if (exchange) {
      std::lock_guard<std::mutex> lock(dst->mu_);
      dst->parent_ = self;
      dst->name_ = name;
    }
  }
  return absl::OkStatus();
}

// What the application holds for an overlay file that is not a directory:
// the real file's description, with fstat answered by the overlay. A
// read-only description of a lower file switches to the upper copy once
// the file has been copied up, so it sees later writes (as Linux does since
// 4.19); until then reads go straight to the lower file (for the gofer, its
// donated host fd).
class OverlayFile final : public vfs::FileDescription {
 public:
  OverlayFile(const vfs::Path& path, int flags,
              std::shared_ptr<OverlayInode> inode, vfs::FileRef real,
              bool follow_copy_up)
      : FileDescription(path, flags),
        inode_(std::move(inode)),
        first_(std::move(real)),
        follow_copy_up_(follow_copy_up),
        cur_(first_.get()) {}

  bool stream() const override { return first_->stream(); }
  int64_t Read(vfs::IoSequence& dst) override { return Real()->Read(dst); }
  int64_t Write(vfs::IoSequence& src) override { return Real()->Write(src); }
  int64_t PRead(vfs::IoSequence& dst, int64_t offset) override {
    return Real()->PRead(dst, offset);
  }
  int64_t PWrite(vfs::IoSequence& src, int64_t offset) override {
    return Real()->PWrite(src, offset);
  }
  int64_t Seek(int64_t offset, int whence) override {
    return Real()->Seek(offset, whence);
  }
  absl::StatusOr<struct stat> Stat() override { return inode_->Stat(); }
  int64_t GetDents(vfs::IoSequence& dst, vfs::DirentFormat format) override {
    return Real()->GetDents(dst, format);
  }
  int64_t Ioctl(uint32_t cmd, uint64_t arg, vfs::UserMemory& mem) override {
    return Real()->Ioctl(cmd, arg, mem);
  }
  int host_fd() const override {
    return const_cast<OverlayFile*>(this)->Real()->host_fd();
  }
  // Readiness stays with the first file: waiters registered there must be
  // removed there (and regular files, the only ones that switch, are
  // always ready).
  short Readiness(short mask) override { return first_->Readiness(mask); }
  void AddWaiter(vfs::Waiter* w) override { first_->AddWaiter(w); }
  void RemoveWaiter(vfs::Waiter* w) override { first_->RemoveWaiter(w); }

 protected:
  int OnSetFlags(int, int new_flags) override {
    std::lock_guard<std::mutex> lock(switch_mu_);
    if (int err = first_->SetFlags(new_flags); err != 0) return err;
    if (upper_file_) return upper_file_->SetFlags(new_flags);
    return 0;
  }

 private:
  vfs::FileDescription* Real() {
    if (follow_copy_up_ && !switched_.load(std::memory_order_acquire) &&
        inode_->copied_up()) {
      Switch();
    }
    return cur_.load(std::memory_order_acquire);
  }

  void Switch() {
    std::lock_guard<std::mutex> lock(switch_mu_);
    if (switched_.load(std::memory_order_relaxed)) return;
    absl::StatusOr<vfs::FileRef> up = inode_->OpenReal(path(), flags());
    if (!up.ok()) return;  // keep reading the lower file
    int64_t offset = first_->Seek(0, SEEK_CUR);
    if (offset > 0) (*up)->Seek(offset, SEEK_SET);
    upper_file_ = *std::move(up);
    cur_.store(upper_file_.get(), std::memory_order_release);
    switched_.store(true, std::memory_order_release);
  }

  const std::shared_ptr<OverlayInode> inode_;
  const vfs::FileRef first_;
  const bool follow_copy_up_;
  std::mutex switch_mu_;
  vfs::FileRef upper_file_;  // guarded by switch_mu_; set once
  std::atomic<bool> switched_{false};
  std::atomic<vfs::FileDescription*> cur_;
};

absl::StatusOr<vfs::FileRef> OverlayInode::Open(const vfs::Path& path,
                                                int flags) {
  if (IsDir()) return vfs::NewDirectoryFile(path, flags);
  // Writing needs the upper copy; O_TRUNC copies no data.
  const bool write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  if (IsRegular() && write && !copied_up()) {
    std::lock_guard<std::mutex> m(fs_->mutate_mu);
    std::optional<uint64_t> limit;
    if (flags & O_TRUNC) limit = 0;
    RETURN_IF_ERROR(CopyUpLocked(limit));
  }
  const bool from_lower = !copied_up();
  ASSIGN_OR_RETURN(vfs::FileRef real, OpenReal(path, flags));
  return vfs::FileRef(std::make_shared<OverlayFile>(
      path, flags, shared_from_this(), std::move(real),
      from_lower && IsRegular()));
}

}  // namespace

absl::StatusOr<OverlayMount> NewOverlay(vfs::InodeRef lower_root,
                                        const TmpfsOptions& upper_opts) {
  if (lower_root == nullptr || !lower_root->IsDir()) {
    return cv::ErrnoStatus(ENOTDIR,
                           "overlay: the lower root is not a directory");
  }
  ASSIGN_OR_RETURN(struct stat lst, lower_root->Stat());
  TmpfsOptions opts = upper_opts;
  opts.mode = 0700;
  opts.uid = 0;
  opts.gid = 0;
  TmpfsMount upper = NewTmpfs(opts);
  vfs::Inode& top = *upper.root->inode();
  vfs::NewFileSpec work_spec;
  work_spec.mode = S_IFDIR | 0700;
  ASSIGN_OR_RETURN(vfs::InodeRef work, top.Mkdir("work", work_spec));
  vfs::NewFileSpec root_spec;
  root_spec.mode = S_IFDIR | (lst.st_mode & 07777);
  root_spec.uid = lst.st_uid;
  root_spec.gid = lst.st_gid;
  ASSIGN_OR_RETURN(vfs::InodeRef root_upper, top.Mkdir("root", root_spec));
  vfs::SetAttrRequest times;
  times.mask = vfs::SetAttrRequest::kAtime | vfs::SetAttrRequest::kMtime;
  times.atime = lst.st_atim;
  times.mtime = lst.st_mtim;
  RETURN_IF_ERROR(root_upper->SetAttr(times));
  auto overlay = std::make_shared<Overlay>(std::move(upper), std::move(work));
  auto fs = std::make_shared<OverlayFs>(overlay);
  auto root = std::make_shared<OverlayInode>(
      std::move(overlay), S_IFDIR, std::move(root_upper), std::move(lower_root),
      static_cast<uint64_t>(lst.st_ino), nullptr, "");
  OverlayMount m;
  m.root = vfs::Dentry::NewRoot(std::move(root));
  m.fs = std::move(fs);
  return m;
}

absl::StatusOr<std::shared_ptr<vfs::FsContext>> MountOverlayRoot(
    vfs::InodeRef lower_root, const TmpfsOptions& upper_opts) {
  ASSIGN_OR_RETURN(OverlayMount m,
                   NewOverlay(std::move(lower_root), upper_opts));
  auto ns = vfs::MountNamespace::New(std::move(m.fs), std::move(m.root), 0);
  return vfs::FsContext::New(std::move(ns));
}

}  // namespace sentry::fs
