#include "sentry/loader/loader.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "common/errno_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sentry/mm/fake_stub_for_test.h"

namespace sentry::loader {
namespace {

using ::sentry::mm::kPageSize;
using ::sentry::mm::testing::FakeContext;
using ::sentry::mm::testing::TestLayout;
using ::testing::HasSubstr;

constexpr uint64_t P = kPageSize;

// An in-memory file.
ExecFile MemFile(std::string bytes, std::string path) {
  auto data = std::make_shared<std::string>(std::move(bytes));
  ExecFile f;
  f.pread = [data](void* buf, size_t len, uint64_t off) -> ssize_t {
    if (off >= data->size()) return 0;
    size_t n = std::min<size_t>(len, data->size() - off);
    memcpy(buf, data->data() + off, n);
    return static_cast<ssize_t>(n);
  };
  f.size = data->size();
  f.path = std::move(path);
  return f;
}

// A host file, read with pread like a donated fd.
ExecFile HostFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd >= 0) fstat(fd, &st);
  auto holder = std::shared_ptr<int>(new int(fd), [](int* p) {
    if (*p >= 0) close(*p);
    delete p;
  });
  ExecFile f;
  f.pread = [holder](void* buf, size_t len, uint64_t off) -> ssize_t {
    ssize_t n = pread(*holder, buf, len, static_cast<off_t>(off));
    return n < 0 ? -errno : n;
  };
  f.size = st.st_size;
  f.path = path;
  f.dev = st.st_dev;
  f.inode = st.st_ino;
  return f;
}

std::string ReadHost(const std::string& path, uint64_t off, size_t len) {
  std::string out(len, '\0');
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(pread(fd, out.data(), len, static_cast<off_t>(off)),
            static_cast<ssize_t>(len));
  close(fd);
  return out;
}

// Builds a small ELF file: the header, the program headers right after it,
// and bytes placed at chosen offsets.
class ElfBuilder {
 public:
  explicit ElfBuilder(uint16_t type = ET_EXEC, uint64_t entry = 0x401000) {
    memset(&eh_, 0, sizeof(eh_));
    memcpy(eh_.e_ident, ELFMAG, SELFMAG);
    eh_.e_ident[EI_CLASS] = ELFCLASS64;
    eh_.e_ident[EI_DATA] = ELFDATA2LSB;
    eh_.e_ident[EI_VERSION] = EV_CURRENT;
    eh_.e_type = type;
    eh_.e_machine = EM_X86_64;
    eh_.e_version = EV_CURRENT;
    eh_.e_entry = entry;
    eh_.e_phoff = sizeof(Elf64_Ehdr);
    eh_.e_ehsize = sizeof(Elf64_Ehdr);
    eh_.e_phentsize = sizeof(Elf64_Phdr);
  }
  Elf64_Ehdr& header() { return eh_; }

  ElfBuilder& Segment(uint32_t type, uint32_t flags, uint64_t offset,
                      uint64_t vaddr, uint64_t filesz, uint64_t memsz,
                      uint64_t align = P) {
    Elf64_Phdr ph{};
    ph.p_type = type;
    ph.p_flags = flags;
    ph.p_offset = offset;
    ph.p_vaddr = ph.p_paddr = vaddr;
    ph.p_filesz = filesz;
    ph.p_memsz = memsz;
    ph.p_align = align;
    phdrs_.push_back(ph);
    return *this;
  }
  ElfBuilder& Bytes(uint64_t offset, const std::string& bytes) {
    blobs_[offset] = bytes;
    return *this;
  }
  std::string Build(size_t min_size = 0) {
    eh_.e_phnum = static_cast<uint16_t>(phdrs_.size());
    std::string out(
        std::max<size_t>(min_size,
                         sizeof(eh_) + phdrs_.size() * sizeof(Elf64_Phdr)),
        '\0');
    for (const auto& [off, b] : blobs_) {
      if (out.size() < off + b.size()) out.resize(off + b.size());
      memcpy(out.data() + off, b.data(), b.size());
    }
    memcpy(out.data(), &eh_, sizeof(eh_));
    // A table placed past the end of the file (a test case) is left out.
    if (!phdrs_.empty() &&
        eh_.e_phoff + phdrs_.size() * sizeof(Elf64_Phdr) <= out.size()) {
      memcpy(out.data() + eh_.e_phoff, phdrs_.data(),
             phdrs_.size() * sizeof(Elf64_Phdr));
    }
    return out;
  }

 private:
  Elf64_Ehdr eh_;
  std::vector<Elf64_Phdr> phdrs_;
  std::map<uint64_t, std::string> blobs_;
};

std::string Fill(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(seed + i % 61 + 1);
  return s;
}

// A static ET_EXEC: text R-X at 0x400000 (file offset 0, two pages), data
// RW at 0x402100 with 0x300 file bytes and bss up to 0x405000.
std::string StaticExec() {
  ElfBuilder b(ET_EXEC, 0x401000);
  b.Segment(PT_LOAD, PF_R | PF_X, 0, 0x400000, 2 * P, 2 * P)
      .Segment(PT_LOAD, PF_R | PF_W, 2 * P + 0x100, 0x402100, 0x300,
               0x3000 - 0x100)
      .Segment(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16);
  b.Bytes(0x1000, Fill(P, 'a'));
  // The data bytes, then garbage in the rest of the page that the bss must
  // hide.
  b.Bytes(2 * P + 0x100, Fill(0x300, 'k'));
  b.Bytes(2 * P + 0x400, std::string(P - 0x400, '\xee'));
  return b.Build();
}

