#include "runsc/boot_config.h"

#include <sys/resource.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace runsc {
namespace {

using ::testing::ElementsAre;

BootRequest Sample() {
  BootRequest r;
  r.container_id = "c1";
  r.network = "none";
  sentry::BootConfig& c = r.config;
  c.argv = {"/bin/sh", "-c", "echo hi"};
  c.envp = {"PATH=/bin", "X=y"};
  c.cwd = "/work";
  c.uid = 1000;
  c.gid = 100;
  c.additional_gids = {5, 6};
  c.capabilities.effective = 0x21;
  c.capabilities.permitted = 0x1ffffffffff;  // all 41, above 32 bits too
  c.capabilities.inheritable = 0x20;
  c.capabilities.bounding = 0x1ffffffffff;
  c.capabilities.ambient = 0x20;
  c.hostname = "box";
  c.rlimits = {{RLIMIT_NOFILE, 1024, 4096}, {RLIMIT_CORE, 0, RLIM_INFINITY}};
  c.platform = "ptrace";
  c.strace = true;
  c.root_readonly = true;
  c.overlay = true;
  c.no_new_privs = true;
  c.umask = 027;
  c.gofer_fd = 99;  // not serialized
  SpecMount m;
  m.kind = MountKind::kTmpfs;
  m.destination = "/dev";
  m.type = "tmpfs";
  m.source = "tmpfs";
  m.options = {"mode=755"};
  r.mounts.push_back(m);
  return r;
}

TEST(BootConfigTest, RoundTrip) {
  absl::StatusOr<BootRequest> r =
      BootRequestFromJson(BootRequestToJson(Sample()));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->container_id, "c1");
  EXPECT_EQ(r->network, "none");
  const sentry::BootConfig& c = r->config;
  EXPECT_THAT(c.argv, ElementsAre("/bin/sh", "-c", "echo hi"));
  EXPECT_THAT(c.envp, ElementsAre("PATH=/bin", "X=y"));
  EXPECT_EQ(c.cwd, "/work");
  EXPECT_EQ(c.uid, 1000u);
  EXPECT_EQ(c.gid, 100u);
  EXPECT_THAT(c.additional_gids, ElementsAre(5u, 6u));
  EXPECT_EQ(c.capabilities.effective, 0x21u);
  EXPECT_EQ(c.capabilities.permitted, 0x1ffffffffffu);
  EXPECT_EQ(c.capabilities.inheritable, 0x20u);
  EXPECT_EQ(c.capabilities.bounding, 0x1ffffffffffu);
  EXPECT_EQ(c.capabilities.ambient, 0x20u);
  EXPECT_EQ(c.hostname, "box");
  ASSERT_EQ(c.rlimits.size(), 2u);
  EXPECT_EQ(c.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(c.rlimits[0].soft, 1024u);
  EXPECT_EQ(c.rlimits[0].hard, 4096u);
  EXPECT_EQ(c.rlimits[1].hard, RLIM_INFINITY);
  EXPECT_EQ(c.platform, "ptrace");
  EXPECT_TRUE(c.strace);
  EXPECT_TRUE(c.root_readonly);
  EXPECT_TRUE(c.overlay);
  EXPECT_TRUE(c.no_new_privs);
  EXPECT_EQ(c.umask, 027u);
  EXPECT_EQ(c.gofer_fd, -1);  // fds come from the command line
  ASSERT_EQ(r->mounts.size(), 1u);
  EXPECT_EQ(r->mounts[0].kind, MountKind::kTmpfs);
  EXPECT_EQ(r->mounts[0].destination, "/dev");
  EXPECT_THAT(r->mounts[0].options, ElementsAre("mode=755"));
}

TEST(BootConfigTest, DocumentedSchema) {
  nlohmann::json j = nlohmann::json::parse(BootRequestToJson(Sample()));
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["overlay"], true);
  EXPECT_EQ(j["umask"], 027);
  EXPECT_EQ(j["id"], "c1");
  EXPECT_EQ(j["capabilities"]["effective"], 0x21);
  EXPECT_EQ(j["capabilities"]["ambient"], 0x20);
  EXPECT_EQ(j["argv"][0], "/bin/sh");
  EXPECT_EQ(j["rlimits"][0]["resource"], RLIMIT_NOFILE);
  EXPECT_EQ(j["mounts"][0]["kind"], "tmpfs");
  EXPECT_FALSE(j.contains("gofer_fd"));
}

TEST(BootConfigTest, BytesThatAreNotUtf8Survive) {
  BootRequest in = Sample();
  in.config.argv = {"/bin/cat", std::string("\xff\xfe name", 7)};
  in.config.envp = {std::string("K=\x80", 3)};
  in.config.cwd = std::string("/d\xc3", 3);
  std::string text = BootRequestToJson(in);
  EXPECT_TRUE(nlohmann::json::accept(text));
  absl::StatusOr<BootRequest> r = BootRequestFromJson(text);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->config.argv, in.config.argv);
  EXPECT_EQ(r->config.envp, in.config.envp);
  EXPECT_EQ(r->config.cwd, in.config.cwd);
}

TEST(BootConfigTest, BadDocuments) {
  EXPECT_FALSE(BootRequestFromJson("").ok());
  EXPECT_FALSE(BootRequestFromJson("[]").ok());
  nlohmann::json j = nlohmann::json::parse(BootRequestToJson(Sample()));
  j["version"] = 2;
  absl::StatusOr<BootRequest> r = BootRequestFromJson(j.dump());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("version 2, expected 3"));
  j["version"] = 3;
  j.erase("cwd");
  EXPECT_FALSE(BootRequestFromJson(j.dump()).ok());
  j = nlohmann::json::parse(BootRequestToJson(Sample()));
  j["capabilities"].erase("bounding");
  EXPECT_FALSE(BootRequestFromJson(j.dump()).ok());
  j["capabilities"]["bounding"] = -1;
  EXPECT_FALSE(BootRequestFromJson(j.dump()).ok());
  j = nlohmann::json::parse(BootRequestToJson(Sample()));
  j["argv"] = nlohmann::json::array();
  EXPECT_FALSE(BootRequestFromJson(j.dump()).ok());
  j["argv"] = {{{"base64", "!!"}}};
  EXPECT_FALSE(BootRequestFromJson(j.dump()).ok());
  j = nlohmann::json::parse(BootRequestToJson(Sample()));
  j["mounts"][0]["kind"] = "nfs";
  EXPECT_FALSE(BootRequestFromJson(j.dump()).ok());
}

}  // namespace
}  // namespace runsc
