// Test double for the platform: an address space whose "host" mappings and
// memory are simulated in the test process, and a Context that records every
// injected syscall and carries it out on that simulation. Used by mm_test and
// loader_test; not part of any library.
#ifndef CVISOR_SENTRY_MM_FAKE_STUB_FOR_TEST_H_
#define CVISOR_SENTRY_MM_FAKE_STUB_FOR_TEST_H_

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "platform/platform.h"
#include "sentry/mm/vma.h"

namespace sentry::mm::testing {

struct InjectedCall {
  long nr;
  std::array<uint64_t, 6> args;
  int64_t result;
};

// The simulated stub: its mappings (prot only) and the bytes written so far;
// unwritten mapped memory reads as zeros, as fresh anonymous memory does.
class FakeAddressSpace final : public platform::AddressSpace {
 public:
  using Page = std::array<uint8_t, kPageSize>;

  pid_t pid() const override { return 4242; }
  void Release() override {}

  // process_vm_readv/writev: stop at the first page that is unmapped or lacks
  // the needed protection.
  ssize_t ReadMemory(uint64_t addr, void* buf, size_t len) override {
    return Access(addr, static_cast<uint8_t*>(buf), len, false);
  }
  ssize_t WriteMemory(uint64_t addr, const void* buf, size_t len) override {
    writes.push_back({addr, len});
    return Access(addr, const_cast<uint8_t*>(static_cast<const uint8_t*>(buf)),
                  len, true);
  }

  // Carries out one injected syscall the way the host kernel would, for the
  // subset the memory manager uses. The memory manager always chooses the
  // address itself, so a mmap without MAP_FIXED is a bug: it fails here.
  int64_t Syscall(long nr, const std::array<uint64_t, 6>& a) {
    switch (nr) {
      case SYS_mmap: {
        if (!(a[3] & MAP_FIXED)) return -EINVAL;
        if (!PageAligned(a[0]) || a[1] == 0) return -EINVAL;
        uint64_t len = PageRoundUp(a[1]);
        Unmap(a[0], a[0] + len);
        Vma v;
        v.start = a[0];
        v.end = a[0] + len;
        v.prot = static_cast<int>(a[2]);
        v.shared = (a[3] & MAP_SHARED) != 0;
        v.inode = next_id_++;  // keep host mappings distinct
        host.Insert(v);
        return static_cast<int64_t>(a[0]);
      }
      case SYS_munmap:
        if (!PageAligned(a[0]) || a[1] == 0) return -EINVAL;
        Unmap(a[0], a[0] + PageRoundUp(a[1]));
        return 0;
      case SYS_mprotect: {
        uint64_t end = a[0] + PageRoundUp(a[1]);
        if (!host.IsFullyMapped(a[0], end)) return -ENOMEM;
        host.Protect(a[0], end, static_cast<int>(a[2]));
        return 0;
      }
      case SYS_madvise: {
        uint64_t end = a[0] + PageRoundUp(a[1]);
        if (!host.IsFullyMapped(a[0], end)) return -ENOMEM;
        if (a[2] == MADV_DONTNEED) DropData(a[0], end);
        return 0;
      }
      case SYS_close:
        return 0;
      case SYS_msync: {
        uint64_t end = a[0] + PageRoundUp(a[1]);
        if (!host.IsFullyMapped(a[0], end)) return -ENOMEM;
        return 0;
      }
      case SYS_mremap:
        return Mremap(a[0], a[1], a[2], static_cast<int>(a[3]), a[4]);
      case SYS_mincore: {
        uint64_t pages = PageRoundUp(a[1]) / kPageSize;
        if (!host.IsFullyMapped(a[0], a[0] + pages * kPageSize)) {
          return -ENOMEM;
        }
        std::vector<uint8_t> vec(pages, 1);
        if (Access(a[2], vec.data(), pages, true) !=
            static_cast<ssize_t>(pages)) {
          return -EFAULT;
        }
        return 0;
      }
      default:
        return -ENOSYS;
    }
  }

  // Test helpers.
  bool Mapped(uint64_t addr) const { return host.Find(addr) != nullptr; }
  int ProtAt(uint64_t addr) const {
    const Vma* v = host.Find(addr);
    return v ? v->prot : -1;
  }
  std::vector<uint8_t> Peek(uint64_t addr, size_t len) const {
    std::vector<uint8_t> out(len, 0);
    for (size_t i = 0; i < len; i++) {
      uint64_t a = addr + i;
      auto it = data_.find(PageRoundDown(a));
      if (it != data_.end()) out[i] = it->second[a - PageRoundDown(a)];
    }
    return out;
  }

  VmaMap host;  // the stub's mappings as the host kernel sees them
  std::vector<std::pair<uint64_t, size_t>> writes;
  int fail_next_mmap = 0;  // if set, the next mmap fails with -this

 private:
  ssize_t Access(uint64_t addr, uint8_t* buf, size_t len, bool write) {
    size_t done = 0;
    while (done < len) {
      uint64_t a = addr + done;
      const Vma* v = host.Find(a);
      if (v == nullptr || !(v->prot & (write ? PROT_WRITE : PROT_READ))) break;
      uint64_t page = PageRoundDown(a);
      size_t n = std::min<size_t>(len - done, page + kPageSize - a);
      if (write) {
        auto [it, inserted] = data_.try_emplace(page);
        if (inserted) it->second.fill(0);
        memcpy(it->second.data() + (a - page), buf + done, n);
      } else {
        auto it = data_.find(page);
        if (it == data_.end()) {
          memset(buf + done, 0, n);
        } else {
          memcpy(buf + done, it->second.data() + (a - page), n);
        }
      }
      done += n;
    }
    if (done == 0 && len > 0) return -EFAULT;
    return static_cast<ssize_t>(done);
  }

