#include "sentry/fs/mount_options.h"

#include <sys/mount.h>

#include <cstdlib>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace sentry::fs {

ParsedMountOptions ParseMountOptions(const std::vector<std::string>& options) {
  static const std::pair<const char*, int> kSet[] = {
      {"ro", MS_RDONLY},         {"nosuid", MS_NOSUID},
      {"nodev", MS_NODEV},       {"noexec", MS_NOEXEC},
      {"noatime", MS_NOATIME},   {"nodiratime", MS_NODIRATIME},
      {"relatime", MS_RELATIME}, {"strictatime", MS_STRICTATIME},
  };
  static const std::pair<const char*, int> kClear[] = {{"rw", MS_RDONLY},
                                                       {"suid", MS_NOSUID},
                                                       {"dev", MS_NODEV},
                                                       {"exec", MS_NOEXEC},
                                                       {"atime", MS_NOATIME}};
  static const std::set<std::string_view> kIgnored = {
      "bind",     "rbind",       "private", "rprivate",   "shared",
      "rshared",  "slave",       "rslave",  "unbindable", "runbindable",
      "defaults", "nosymfollow", "sync",    "async"};
  ParsedMountOptions out;
  std::vector<std::string> data;
  for (const std::string& o : options) {
    bool known = false;
    for (const auto& [name, flag] : kSet) {
      if (o == name) out.flags |= flag, known = true;
    }
    for (const auto& [name, flag] : kClear) {
      if (o == name) out.flags &= ~flag, known = true;
    }
    if (!known && kIgnored.count(o) == 0) data.push_back(o);
  }
  // Only the per-mount flags the VFS keeps.
  out.flags &= MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME;
  out.data = absl::StrJoin(data, ",");
  return out;
}

absl::StatusOr<TmpfsDataOptions> ParseTmpfsData(const std::string& data) {
  TmpfsDataOptions t;
  for (absl::string_view kv : absl::StrSplit(data, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, '=');
    const std::string& key = p.first;
    const std::string& val = p.second;
    auto bad = [&] {
      return absl::InvalidArgumentError(
          absl::StrCat("tmpfs option \"", std::string(kv), "\" is not valid"));
    };
    if (key == "mode") {
      char* end = nullptr;
      unsigned long m = strtoul(val.c_str(), &end, 8);
      if (val.empty() || *end != '\0' || m > 07777) return bad();
      t.mode = static_cast<mode_t>(m);
    } else if (key == "uid" || key == "gid") {
      uint32_t id;
      if (!absl::SimpleAtoi(val, &id)) return bad();
      (key == "uid" ? t.uid : t.gid) = id;
    } else if (key == "size") {
      if (val.empty()) return bad();
      uint64_t mult = 1;
      std::string digits = val;
      switch (digits.back()) {
        case 'k':
        case 'K':
          mult = 1ull << 10;
          break;
        case 'm':
        case 'M':
          mult = 1ull << 20;
          break;
        case 'g':
        case 'G':
          mult = 1ull << 30;
          break;
        case '%':
          return bad();  // of RAM: not supported
        default:
          mult = 0;
      }
      if (mult != 0)
        digits.pop_back();
      else
        mult = 1;
      uint64_t n;
      if (!absl::SimpleAtoi(digits, &n)) return bad();
      t.size_bytes = n * mult;
    } else if (key == "nr_inodes" || key == "nr_blocks" || key == "huge" ||
               key == "mpol" || key == "inode64" || key == "tmpcopyup") {
      // Accepted without effect, as harmless hints.
    } else {
      return bad();
    }
  }
  return t;
}

}  // namespace sentry::fs
