// Test and benchmark helper: a few hand-assembled x86-64 instructions, and a
// way to load such code into a fresh stub and get registers that run it.
#ifndef CVISOR_PLATFORM_PTRACE_TEST_CODE_H_
#define CVISOR_PLATFORM_PTRACE_TEST_CODE_H_

#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "platform/platform.h"

namespace platform::testing {

inline constexpr uint64_t kCodeAddr = 0x10000000;
inline constexpr uint64_t kDataAddr = 0x10010000;
inline constexpr uint64_t kStackAddr = 0x10020000;

class Code {
 public:
  Code& Bytes(std::initializer_list<uint8_t> b) {
    bytes_.insert(bytes_.end(), b);
    return *this;
  }
  Code& Imm32(uint32_t v) { return Raw(&v, 4); }
  Code& Imm64(uint64_t v) { return Raw(&v, 8); }

  Code& MovEax(uint32_t v) { return Bytes({0xb8}).Imm32(v); }
  // movabs $v, %reg
  Code& MovRax(uint64_t v) { return Bytes({0x48, 0xb8}).Imm64(v); }
  Code& MovRdi(uint64_t v) { return Bytes({0x48, 0xbf}).Imm64(v); }
  Code& MovRsi(uint64_t v) { return Bytes({0x48, 0xbe}).Imm64(v); }
  Code& MovRdx(uint64_t v) { return Bytes({0x48, 0xba}).Imm64(v); }
  Code& MovR10(uint64_t v) { return Bytes({0x49, 0xba}).Imm64(v); }
  Code& MovR8(uint64_t v) { return Bytes({0x49, 0xb8}).Imm64(v); }
  Code& MovR9(uint64_t v) { return Bytes({0x49, 0xb9}).Imm64(v); }
  Code& MovRaxToRdi() { return Bytes({0x48, 0x89, 0xc7}); }
  // movabs addr, %rax / movabs %rax, addr
  Code& LoadRax(uint64_t addr) { return Bytes({0x48, 0xa1}).Imm64(addr); }
  Code& StoreRax(uint64_t addr) { return Bytes({0x48, 0xa3}).Imm64(addr); }
  // movq %xmm0, %rdi / movq %rax, %xmm1
  Code& MovqXmm0ToRdi() { return Bytes({0x66, 0x48, 0x0f, 0x7e, 0xc7}); }
  Code& MovqRaxToXmm1() { return Bytes({0x66, 0x48, 0x0f, 0x6e, 0xc8}); }
  Code& CallRax() { return Bytes({0xff, 0xd0}); }
  Code& Syscall() { return Bytes({0x0f, 0x05}); }
  Code& Int3() { return Bytes({0xcc}); }
  Code& Ud2() { return Bytes({0x0f, 0x0b}); }
  // xor %ecx,%ecx; div %ecx
  Code& DivideByZero() { return Bytes({0x31, 0xc9, 0xf7, 0xf1}); }
  Code& JmpSelf() { return Bytes({0xeb, 0xfe}); }
  // jmp back to offset `target` of this code (rel8).
  Code& JmpTo(size_t target) {
    int8_t rel = static_cast<int8_t>(static_cast<int64_t>(target) -
                                     static_cast<int64_t>(bytes_.size() + 2));
    return Bytes({0xeb, static_cast<uint8_t>(rel)});
  }

  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  Code& Raw(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

// Registers a fresh 64-bit thread would have, running at `rip`.
inline Registers UserRegisters(uint64_t rip, uint64_t rsp) {
  Registers r{};
  r.rip = rip;
  r.rsp = rsp;
  r.cs = kUserCs;
  r.ss = kUserSs;
  r.eflags = kInitialEflags;
  return r;
}

// Maps a code page (RWX) at kCodeAddr, a data page at kDataAddr and a stack
// page at kStackAddr in ctx's address space, and writes `code` into the code
// page. Returns false on failure.
inline bool LoadProgram(Context& ctx, const Code& code) {
  auto map = [&](uint64_t addr, int prot) {
    return ctx.InjectSyscall(SYS_mmap, addr, 4096, prot,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                             static_cast<uint64_t>(-1),
                             0) == static_cast<int64_t>(addr);
  };
  if (!map(kCodeAddr, PROT_READ | PROT_WRITE | PROT_EXEC) ||
      !map(kDataAddr, PROT_READ | PROT_WRITE) ||
      !map(kStackAddr, PROT_READ | PROT_WRITE)) {
    return false;
  }
  return ctx.address_space().WriteMemory(kCodeAddr, code.bytes().data(),
                                         code.size()) ==
         static_cast<ssize_t>(code.size());
}

}  // namespace platform::testing

#endif  // CVISOR_PLATFORM_PTRACE_TEST_CODE_H_
