#include "runsc/boot_config.h"

#include <stdexcept>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace runsc {
namespace {

using nlohmann::json;

constexpr int kVersion = 3;

// JSON strings must be UTF-8, but argv, env and paths are bytes (`runsc do`
// passes the caller's own). A string that is not valid UTF-8 travels as
// {"base64": "..."} instead.
json Str(const std::string& s) {
  json j = s;
  try {
    (void)j.dump();
    return j;
  } catch (const json::type_error&) {
    return json{{"base64", absl::Base64Escape(s)}};
  }
}

json StrArray(const std::vector<std::string>& v) {
  json j = json::array();
  for (const auto& s : v) j.push_back(Str(s));
  return j;
}

std::string GetStr(const json& j) {
  if (j.is_object()) {
    std::string out;
    if (!absl::Base64Unescape(j.at("base64").get<std::string>(), &out)) {
      throw std::invalid_argument("bad base64 string");
    }
    return out;
  }
  return j.get<std::string>();
}

// A capability mask: a negative or fractional number is refused rather than
// converted.
uint64_t GetMask(const json& j) {
  if (!j.is_number_unsigned()) {
    throw std::invalid_argument("capability sets must be unsigned integers");
  }
  return j.get<uint64_t>();
}

std::vector<std::string> GetStrArray(const json& j) {
  if (!j.is_array()) throw std::invalid_argument("expected an array");
  std::vector<std::string> out;
  for (const json& e : j) out.push_back(GetStr(e));
  return out;
}

absl::StatusOr<MountKind> MountKindByName(const std::string& name) {
  for (MountKind k : {MountKind::kProc, MountKind::kTmpfs, MountKind::kSysfs,
                      MountKind::kDevpts, MountKind::kMqueue,
                      MountKind::kCgroup, MountKind::kBind}) {
    if (name == MountKindName(k)) return k;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("boot config: unknown mount kind \"", name, "\""));
}

}  // namespace

std::string BootRequestToJson(const BootRequest& request) {
  const sentry::BootConfig& c = request.config;
  json j;
  j["version"] = kVersion;
  j["id"] = request.container_id;
  j["argv"] = StrArray(c.argv);
  j["env"] = StrArray(c.envp);
  j["cwd"] = Str(c.cwd);
  j["uid"] = c.uid;
  j["gid"] = c.gid;
  j["additional_gids"] = c.additional_gids;
  j["capabilities"] = {{"effective", c.capabilities.effective},
                       {"permitted", c.capabilities.permitted},
                       {"inheritable", c.capabilities.inheritable},
                       {"bounding", c.capabilities.bounding},
                       {"ambient", c.capabilities.ambient}};
  j["no_new_privileges"] = c.no_new_privs;
  j["umask"] = c.umask;
  j["hostname"] = Str(c.hostname);
  j["rlimits"] = json::array();
  for (const sentry::Rlimit& r : c.rlimits) {
    j["rlimits"].push_back(
        {{"resource", r.resource}, {"soft", r.soft}, {"hard", r.hard}});
  }
  j["platform"] = c.platform;
  j["strace"] = c.strace;
  j["root_readonly"] = c.root_readonly;
  j["overlay"] = c.overlay;
  j["network"] = request.network;
  j["mounts"] = json::array();
  for (const SpecMount& m : request.mounts) {
    j["mounts"].push_back({{"kind", MountKindName(m.kind)},
                           {"destination", Str(m.destination)},
                           {"type", Str(m.type)},
                           {"source", Str(m.source)},
                           {"options", StrArray(m.options)}});
  }
  return j.dump();
}

absl::StatusOr<BootRequest> BootRequestFromJson(absl::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return absl::InvalidArgumentError("boot config: not a JSON object");
  }
  BootRequest request;
  sentry::BootConfig& c = request.config;
  try {
    if (j.at("version").get<int>() != kVersion) {
      return absl::InvalidArgumentError(absl::StrCat(
          "boot config: version ", j.at("version").dump(), ", expected ",
          kVersion, " (runsc and its boot process are different builds?)"));
    }
    request.container_id = j.at("id").get<std::string>();
    c.argv = GetStrArray(j.at("argv"));
    c.envp = GetStrArray(j.at("env"));
    c.cwd = GetStr(j.at("cwd"));
    c.uid = j.at("uid").get<uint32_t>();
    c.gid = j.at("gid").get<uint32_t>();
    c.additional_gids = j.at("additional_gids").get<std::vector<uint32_t>>();
    const json& caps = j.at("capabilities");
    c.capabilities.effective = GetMask(caps.at("effective"));
    c.capabilities.permitted = GetMask(caps.at("permitted"));
    c.capabilities.inheritable = GetMask(caps.at("inheritable"));
    c.capabilities.bounding = GetMask(caps.at("bounding"));
    c.capabilities.ambient = GetMask(caps.at("ambient"));
    c.no_new_privs = j.at("no_new_privileges").get<bool>();
    c.umask = j.at("umask").get<uint32_t>() & 0777;
    c.hostname = GetStr(j.at("hostname"));
    for (const json& r : j.at("rlimits")) {
      c.rlimits.push_back({r.at("resource").get<int>(),
                           r.at("soft").get<uint64_t>(),
                           r.at("hard").get<uint64_t>()});
    }
    c.platform = j.at("platform").get<std::string>();
    c.strace = j.at("strace").get<bool>();
    c.root_readonly = j.at("root_readonly").get<bool>();
    c.overlay = j.at("overlay").get<bool>();
    request.network = j.at("network").get<std::string>();
    for (const json& m : j.at("mounts")) {
      SpecMount mount;
      auto kind = MountKindByName(m.at("kind").get<std::string>());
      if (!kind.ok()) return kind.status();
      mount.kind = *kind;
      mount.destination = GetStr(m.at("destination"));
      mount.type = GetStr(m.at("type"));
      mount.source = GetStr(m.at("source"));
      mount.options = GetStrArray(m.at("options"));
      request.mounts.push_back(std::move(mount));
    }
  } catch (const std::exception& e) {
    // json::exception and GetStr's std::invalid_argument.
    return absl::InvalidArgumentError(absl::StrCat("boot config: ", e.what()));
  }
  if (c.argv.empty()) {
    return absl::InvalidArgumentError("boot config: argv is empty");
  }
  return request;
}

}  // namespace runsc
