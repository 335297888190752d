#include "runsc/spec.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace runsc {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

class SpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runsc_spec_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    bundle_ = tmpl;
    ASSERT_EQ(mkdir((bundle_ + "/rootfs").c_str(), 0755), 0);
    std::ofstream(bundle_ + "/afile") << "x";
  }
  void TearDown() override {
    ASSERT_EQ(system(absl::StrCat("rm -rf ", bundle_).c_str()), 0);
  }

  // A complete config with every field runsc reads.
  static json Good() {
    return json::parse(R"({
      "ociVersion": "1.0.2",
      "process": {
        "terminal": false,
        "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 18},
        "args": ["/bin/sh", "-c", "echo hi"],
        "env": ["PATH=/usr/bin:/bin", "EMPTY=", "A=b=c"],
        "cwd": "/home",
        "rlimits": [
          {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
          {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0}
        ],
        "capabilities": {"bounding": ["CAP_KILL"]},
        "noNewPrivileges": true
      },
      "root": {"path": "rootfs", "readonly": true},
      "hostname": "box",
      "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"},
        {"destination": "/data", "type": "bind", "source": "data",
         "options": ["rbind", "ro"]},
        {"destination": "/etc/hosts", "type": "none", "source": "/etc/hosts",
         "options": ["bind"]}
      ],
      "linux": {
        "namespaces": [{"type": "pid"}, {"type": "network"},
                       {"type": "mount", "path": "/proc/1/ns/mnt"}],
        "resources": {"devices": [{"allow": false, "access": "rwm"}]}
      },
      "annotations": {"org.example.key": "value"}
    })");
  }

  absl::StatusOr<Spec> Parse(const json& j) {
    return ParseSpec(j.dump(), bundle_);
  }

  // The message for a config changed by `edit`.
  std::string Error(const std::function<void(json&)>& edit) {
    json j = Good();
    edit(j);
    absl::StatusOr<Spec> s = Parse(j);
    if (s.ok()) return "<ok>";
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.status().message());
  }

  std::string bundle_;
};

TEST_F(SpecTest, GoodConfigGivesEveryField) {
  absl::StatusOr<Spec> s = Parse(Good());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->oci_version, "1.0.2");
  EXPECT_FALSE(s->terminal);
  EXPECT_THAT(s->args, ElementsAre("/bin/sh", "-c", "echo hi"));
  EXPECT_THAT(s->env, ElementsAre("PATH=/usr/bin:/bin", "EMPTY=", "A=b=c"));
  EXPECT_EQ(s->cwd, "/home");
  EXPECT_EQ(s->uid, 1000u);
  EXPECT_EQ(s->gid, 100u);
  EXPECT_THAT(s->additional_gids, ElementsAre(5u, 6u));
  ASSERT_TRUE(s->umask.has_value());
  EXPECT_EQ(*s->umask, 18u);
  ASSERT_EQ(s->rlimits.size(), 2u);
  EXPECT_EQ(s->rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(s->rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(s->rlimits[0].hard, 4096u);
  EXPECT_EQ(s->rlimits[0].soft, 1024u);
  EXPECT_EQ(s->rlimits[1].resource, RLIMIT_CORE);
  EXPECT_EQ(s->rlimits[1].hard, RLIM_INFINITY);
  ASSERT_TRUE(s->capabilities.has_value());
  EXPECT_EQ(s->capabilities->bounding, uint64_t{1} << 5);  // CAP_KILL
  EXPECT_EQ(s->capabilities->effective, 0u);
  EXPECT_TRUE(s->no_new_privileges);
  EXPECT_EQ(s->root_path, bundle_ + "/rootfs");
  EXPECT_TRUE(s->root_readonly);
  EXPECT_EQ(s->hostname, "box");

  ASSERT_EQ(s->mounts.size(), 8u);
  EXPECT_EQ(s->mounts[0].kind, MountKind::kProc);
  EXPECT_EQ(s->mounts[0].destination, "/proc");
  EXPECT_EQ(s->mounts[1].kind, MountKind::kTmpfs);
  EXPECT_THAT(s->mounts[1].options,
              ElementsAre("nosuid", "strictatime", "mode=755", "size=65536k"));
  EXPECT_EQ(s->mounts[2].kind, MountKind::kDevpts);
  EXPECT_EQ(s->mounts[3].kind, MountKind::kSysfs);
  EXPECT_EQ(s->mounts[4].kind, MountKind::kMqueue);
  EXPECT_EQ(s->mounts[5].kind, MountKind::kCgroup);
  EXPECT_EQ(s->mounts[6].kind, MountKind::kBind);
  // A relative bind source is relative to the bundle, as in runc.
  EXPECT_EQ(s->mounts[6].source, bundle_ + "/data");
  EXPECT_EQ(s->mounts[7].kind, MountKind::kBind);
  EXPECT_EQ(s->mounts[7].type, "none");
  EXPECT_EQ(s->mounts[7].source, "/etc/hosts");

  ASSERT_EQ(s->namespaces.size(), 3u);
  EXPECT_EQ(s->namespaces[0].type, "pid");
  EXPECT_EQ(s->namespaces[1].type, "network");
  EXPECT_EQ(s->namespaces[2].type, "mount");
  EXPECT_EQ(s->namespaces[2].path, "/proc/1/ns/mnt");
  EXPECT_EQ(s->annotations.at("org.example.key"), "value");
}

TEST_F(SpecTest, MinimalConfig) {
  json j = {{"ociVersion", "1.0.0"},
            {"process", {{"args", {"/x"}}, {"cwd", "/"}}},
            {"root", {{"path", bundle_ + "/rootfs"}}}};
  absl::StatusOr<Spec> s = Parse(j);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->args, ElementsAre("/x"));
  EXPECT_TRUE(s->env.empty());
  EXPECT_EQ(s->uid, 0u);
  EXPECT_EQ(s->gid, 0u);
  EXPECT_FALSE(s->root_readonly);
  EXPECT_EQ(s->root_path, bundle_ + "/rootfs");
  EXPECT_EQ(s->hostname, "");
  EXPECT_TRUE(s->mounts.empty());
  EXPECT_FALSE(s->umask.has_value());
  EXPECT_FALSE(s->capabilities.has_value());
}