int ErrnoOf(const absl::Status& s) { return cv::StatusToErrno(s); }

class LoaderTest : public ::testing::Test {
 protected:
  LoaderTest() : mm_(TestLayout(), ctx_.shared_fake()) {}
  std::string Read(uint64_t addr, size_t len) {
    auto v = ctx_.fake().Peek(addr, len);
    return std::string(v.begin(), v.end());
  }
  FakeContext ctx_;
  mm::MemoryManager mm_;
};

TEST(ParseElfTest, BusyboxIsAStaticExecutable) {
  ExecFile f = HostFile("/bin/busybox");
  ASSERT_GT(f.size, 0u) << "/bin/busybox is needed for this test";
  absl::StatusOr<ElfInfo> info = ParseElf(f);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->type, ET_EXEC);
  EXPECT_TRUE(info->interp.empty());
  EXPECT_EQ(info->phentsize, sizeof(Elf64_Phdr));
  // The header we parsed matches the raw bytes.
  Elf64_Ehdr raw;
  std::string head = ReadHost("/bin/busybox", 0, sizeof(raw));
  memcpy(&raw, head.data(), sizeof(raw));
  EXPECT_EQ(info->entry, raw.e_entry);
  EXPECT_EQ(info->phdrs.size(), raw.e_phnum);
  // The entry point is inside an executable PT_LOAD.
  bool entry_in_text = false;
  for (const auto& ph : info->phdrs) {
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
        ph.p_vaddr <= info->entry && info->entry < ph.p_vaddr + ph.p_memsz) {
      entry_in_text = true;
    }
  }
  EXPECT_TRUE(entry_in_text);
}

TEST(ParseElfTest, DynamicExecutableRecordsInterpreterAndPhdr) {
  ExecFile f = HostFile("/bin/true");
  ASSERT_GT(f.size, 0u);
  absl::StatusOr<ElfInfo> info = ParseElf(f);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->type, ET_DYN);
  EXPECT_EQ(info->interp, "/lib64/ld-linux-x86-64.so.2");
  ASSERT_TRUE(info->phdr_vaddr.has_value());
  EXPECT_EQ(*info->phdr_vaddr, info->phoff);  // PIE: headers at vaddr = offset
  EXPECT_TRUE(info->has_gnu_stack);
  EXPECT_FALSE(info->exec_stack());

  ExecFile ld = HostFile("/lib64/ld-linux-x86-64.so.2");
  absl::StatusOr<ElfInfo> ldinfo = ParseElf(ld);
  ASSERT_TRUE(ldinfo.ok()) << ldinfo.status();
  EXPECT_EQ(ldinfo->type, ET_DYN);
  EXPECT_TRUE(ldinfo->interp.empty());
}

TEST(ParseElfTest, HandCraftedFileParses) {
  ExecFile f = MemFile(StaticExec(), "/static");
  absl::StatusOr<ElfInfo> info = ParseElf(f);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->phdrs.size(), 3u);
  EXPECT_EQ(info->entry, 0x401000u);
  EXPECT_TRUE(info->has_gnu_stack);
  EXPECT_FALSE(info->exec_stack());
}

struct BadElfCase {
  const char* name;
  std::function<void(ElfBuilder&)> mutate;
  int err;
};

