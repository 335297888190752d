#include "sentry/procfs/proc_text.h"

#include <sys/mount.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sentry::procfs {
namespace {

int64_t Ticks(int64_t ns) { return ns / (1000000000 / kClockTicks); }

const char* StateName(char state) {
  switch (state) {
    case 'R':
      return "R (running)";
    case 'T':
      return "T (stopped)";
    case 'Z':
      return "Z (zombie)";
    default:
      return "S (sleeping)";
  }
}

// Linux's mount option words for the per-mount flags.
std::string MountOptions(int flags) {
  std::string s = (flags & MS_RDONLY) ? "ro" : "rw";
  if (flags & MS_NOSUID) s += ",nosuid";
  if (flags & MS_NODEV) s += ",nodev";
  if (flags & MS_NOEXEC) s += ",noexec";
  if (flags & MS_NOATIME)
    s += ",noatime";
  else
    s += ",relatime";
  return s;
}

}  // namespace

std::string FormatStat(const TaskInfo& t) {
  // Fields as proc_pid_stat(5) numbers them; the ones the sandbox does not
  // track (faults, tty, wchan...) are 0 as for a kernel thread-free process.
  const uint64_t rss_pages = t.vm_rss / 4096;
  return absl::StrFormat(
      "%d (%s) %c %d %d %d 0 -1 4194304 0 0 0 0 %d %d 0 0 %d %d %d 0 %d %u "
      "%u 18446744073709551615 %u %u %u 0 0 %u %u %u %u 0 0 0 %d 0 0 0 0 0 0 "
      "%u %u %u %u %u %u %u 0\n",
      t.tid, t.comm, t.state, t.ppid, t.pgid, t.sid, Ticks(t.utime_ns),
      Ticks(t.stime_ns), 20 + t.nice, t.nice, t.threads, Ticks(t.start_time_ns),
      t.vm_size, rss_pages, t.start_code, t.end_code, t.start_stack,
      t.sig_pending | t.shared_pending, t.sig_blocked, t.sig_ignored,
      t.sig_caught, t.exit_signal, t.start_data, t.end_data, t.start_brk,
      t.arg_start, t.arg_end, t.env_start, t.env_end);
}

std::string FormatStatm(const TaskInfo& t) {
  // size resident shared text lib data dt, in pages.
  return absl::StrFormat("%u %u %u %u 0 %u 0\n", t.vm_size / 4096,
                         t.vm_rss / 4096, t.rss_file / 4096, t.vm_exe / 4096,
                         (t.vm_data + t.vm_stk) / 4096);
}

