#include "sentry/fs/mount_options.h"

#include <sys/mount.h>

#include "gtest/gtest.h"

namespace sentry::fs {
namespace {

TEST(MountOptionsTest, FlagsAndData) {
  ParsedMountOptions o = ParseMountOptions(
      {"rbind", "nosuid", "ro", "noexec", "mode=755", "size=64m", "rprivate"});
  EXPECT_EQ(o.flags, MS_RDONLY | MS_NOSUID | MS_NOEXEC);
  EXPECT_EQ(o.data, "mode=755,size=64m");
  // The last of ro/rw wins.
  EXPECT_EQ(ParseMountOptions({"ro", "rw"}).flags, 0);
  EXPECT_EQ(ParseMountOptions({"rw", "ro"}).flags, MS_RDONLY);
}

TEST(MountOptionsTest, TmpfsData) {
  auto t = ParseTmpfsData("mode=700,uid=5,gid=6,size=2k");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->mode, 0700u);
  EXPECT_EQ(t->uid, 5u);
  EXPECT_EQ(t->gid, 6u);
  EXPECT_EQ(t->size_bytes, 2048u);
  EXPECT_EQ(ParseTmpfsData("size=65536k")->size_bytes, 64u << 20);
  EXPECT_EQ(ParseTmpfsData("size=4096")->size_bytes, 4096u);
  EXPECT_EQ(ParseTmpfsData("")->mode, 01777u);
  for (const char* bad : {"mode=9", "mode=", "size=", "size=x", "size=50%",
                          "uid=-1", "colour=blue"}) {
    auto r = ParseTmpfsData(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find(bad), std::string::npos) << bad;
    }
  }
}

}  // namespace
}  // namespace sentry::fs
