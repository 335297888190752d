#include "runsc/spec.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "runsc/util.h"

namespace runsc {
namespace {

using nlohmann::json;

// OCI configs are a few KiB; the cap keeps a wrong file from eating memory.
constexpr size_t kMaxConfigBytes = 16 << 20;
// Linux's HOST_NAME_MAX.
constexpr size_t kMaxHostname = 64;
// (uid_t)-1 means "unchanged" to the set*id calls, so it is no valid id.
constexpr uint64_t kMaxId = 0xfffffffeu;

struct RlimitName {
  const char* name;
  int resource;
};

constexpr RlimitName kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

struct CapabilityName {
  const char* name;
  int cap;
};

constexpr CapabilityName kCapabilities[] = {
    {"CAP_CHOWN", CAP_CHOWN},
    {"CAP_DAC_OVERRIDE", CAP_DAC_OVERRIDE},
    {"CAP_DAC_READ_SEARCH", CAP_DAC_READ_SEARCH},
    {"CAP_FOWNER", CAP_FOWNER},
    {"CAP_FSETID", CAP_FSETID},
    {"CAP_KILL", CAP_KILL},
    {"CAP_SETGID", CAP_SETGID},
    {"CAP_SETUID", CAP_SETUID},
    {"CAP_SETPCAP", CAP_SETPCAP},
    {"CAP_LINUX_IMMUTABLE", CAP_LINUX_IMMUTABLE},
    {"CAP_NET_BIND_SERVICE", CAP_NET_BIND_SERVICE},
    {"CAP_NET_BROADCAST", CAP_NET_BROADCAST},
    {"CAP_NET_ADMIN", CAP_NET_ADMIN},
    {"CAP_NET_RAW", CAP_NET_RAW},
    {"CAP_IPC_LOCK", CAP_IPC_LOCK},
    {"CAP_IPC_OWNER", CAP_IPC_OWNER},
    {"CAP_SYS_MODULE", CAP_SYS_MODULE},
    {"CAP_SYS_RAWIO", CAP_SYS_RAWIO},
    {"CAP_SYS_CHROOT", CAP_SYS_CHROOT},
    {"CAP_SYS_PTRACE", CAP_SYS_PTRACE},
    {"CAP_SYS_PACCT", CAP_SYS_PACCT},
    {"CAP_SYS_ADMIN", CAP_SYS_ADMIN},
    {"CAP_SYS_BOOT", CAP_SYS_BOOT},
    {"CAP_SYS_NICE", CAP_SYS_NICE},
    {"CAP_SYS_RESOURCE", CAP_SYS_RESOURCE},
    {"CAP_SYS_TIME", CAP_SYS_TIME},
    {"CAP_SYS_TTY_CONFIG", CAP_SYS_TTY_CONFIG},
    {"CAP_MKNOD", CAP_MKNOD},
    {"CAP_LEASE", CAP_LEASE},
    {"CAP_AUDIT_WRITE", CAP_AUDIT_WRITE},
    {"CAP_AUDIT_CONTROL", CAP_AUDIT_CONTROL},
    {"CAP_SETFCAP", CAP_SETFCAP},
    {"CAP_MAC_OVERRIDE", CAP_MAC_OVERRIDE},
    {"CAP_MAC_ADMIN", CAP_MAC_ADMIN},
    {"CAP_SYSLOG", CAP_SYSLOG},
    {"CAP_WAKE_ALARM", CAP_WAKE_ALARM},
    {"CAP_BLOCK_SUSPEND", CAP_BLOCK_SUSPEND},
    {"CAP_AUDIT_READ", CAP_AUDIT_READ},
    {"CAP_PERFMON", CAP_PERFMON},
    {"CAP_BPF", CAP_BPF},
    {"CAP_CHECKPOINT_RESTORE", CAP_CHECKPOINT_RESTORE},
};

constexpr int kDefaultCapabilities[] = {
    CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
    CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
    CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
    CAP_KILL,    CAP_AUDIT_WRITE,
};

constexpr const char* kNamespaceTypes[] = {"pid", "network", "mount",  "ipc",
                                           "uts", "user",    "cgroup", "time"};

// A JSON-quoted string for messages; invalid UTF-8 (possible in host paths)
// is replaced rather than thrown on.
std::string Quote(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::Status Bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("config.json: ", field, " ", what));
}

// JSON strings may carry \u0000, which no argv, path or env entry can.
absl::Status CheckNoNul(absl::string_view field, const std::string& s) {
  if (s.find('\0') != std::string::npos)
    return Bad(field, "contains a NUL byte");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> StringArray(const json& v,
                                                     absl::string_view field,
                                                     absl::string_view what) {
  if (!v.is_array()) return Bad(field, what);
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string()) return Bad(field, what);
    out.push_back(v[i].get<std::string>());
    RETURN_IF_ERROR(CheckNoNul(absl::StrCat(field, "[", i, "]"), out.back()));
  }
  return out;
}