TEST_F(SpecTest, RootPathIsCleaned) {
  json j = Good();
  j["root"]["path"] = "./x/../rootfs/";
  absl::StatusOr<Spec> s = Parse(j);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->root_path, bundle_ + "/rootfs");
}

TEST_F(SpecTest, NullMeansUnset) {
  json j = Good();
  j["hostname"] = nullptr;
  j["mounts"] = nullptr;
  j["process"]["env"] = nullptr;
  absl::StatusOr<Spec> s = Parse(j);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->hostname, "");
  EXPECT_TRUE(s->mounts.empty());
  EXPECT_TRUE(s->env.empty());
}

TEST_F(SpecTest, RlimitNames) {
  EXPECT_EQ(RlimitResourceByName("RLIMIT_CPU"), RLIMIT_CPU);
  EXPECT_EQ(RlimitResourceByName("RLIMIT_NOFILE"), RLIMIT_NOFILE);
  EXPECT_EQ(RlimitResourceByName("RLIMIT_RTTIME"), RLIMIT_RTTIME);
  EXPECT_EQ(RlimitResourceByName("RLIMIT_AS"), RLIMIT_AS);
  EXPECT_EQ(RlimitResourceByName("NOFILE"), -1);
  EXPECT_EQ(RlimitResourceByName("rlimit_nofile"), -1);
}

TEST_F(SpecTest, SyntaxErrorNamesTheLine) {
  absl::StatusOr<Spec> s = ParseSpec(
      "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": x\n}", bundle_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.status().message()),
            "config.json: line 3: syntax error while parsing value - invalid "
            "literal; last read: '\"process\": x'");

  s = ParseSpec("", bundle_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()),
              ::testing::StartsWith("config.json: line 1: syntax error"));

  s = ParseSpec("{\"a\": 1,\n\n}", bundle_);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()),
              ::testing::StartsWith("config.json: line 3: syntax error"));
}

TEST_F(SpecTest, TopLevelMustBeAnObject) {
  absl::StatusOr<Spec> s = ParseSpec("[1, 2]", bundle_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.status().message()),
            "config.json: the top level must be a JSON object");
}

TEST_F(SpecTest, OciVersion) {
  constexpr char kMsg[] = "config.json: ociVersion must be a non-empty string";
  EXPECT_EQ(Error([](json& j) { j.erase("ociVersion"); }), kMsg);
  EXPECT_EQ(Error([](json& j) { j["ociVersion"] = 1; }), kMsg);
  EXPECT_EQ(Error([](json& j) { j["ociVersion"] = ""; }), kMsg);
}

TEST_F(SpecTest, Process) {
  EXPECT_EQ(Error([](json& j) { j.erase("process"); }),
            "config.json: process must be an object");
  EXPECT_EQ(Error([](json& j) { j["process"] = "x"; }),
            "config.json: process must be an object");
}