TEST(ParseElfTest, RejectsMalformedFiles) {
  const std::vector<BadElfCase> cases = {
      {"bad magic", [](ElfBuilder& b) { b.header().e_ident[1] = 'X'; },
       ENOEXEC},
      {"32-bit",
       [](ElfBuilder& b) { b.header().e_ident[EI_CLASS] = ELFCLASS32; },
       ENOEXEC},
      {"big endian",
       [](ElfBuilder& b) { b.header().e_ident[EI_DATA] = ELFDATA2MSB; },
       ENOEXEC},
      {"wrong machine", [](ElfBuilder& b) { b.header().e_machine = EM_386; },
       ENOEXEC},
      {"aarch64", [](ElfBuilder& b) { b.header().e_machine = EM_AARCH64; },
       ENOEXEC},
      {"relocatable", [](ElfBuilder& b) { b.header().e_type = ET_REL; },
       ENOEXEC},
      {"core", [](ElfBuilder& b) { b.header().e_type = ET_CORE; }, ENOEXEC},
      {"phentsize", [](ElfBuilder& b) { b.header().e_phentsize = 32; },
       ENOEXEC},
      {"phdrs past the end",
       [](ElfBuilder& b) { b.header().e_phoff = 1 << 20; }, ENOEXEC},
      {"filesz > memsz",
       [](ElfBuilder& b) { b.Segment(PT_LOAD, PF_R, 0, 0x600000, 2 * P, P); },
       EINVAL},
      {"misaligned offset",
       [](ElfBuilder& b) { b.Segment(PT_LOAD, PF_R, 0x10, 0x600000, P, P); },
       EINVAL},
      {"vaddr overflow",
       [](ElfBuilder& b) {
         b.Segment(PT_LOAD, PF_R, 0, 0xfffffffffffff000, P, 2 * P);
       },
       EINVAL},
      {"beyond TASK_SIZE",
       [](ElfBuilder& b) {
         b.Segment(PT_LOAD, PF_R, 0, 0x7ffffffff000, P, 2 * P);
       },
       EINVAL},
      {"interp without NUL",
       [](ElfBuilder& b) {
         b.Segment(PT_INTERP, PF_R, 0x200, 0, 4, 4).Bytes(0x200, "/abc");
       },
       ENOEXEC},
      {"interp too short",
       [](ElfBuilder& b) { b.Segment(PT_INTERP, PF_R, 0x200, 0, 1, 1); },
       ENOEXEC},
      {"interp too long",
       [](ElfBuilder& b) { b.Segment(PT_INTERP, PF_R, 0x200, 0, 5000, 5000); },
       ENOEXEC},
      {"interp past the end",
       [](ElfBuilder& b) { b.Segment(PT_INTERP, PF_R, 1 << 20, 0, 10, 10); },
       EIO},
  };
  for (const auto& c : cases) {
    ElfBuilder b;
    b.Segment(PT_LOAD, PF_R | PF_X, 0, 0x400000, P, P);
    c.mutate(b);
    ExecFile f = MemFile(b.Build(P), "/bad");
    absl::StatusOr<ElfInfo> info = ParseElf(f);
    ASSERT_FALSE(info.ok()) << c.name;
    EXPECT_EQ(ErrnoOf(info.status()), c.err) << c.name << ": " << info.status();
  }
}

TEST(ParseElfTest, RejectsBadProgramHeaderCounts) {
  {
    ElfBuilder b;  // no program headers at all
    ExecFile f = MemFile(b.Build(P), "/none");
    EXPECT_EQ(ErrnoOf(ParseElf(f).status()), ENOEXEC);
  }
  {
    ElfBuilder b;  // only non-loadable headers
    b.Segment(PT_NOTE, PF_R, 0, 0, 0, 0);
    ExecFile f = MemFile(b.Build(P), "/noload");
    EXPECT_EQ(ErrnoOf(ParseElf(f).status()), ENOEXEC);
  }
  {
    // 73 entries (4088 bytes) fit in a page; 74 do not.
    ElfBuilder ok;
    for (int i = 0; i < 73; i++) ok.Segment(PT_LOAD, PF_R, 0, 0x400000, P, P);
    ExecFile f = MemFile(ok.Build(2 * P), "/73");
    EXPECT_TRUE(ParseElf(f).ok());
    ElfBuilder too_many;
    for (int i = 0; i < 74; i++) {
      too_many.Segment(PT_LOAD, PF_R, 0, 0x400000, P, P);
    }
    ExecFile g = MemFile(too_many.Build(2 * P), "/74");
    EXPECT_EQ(ErrnoOf(ParseElf(g).status()), ENOEXEC);
  }
  {
    ExecFile f = MemFile(
        "\x7f"
        "ELF",
        "/short");
    EXPECT_EQ(ErrnoOf(ParseElf(f).status()), ENOEXEC);
    ExecFile s = MemFile("#!/bin/sh\necho hi\n", "/script");
    EXPECT_EQ(ErrnoOf(ParseElf(s).status()), ENOEXEC);
  }
  {
    ExecFile f = MemFile(StaticExec(), "/eio");
    f.pread = [](void*, size_t, uint64_t) -> ssize_t { return -EIO; };
    EXPECT_EQ(ErrnoOf(ParseElf(f).status()), EIO);
  }
}