absl::StatusOr<uint32_t> Id(const json& v, absl::string_view field) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > kMaxId) {
    return Bad(field, "must be an integer from 0 to 4294967294");
  }
  return static_cast<uint32_t>(v.get<uint64_t>());
}

// Returns a member, or nullptr when absent or null (OCI treats both as unset).
const json* Member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status ParseUser(const json& user, Spec& spec) {
  if (!user.is_object()) return Bad("process.user", "must be an object");
  if (const json* v = Member(user, "uid")) {
    ASSIGN_OR_RETURN(spec.uid, Id(*v, "process.user.uid"));
  }
  if (const json* v = Member(user, "gid")) {
    ASSIGN_OR_RETURN(spec.gid, Id(*v, "process.user.gid"));
  }
  if (const json* v = Member(user, "additionalGids")) {
    constexpr const char* kWhat =
        "must be an array of integers from 0 to 4294967294";
    if (!v->is_array()) return Bad("process.user.additionalGids", kWhat);
    for (const json& g : *v) {
      if (!g.is_number_unsigned() || g.get<uint64_t>() > kMaxId) {
        return Bad("process.user.additionalGids", kWhat);
      }
      spec.additional_gids.push_back(static_cast<uint32_t>(g.get<uint64_t>()));
    }
  }
  if (const json* v = Member(user, "umask")) {
    if (!v->is_number_unsigned() || v->get<uint64_t>() > 0777) {
      return Bad("process.user.umask", "must be an integer from 0 to 0777");
    }
    spec.umask = static_cast<uint32_t>(v->get<uint64_t>());
  }
  return absl::OkStatus();
}

absl::Status ParseRlimits(const json& v, Spec& spec) {
  if (!v.is_array())
    return Bad("process.rlimits", "must be an array of objects");
  std::set<int> seen;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string field = absl::StrCat("process.rlimits[", i, "]");
    const json& r = v[i];
    if (!r.is_object()) return Bad(field, "must be an object");
    const json* type = Member(r, "type");
    if (type == nullptr || !type->is_string()) {
      return Bad(field + ".type", "must be a string such as \"RLIMIT_NOFILE\"");
    }
    SpecRlimit limit;
    limit.type = type->get<std::string>();
    limit.resource = RlimitResourceByName(limit.type);
    if (limit.resource < 0) {
      return Bad(
          field + ".type",
          absl::StrCat(Quote(limit.type), " is not a known RLIMIT_* name"));
    }
    for (const char* key : {"hard", "soft"}) {
      const json* n = Member(r, key);
      if (n == nullptr || !n->is_number_unsigned()) {
        return Bad(absl::StrCat(field, ".", key),
                   "must be a non-negative integer");
      }
      (key[0] == 'h' ? limit.hard : limit.soft) = n->get<uint64_t>();
    }
    // setrlimit(2) refuses soft > hard with EINVAL; say so now, by name.
    if (limit.soft > limit.hard) {
      return Bad(field + ":",
                 absl::StrCat("soft limit ", limit.soft,
                              " is above hard limit ", limit.hard));
    }
    // The OCI spec requires an error for duplicate types.
    if (!seen.insert(limit.resource).second) {
      return Bad(field + ":", absl::StrCat("duplicate type ", limit.type));
    }
    spec.rlimits.push_back(limit);
  }
  return absl::OkStatus();
}