TEST_F(SpecTest, Args) {
  constexpr char kMsg[] =
      "config.json: process.args must be a non-empty array of strings";
  EXPECT_EQ(Error([](json& j) { j["process"].erase("args"); }), kMsg);
  EXPECT_EQ(Error([](json& j) { j["process"]["args"] = json::array(); }), kMsg);
  EXPECT_EQ(Error([](json& j) { j["process"]["args"] = "/bin/sh"; }), kMsg);
  EXPECT_EQ(Error([](json& j) {
              j["process"]["args"] = {"/bin/sh", 3};
            }),
            kMsg);
  EXPECT_EQ(Error([](json& j) { j["process"]["args"] = {""}; }),
            "config.json: process.args[0] must not be empty");
  EXPECT_EQ(Error([](json& j) {
              j["process"]["args"] = {"/bin/sh", std::string("a\0b", 3)};
            }),
            "config.json: process.args[1] contains a NUL byte");
}

TEST_F(SpecTest, Env) {
  EXPECT_EQ(Error([](json& j) { j["process"]["env"] = "A=b"; }),
            "config.json: process.env must be an array of strings");
  EXPECT_EQ(Error([](json& j) {
              j["process"]["env"] = {"A=b", 7};
            }),
            "config.json: process.env must be an array of strings");
  EXPECT_EQ(Error([](json& j) {
              j["process"]["env"] = {"A=b", "FOO"};
            }),
            "config.json: process.env[1] \"FOO\" must have the form KEY=VALUE");
  EXPECT_EQ(Error([](json& j) { j["process"]["env"] = {"=x"}; }),
            "config.json: process.env[0] \"=x\" must have the form KEY=VALUE");
}

TEST_F(SpecTest, Cwd) {
  constexpr char kMsg[] = "config.json: process.cwd must be an absolute path";
  EXPECT_EQ(Error([](json& j) { j["process"].erase("cwd"); }), kMsg);
  EXPECT_EQ(Error([](json& j) { j["process"]["cwd"] = "home"; }), kMsg);
  EXPECT_EQ(Error([](json& j) { j["process"]["cwd"] = ""; }), kMsg);
  EXPECT_EQ(Error([](json& j) { j["process"]["cwd"] = 5; }), kMsg);
}

TEST_F(SpecTest, User) {
  EXPECT_EQ(Error([](json& j) { j["process"]["user"] = 0; }),
            "config.json: process.user must be an object");
  EXPECT_EQ(Error([](json& j) { j["process"]["user"]["uid"] = -1; }),
            "config.json: process.user.uid must be an integer from 0 to "
            "4294967294");
  EXPECT_EQ(Error([](json& j) { j["process"]["user"]["uid"] = 4294967295u; }),
            "config.json: process.user.uid must be an integer from 0 to "
            "4294967294");
  EXPECT_EQ(Error([](json& j) { j["process"]["user"]["gid"] = "0"; }),
            "config.json: process.user.gid must be an integer from 0 to "
            "4294967294");
  EXPECT_EQ(Error([](json& j) { j["process"]["user"]["gid"] = 1.5; }),
            "config.json: process.user.gid must be an integer from 0 to "
            "4294967294");
  EXPECT_EQ(
      Error([](json& j) {
        j["process"]["user"]["additionalGids"] = {1, -2};
      }),
      "config.json: process.user.additionalGids must be an array of integers "
      "from 0 to 4294967294");
  EXPECT_EQ(
      Error([](json& j) { j["process"]["user"]["umask"] = 01000; }),
      "config.json: process.user.umask must be an integer from 0 to 0777");
}

TEST_F(SpecTest, Terminal) {
  EXPECT_EQ(Error([](json& j) { j["process"]["terminal"] = true; }),
            "config.json: process.terminal: terminals are not supported yet");
  EXPECT_EQ(Error([](json& j) { j["process"]["terminal"] = "no"; }),
            "config.json: process.terminal must be a boolean");
}