TEST_F(LoaderTest, LoadsStaticExecutableSegments) {
  const std::string bytes = StaticExec();
  ExecFile f = MemFile(bytes, "/bin/static");
  auto info = ParseElf(f);
  ASSERT_TRUE(info.ok()) << info.status();
  auto r = LoadElf(mm_, ctx_, f, *info);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->load_bias, 0u);
  EXPECT_EQ(r->entry, 0x401000u);
  EXPECT_EQ(r->exec_entry, 0x401000u);
  EXPECT_EQ(r->interp_base, 0u);
  EXPECT_EQ(r->phdr_addr, 0x400000u + sizeof(Elf64_Ehdr));
  EXPECT_EQ(r->phnum, 3u);
  EXPECT_EQ(r->phent, sizeof(Elf64_Phdr));
  EXPECT_EQ(r->brk_start, 0x405000u);
  EXPECT_EQ(mm_.brk_start(), 0x405000u);
  EXPECT_EQ(r->start_code, 0x400000u);
  EXPECT_EQ(r->end_code, 0x402000u);
  EXPECT_EQ(r->end_data, 0x402400u);
  EXPECT_FALSE(r->exec_stack);

  auto& host = ctx_.fake();
  // Text: the file's first two pages, read-execute.
  EXPECT_EQ(host.ProtAt(0x400000), PROT_READ | PROT_EXEC);
  EXPECT_EQ(host.ProtAt(0x401fff), PROT_READ | PROT_EXEC);
  EXPECT_EQ(Read(0x400000, 2 * P), bytes.substr(0, 2 * P));
  // Data: the page holding the file bytes, then the bss.
  EXPECT_EQ(host.ProtAt(0x402000), PROT_READ | PROT_WRITE);
  EXPECT_EQ(Read(0x402100, 0x300), bytes.substr(2 * P + 0x100, 0x300));
  // The rest of the last file page is zero, not the file's 0xee bytes...
  EXPECT_EQ(Read(0x402400, P - 0x400), std::string(P - 0x400, '\0'));
  // ...because the loader wrote zeros there.
  bool zeroed = false;
  for (const auto& [addr, len] : host.writes) {
    if (addr == 0x402400 && len == P - 0x400) zeroed = true;
  }
  EXPECT_TRUE(zeroed);
  // The bss pages after it are anonymous.
  EXPECT_EQ(host.ProtAt(0x403000), PROT_READ | PROT_WRITE);
  EXPECT_EQ(host.ProtAt(0x404fff), PROT_READ | PROT_WRITE);
  EXPECT_FALSE(host.Mapped(0x405000));
  // The first segment was mapped without replacing anything.
  auto mmaps = ctx_.CallsOf(SYS_mmap);
  ASSERT_GE(mmaps.size(), 3u);
  EXPECT_EQ(mmaps[0].args[0], 0x400000u);
  // maps shows the file for both file-backed ranges and anonymous bss.
  std::string maps = mm_.MapsText();
  EXPECT_THAT(maps, HasSubstr("00400000-00402000 r-xp 00000000 00:00 0"));
  EXPECT_THAT(maps, HasSubstr("00402000-00403000 rw-p 00002000 00:00 0"));
  EXPECT_THAT(maps, HasSubstr("00403000-00405000 rw-p 00000000 00:00 0 \n"));
  EXPECT_THAT(maps, HasSubstr("/bin/static\n"));
}

TEST_F(LoaderTest, LoadsBusybox) {
  ExecFile f = HostFile("/bin/busybox");
  auto info = ParseElf(f);
  ASSERT_TRUE(info.ok()) << info.status();
  auto r = LoadElf(mm_, ctx_, f, *info);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->entry, info->entry);
  uint64_t max_end = 0;
  for (const auto& ph : info->phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    int prot = ((ph.p_flags & PF_R) ? PROT_READ : 0) |
               ((ph.p_flags & PF_W) ? PROT_WRITE : 0) |
               ((ph.p_flags & PF_X) ? PROT_EXEC : 0);
    EXPECT_EQ(ctx_.fake().ProtAt(ph.p_vaddr), prot) << std::hex << ph.p_vaddr;
    EXPECT_EQ(ctx_.fake().ProtAt(ph.p_vaddr + ph.p_memsz - 1), prot);
    // The first bytes of every segment are the file's.
    size_t n = std::min<uint64_t>(ph.p_filesz, 256);
    EXPECT_EQ(Read(ph.p_vaddr, n), ReadHost("/bin/busybox", ph.p_offset, n));
    max_end = std::max(max_end, ph.p_vaddr + ph.p_memsz);
  }
  EXPECT_EQ(r->brk_start, mm::PageRoundUp(max_end));
  // AT_PHDR points at a copy of the program headers.
  std::string phdrs =
      Read(r->phdr_addr, info->phdrs.size() * sizeof(Elf64_Phdr));
  EXPECT_EQ(memcmp(phdrs.data(), info->phdrs.data(), phdrs.size()), 0);
  EXPECT_THAT(mm_.MapsText(), HasSubstr("/bin/busybox\n"));
}

TEST_F(LoaderTest, StaticPieGoesToTheEtDynBase) {
  ElfBuilder b(ET_DYN, 0x1040);
  b.Segment(PT_LOAD, PF_R | PF_X, 0, 0, 2 * P, 2 * P)
      .Segment(PT_LOAD, PF_R | PF_W, 2 * P, 2 * P, 0x10, 3 * P)
      .Segment(PT_GNU_STACK, PF_R | PF_W | PF_X, 0, 0, 0, 0);
  ExecFile f = MemFile(b.Build(3 * P), "/pie");
  auto info = ParseElf(f);
  ASSERT_TRUE(info.ok()) << info.status();
  auto r = LoadElf(mm_, ctx_, f, *info);
  ASSERT_TRUE(r.ok()) << r.status();
  const uint64_t base = mm::PageRoundDown(TestLayout().max_addr / 3 * 2);
  EXPECT_EQ(r->load_bias, base);
  EXPECT_EQ(r->entry, base + 0x1040);
  EXPECT_EQ(r->phdr_addr, base + sizeof(Elf64_Ehdr));
  EXPECT_EQ(r->brk_start, base + 5 * P);
  EXPECT_TRUE(r->exec_stack);
  EXPECT_EQ(ctx_.fake().ProtAt(base), PROT_READ | PROT_EXEC);
  EXPECT_EQ(ctx_.fake().ProtAt(base + 4 * P), PROT_READ | PROT_WRITE);
}