absl::Status ParseCapabilities(const json& v, Spec& spec) {
  if (!v.is_object()) {
    return Bad("process.capabilities", "must be an object");
  }
  SpecCapabilities caps;
  const std::pair<const char*, uint64_t*> kSets[] = {
      {"effective", &caps.effective},     {"permitted", &caps.permitted},
      {"inheritable", &caps.inheritable}, {"bounding", &caps.bounding},
      {"ambient", &caps.ambient},
  };
  for (const auto& [key, mask] : kSets) {
    const json* list = Member(v, key);
    if (list == nullptr) continue;
    std::string field = absl::StrCat("process.capabilities.", key);
    ASSIGN_OR_RETURN(std::vector<std::string> names,
                     StringArray(*list, field,
                                 "must be an array of capability names such "
                                 "as \"CAP_CHOWN\""));
    for (size_t i = 0; i < names.size(); ++i) {
      int cap = CapabilityByName(names[i]);
      if (cap < 0) {
        return Bad(
            absl::StrCat(field, "[", i, "]"),
            absl::StrCat(Quote(names[i]), " is not a known capability name"));
      }
      *mask |= uint64_t{1} << cap;
    }
  }
  spec.capabilities = caps;
  return absl::OkStatus();
}

absl::Status ParseProcess(const json& p, Spec& spec) {
  if (!p.is_object()) return Bad("process", "must be an object");

  if (const json* v = Member(p, "terminal")) {
    if (!v->is_boolean()) return Bad("process.terminal", "must be a boolean");
    spec.terminal = v->get<bool>();
    if (spec.terminal) {
      return Bad("process.terminal:", "terminals are not supported yet");
    }
  }

  constexpr const char* kArgsWhat = "must be a non-empty array of strings";
  const json* args = Member(p, "args");
  if (args == nullptr) return Bad("process.args", kArgsWhat);
  ASSIGN_OR_RETURN(spec.args, StringArray(*args, "process.args", kArgsWhat));
  if (spec.args.empty()) return Bad("process.args", kArgsWhat);
  if (spec.args[0].empty()) return Bad("process.args[0]", "must not be empty");

  if (const json* v = Member(p, "env")) {
    ASSIGN_OR_RETURN(spec.env, StringArray(*v, "process.env",
                                           "must be an array of strings"));
    for (size_t i = 0; i < spec.env.size(); ++i) {
      size_t eq = spec.env[i].find('=');
      if (eq == std::string::npos || eq == 0) {
        return Bad(absl::StrCat("process.env[", i, "] ", Quote(spec.env[i])),
                   "must have the form KEY=VALUE");
      }
    }
  }

  const json* cwd = Member(p, "cwd");
  if (cwd == nullptr || !cwd->is_string() || cwd->get<std::string>().empty() ||
      cwd->get<std::string>()[0] != '/') {
    return Bad("process.cwd", "must be an absolute path");
  }
  spec.cwd = cwd->get<std::string>();
  RETURN_IF_ERROR(CheckNoNul("process.cwd", spec.cwd));

  if (const json* v = Member(p, "user")) RETURN_IF_ERROR(ParseUser(*v, spec));
  if (const json* v = Member(p, "rlimits")) {
    RETURN_IF_ERROR(ParseRlimits(*v, spec));
  }
  if (const json* v = Member(p, "capabilities")) {
    RETURN_IF_ERROR(ParseCapabilities(*v, spec));
  }
  if (const json* v = Member(p, "noNewPrivileges")) {
    if (!v->is_boolean()) {
      return Bad("process.noNewPrivileges", "must be a boolean");
    }
    spec.no_new_privileges = v->get<bool>();
  }
  return absl::OkStatus();
}

