#include "sentry/vfs/dentry.h"

#include <utility>
#include <vector>

namespace sentry::vfs {

std::shared_ptr<Dentry> Dentry::NewRoot(InodeRef inode) {
  return std::shared_ptr<Dentry>(new Dentry(nullptr, "", std::move(inode)));
}

std::shared_ptr<Dentry> Dentry::NewDetached(std::shared_ptr<Dentry> parent,
                                            std::string name, InodeRef inode) {
  return std::shared_ptr<Dentry>(
      new Dentry(std::move(parent), std::move(name), std::move(inode)));
}

Dentry::Dentry(std::shared_ptr<Dentry> parent, std::string name, InodeRef inode)
    : inode_(std::move(inode)),
      parent_(std::move(parent)),
      name_(std::move(name)) {}

Dentry::~Dentry() {
  // Nobody else can reach this dentry any more (its weak entry in the parent
  // is expired), so its fields need no lock.
  std::shared_ptr<Dentry> parent = std::move(parent_);
  if (parent == nullptr) return;
  parent->ForgetDeadChild(name_);
  // Releasing the parent may destroy it, and its parent, and so on up a
  // chain as deep as the directory tree: unwind that iteratively instead of
  // recursing once per level.
  static thread_local std::vector<std::shared_ptr<Dentry>>* pending = nullptr;
  if (pending != nullptr) {
    pending->push_back(std::move(parent));
    return;
  }
  std::vector<std::shared_ptr<Dentry>> list;
  list.push_back(std::move(parent));
  pending = &list;
  while (!list.empty()) {
    std::shared_ptr<Dentry> p = std::move(list.back());
    list.pop_back();
    p.reset();
  }
  pending = nullptr;
}

std::string Dentry::name() const {
  std::lock_guard<std::mutex> lock(mu_);
  return name_;
}

std::shared_ptr<Dentry> Dentry::parent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parent_;
}

std::shared_ptr<Dentry> Dentry::CachedChild(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(name);
  if (it == children_.end()) return nullptr;
  return it->second.lock();
}

std::shared_ptr<Dentry> Dentry::AddChild(const std::string& name,
                                         InodeRef inode) {
  std::shared_ptr<Dentry> child;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(name);
    if (it != children_.end()) {
      if (std::shared_ptr<Dentry> existing = it->second.lock()) {
        return existing;
      }
    }
    // Not make_shared: a weak_ptr would then pin the whole dentry's memory.
    child = std::shared_ptr<Dentry>(
        new Dentry(shared_from_this(), name, std::move(inode)));
    children_[name] = child;
  }
  return child;
}

void Dentry::DropChild(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(name);
  if (it != children_.end()) children_.erase(it);
}

void Dentry::MoveTo(const std::shared_ptr<Dentry>& new_parent,
                    const std::string& new_name) {
  std::shared_ptr<Dentry> old_parent;
  std::string old_name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old_parent = parent_;
    old_name = name_;
  }
  if (old_parent != nullptr) {
    std::lock_guard<std::mutex> lock(old_parent->mu_);
    auto it = old_parent->children_.find(old_name);
    if (it != old_parent->children_.end() && it->second.lock().get() == this) {
      old_parent->children_.erase(it);
    }
  }
  {
    std::lock_guard<std::mutex> lock(new_parent->mu_);
    new_parent->children_[new_name] = weak_from_this();
  }
  std::lock_guard<std::mutex> lock(mu_);
  parent_ = new_parent;
  name_ = new_name;
}

void Dentry::ForgetDeadChild(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(name);
  // A live entry under this name is a newer dentry: keep it.
  if (it != children_.end() && it->second.expired()) children_.erase(it);
}

DentryCache::~DentryCache() { Clear(); }

void DentryCache::Touch(const DentryRef& d) {
  std::vector<DentryRef> evicted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (d->in_lru_) {
      if (d->lru_pos_ != lru_.begin()) {
        lru_.splice(lru_.begin(), lru_, d->lru_pos_);
      }
      return;
    }
    lru_.push_front(d);
    d->in_lru_ = true;
    d->lru_pos_ = lru_.begin();
    ++size_;
    while (size_ > capacity_) {
      DentryRef victim = std::move(lru_.back());
      lru_.pop_back();
      --size_;
      victim->in_lru_ = false;
      evicted.push_back(std::move(victim));
    }
  }
  // Destroyed outside the lock: releasing an inode may talk to the gofer.
}

void DentryCache::Clear() {
  std::list<DentryRef> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (DentryRef& d : lru_) d->in_lru_ = false;
    all.swap(lru_);
    size_ = 0;
  }
}

size_t DentryCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

}  // namespace sentry::vfs
