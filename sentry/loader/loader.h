// The ELF loader for execve: validates an x86-64 ELF executable, maps its
// segments (and its interpreter's) into a fresh address space through the
// memory manager, and builds the initial stack (argv, envp, auxv) the way
// Linux's binfmt_elf does, without address-space randomisation.
#ifndef CVISOR_SENTRY_LOADER_LOADER_H_
#define CVISOR_SENTRY_LOADER_LOADER_H_

#include <elf.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "platform/platform.h"
#include "sentry/mm/mm.h"

namespace sentry::loader {

// An executable as the loader reads it. pread returns the bytes read, 0 at
// the end of the file, or a negative errno.
struct ExecFile {
  std::function<ssize_t(void*, size_t, uint64_t)> pread;
  uint64_t size = 0;
  std::string path;  // shown in /proc/[pid]/maps
  uint64_t dev = 0;  // st_dev / st_ino for maps; 0 when unknown
  uint64_t inode = 0;
  // The host fd holding the file's data, or -1: segments are then mapped
  // from it (copy-on-write by the host) instead of copied in.
  int host_fd = -1;
  std::shared_ptr<void> keep_alive;  // what host_fd belongs to
};

struct ElfInfo {
  uint16_t type = 0;   // ET_EXEC or ET_DYN
  uint64_t entry = 0;  // e_entry, before the load bias
  uint64_t phoff = 0;  // e_phoff
  uint16_t phentsize = 0;
  std::vector<Elf64_Phdr> phdrs;  // all program headers, in file order
  std::string interp;             // PT_INTERP path; empty for static files
  bool has_gnu_stack = false;
  uint32_t gnu_stack_flags = 0;        // p_flags of PT_GNU_STACK
  std::optional<uint64_t> phdr_vaddr;  // p_vaddr of PT_PHDR

  // x86-64 stacks are executable only when PT_GNU_STACK asks for it.
  bool exec_stack() const { return has_gnu_stack && (gnu_stack_flags & PF_X); }
};

struct LoadResult {
  uint64_t entry = 0;       // where execution starts: the interpreter's
                            // entry when there is one
  uint64_t exec_entry = 0;  // AT_ENTRY: the program's own entry
  uint64_t phdr_addr = 0;   // AT_PHDR
  uint64_t phnum = 0;       // AT_PHNUM
  uint64_t phent = sizeof(Elf64_Phdr);  // AT_PHENT
  uint64_t load_bias = 0;    // what was added to the program's vaddrs
  uint64_t interp_base = 0;  // AT_BASE: the interpreter's load bias, or 0
  uint64_t brk_start = 0;    // the page after the program's highest segment
  uint64_t start_code = 0, end_code = 0;  // for /proc/[pid]/stat
  uint64_t start_data = 0, end_data = 0;
  bool exec_stack = false;
};

// Opens the interpreter named by PT_INTERP.
using InterpOpener =
    std::function<absl::StatusOr<ExecFile>(const std::string& path)>;

// Reads and validates the ELF header and program headers. Errors carry the
// errno execve would return (cv::StatusToErrno): ENOEXEC for a file that is
// not an x86-64 ELF executable or has malformed program headers, EINVAL for
// segments that cannot be mapped (p_filesz > p_memsz, p_offset and p_vaddr
// not congruent modulo the page size, addresses that overflow), EIO for a
// file that cannot be read.
absl::StatusOr<ElfInfo> ParseElf(ExecFile& file);

// Maps the program's PT_LOAD segments into `mm` (through `ctx`): ET_EXEC at
// its addresses, ET_DYN at a base two thirds up the address space (Linux's
// ELF_ET_DYN_BASE, without randomisation). Each segment's file bytes are
// copied in, the bss tail of the last file page zeroed, the rest of the bss
// mapped anonymous, and the final protection applied. Sets the memory
// manager's brk start. With PT_INTERP, `open_interp` opens the interpreter,
// which is loaded in the mmap area; without an opener a dynamic executable
// fails with ENOEXEC.
absl::StatusOr<LoadResult> LoadElf(mm::MemoryManager& mm,
                                   platform::Context& ctx, ExecFile& file,
                                   const ElfInfo& info,
                                   const InterpOpener& open_interp = nullptr);

struct StackSpec {
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string execfn;  // AT_EXECFN: the path execve was given
  uint64_t stack_size = mm::kDefaultStackRlimit;  // RLIMIT_STACK (soft)
  uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
  bool secure = false;  // AT_SECURE
  std::string platform = "x86_64";
  // Unset: from the host (getauxval, cpuid), and getrandom for the bytes
  // AT_RANDOM points to.
  std::optional<uint64_t> hwcap;
  std::optional<uint64_t> hwcap2;
  std::optional<uint64_t> minsigstksz;
  std::optional<std::array<uint8_t, 16>> random;
};

// The initial stack, laid out below `top` exactly as Linux's
// create_elf_tables() does it.
struct StackImage {
  uint64_t sp = 0;            // initial rsp: the address of argc
  std::vector<uint8_t> data;  // the bytes of [sp, top)
  uint64_t argv = 0;          // address of the argv pointer array
  uint64_t envp = 0;          // address of the envp pointer array
  uint64_t auxv = 0;          // address of the auxiliary vector
  std::vector<std::pair<uint64_t, uint64_t>> auxv_entries;  // incl. AT_NULL
  uint64_t arg_start = 0, arg_end = 0;                      // the argv strings
  uint64_t env_start = 0, env_end = 0;                      // the envp strings
  uint64_t execfn = 0, platform = 0, random = 0;  // AT_* string addresses
};

// Builds the stack image for a stack ending at `top` (exclusive). E2BIG if
// the strings exceed Linux's limits (MAX_ARG_STRLEN per string; a quarter of
// the stack limit, at least 128 KiB and at most 6 MiB, for all of them).
// `vdso_base` 0 leaves out AT_SYSINFO_EHDR.
absl::StatusOr<StackImage> BuildStackImage(uint64_t top, const StackSpec& spec,
                                           const LoadResult& load,
                                           uint64_t vdso_base);

// Maps the [stack] VMA under the memory manager's stack top (spec.stack_size
// bytes, at least 128 KiB, within the stack gap), writes the image into it
// and returns the initial rsp.
absl::StatusOr<uint64_t> SetUpStack(mm::MemoryManager& mm,
                                    platform::Context& ctx,
                                    const LoadResult& load,
                                    const StackSpec& spec);

}  // namespace sentry::loader

#endif  // CVISOR_SENTRY_LOADER_LOADER_H_