absl::Status ParseRoot(const json& r, const std::string& bundle_dir,
                       Spec& spec) {
  if (!r.is_object()) return Bad("root", "must be an object");
  const json* path = Member(r, "path");
  if (path == nullptr || !path->is_string() ||
      path->get<std::string>().empty()) {
    return Bad("root.path", "must be a non-empty string");
  }
  std::string p = path->get<std::string>();
  RETURN_IF_ERROR(CheckNoNul("root.path", p));
  if (p[0] != '/') p = absl::StrCat(bundle_dir, "/", p);
  ASSIGN_OR_RETURN(spec.root_path, AbsolutePath(p));
  struct stat st;
  std::string quoted = Quote(spec.root_path);
  if (stat(spec.root_path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return Bad("root.path", quoted + ": no such directory");
    return Bad("root.path", absl::StrCat(quoted, ": ", ErrnoText(errno)));
  }
  if (!S_ISDIR(st.st_mode))
    return Bad("root.path", quoted + ": not a directory");

  if (const json* v = Member(r, "readonly")) {
    if (!v->is_boolean()) return Bad("root.readonly", "must be a boolean");
    spec.root_readonly = v->get<bool>();
  }
  return absl::OkStatus();
}

bool HasOption(const std::vector<std::string>& options, absl::string_view o) {
  for (const auto& x : options) {
    if (x == o) return true;
  }
  return false;
}

absl::Status ParseMounts(const json& v, const std::string& bundle_dir,
                         Spec& spec) {
  if (!v.is_array()) return Bad("mounts", "must be an array of objects");
  for (size_t i = 0; i < v.size(); ++i) {
    std::string field = absl::StrCat("mounts[", i, "]");
    const json& m = v[i];
    if (!m.is_object()) return Bad(field, "must be an object");
    SpecMount mount;
    const json* dest = Member(m, "destination");
    if (dest == nullptr || !dest->is_string() ||
        dest->get<std::string>().empty() ||
        dest->get<std::string>()[0] != '/') {
      return Bad(field + ".destination", "must be an absolute path");
    }
    mount.destination = dest->get<std::string>();
    RETURN_IF_ERROR(CheckNoNul(field + ".destination", mount.destination));
    if (const json* t = Member(m, "type")) {
      if (!t->is_string()) return Bad(field + ".type", "must be a string");
      mount.type = t->get<std::string>();
    }
    if (const json* s = Member(m, "source")) {
      if (!s->is_string()) return Bad(field + ".source", "must be a string");
      mount.source = s->get<std::string>();
      RETURN_IF_ERROR(CheckNoNul(field + ".source", mount.source));
    }
    if (const json* o = Member(m, "options")) {
      ASSIGN_OR_RETURN(
          mount.options,
          StringArray(*o, field + ".options", "must be an array of strings"));
    }
    // As in runc, a "bind"/"rbind" option makes a bind mount whatever the
    // type says (engines write type "none" or leave it out).
    if (mount.type == "bind" || HasOption(mount.options, "bind") ||
        HasOption(mount.options, "rbind")) {
      mount.kind = MountKind::kBind;
      if (mount.source.empty()) {
        return Bad(field + ".source", "must be set for a bind mount");
      }
      if (mount.source[0] != '/') {
        ASSIGN_OR_RETURN(mount.source, AbsolutePath(absl::StrCat(
                                           bundle_dir, "/", mount.source)));
      }
    } else if (mount.type == "proc") {
      mount.kind = MountKind::kProc;
    } else if (mount.type == "tmpfs") {
      mount.kind = MountKind::kTmpfs;
    } else if (mount.type == "sysfs") {
      mount.kind = MountKind::kSysfs;
    } else if (mount.type == "devpts") {
      mount.kind = MountKind::kDevpts;
    } else if (mount.type == "mqueue") {
      mount.kind = MountKind::kMqueue;
    } else if (mount.type == "cgroup" || mount.type == "cgroup2") {
      mount.kind = MountKind::kCgroup;
    } else {
      return Bad(field + ".type",
                 absl::StrCat(Quote(mount.type),
                              " is not supported (expected proc, tmpfs, sysfs, "
                              "devpts, mqueue, cgroup, cgroup2 or bind)"));
    }
    spec.mounts.push_back(std::move(mount));
  }
  return absl::OkStatus();
}

absl::Status ParseLinux(const json& l, Spec& spec) {
  if (!l.is_object()) return Bad("linux", "must be an object");
  const json* ns = Member(l, "namespaces");
  if (ns == nullptr) return absl::OkStatus();
  if (!ns->is_array()) {
    return Bad("linux.namespaces", "must be an array of objects");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < ns->size(); ++i) {
    std::string field = absl::StrCat("linux.namespaces[", i, "]");
    const json& n = (*ns)[i];
    if (!n.is_object()) return Bad(field, "must be an object");
    const json* type = Member(n, "type");
    if (type == nullptr || !type->is_string()) {
      return Bad(field + ".type", "must be a string");
    }
    SpecNamespace entry;
    entry.type = type->get<std::string>();
    bool known = false;
    for (const char* t : kNamespaceTypes) known |= entry.type == t;
    if (!known) {
      return Bad(field + ".type",
                 absl::StrCat(Quote(entry.type),
                              " is not a namespace type (expected pid, "
                              "network, mount, ipc, uts, user, cgroup or "
                              "time)"));
    }
    if (!seen.insert(entry.type).second) {
      return Bad(field + ":", absl::StrCat("duplicate type ", entry.type));
    }
    if (const json* p = Member(n, "path")) {
      if (!p->is_string()) return Bad(field + ".path", "must be a string");
      entry.path = p->get<std::string>();
    }
    spec.namespaces.push_back(std::move(entry));
  }
  return absl::OkStatus();
}

// "[json.exception.parse_error.101] parse error at line 3, column 5: syntax
// error while ..." -> "syntax error while ...".
std::string ParseErrorDetail(const std::string& what) {
  size_t pos = what.find("syntax error");
  if (pos != std::string::npos) return what.substr(pos);
  pos = what.find(": ");
  if (pos != std::string::npos) return what.substr(pos + 2);
  return what;
}

}  // namespace

