#include "sentry/vfs/fd_table.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "sentry/vfs/lock.h"

namespace sentry::vfs {

FileRef FdTable::Get(int fd) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= entries_.size()) return nullptr;
  return entries_[fd].file;
}

FileRef FdTable::Get(int fd, bool* cloexec) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= entries_.size()) return nullptr;
  *cloexec = entries_[fd].cloexec;
  return entries_[fd].file;
}

int FdTable::Install(FileRef file, bool cloexec, uint64_t limit, int min_fd) {
  limit = std::min(limit, kMaxFds);
  if (min_fd < 0) return -EINVAL;
  std::lock_guard<std::mutex> lock(mu_);
  size_t fd = std::max(static_cast<size_t>(min_fd), lowest_free_);
  while (fd < entries_.size() && entries_[fd].file != nullptr) ++fd;
  if (fd >= limit) return -EMFILE;
  if (fd >= entries_.size()) entries_.resize(fd + 1);
  entries_[fd].file = std::move(file);
  entries_[fd].cloexec = cloexec;
  ++count_;
  if (static_cast<size_t>(min_fd) <= lowest_free_) lowest_free_ = fd + 1;
  return static_cast<int>(fd);
}

int FdTable::InstallAt(int fd, FileRef file, bool cloexec, uint64_t limit) {
  limit = std::min(limit, kMaxFds);
  if (fd < 0 || static_cast<uint64_t>(fd) >= limit) return -EBADF;
  FileRef old;  // released after the lock: closing may block
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (static_cast<size_t>(fd) >= entries_.size()) entries_.resize(fd + 1);
    old = std::move(entries_[fd].file);
    if (old == nullptr) ++count_;
    entries_[fd].file = std::move(file);
    entries_[fd].cloexec = cloexec;
    if (static_cast<size_t>(fd) == lowest_free_) {
      while (lowest_free_ < entries_.size() &&
             entries_[lowest_free_].file != nullptr) {
        ++lowest_free_;
      }
    }
  }
  return fd;
}

FdTable::~FdTable() { ReleaseAllPosixLocks(PosixOwnerId(this)); }

FileRef FdTable::Remove(int fd) {
  FileRef file;
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= entries_.size()) return nullptr;
  file = std::move(entries_[fd].file);
  entries_[fd].cloexec = false;
  if (file != nullptr) {
    --count_;
    lowest_free_ = std::min(lowest_free_, static_cast<size_t>(fd));
  }
  return file;
}

int FdTable::Close(int fd) {
  FileRef file = Remove(fd);  // the last reference drops outside the lock
  return file != nullptr ? 0 : -EBADF;
}

int FdTable::SetCloseOnExec(int fd, bool cloexec) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd < 0 || static_cast<size_t>(fd) >= entries_.size() ||
      entries_[fd].file == nullptr) {
    return -EBADF;
  }
  entries_[fd].cloexec = cloexec;
  return 0;
}

void FdTable::CloseRange(uint32_t first, uint32_t last) {
  std::vector<FileRef> closed;  // released after the lock: closing may block
  {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t end = std::min<size_t>(entries_.size(), size_t{last} + 1);
    for (size_t fd = first; fd < end; ++fd) {
      Entry& e = entries_[fd];
      if (e.file == nullptr) continue;
      if (closed.empty()) lowest_free_ = std::min(lowest_free_, fd);
      closed.push_back(std::move(e.file));
      e.cloexec = false;
      --count_;
    }
  }
  ReleaseLocks(closed);
}

// Closing any fd of a file drops the process's POSIX locks on it (the fd
// table is their owner, as Linux's files_struct).
void FdTable::ReleaseLocks(const std::vector<FileRef>& closed) {
  for (const FileRef& f : closed) ReleasePosixLocks(*f, PosixOwnerId(this));
}

void FdTable::SetCloseOnExecRange(uint32_t first, uint32_t last) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t end = std::min<size_t>(entries_.size(), size_t{last} + 1);
  for (size_t fd = first; fd < end; ++fd) {
    if (entries_[fd].file != nullptr) entries_[fd].cloexec = true;
  }
}

std::shared_ptr<FdTable> FdTable::Fork() const {
  auto copy = std::make_shared<FdTable>();
  std::lock_guard<std::mutex> lock(mu_);
  copy->entries_ = entries_;
  copy->lowest_free_ = lowest_free_;
  copy->count_ = count_;
  return copy;
}

void FdTable::CloseOnExec() {
  std::vector<FileRef> closed;  // released after the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t fd = 0; fd < entries_.size(); ++fd) {
      Entry& e = entries_[fd];
      if (e.file != nullptr && e.cloexec) {
        closed.push_back(std::move(e.file));
        e.cloexec = false;
        --count_;
        lowest_free_ = std::min(lowest_free_, fd);
      }
    }
  }
  ReleaseLocks(closed);
}

void FdTable::CloseAll() {
  std::vector<Entry> closed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed.swap(entries_);
    lowest_free_ = 0;
    count_ = 0;
  }
  // The table's owner is gone: waiters on its locks wake now.
  ReleaseAllPosixLocks(PosixOwnerId(this));
}

std::vector<int> FdTable::Fds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int> fds;
  for (size_t fd = 0; fd < entries_.size(); ++fd) {
    if (entries_[fd].file != nullptr) fds.push_back(static_cast<int>(fd));
  }
  return fds;
}

size_t FdTable::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

}  // namespace sentry::vfs
