// ELF parsing and segment loading (Linux's load_elf_binary and
// load_elf_interp, without randomisation).
#include <errno.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "sentry/loader/loader.h"

namespace sentry::loader {
namespace {

using mm::kPageSize;
using mm::PageRoundDown;
using mm::PageRoundUp;

// x86-64's TASK_SIZE with 4-level paging: no segment may reach above it.
constexpr uint64_t kTaskSize = (1ULL << 47) - kPageSize;
constexpr uint64_t kPathMax = 4096;
// Linux reads at most one page of program headers (ELF_MIN_ALIGN).
constexpr size_t kMaxPhdrBytes = 4096;
// p_align values above this are not honoured when choosing an ET_DYN base.
constexpr uint64_t kMaxLoadAlign = 1ULL << 30;

// Reads exactly `len` bytes at `off`; EIO on a short read, as elf_read.
absl::Status ReadExact(ExecFile& file, void* buf, size_t len, uint64_t off,
                       std::string_view what) {
  ssize_t n = file.pread(buf, len, off);
  if (n < 0) return cv::ErrnoStatus(static_cast<int>(-n), what);
  if (static_cast<size_t>(n) != len) return cv::ErrnoStatus(EIO, what);
  return absl::OkStatus();
}

int ProtOf(uint32_t p_flags) {
  int prot = 0;
  if (p_flags & PF_R) prot |= PROT_READ;
  if (p_flags & PF_W) prot |= PROT_WRITE;
  if (p_flags & PF_X) prot |= PROT_EXEC;
  return prot;
}

// One ELF image placed in the address space.
struct LoadedImage {
  uint64_t bias = 0;
  uint64_t phdr_addr = 0;
  uint64_t brk = 0;  // highest p_vaddr + p_memsz, biased
  uint64_t start_code = std::numeric_limits<uint64_t>::max(), end_code = 0;
  uint64_t start_data = 0, end_data = 0;
};

absl::StatusOr<LoadedImage> LoadImage(mm::MemoryManager& mm,
                                      platform::Context& ctx, ExecFile& file,
                                      const ElfInfo& info, bool interpreter) {
  const platform::Layout& layout = mm.layout();
  // The span of the PT_LOAD segments and the alignment they ask for.
  uint64_t lo = std::numeric_limits<uint64_t>::max(), hi = 0;
  uint64_t first_vaddr = 0;
  uint64_t align = kPageSize;
  bool first = true;
  for (const Elf64_Phdr& ph : info.phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    if (first) first_vaddr = ph.p_vaddr;
    first = false;
    lo = std::min(lo, PageRoundDown(ph.p_vaddr));
    hi = std::max(hi, ph.p_vaddr + ph.p_memsz);
    if (ph.p_align > align && (ph.p_align & (ph.p_align - 1)) == 0 &&
        ph.p_align <= kMaxLoadAlign) {
      align = ph.p_align;
    }
  }
  const uint64_t span = PageRoundUp(hi) - lo;

  LoadedImage img;
  if (info.type == ET_DYN) {
    if (!interpreter) {
      // A program (PIE or static-pie) goes two thirds up the address space,
      // like Linux's ELF_ET_DYN_BASE, leaving its brk plenty of room above.
      uint64_t base = PageRoundDown(layout.max_addr / 3 * 2) & ~(align - 1);
      if (first_vaddr > base) {
        return cv::ErrnoStatus(EINVAL, "ET_DYN segments start too high");
      }
      img.bias = PageRoundDown(base - first_vaddr);
    } else {
      // The interpreter goes where a non-fixed mmap of its whole span
      // would, so it stays clear of the program.
      int64_t at = mm.FindUnmappedArea(span, align);
      if (at < 0) {
        return cv::ErrnoStatus(static_cast<int>(-at),
                               "no room for the interpreter");
      }
      img.bias = static_cast<uint64_t>(at) - lo;
    }
  }
  // BAD_ADDR checks: every segment and the entry must lie below the top of
  // the application range.
  if (img.bias + hi < hi || img.bias + hi > layout.max_addr) {
    return cv::ErrnoStatus(EINVAL, "segments outside the address space");
  }
  if (info.entry + img.bias >= layout.max_addr) {
    return cv::ErrnoStatus(EINVAL, "entry point outside the address space");
  }

  auto mapped = std::make_shared<mm::MappedFile>();
  mapped->pread = file.pread;
  mapped->name = file.path;
  mapped->size = file.size;
  mapped->dev = file.dev;
  mapped->inode = file.inode;
  mapped->host_fd = file.host_fd;
  mapped->keep_alive = file.keep_alive;

  first = true;
  for (const Elf64_Phdr& ph : info.phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    const int prot = ProtOf(ph.p_flags);
    const uint64_t vaddr = img.bias + ph.p_vaddr;
    const uint64_t seg_page = PageRoundDown(vaddr);
    const uint64_t file_end = vaddr + ph.p_filesz;
    const uint64_t mem_end = vaddr + ph.p_memsz;
    // The first mapping must not clobber anything (the vDSO, or the program
    // when this is the interpreter); later ones may share a page with the
    // segment before them, as in Linux.
    const int fixed = first ? MAP_FIXED_NOREPLACE : MAP_FIXED;
    // An empty segment maps nothing (elf_load with p_memsz 0), but still
    // counts for the break and the code/data bounds below.
    if (ph.p_memsz > 0) first = false;

    uint64_t anon_start = seg_page;
    if (ph.p_filesz > 0) {
      const uint64_t file_map_end = PageRoundUp(file_end);
      // The last file page holds bytes from beyond p_filesz: when there is
      // bss after them they must read as zero, so keep the page writable
      // until they are cleared.
      const bool zero_tail =
          ph.p_memsz > ph.p_filesz && file_end < file_map_end;
      const int map_prot = zero_tail ? (prot | PROT_READ | PROT_WRITE) : prot;
      int64_t r = mm.Mmap(
          ctx, seg_page, file_map_end - seg_page, map_prot, MAP_PRIVATE | fixed,
          mapped.get(), ph.p_offset - (ph.p_vaddr - PageRoundDown(ph.p_vaddr)));
      if (r < 0) {
        return cv::ErrnoStatus(
            static_cast<int>(-r),
            absl::StrCat("mapping a segment of ", file.path));
      }
      if (zero_tail) {
        std::vector<uint8_t> zeros(file_map_end - file_end, 0);
        if (mm.CopyOut(file_end, zeros.data(), zeros.size()) != 0) {
          return cv::ErrnoStatus(EFAULT, "clearing the bss");
        }
        if (map_prot != prot) {
          r = mm.Mprotect(ctx, seg_page, file_map_end - seg_page, prot);
          if (r < 0) {
            return cv::ErrnoStatus(static_cast<int>(-r),
                                   "protecting a segment");
          }
        }
      }
      anon_start = file_map_end;
    }
    // The rest of the bss: fresh anonymous pages.
    const uint64_t anon_end = PageRoundUp(mem_end);
    if (ph.p_memsz > 0 && anon_end > anon_start) {
      int64_t r = mm.Mmap(ctx, anon_start, anon_end - anon_start, prot,
                          MAP_PRIVATE | MAP_ANONYMOUS | fixed, nullptr, 0);
      if (r < 0) {
        return cv::ErrnoStatus(static_cast<int>(-r), "mapping the bss");
      }
    }

    // AT_PHDR is where the headers land in memory: inside the segment that
    // maps e_phoff from the file (Linux 5.18+).
    if (ph.p_offset <= info.phoff && info.phoff < ph.p_offset + ph.p_filesz) {
      img.phdr_addr = info.phoff - ph.p_offset + vaddr;
    }
    if ((ph.p_flags & PF_X) && vaddr < img.start_code) img.start_code = vaddr;
    if (vaddr > img.start_data) img.start_data = vaddr;
    if ((ph.p_flags & PF_X) && file_end > img.end_code) img.end_code = file_end;
    if (file_end > img.end_data) img.end_data = file_end;
    img.brk = std::max(img.brk, mem_end);
  }
  if (img.phdr_addr == 0 && info.phdr_vaddr) {
    img.phdr_addr = *info.phdr_vaddr + img.bias;
  }
  if (img.start_code == std::numeric_limits<uint64_t>::max()) {
    img.start_code = 0;
  }
  return img;
}

}  // namespace

absl::StatusOr<ElfInfo> ParseElf(ExecFile& file) {
  Elf64_Ehdr eh;
  if (file.size < sizeof(eh)) {
    return cv::ErrnoStatus(ENOEXEC, absl::StrCat(file.path, ": too short"));
  }
  RETURN_IF_ERROR(
      ReadExact(file, &eh, sizeof(eh), 0, "reading the ELF header"));
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    return cv::ErrnoStatus(ENOEXEC, absl::StrCat(file.path, ": not ELF"));
  }
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64) {
    return cv::ErrnoStatus(ENOEXEC,
                           absl::StrCat(file.path, ": not an x86-64 ELF"));
  }
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
    return cv::ErrnoStatus(
        ENOEXEC, absl::StrCat(file.path, ": not an executable (e_type ",
                              eh.e_type, ")"));
  }
  // load_elf_phdrs: the entry size must be ours, and the table at most a
  // page.
  const size_t phbytes = static_cast<size_t>(eh.e_phnum) * sizeof(Elf64_Phdr);
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || phbytes == 0 ||
      phbytes > kMaxPhdrBytes) {
    return cv::ErrnoStatus(
        ENOEXEC,
        absl::StrCat(file.path, ": bad program header table (", eh.e_phnum,
                     " entries of ", eh.e_phentsize, " bytes)"));
  }
  ElfInfo info;
  info.type = eh.e_type;
  info.entry = eh.e_entry;
  info.phoff = eh.e_phoff;
  info.phentsize = eh.e_phentsize;
  info.phdrs.resize(eh.e_phnum);
  if (eh.e_phoff > file.size || phbytes > file.size - eh.e_phoff) {
    return cv::ErrnoStatus(
        ENOEXEC, absl::StrCat(file.path, ": truncated program headers"));
  }
  if (absl::Status s = ReadExact(file, info.phdrs.data(), phbytes, eh.e_phoff,
                                 "reading program headers");
      !s.ok()) {
    // Linux turns any failure to read them into ENOEXEC.
    return cv::ErrnoStatus(ENOEXEC, std::string(s.message()));
  }

  bool have_load = false;
  bool have_interp = false;
  for (const Elf64_Phdr& ph : info.phdrs) {
    switch (ph.p_type) {
      case PT_INTERP: {
        if (have_interp) break;  // the first one counts
        have_interp = true;
        if (ph.p_filesz > kPathMax || ph.p_filesz < 2) {
          return cv::ErrnoStatus(ENOEXEC, "bad PT_INTERP size");
        }
        std::string path(ph.p_filesz, '\0');
        RETURN_IF_ERROR(ReadExact(file, path.data(), path.size(), ph.p_offset,
                                  "reading PT_INTERP"));
        if (path.back() != '\0') {
          return cv::ErrnoStatus(ENOEXEC, "PT_INTERP is not NUL-terminated");
        }
        info.interp = path.c_str();
        if (info.interp.empty()) {
          return cv::ErrnoStatus(ENOENT, "empty PT_INTERP");
        }
        break;
      }
      case PT_GNU_STACK:
        // The last one wins, as in Linux.
        info.has_gnu_stack = true;
        info.gnu_stack_flags = ph.p_flags;
        break;
      case PT_PHDR:
        info.phdr_vaddr = ph.p_vaddr;
        break;
      case PT_LOAD:
        have_load = true;
        // Linux maps these after the point of no return and kills the
        // process with the errno below; checking first turns that into a
        // clean execve failure.
        if (ph.p_filesz > ph.p_memsz) {
          return cv::ErrnoStatus(EINVAL, "PT_LOAD with p_filesz > p_memsz");
        }
        if (ph.p_memsz > kTaskSize || ph.p_vaddr > kTaskSize - ph.p_memsz) {
          return cv::ErrnoStatus(EINVAL, "PT_LOAD beyond the address space");
        }
        if ((ph.p_offset & mm::kPageMask) != (ph.p_vaddr & mm::kPageMask)) {
          return cv::ErrnoStatus(
              EINVAL,
              "PT_LOAD p_offset and p_vaddr differ modulo the page size");
        }
        if (ph.p_offset > static_cast<uint64_t>(INT64_MAX) - ph.p_filesz) {
          return cv::ErrnoStatus(EINVAL, "PT_LOAD file range overflows");
        }
        break;
      default:
        break;
    }
  }
  if (!have_load) {
    return cv::ErrnoStatus(ENOEXEC,
                           absl::StrCat(file.path, ": no loadable segments"));
  }
  return info;
}

