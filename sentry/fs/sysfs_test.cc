#include "sentry/fs/sysfs.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <string>

#include "gtest/gtest.h"

namespace sentry::fs {
namespace {

vfs::InodeRef Walk(vfs::InodeRef dir, const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    auto next = dir->Lookup(n);
    if (!next.ok()) return nullptr;
    dir = *next;
  }
  return dir;
}

std::string ReadAll(const SysfsMount& m, const vfs::InodeRef& inode) {
  auto file = inode->Open(vfs::Path{nullptr, m.root}, O_RDONLY);
  EXPECT_TRUE(file.ok());
  char buf[64];
  int64_t n = (*file)->ReadAt(buf, sizeof buf, 0);
  EXPECT_GE(n, 0);
  return std::string(buf, n > 0 ? n : 0);
}

TEST(SysfsTest, CpuRanges) {
  SysfsMount m = NewSysfs(4);
  EXPECT_EQ(m.fs->type(), "sysfs");
  for (const char* f : {"online", "possible", "present"}) {
    vfs::InodeRef inode =
        Walk(m.root->inode(), {"devices", "system", "cpu", f});
    ASSERT_NE(inode, nullptr) << f;
    EXPECT_EQ(ReadAll(m, inode), "0-3\n");
  }
  EXPECT_NE(Walk(m.root->inode(), {"devices", "system", "cpu", "cpu3"}),
            nullptr);
  EXPECT_EQ(Walk(m.root->inode(), {"devices", "system", "cpu", "cpu4"}),
            nullptr);
  SysfsMount one = NewSysfs(1);
  EXPECT_EQ(ReadAll(one, Walk(one.root->inode(),
                              {"devices", "system", "cpu", "online"})),
            "0\n");
}

TEST(SysfsTest, ReadOnlyTreeWithCgroupMountPoint) {
  SysfsMount m = NewSysfs(2);
  vfs::InodeRef cg = Walk(m.root->inode(), {"fs", "cgroup"});
  ASSERT_NE(cg, nullptr);
  EXPECT_TRUE(cg->IsDir());
  vfs::InodeRef online =
      Walk(m.root->inode(), {"devices", "system", "cpu", "online"});
  auto w = online->Open(vfs::Path{nullptr, m.root}, O_WRONLY);
  EXPECT_FALSE(w.ok());
  auto st = online->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->st_mode, S_IFREG | 0444u);
  auto sfs = m.root->inode()->StatFs();
  ASSERT_TRUE(sfs.ok());
  EXPECT_EQ(sfs->f_type, 0x62656572);
  auto list = m.root->inode()->ReadDir(0);
  ASSERT_TRUE(list.ok());
  std::vector<std::string> names;
  for (const auto& e : list->entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "class", "devices",
                                             "fs", "kernel"}));
}

}  // namespace
}  // namespace sentry::fs