  void DropData(uint64_t start, uint64_t end) {
    data_.erase(data_.lower_bound(start), data_.lower_bound(end));
  }
  void Unmap(uint64_t start, uint64_t end) {
    host.Remove(start, end);
    DropData(start, end);
  }

  int64_t Mremap(uint64_t old_addr, uint64_t old_len, uint64_t new_len,
                 int flags, uint64_t new_addr) {
    old_len = PageRoundUp(old_len);
    new_len = PageRoundUp(new_len);
    const Vma* v = host.Find(old_addr);
    if (v == nullptr || old_len > v->end - old_addr) return -EFAULT;
    Vma src = *v;
    if (!(flags & MREMAP_MAYMOVE)) {
      if (new_len <= old_len) {
        Unmap(old_addr + new_len, old_addr + old_len);
        return static_cast<int64_t>(old_addr);
      }
      if (host.Overlaps(old_addr + old_len, old_addr + new_len)) {
        return -ENOMEM;
      }
      Vma ext = src;
      ext.start = old_addr + old_len;
      ext.end = old_addr + new_len;
      ext.offset = src.offset + (ext.start - src.start);
      host.Insert(ext);
      return static_cast<int64_t>(old_addr);
    }
    if (!(flags & MREMAP_FIXED)) return -EINVAL;  // the MM always picks
    Unmap(new_addr, new_addr + new_len);
    std::map<uint64_t, Page> moved;
    for (auto it = data_.lower_bound(old_addr);
         it != data_.end() && it->first < old_addr + std::min(old_len, new_len);
         ++it) {
      moved[new_addr + (it->first - old_addr)] = it->second;
    }
    if (flags & 4 /* MREMAP_DONTUNMAP */) {
      DropData(old_addr, old_addr + old_len);
    } else {
      Unmap(old_addr, old_addr + old_len);
    }
    Vma dst = src;
    dst.start = new_addr;
    dst.end = new_addr + new_len;
    host.Insert(dst);
    for (auto& [page, bytes] : moved) data_[page] = bytes;
    return static_cast<int64_t>(new_addr);
  }

  std::map<uint64_t, Page> data_;
  uint64_t next_id_ = 1;
};

class FakeContext final : public platform::Context {
 public:
  explicit FakeContext(std::shared_ptr<FakeAddressSpace> as = nullptr)
      : as_(as ? std::move(as) : std::make_shared<FakeAddressSpace>()) {}

  platform::AddressSpace& address_space() override { return *as_; }
  std::shared_ptr<platform::AddressSpace> shared_address_space() override {
    return as_;
  }
  FakeAddressSpace& fake() { return *as_; }
  const std::shared_ptr<FakeAddressSpace>& shared_fake() { return as_; }
  pid_t tid() const override { return 4242; }

  platform::SwitchResult Switch(platform::Registers&) override {
    platform::SwitchResult r;
    r.reason = platform::StopReason::kExited;
    return r;
  }
  void Interrupt() override {}
  int64_t InjectSyscall(long nr, uint64_t a0, uint64_t a1, uint64_t a2,
                        uint64_t a3, uint64_t a4, uint64_t a5) override {
    std::array<uint64_t, 6> args = {a0, a1, a2, a3, a4, a5};
    int64_t r;
    if (nr == SYS_mmap && as_->fail_next_mmap != 0) {
      r = -as_->fail_next_mmap;
      as_->fail_next_mmap = 0;
    } else {
      r = as_->Syscall(nr, args);
    }
    calls.push_back({nr, args, r});
    return r;
  }
  // Stub fd numbers are the host fd plus 1000, so tests can tell them
  // apart; a negative host fd fails as a bad fd would.
  absl::StatusOr<int> ImportFd(int host_fd) override {
    if (host_fd < 0) return absl::InvalidArgumentError("bad fd");
    imported.push_back(host_fd);
    return host_fd + 1000;
  }
  absl::Status GetFpState(platform::FpState&) override {
    return absl::UnimplementedError("fake");
  }
  absl::Status SetFpState(const platform::FpState&) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<std::unique_ptr<platform::PendingContext>> ForkAddressSpace()
      override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<std::unique_ptr<platform::PendingContext>> NewThread()
      override {
    return absl::UnimplementedError("fake");
  }

  // The calls with syscall number `nr`.
  std::vector<InjectedCall> CallsOf(long nr) const {
    std::vector<InjectedCall> out;
    for (const auto& c : calls) {
      if (c.nr == nr) out.push_back(c);
    }
    return out;
  }

  std::vector<InjectedCall> calls;
  std::vector<int> imported;  // host fds passed to ImportFd

 private:
  std::shared_ptr<FakeAddressSpace> as_;
};

// A layout like the ptrace platform's on a 47-bit address space: the stub at
// the top, vvar and vdso below the mmap area's start.
inline platform::Layout TestLayout() {
  platform::Layout l{};
  l.min_addr = 0x10000;
  l.max_addr = 0x7ffffffff000;
  l.vvar_base = 0x7ffff7fc0000;
  l.vvar_size = 0x4000;
  l.vdso_base = 0x7ffff7fc4000;
  l.vdso_size = 0x2000;
  l.stub_base = 0x7ffffffff000;
  l.stub_size = 0x1000;
  return l;
}

}  // namespace sentry::mm::testing

#endif  // CVISOR_SENTRY_MM_FAKE_STUB_FOR_TEST_H_