TEST_F(LoaderTest, EmptySegmentsMapNothing) {
  ElfBuilder b(ET_EXEC, 0x400100);
  b.Segment(PT_LOAD, PF_R | PF_X, 0, 0x400000, P, P)
      .Segment(PT_LOAD, PF_R | PF_W, 0x123, 0x600123, 0, 0);
  ExecFile f = MemFile(b.Build(P), "/empty-seg");
  auto info = ParseElf(f);
  ASSERT_TRUE(info.ok()) << info.status();
  auto r = LoadElf(mm_, ctx_, f, *info);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(ctx_.fake().Mapped(0x600000));
  EXPECT_EQ(r->brk_start, 0x601000u);  // still counts for the break
}

TEST_F(LoaderTest, LargeAlignmentIsHonouredForEtDyn) {
  constexpr uint64_t kAlign = 1 << 21;
  ElfBuilder b(ET_DYN, 0x40);
  b.Segment(PT_LOAD, PF_R | PF_X, 0, 0, P, P, kAlign);
  ExecFile f = MemFile(b.Build(P), "/aligned");
  auto info = ParseElf(f);
  ASSERT_TRUE(info.ok());
  auto r = LoadElf(mm_, ctx_, f, *info);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->load_bias % kAlign, 0u);
}

TEST_F(LoaderTest, LoadsTheInterpreter) {
  ElfBuilder prog(ET_DYN, 0x1100);
  prog.Segment(PT_PHDR, PF_R, 64, 64, 4 * sizeof(Elf64_Phdr),
               4 * sizeof(Elf64_Phdr))
      .Segment(PT_INTERP, PF_R, 0x300, 0x300, 11, 11)
      .Segment(PT_LOAD, PF_R | PF_X, 0, 0, 2 * P, 2 * P)
      .Segment(PT_LOAD, PF_R | PF_W, 2 * P, 2 * P, 0x80, 0x80);
  prog.Bytes(0x300, std::string("/lib/ld.so", 11));
  ExecFile f = MemFile(prog.Build(3 * P), "/bin/dyn");
  auto info = ParseElf(f);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->interp, "/lib/ld.so");

  // Without an opener: ENOEXEC, nothing mapped.
  auto no = LoadElf(mm_, ctx_, f, *info);
  ASSERT_FALSE(no.ok());
  EXPECT_EQ(ErrnoOf(no.status()), ENOEXEC);
  EXPECT_EQ(mm_.vma_count(), 2u);

  ElfBuilder ld(ET_DYN, 0x2000);
  ld.Segment(PT_LOAD, PF_R | PF_X, 0, 0, 3 * P, 3 * P)
      .Segment(PT_LOAD, PF_R | PF_W, 3 * P, 3 * P, 0x100, 2 * P);
  ld.Bytes(0x2000, "LDENTRY");
  const std::string ld_bytes = ld.Build(4 * P);
  std::string opened;
  auto opener = [&](const std::string& path) -> absl::StatusOr<ExecFile> {
    opened = path;
    return MemFile(ld_bytes, path);
  };
  auto r = LoadElf(mm_, ctx_, f, *info, opener);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(opened, "/lib/ld.so");
  const uint64_t base = mm::PageRoundDown(TestLayout().max_addr / 3 * 2);
  EXPECT_EQ(r->load_bias, base);
  EXPECT_EQ(r->exec_entry, base + 0x1100);
  EXPECT_EQ(r->phdr_addr, base + 64);
  EXPECT_EQ(r->phnum, 4u);
  // The interpreter sits in the mmap area, right below its base.
  EXPECT_EQ(r->interp_base, mm_.mmap_base() - 5 * P);
  EXPECT_EQ(r->entry, r->interp_base + 0x2000);
  EXPECT_EQ(Read(r->entry, 7), "LDENTRY");
  EXPECT_EQ(ctx_.fake().ProtAt(r->interp_base + 3 * P), PROT_READ | PROT_WRITE);
  // The program's break is after the program, not the interpreter.
  EXPECT_EQ(r->brk_start, base + 3 * P);
  std::string maps = mm_.MapsText();
  EXPECT_THAT(maps, HasSubstr("/lib/ld.so\n"));
  EXPECT_THAT(maps, HasSubstr("/bin/dyn\n"));
}

TEST_F(LoaderTest, InterpreterErrors) {
  ElfBuilder prog(ET_DYN, 0x1000);
  prog.Segment(PT_INTERP, PF_R, 0x300, 0x300, 11, 11)
      .Segment(PT_LOAD, PF_R | PF_X, 0, 0, P, P);
  prog.Bytes(0x300, std::string("/lib/ld.so", 11));
  ExecFile f = MemFile(prog.Build(P), "/bin/dyn");
  auto info = ParseElf(f);
  ASSERT_TRUE(info.ok());
  {
    FakeContext ctx;
    mm::MemoryManager mm(TestLayout(), ctx.shared_fake());
    auto r = LoadElf(mm, ctx, f, *info, [](const std::string&) {
      return absl::StatusOr<ExecFile>(cv::ErrnoStatus(ENOENT, "open"));
    });
    EXPECT_EQ(ErrnoOf(r.status()), ENOENT);
  }
  {
    FakeContext ctx;
    mm::MemoryManager mm(TestLayout(), ctx.shared_fake());
    auto r = LoadElf(mm, ctx, f, *info, [](const std::string& p) {
      return absl::StatusOr<ExecFile>(MemFile("not an elf at all, no", p));
    });
    EXPECT_EQ(ErrnoOf(r.status()), ELIBBAD);
  }
}