std::string FormatStatus(const TaskInfo& t) {
  const Credentials& c = t.creds;
  std::string groups;
  for (uint32_t g : c.groups) absl::StrAppend(&groups, g, " ");
  std::string s = absl::StrFormat(
      "Name:\t%s\nUmask:\t%04o\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\n"
      "PPid:\t%d\nTracerPid:\t0\nUid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\n"
      "FDSize:\t%d\nGroups:\t%s\nNStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\n"
      "NSsid:\t%d\nKthread:\t0\n",
      t.comm, t.umask, StateName(t.state), t.tgid, t.tid, t.ppid, c.ruid,
      c.euid, c.suid, c.fsuid, c.rgid, c.egid, c.sgid, c.fsgid, t.fd_size,
      groups, t.tgid, t.tid, t.pgid, t.sid);
  if (t.state != 'Z') {
    auto kb = [](uint64_t bytes) { return bytes / 1024; };
    absl::StrAppendFormat(
        &s,
        "VmPeak:\t%8u kB\nVmSize:\t%8u kB\nVmLck:\t%8u kB\nVmPin:\t%8u kB\n"
        "VmHWM:\t%8u kB\nVmRSS:\t%8u kB\nRssAnon:\t%8u kB\nRssFile:\t%8u kB\n"
        "RssShmem:\t%8u kB\nVmData:\t%8u kB\nVmStk:\t%8u kB\nVmExe:\t%8u kB\n"
        "VmLib:\t%8u kB\nVmPTE:\t%8u kB\nVmSwap:\t%8u kB\n"
        "HugetlbPages:\t%8u kB\nCoreDumping:\t0\nTHP_enabled:\t1\n",
        kb(t.vm_size), kb(t.vm_size), 0, 0, kb(t.vm_rss), kb(t.vm_rss),
        kb(t.vm_rss - std::min(t.vm_rss, t.rss_file)), kb(t.rss_file), 0,
        kb(t.vm_data), kb(t.vm_stk), kb(t.vm_exe), kb(t.vm_lib), 0, 0, 0);
  }
  absl::StrAppendFormat(
      &s,
      "Threads:\t%d\nSigQ:\t0/%u\nSigPnd:\t%016x\nShdPnd:\t%016x\n"
      "SigBlk:\t%016x\nSigIgn:\t%016x\nSigCgt:\t%016x\nCapInh:\t%016x\n"
      "CapPrm:\t%016x\nCapEff:\t%016x\nCapBnd:\t%016x\nCapAmb:\t%016x\n"
      "NoNewPrivs:\t%d\nSeccomp:\t0\nSeccomp_filters:\t0\n"
      "Speculation_Store_Bypass:\tthread vulnerable\n"
      "SpeculationIndirectBranch:\tconditional enabled\n"
      "Cpus_allowed:\t3\nCpus_allowed_list:\t0-1\n"
      "Mems_allowed:\t00000001\nMems_allowed_list:\t0\n"
      "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n",
      t.threads, t.sigq_limit, t.sig_pending, t.shared_pending, t.sig_blocked,
      t.sig_ignored, t.sig_caught, c.cap_inheritable, c.cap_permitted,
      c.cap_effective, c.cap_bounding, c.cap_ambient, t.no_new_privs ? 1 : 0);
  return s;
}

std::string FormatLimits(const std::array<rlimit, RLIM_NLIMITS>& limits) {
  struct Row {
    int resource;
    const char* name;
    const char* unit;
  };
  // The order and names of Linux's fs/proc/base.c lnames[].
  static constexpr Row kRows[] = {
      {RLIMIT_CPU, "Max cpu time", "seconds"},
      {RLIMIT_FSIZE, "Max file size", "bytes"},
      {RLIMIT_DATA, "Max data size", "bytes"},
      {RLIMIT_STACK, "Max stack size", "bytes"},
      {RLIMIT_CORE, "Max core file size", "bytes"},
      {RLIMIT_RSS, "Max resident set", "bytes"},
      {RLIMIT_NPROC, "Max processes", "processes"},
      {RLIMIT_NOFILE, "Max open files", "files"},
      {RLIMIT_MEMLOCK, "Max locked memory", "bytes"},
      {RLIMIT_AS, "Max address space", "bytes"},
      {RLIMIT_LOCKS, "Max file locks", "locks"},
      {RLIMIT_SIGPENDING, "Max pending signals", "signals"},
      {RLIMIT_MSGQUEUE, "Max msgqueue size", "bytes"},
      {RLIMIT_NICE, "Max nice priority", ""},
      {RLIMIT_RTPRIO, "Max realtime priority", ""},
      {RLIMIT_RTTIME, "Max realtime timeout", "us"},
  };
  auto value = [](rlim_t v) {
    return v == RLIM_INFINITY ? std::string("unlimited") : absl::StrCat(v);
  };
  std::string s = absl::StrFormat("%-25s %-20s %-20s %-10s\n", "Limit",
                                  "Soft Limit", "Hard Limit", "Units");
  for (const Row& r : kRows) {
    const rlimit& l = limits[r.resource];
    absl::StrAppendFormat(&s, "%-25s %-20s %-20s %-10s\n", r.name,
                          value(l.rlim_cur), value(l.rlim_max), r.unit);
  }
  return s;
}