TEST_F(SpecTest, Rlimits) {
  EXPECT_EQ(Error([](json& j) { j["process"]["rlimits"] = {1}; }),
            "config.json: process.rlimits[0] must be an object");
  EXPECT_EQ(Error([](json& j) { j["process"]["rlimits"] = json::object(); }),
            "config.json: process.rlimits must be an array of objects");
  EXPECT_EQ(
      Error([](json& j) { j["process"]["rlimits"][1]["type"] = "NOFILE"; }),
      "config.json: process.rlimits[1].type \"NOFILE\" is not a known "
      "RLIMIT_* name");
  EXPECT_EQ(Error([](json& j) { j["process"]["rlimits"][0].erase("type"); }),
            "config.json: process.rlimits[0].type must be a string such as "
            "\"RLIMIT_NOFILE\"");
  EXPECT_EQ(Error([](json& j) { j["process"]["rlimits"][0]["hard"] = -1; }),
            "config.json: process.rlimits[0].hard must be a non-negative "
            "integer");
  EXPECT_EQ(Error([](json& j) { j["process"]["rlimits"][0].erase("soft"); }),
            "config.json: process.rlimits[0].soft must be a non-negative "
            "integer");
  EXPECT_EQ(Error([](json& j) { j["process"]["rlimits"][0]["soft"] = 5000; }),
            "config.json: process.rlimits[0]: soft limit 5000 is above hard "
            "limit 4096");
  EXPECT_EQ(Error([](json& j) {
              j["process"]["rlimits"][1]["type"] = "RLIMIT_NOFILE";
            }),
            "config.json: process.rlimits[1]: duplicate type RLIMIT_NOFILE");
}

TEST_F(SpecTest, Capabilities) {
  json j = Good();
  j["process"]["capabilities"] = {
      {"effective", {"CAP_CHOWN", "CAP_KILL"}},
      {"permitted", {"CAP_CHOWN", "CAP_KILL", "CAP_CHECKPOINT_RESTORE"}},
      {"inheritable", json::array()},
      {"bounding", {"CAP_CHOWN", "CAP_CHOWN"}},
      {"ambient", nullptr}};
  absl::StatusOr<Spec> s = Parse(j);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->capabilities.has_value());
  EXPECT_EQ(s->capabilities->effective, 0x21u);
  EXPECT_EQ(s->capabilities->permitted, 0x21u | (uint64_t{1} << 40));
  EXPECT_EQ(s->capabilities->inheritable, 0u);
  EXPECT_EQ(s->capabilities->bounding, 0x1u);
  EXPECT_EQ(s->capabilities->ambient, 0u);

  EXPECT_EQ(
      Error([](json& j) {
        j["process"]["capabilities"]["bounding"] = {"CAP_KILL", "CAP_FLY"};
      }),
      "config.json: process.capabilities.bounding[1] \"CAP_FLY\" is "
      "not a known capability name");
  EXPECT_EQ(Error([](json& j) {
              j["process"]["capabilities"]["effective"] = {"kill"};
            }),
            "config.json: process.capabilities.effective[0] \"kill\" is not a "
            "known capability name");
  EXPECT_EQ(Error([](json& j) {
              j["process"]["capabilities"]["ambient"] = "CAP_KILL";
            }),
            "config.json: process.capabilities.ambient must be an array of "
            "capability names such as \"CAP_CHOWN\"");
  EXPECT_EQ(Error([](json& j) { j["process"]["capabilities"] = {1}; }),
            "config.json: process.capabilities must be an object");
}