TEST_F(LoaderTest, SegmentsOutsideTheAddressSpaceAreRefused) {
  // Below TASK_SIZE (so it parses) but above the application range, where
  // the stub lives.
  platform::Layout low_top = TestLayout();
  low_top.max_addr = 0x7fff00000000;
  low_top.vvar_size = low_top.vdso_size = 0;
  FakeContext ctx;
  mm::MemoryManager mm(low_top, ctx.shared_fake());
  ElfBuilder b(ET_EXEC, 0x7ffefffff000);
  b.Segment(PT_LOAD, PF_R | PF_X, 0, 0x7ffefffff000, P, 2 * P);
  ExecFile f = MemFile(b.Build(P), "/high");
  auto info = ParseElf(f);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(ErrnoOf(LoadElf(mm, ctx, f, *info).status()), EINVAL);
  EXPECT_TRUE(ctx.calls.empty());
  // The entry point must be in range too.
  ElfBuilder e(ET_EXEC, 0x7fff00000000);
  e.Segment(PT_LOAD, PF_R | PF_X, 0, 0x400000, P, P);
  ExecFile ef = MemFile(e.Build(P), "/entry");
  auto einfo = ParseElf(ef);
  ASSERT_TRUE(einfo.ok());
  EXPECT_EQ(ErrnoOf(LoadElf(mm, ctx, ef, *einfo).status()), EINVAL);

  ElfBuilder low(ET_EXEC, 0x1000);
  low.Segment(PT_LOAD, PF_R | PF_X, 0, 0x1000, P, P);
  ExecFile g = MemFile(low.Build(P), "/low");
  auto linfo = ParseElf(g);
  ASSERT_TRUE(linfo.ok());
  EXPECT_EQ(ErrnoOf(LoadElf(mm_, ctx_, g, *linfo).status()), EPERM);

  // Over the vDSO: the first segment may not replace it.
  ElfBuilder vd(ET_EXEC, TestLayout().vdso_base);
  vd.Segment(PT_LOAD, PF_R | PF_X, 0, TestLayout().vdso_base, P, P);
  ExecFile h = MemFile(vd.Build(P), "/vdso");
  auto vinfo = ParseElf(h);
  ASSERT_TRUE(vinfo.ok());
  EXPECT_EQ(ErrnoOf(LoadElf(mm_, ctx_, h, *vinfo).status()), EEXIST);
}

// Reads the 8-byte word at `addr` of a stack image.
uint64_t Word(const StackImage& img, uint64_t addr) {
  uint64_t v;
  memcpy(&v, img.data.data() + (addr - img.sp), sizeof(v));
  return v;
}
std::string Str(const StackImage& img, uint64_t addr) {
  return std::string(
      reinterpret_cast<const char*>(img.data.data() + (addr - img.sp)));
}

StackSpec TestSpec() {
  StackSpec s;
  s.argv = {"/bin/prog", "-x", "hello world"};
  s.envp = {"PATH=/bin", "HOME=/root"};
  s.execfn = "/bin/prog";
  s.uid = 1000;
  s.euid = 1001;
  s.gid = 1002;
  s.egid = 1003;
  s.hwcap = 0x178bfbff;
  s.hwcap2 = 2;
  s.minsigstksz = 3376;
  std::array<uint8_t, 16> rnd;
  for (int i = 0; i < 16; i++) rnd[i] = static_cast<uint8_t>(0xa0 + i);
  s.random = rnd;
  return s;
}

LoadResult TestLoad() {
  LoadResult l;
  l.entry = 0x7ffff7fd0100;
  l.exec_entry = 0x401000;
  l.phdr_addr = 0x400040;
  l.phnum = 9;
  l.interp_base = 0x7ffff7fc8000;
  return l;
}

