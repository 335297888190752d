#include "runsc/state.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runsc/util.h"

namespace runsc {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runsc_state_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    root_ = tmp_ + "/state/root";  // not there yet: Create makes it
  }
  void TearDown() override {
    ASSERT_EQ(system(absl::StrCat("rm -rf ", tmp_).c_str()), 0);
  }
  std::string tmp_, root_;
};

TEST(ContainerIdTest, Valid) {
  for (const char* id : {"a", "abc-DEF_1.2", "0", "-x", "a..b", "..."}) {
    EXPECT_TRUE(ValidateContainerId(id).ok()) << id;
  }
  EXPECT_TRUE(ValidateContainerId(std::string(255, 'x')).ok());
}

TEST(ContainerIdTest, Invalid) {
  for (const char* id :
       {"", ".", "..", "a/b", "/", "a b", "é", "a\nb", "a:b"}) {
    absl::Status s = ValidateContainerId(id);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << id;
  }
  EXPECT_FALSE(ValidateContainerId(std::string(256, 'x')).ok());
  EXPECT_EQ(ValidateContainerId("a/b").message(),
            "invalid container id \"a/b\": must be 1 to 255 characters from "
            "[A-Za-z0-9_.-], not \".\" or \"..\"");
}

TEST_F(StateTest, CreateWriteReadRemove) {
  absl::StatusOr<ContainerDir> dir = ContainerDir::Create(root_, "c1");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(dir->path(), root_ + "/c1");
  struct stat st;
  ASSERT_EQ(stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  ContainerState state;
  state.id = "c1";
  state.status = "running";
  state.pid = 1234;
  state.bundle = "/b";
  state.annotations["k"] = "v";
  state.created = NowRfc3339();
  ASSERT_TRUE(dir->WriteState(state).ok());

  // The file is the OCI state document.
  absl::StatusOr<std::string> text =
      ReadFile(root_ + "/c1/state.json", 1 << 20);
  ASSERT_TRUE(text.ok());
  nlohmann::json j = nlohmann::json::parse(*text);
  EXPECT_EQ(j["ociVersion"], "1.0.2");
  EXPECT_EQ(j["id"], "c1");
  EXPECT_EQ(j["status"], "running");
  EXPECT_EQ(j["pid"], 1234);
  EXPECT_EQ(j["bundle"], "/b");
  EXPECT_EQ(j["annotations"]["k"], "v");

  absl::StatusOr<ContainerState> read = ReadState(root_, "c1");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->status, "running");
  EXPECT_EQ(read->pid, 1234);
  EXPECT_EQ(read->created, state.created);

  ASSERT_TRUE(dir->Remove().ok());
  EXPECT_FALSE(Exists(root_ + "/c1"));
  EXPECT_TRUE(Exists(root_));  // the state root stays, as runc's does
  EXPECT_EQ(ReadState(root_, "c1").status().message(),
            "container \"c1\" does not exist");
}

TEST_F(StateTest, ExistingIdIsRefused) {
  absl::StatusOr<ContainerDir> a = ContainerDir::Create(root_, "same");
  ASSERT_TRUE(a.ok());
  absl::StatusOr<ContainerDir> b = ContainerDir::Create(root_, "same");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(b.status().message(), "container \"same\" already exists");
  // The failed claim must not remove the owner's directory.
  EXPECT_TRUE(Exists(root_ + "/same"));
}

TEST_F(StateTest, InvalidIdCreatesNothing) {
  absl::StatusOr<ContainerDir> d = ContainerDir::Create(root_, "../escape");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Exists(root_));
}

TEST_F(StateTest, DestructorRemovesEverything) {
  {
    absl::StatusOr<ContainerDir> dir = ContainerDir::Create(root_, "tmp");
    ASSERT_TRUE(dir.ok());
    ContainerState state;
    state.id = "tmp";
    state.status = "creating";
    ASSERT_TRUE(dir->WriteState(state).ok());
    std::ofstream(root_ + "/tmp/extra") << "x";
    ContainerDir moved = std::move(*dir);  // the moved-from one owns nothing
  }
  EXPECT_FALSE(Exists(root_ + "/tmp"));
}

TEST_F(StateTest, WriteWaitsForTheLock) {
  absl::StatusOr<ContainerDir> dir = ContainerDir::Create(root_, "locked");
  ASSERT_TRUE(dir.ok());
  int fd = open((root_ + "/locked").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_SH), 0);
  pid_t child = fork();
  if (child == 0) {
    ContainerState s;
    s.id = "locked";
    s.status = "running";
    _exit(dir->WriteState(s).ok() ? 0 : 1);
  }
  usleep(100000);
  // The writer is blocked behind our shared lock: no state.json yet.
  EXPECT_FALSE(Exists(root_ + "/locked/state.json"));
  ASSERT_EQ(flock(fd, LOCK_UN), 0);
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(Exists(root_ + "/locked/state.json"));
  close(fd);
}

TEST(StateJsonTest, RoundTrip) {
  ContainerState s;
  s.id = "x";
  s.status = "stopped";
  s.pid = 7;
  s.bundle = "/bundle";
  s.annotations = {{"a", "1"}, {"b", "2"}};
  s.created = "2024-01-02T03:04:05.000000006Z";
  absl::StatusOr<ContainerState> r = StateFromJson(StateToJson(s));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, "x");
  EXPECT_EQ(r->status, "stopped");
  EXPECT_EQ(r->pid, 7);
  EXPECT_EQ(r->bundle, "/bundle");
  EXPECT_EQ(r->annotations, s.annotations);
  EXPECT_EQ(r->created, s.created);
  EXPECT_FALSE(StateFromJson("{").ok());
  EXPECT_FALSE(StateFromJson("{\"id\": 1}").ok());
}

}  // namespace
}  // namespace runsc