int RlimitResourceByName(absl::string_view name) {
  for (const auto& r : kRlimits) {
    if (name == r.name) return r.resource;
  }
  return -1;
}

int CapabilityByName(absl::string_view name) {
  for (const auto& c : kCapabilities) {
    if (name == c.name) return c.cap;
  }
  return -1;
}

uint64_t DefaultCapabilities() {
  uint64_t mask = 0;
  for (int cap : kDefaultCapabilities) mask |= uint64_t{1} << cap;
  return mask;
}

const char* MountKindName(MountKind kind) {
  switch (kind) {
    case MountKind::kProc:
      return "proc";
    case MountKind::kTmpfs:
      return "tmpfs";
    case MountKind::kSysfs:
      return "sysfs";
    case MountKind::kDevpts:
      return "devpts";
    case MountKind::kMqueue:
      return "mqueue";
    case MountKind::kCgroup:
      return "cgroup";
    case MountKind::kBind:
      return "bind";
  }
  return "?";
}

absl::StatusOr<Spec> ParseSpec(absl::string_view json_text,
                               const std::string& bundle_dir) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    size_t end =
        std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, json_text.size());
    size_t line = 1;
    for (size_t i = 0; i < end; ++i) line += json_text[i] == '\n';
    return absl::InvalidArgumentError(absl::StrCat(
        "config.json: line ", line, ": ", ParseErrorDetail(e.what())));
  }
  if (!doc.is_object()) return Bad("the top level", "must be a JSON object");

  Spec spec;
  const json* version = Member(doc, "ociVersion");
  if (version == nullptr || !version->is_string() ||
      version->get<std::string>().empty()) {
    return Bad("ociVersion", "must be a non-empty string");
  }
  spec.oci_version = version->get<std::string>();

  const json* process = Member(doc, "process");
  if (process == nullptr) return Bad("process", "must be an object");
  RETURN_IF_ERROR(ParseProcess(*process, spec));

  const json* root = Member(doc, "root");
  if (root == nullptr) return Bad("root", "must be an object");
  RETURN_IF_ERROR(ParseRoot(*root, bundle_dir, spec));

  if (const json* v = Member(doc, "hostname")) {
    if (!v->is_string()) return Bad("hostname", "must be a string");
    spec.hostname = v->get<std::string>();
    RETURN_IF_ERROR(CheckNoNul("hostname", spec.hostname));
    if (spec.hostname.size() > kMaxHostname) {
      return Bad("hostname", "must be at most 64 bytes long");
    }
  }
  if (const json* v = Member(doc, "mounts")) {
    RETURN_IF_ERROR(ParseMounts(*v, bundle_dir, spec));
  }
  if (const json* v = Member(doc, "linux"))
    RETURN_IF_ERROR(ParseLinux(*v, spec));
  if (const json* v = Member(doc, "annotations")) {
    if (!v->is_object())
      return Bad("annotations", "must be an object of strings");
    for (const auto& [key, value] : v->items()) {
      if (!value.is_string()) {
        return Bad(absl::StrCat("annotations[", Quote(key), "]"),
                   "must be a string");
      }
      spec.annotations[key] = value.get<std::string>();
    }
  }
  return spec;
}

absl::StatusOr<Spec> LoadSpec(const std::string& bundle_dir) {
  std::string path =
      absl::StrCat(bundle_dir == "/" ? "" : bundle_dir, "/config.json");
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxConfigBytes));
  return ParseSpec(text, bundle_dir);
}

}  // namespace runsc