TEST_F(SpecTest, CapabilityNames) {
  EXPECT_EQ(CapabilityByName("CAP_CHOWN"), 0);
  EXPECT_EQ(CapabilityByName("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(CapabilityByName("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(CapabilityByName("CHOWN"), -1);
  EXPECT_EQ(CapabilityByName("cap_chown"), -1);
  // Docker's 14: CHOWN(0) DAC_OVERRIDE(1) FOWNER(3) FSETID(4) KILL(5)
  // SETGID(6) SETUID(7) SETPCAP(8) NET_BIND_SERVICE(10) NET_RAW(13)
  // SYS_CHROOT(18) MKNOD(27) AUDIT_WRITE(29) SETFCAP(31).
  EXPECT_EQ(DefaultCapabilities(), 0xa80425fbu);
}

TEST_F(SpecTest, Root) {
  EXPECT_EQ(Error([](json& j) { j.erase("root"); }),
            "config.json: root must be an object");
  EXPECT_EQ(Error([](json& j) { j["root"] = "rootfs"; }),
            "config.json: root must be an object");
  EXPECT_EQ(Error([](json& j) { j["root"].erase("path"); }),
            "config.json: root.path must be a non-empty string");
  EXPECT_EQ(Error([](json& j) { j["root"]["path"] = ""; }),
            "config.json: root.path must be a non-empty string");
  EXPECT_EQ(Error([](json& j) { j["root"]["path"] = "missing"; }),
            absl::StrCat("config.json: root.path \"", bundle_,
                         "/missing\": no such directory"));
  EXPECT_EQ(Error([](json& j) { j["root"]["path"] = "/x/rootfs"; }),
            "config.json: root.path \"/x/rootfs\": no such directory");
  EXPECT_EQ(Error([](json& j) { j["root"]["path"] = "afile"; }),
            absl::StrCat("config.json: root.path \"", bundle_,
                         "/afile\": not a directory"));
  EXPECT_EQ(Error([](json& j) { j["root"]["readonly"] = "yes"; }),
            "config.json: root.readonly must be a boolean");
}

TEST_F(SpecTest, Hostname) {
  EXPECT_EQ(Error([](json& j) { j["hostname"] = 5; }),
            "config.json: hostname must be a string");
  EXPECT_EQ(Error([](json& j) { j["hostname"] = std::string(65, 'h'); }),
            "config.json: hostname must be at most 64 bytes long");
  EXPECT_EQ(Error([](json& j) { j["hostname"] = std::string(64, 'h'); }),
            "<ok>");
}

TEST_F(SpecTest, Mounts) {
  EXPECT_EQ(Error([](json& j) { j["mounts"] = json::object(); }),
            "config.json: mounts must be an array of objects");
  EXPECT_EQ(Error([](json& j) { j["mounts"][2] = "x"; }),
            "config.json: mounts[2] must be an object");
  EXPECT_EQ(Error([](json& j) { j["mounts"][1].erase("destination"); }),
            "config.json: mounts[1].destination must be an absolute path");
  EXPECT_EQ(Error([](json& j) { j["mounts"][1]["destination"] = "dev"; }),
            "config.json: mounts[1].destination must be an absolute path");
  EXPECT_EQ(Error([](json& j) { j["mounts"][0]["type"] = 3; }),
            "config.json: mounts[0].type must be a string");
  EXPECT_EQ(Error([](json& j) { j["mounts"][0]["source"] = false; }),
            "config.json: mounts[0].source must be a string");
  EXPECT_EQ(Error([](json& j) { j["mounts"][0]["options"] = "ro"; }),
            "config.json: mounts[0].options must be an array of strings");
  EXPECT_EQ(Error([](json& j) { j["mounts"][0]["type"] = "nfs"; }),
            "config.json: mounts[0].type \"nfs\" is not supported (expected "
            "proc, tmpfs, sysfs, devpts, mqueue, cgroup, cgroup2 or bind)");
  EXPECT_EQ(Error([](json& j) { j["mounts"][6].erase("source"); }),
            "config.json: mounts[6].source must be set for a bind mount");
}

TEST_F(SpecTest, Namespaces) {
  EXPECT_EQ(Error([](json& j) { j["linux"] = 1; }),
            "config.json: linux must be an object");
  EXPECT_EQ(Error([](json& j) { j["linux"]["namespaces"] = "pid"; }),
            "config.json: linux.namespaces must be an array of objects");
  EXPECT_EQ(Error([](json& j) { j["linux"]["namespaces"][1]["type"] = "net"; }),
            "config.json: linux.namespaces[1].type \"net\" is not a namespace "
            "type (expected pid, network, mount, ipc, uts, user, cgroup or "
            "time)");
  EXPECT_EQ(Error([](json& j) { j["linux"]["namespaces"][2]["type"] = "pid"; }),
            "config.json: linux.namespaces[2]: duplicate type pid");
  EXPECT_EQ(Error([](json& j) { j["linux"]["namespaces"][0]["path"] = 1; }),
            "config.json: linux.namespaces[0].path must be a string");
}

TEST_F(SpecTest, Annotations) {
  EXPECT_EQ(Error([](json& j) {
              j["annotations"] = {1, 2};
            }),
            "config.json: annotations must be an object of strings");
  EXPECT_EQ(Error([](json& j) { j["annotations"]["k"] = 1; }),
            "config.json: annotations[\"k\"] must be a string");
}

TEST_F(SpecTest, LoadSpecReadsTheBundle) {
  std::ofstream(bundle_ + "/config.json") << Good().dump();
  absl::StatusOr<Spec> s = LoadSpec(bundle_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->hostname, "box");
}

TEST_F(SpecTest, LoadSpecMissingFile) {
  absl::StatusOr<Spec> s = LoadSpec(bundle_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.status().message()),
            absl::StrCat("open ", bundle_,
                         "/config.json: no such file or directory"));
  s = LoadSpec("/b");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.status().message()),
            "open /b/config.json: no such file or directory");
}

TEST_F(SpecTest, LoadSpecDirectoryInsteadOfFile) {
  ASSERT_EQ(mkdir((bundle_ + "/config.json").c_str(), 0755), 0);
  absl::StatusOr<Spec> s = LoadSpec(bundle_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(std::string(s.status().message()),
            absl::StrCat("read ", bundle_, "/config.json: is a directory"));
}

}  // namespace
}  // namespace runsc