std::string FormatMeminfo(const MemInfo& m) {
  return absl::StrFormat(
      "MemTotal:       %8u kB\nMemFree:        %8u kB\n"
      "MemAvailable:   %8u kB\nBuffers:        %8u kB\n"
      "Cached:         %8u kB\nSwapCached:            0 kB\n"
      "Active:                0 kB\nInactive:              0 kB\n"
      "SwapTotal:      %8u kB\nSwapFree:       %8u kB\n"
      "Dirty:                 0 kB\nWriteback:             0 kB\n"
      "AnonPages:             0 kB\nMapped:                0 kB\n"
      "Shmem:          %8u kB\nSlab:                  0 kB\n"
      "SReclaimable:          0 kB\nSUnreclaim:            0 kB\n"
      "CommitLimit:    %8u kB\nCommitted_AS:          0 kB\n"
      "VmallocTotal:   34359738367 kB\nVmallocUsed:           0 kB\n"
      "VmallocChunk:          0 kB\nHugePages_Total:       0\n"
      "HugePages_Free:        0\nHugePages_Rsvd:        0\n"
      "HugePages_Surp:        0\nHugepagesize:       2048 kB\n",
      m.total_kb, m.free_kb, m.available_kb, m.buffers_kb, m.cached_kb,
      m.swap_total_kb, m.swap_free_kb, m.shmem_kb,
      m.total_kb / 2 + m.swap_total_kb);
}

std::string FormatLoadavg(double l1, double l5, double l15, int running,
                          int total, int last_pid) {
  return absl::StrFormat("%.2f %.2f %.2f %d/%d %d\n", l1, l5, l15, running,
                         total, last_pid);
}

std::string MangleMountPath(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      absl::StrAppendFormat(&out, "\\%03o", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatMounts(const std::vector<MountEntry>& mounts) {
  std::string s;
  for (const MountEntry& m : mounts) {
    absl::StrAppend(&s, MangleMountPath(m.source), " ",
                    MangleMountPath(m.mount_point), " ", m.fs_type, " ",
                    MountOptions(m.flags), " 0 0\n");
  }
  return s;
}

std::string FormatMountinfo(const std::vector<MountEntry>& mounts) {
  std::string s;
  for (const MountEntry& m : mounts) {
    absl::StrAppendFormat(
        &s, "%d %d %u:%u %s %s %s - %s %s %s\n", m.id, m.parent_id, m.dev_major,
        m.dev_minor, MangleMountPath(m.root), MangleMountPath(m.mount_point),
        MountOptions(m.flags), m.fs_type, MangleMountPath(m.source),
        (m.flags & MS_RDONLY) ? "ro" : "rw");
  }
  return s;
}

std::string FormatUptime(int64_t uptime_ns, int64_t idle_ns) {
  auto centis = [](int64_t ns) { return ns / 10000000; };
  return absl::StrFormat("%d.%02d %d.%02d\n", centis(uptime_ns) / 100,
                         centis(uptime_ns) % 100, centis(idle_ns) / 100,
                         centis(idle_ns) % 100);
}

std::string FormatSmaps(const std::string& maps) {
  std::string out;
  size_t pos = 0;
  while (pos < maps.size()) {
    size_t nl = maps.find('\n', pos);
    if (nl == std::string::npos) nl = maps.size();
    std::string line = maps.substr(pos, nl - pos);
    pos = nl + 1;
    unsigned long start = 0, end = 0;
    char perms[5] = {};
    if (sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3) continue;
    out += line + "\n";
    const unsigned long kb = (end - start) / 1024;
    absl::StrAppend(&out, "Size:           ", kb, " kB\n",
                    "KernelPageSize:        4 kB\n",
                    "MMUPageSize:           4 kB\n");
    for (const char* f :
         {"Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty",
          "Private_Clean", "Private_Dirty", "Referenced", "Anonymous",
          "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped",
          "Shared_Hugetlb", "Private_Hugetlb", "Swap", "SwapPss", "Locked"}) {
      absl::StrAppend(
          &out, absl::StrFormat("%-16s%8d kB\n", absl::StrCat(f, ":"), 0));
    }
    std::string vmflags = "VmFlags:";
    if (perms[0] == 'r') vmflags += " rd";
    if (perms[1] == 'w') vmflags += " wr";
    if (perms[2] == 'x') vmflags += " ex";
    if (perms[3] == 's') vmflags += " sh";
    vmflags += " mr mw me";
    out += vmflags + "\n";
  }
  return out;
}

}  // namespace sentry::procfs
