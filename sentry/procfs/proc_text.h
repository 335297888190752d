// The text of /proc files, built from plain snapshots of kernel state so the
// formats (which ps, top, free and libc parse field by field) can be tested
// without a running kernel. procfs.cc takes the snapshots.
#ifndef CVISOR_SENTRY_PROCFS_PROC_TEXT_H_
#define CVISOR_SENTRY_PROCFS_PROC_TEXT_H_

#include <sys/resource.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sentry/kernel/task.h"  // Credentials

namespace sentry::procfs {

// Clock ticks per second as /proc/[pid]/stat counts them (USER_HZ).
inline constexpr int64_t kClockTicks = 100;

// What /proc/[pid]/{stat,status,statm} show of one thread (or, for the
// process files, of the thread-group leader with process-wide totals).
struct TaskInfo {
  int tid = 0;
  int tgid = 0;
  int ppid = 0;
  int pgid = 0;
  int sid = 0;
  std::string comm;
  char state = 'S';  // R, S, T or Z
  Credentials creds;
  mode_t umask = 022;
  int threads = 1;
  int nice = 0;
  bool no_new_privs = false;
  // Signal masks, bit N-1 for signal N.
  uint64_t sig_pending = 0, shared_pending = 0, sig_blocked = 0;
  uint64_t sig_ignored = 0, sig_caught = 0;
  uint64_t sigq_limit = 0;  // RLIMIT_SIGPENDING
  // Memory, in bytes.
  uint64_t vm_size = 0, vm_rss = 0, vm_data = 0, vm_stk = 0, vm_exe = 0;
  uint64_t vm_lib = 0, rss_file = 0;
  uint64_t start_code = 0, end_code = 0, start_stack = 0;
  uint64_t start_data = 0, end_data = 0, start_brk = 0;
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  int64_t utime_ns = 0, stime_ns = 0;
  int64_t start_time_ns = 0;  // since boot
  int exit_signal = 17;
  int fd_size = 64;  // FDSize: the fd table's capacity
};

std::string FormatStat(const TaskInfo& t);
std::string FormatStatm(const TaskInfo& t);
std::string FormatStatus(const TaskInfo& t);
// Linux's /proc/[pid]/limits table.
std::string FormatLimits(const std::array<rlimit, RLIM_NLIMITS>& limits);

// /proc/meminfo from the host's numbers (kB), as the container sees them.
struct MemInfo {
  uint64_t total_kb = 0, free_kb = 0, available_kb = 0, buffers_kb = 0;
  uint64_t cached_kb = 0, swap_total_kb = 0, swap_free_kb = 0;
  uint64_t shmem_kb = 0;
};
std::string FormatMeminfo(const MemInfo& m);

// /proc/loadavg: the sandbox's own numbers of runnable and all tasks.
std::string FormatLoadavg(double l1, double l5, double l15, int running,
                          int total, int last_pid);

// One mount as /proc/[pid]/mounts and mountinfo describe it.
struct MountEntry {
  int id = 0;
  int parent_id = 0;
  unsigned dev_major = 0, dev_minor = 0;
  std::string root = "/";         // the mounted root within its file system
  std::string mount_point = "/";  // as seen from the reader's root
  int flags = 0;                  // MS_*
  std::string fs_type;
  std::string source;
};
std::string FormatMounts(const std::vector<MountEntry>& mounts);
std::string FormatMountinfo(const std::vector<MountEntry>& mounts);

// Octal-escapes space, tab, newline and backslash as Linux's mangle() does.
std::string MangleMountPath(const std::string& s);

// The "x.yy x.yy" of /proc/uptime from nanoseconds.
std::string FormatUptime(int64_t uptime_ns, int64_t idle_ns);

// /proc/[pid]/smaps from the maps text: each mapping's line followed by
// its fields. Only what the sentry knows is real (Size, page sizes, the
// flags); residency is not tracked, so Rss, Pss and the clean/dirty counts
// report 0 kB rather than a guess.
std::string FormatSmaps(const std::string& maps);

}  // namespace sentry::procfs

#endif  // CVISOR_SENTRY_PROCFS_PROC_TEXT_H_
