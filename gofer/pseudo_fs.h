// Kernel pseudo file systems (procfs, sysfs, cgroupfs, ...) that the gofer
// never serves: they describe and control the host, and the sentry
// implements its own /proc, /sys and /dev.
#ifndef CVISOR_GOFER_PSEUDO_FS_H_
#define CVISOR_GOFER_PSEUDO_FS_H_

#include <linux/magic.h>

#include <string_view>

namespace gofer {

// By the type name in /proc/self/mountinfo.
inline bool IsPseudoFsType(std::string_view type) {
  for (std::string_view t :
       {"proc",    "sysfs",      "devtmpfs", "devpts",     "debugfs",
        "tracefs", "securityfs", "cgroup",   "cgroup2",    "pstore",
        "bpf",     "configfs",   "fusectl",  "efivarfs",   "binfmt_misc",
        "mqueue",  "nsfs",       "autofs",   "rpc_pipefs", "selinuxfs"}) {
    if (type == t) return true;
  }
  return false;
}

// By statfs f_type.
inline bool IsPseudoFsMagic(long magic) {
  switch (static_cast<unsigned long>(magic)) {
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case DEVPTS_SUPER_MAGIC:
    case DEBUGFS_MAGIC:
    case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
    case PSTOREFS_MAGIC:
    case BPF_FS_MAGIC:
    case EFIVARFS_MAGIC:
    case BINFMTFS_MAGIC:
    case NSFS_MAGIC:
    case SELINUX_MAGIC:
    case 0x62656570:  // configfs
    case 0x65735543:  // fusectl
    case 0x19800202:  // mqueue
    case AUTOFS_SUPER_MAGIC:
      return true;
  }
  return false;
}

}  // namespace gofer

#endif  // CVISOR_GOFER_PSEUDO_FS_H_