TEST(StackImageTest, LayoutMatchesLinux) {
  const uint64_t top = 0x7fffffffe000;
  StackSpec spec = TestSpec();
  absl::StatusOr<StackImage> img =
      BuildStackImage(top, spec, TestLoad(), 0x7ffff7fc4000);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->sp % 16, 0u);
  EXPECT_EQ(img->sp + img->data.size(), top);
  // argc, then argv and envp arrays with their NULLs.
  EXPECT_EQ(Word(*img, img->sp), 3u);
  EXPECT_EQ(img->argv, img->sp + 8);
  for (size_t i = 0; i < 3; i++) {
    EXPECT_EQ(Str(*img, Word(*img, img->argv + 8 * i)), spec.argv[i]);
  }
  EXPECT_EQ(Word(*img, img->argv + 24), 0u);
  EXPECT_EQ(img->envp, img->argv + 32);
  EXPECT_EQ(Str(*img, Word(*img, img->envp)), "PATH=/bin");
  EXPECT_EQ(Str(*img, Word(*img, img->envp + 8)), "HOME=/root");
  EXPECT_EQ(Word(*img, img->envp + 16), 0u);
  EXPECT_EQ(img->auxv, img->envp + 24);
  // Strings sit at the top in order: argv, envp, execfn, then 8 zero bytes.
  EXPECT_EQ(img->arg_start, Word(*img, img->argv));
  EXPECT_EQ(Str(*img, img->arg_start), "/bin/prog");
  EXPECT_EQ(img->env_start, Word(*img, img->envp));
  EXPECT_EQ(img->arg_end, img->env_start);
  EXPECT_EQ(img->env_end, img->execfn);
  EXPECT_EQ(img->execfn, top - 8 - 10);
  EXPECT_EQ(Word(*img, top - 8), 0u);
  std::string all(reinterpret_cast<const char*>(img->data.data()) +
                      (img->arg_start - img->sp),
                  top - 8 - img->arg_start);
  EXPECT_EQ(all, std::string("/bin/prog\0-x\0hello world\0PATH=/bin\0"
                             "HOME=/root\0/bin/prog\0",
                             56));

  // The auxiliary vector, in Linux's order, read back from the image.
  std::vector<std::pair<uint64_t, uint64_t>> aux;
  for (uint64_t a = img->auxv;; a += 16) {
    aux.emplace_back(Word(*img, a), Word(*img, a + 8));
    if (aux.back().first == AT_NULL) break;
  }
  EXPECT_EQ(aux, img->auxv_entries);
  std::map<uint64_t, uint64_t> m(aux.begin(), aux.end());
  std::vector<uint64_t> order;
  for (const auto& [k, v] : aux) order.push_back(k);
  EXPECT_EQ(order, (std::vector<uint64_t>{
                       AT_SYSINFO_EHDR, AT_MINSIGSTKSZ, AT_HWCAP,  AT_PAGESZ,
                       AT_CLKTCK,       AT_PHDR,        AT_PHENT,  AT_PHNUM,
                       AT_BASE,         AT_FLAGS,       AT_ENTRY,  AT_UID,
                       AT_EUID,         AT_GID,         AT_EGID,   AT_SECURE,
                       AT_RANDOM,       AT_HWCAP2,      AT_EXECFN, AT_PLATFORM,
                       AT_NULL}));
  EXPECT_EQ(m[AT_SYSINFO_EHDR], 0x7ffff7fc4000u);
  EXPECT_EQ(m[AT_MINSIGSTKSZ], 3376u);
  EXPECT_EQ(m[AT_HWCAP], 0x178bfbffu);
  EXPECT_EQ(m[AT_HWCAP2], 2u);
  EXPECT_EQ(m[AT_PAGESZ], 4096u);
  EXPECT_EQ(m[AT_CLKTCK], 100u);
  EXPECT_EQ(m[AT_PHDR], 0x400040u);
  EXPECT_EQ(m[AT_PHENT], 56u);
  EXPECT_EQ(m[AT_PHNUM], 9u);
  EXPECT_EQ(m[AT_BASE], 0x7ffff7fc8000u);
  EXPECT_EQ(m[AT_FLAGS], 0u);
  EXPECT_EQ(m[AT_ENTRY], 0x401000u);
  EXPECT_EQ(m[AT_UID], 1000u);
  EXPECT_EQ(m[AT_EUID], 1001u);
  EXPECT_EQ(m[AT_GID], 1002u);
  EXPECT_EQ(m[AT_EGID], 1003u);
  EXPECT_EQ(m[AT_SECURE], 0u);
  EXPECT_EQ(m[AT_EXECFN], img->execfn);
  EXPECT_EQ(Str(*img, m[AT_EXECFN]), "/bin/prog");
  EXPECT_EQ(Str(*img, m[AT_PLATFORM]), "x86_64");
  EXPECT_EQ(m[AT_PLATFORM], img->platform);
  // The platform string sits at the 16-aligned boundary below the strings,
  // and the random bytes right below it.
  EXPECT_EQ(img->platform + 7, (img->arg_start & ~uint64_t{15}));
  EXPECT_EQ(m[AT_RANDOM], img->platform - 16);
  std::string rnd(reinterpret_cast<const char*>(img->data.data()) +
                      (m[AT_RANDOM] - img->sp),
                  16);
  for (int i = 0; i < 16; i++)
    EXPECT_EQ(static_cast<uint8_t>(rnd[i]), 0xa0 + i);
  // The auxv ends no higher than the random bytes.
  EXPECT_LE(img->auxv + 16 * aux.size(), m[AT_RANDOM]);
}

TEST(StackImageTest, AlwaysSixteenByteAligned) {
  for (int argc = 0; argc < 6; argc++) {
    for (int envc = 0; envc < 6; envc++) {
      for (size_t slen = 0; slen < 20; slen += 7) {
        StackSpec spec = TestSpec();
        spec.argv.assign(argc, std::string(slen, 'a'));
        spec.envp.assign(envc, std::string(slen + 1, 'e'));
        auto img = BuildStackImage(0x7fffffffe000, spec, TestLoad(), 0);
        ASSERT_TRUE(img.ok());
        ASSERT_EQ(img->sp % 16, 0u) << argc << " " << envc << " " << slen;
        // argc 0 becomes one empty argument (Linux 5.18+).
        uint64_t want_argc = argc == 0 ? 1 : argc;
        ASSERT_EQ(Word(*img, img->sp), want_argc);
        ASSERT_EQ(Word(*img, img->argv + 8 * want_argc), 0u);
        ASSERT_EQ(Word(*img, img->envp + 8 * envc), 0u);
        // No vDSO: no AT_SYSINFO_EHDR.
        ASSERT_NE(Word(*img, img->auxv),
                  static_cast<uint64_t>(AT_SYSINFO_EHDR));
      }
    }
  }
}