absl::StatusOr<LoadResult> LoadElf(mm::MemoryManager& mm,
                                   platform::Context& ctx, ExecFile& file,
                                   const ElfInfo& info,
                                   const InterpOpener& open_interp) {
  if (!info.interp.empty() && !open_interp) {
    return cv::ErrnoStatus(
        ENOEXEC, absl::StrCat(file.path, ": dynamically linked (interpreter ",
                              info.interp,
                              "); not supported without an "
                              "interpreter opener"));
  }
  ASSIGN_OR_RETURN(LoadedImage main, LoadImage(mm, ctx, file, info, false));
  LoadResult r;
  r.load_bias = main.bias;
  r.exec_entry = info.entry + main.bias;
  r.entry = r.exec_entry;
  r.phdr_addr = main.phdr_addr;
  r.phnum = info.phdrs.size();
  r.phent = sizeof(Elf64_Phdr);
  r.brk_start = PageRoundUp(main.brk);
  r.start_code = main.start_code;
  r.end_code = main.end_code;
  r.start_data = main.start_data;
  r.end_data = main.end_data;
  r.exec_stack = info.exec_stack();
  mm.SetBrkStart(r.brk_start);

  if (!info.interp.empty()) {
    ASSIGN_OR_RETURN(ExecFile interp, open_interp(info.interp));
    absl::StatusOr<ElfInfo> iinfo = ParseElf(interp);
    if (!iinfo.ok()) {
      // A broken interpreter is ELIBBAD, not the program's ENOEXEC.
      int err = cv::StatusToErrno(iinfo.status());
      return cv::ErrnoStatus(err == ENOEXEC ? ELIBBAD : err,
                             absl::StrCat("interpreter ", info.interp, ": ",
                                          iinfo.status().message()));
    }
    ASSIGN_OR_RETURN(LoadedImage li, LoadImage(mm, ctx, interp, *iinfo, true));
    r.interp_base = li.bias;
    r.entry = iinfo->entry + li.bias;
  }
  return r;
}

}  // namespace sentry::loader