TEST(StackImageTest, HostValuesWhenUnset) {
  StackSpec spec = TestSpec();
  spec.hwcap.reset();
  spec.hwcap2.reset();
  spec.minsigstksz.reset();
  spec.random.reset();
  auto a = BuildStackImage(0x7fffffffe000, spec, TestLoad(), 0);
  auto b = BuildStackImage(0x7fffffffe000, spec, TestLoad(), 0);
  ASSERT_TRUE(a.ok() && b.ok());
  std::map<uint64_t, uint64_t> m(a->auxv_entries.begin(),
                                 a->auxv_entries.end());
  // The kernel's values, not glibc's getauxval(AT_HWCAP) (which on x86 is
  // glibc's own HWCAP_X86_* bits).
  std::map<uint64_t, uint64_t> kernel;
  {
    int fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    uint64_t e[2];
    while (read(fd, e, sizeof(e)) == sizeof(e) && e[0] != AT_NULL) {
      kernel[e[0]] = e[1];
    }
    close(fd);
  }
  ASSERT_TRUE(kernel.count(AT_HWCAP));
  EXPECT_EQ(m[AT_HWCAP], kernel[AT_HWCAP]);
  EXPECT_EQ(m[AT_HWCAP2], kernel[AT_HWCAP2]);
  EXPECT_EQ(m[AT_MINSIGSTKSZ], getauxval(AT_MINSIGSTKSZ));
  // Fresh random bytes each time.
  auto bytes = [](const StackImage& i) {
    return std::string(
        reinterpret_cast<const char*>(i.data.data()) + (i.random - i.sp), 16);
  };
  EXPECT_NE(bytes(*a), bytes(*b));
}

TEST(StackImageTest, ArgumentLimits) {
  StackSpec spec = TestSpec();
  spec.argv.push_back(std::string(32 * 4096, 'x'));  // MAX_ARG_STRLEN + NUL
  EXPECT_EQ(
      ErrnoOf(BuildStackImage(0x7fffffffe000, spec, TestLoad(), 0).status()),
      E2BIG);
  spec = TestSpec();
  spec.argv.push_back(std::string(32 * 4096 - 1, 'x'));
  EXPECT_TRUE(BuildStackImage(0x7fffffffe000, spec, TestLoad(), 0).ok());
  // 8 MiB stack: 2 MiB of strings at most.
  spec = TestSpec();
  for (int i = 0; i < 17; i++) spec.envp.push_back(std::string(128000, 'e'));
  EXPECT_EQ(
      ErrnoOf(BuildStackImage(0x7fffffffe000, spec, TestLoad(), 0).status()),
      E2BIG);
  spec.stack_size = 64 << 20;  // allows 6 MiB
  EXPECT_TRUE(BuildStackImage(0x7fffffffe000, spec, TestLoad(), 0).ok());
}

TEST_F(LoaderTest, SetUpStackMapsAndWritesTheImage) {
  StackSpec spec = TestSpec();
  LoadResult load = TestLoad();
  absl::StatusOr<uint64_t> sp = SetUpStack(mm_, ctx_, load, spec);
  ASSERT_TRUE(sp.ok()) << sp.status();
  const uint64_t top = mm_.stack_top();
  mm::VmaMap vmas = mm_.vmas();
  const mm::Vma* v = vmas.Find(top - 1);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->end, top);
  EXPECT_EQ(v->start, top - (8 << 20));
  EXPECT_EQ(v->name, "[stack]");
  EXPECT_EQ(v->prot, PROT_READ | PROT_WRITE);
  EXPECT_THAT(mm_.MapsText(), HasSubstr("[stack]\n"));
  // What is in memory is what BuildStackImage computes.
  auto img = BuildStackImage(top, spec, load, TestLayout().vdso_base);
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(*sp, img->sp);
  EXPECT_EQ(Read(*sp, img->data.size()),
            std::string(img->data.begin(), img->data.end()));
  char argv0[16] = {};
  uint64_t p;
  ASSERT_EQ(mm_.CopyIn(*sp + 8, &p, 8), 0);
  ASSERT_EQ(mm_.CopyIn(p, argv0, 10), 0);
  EXPECT_STREQ(argv0, "/bin/prog");
}

TEST_F(LoaderTest, ExecutableStackAndSmallLimits) {
  StackSpec spec = TestSpec();
  spec.stack_size = 4096;  // raised to the 128 KiB minimum
  LoadResult load = TestLoad();
  load.exec_stack = true;
  absl::StatusOr<uint64_t> sp = SetUpStack(mm_, ctx_, load, spec);
  ASSERT_TRUE(sp.ok()) << sp.status();
  mm::VmaMap vmas = mm_.vmas();
  const mm::Vma* s = vmas.Find(mm_.stack_top() - 1);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->size(), 128u << 10);
  EXPECT_EQ(s->prot, PROT_READ | PROT_WRITE | PROT_EXEC);
}

}  // namespace
}  // namespace sentry::loader
