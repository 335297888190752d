#include "gofer/filter.h"

#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

#include "common/errno_status.h"
#include "common/log.h"

namespace gofer {
namespace {

// Async-signal-safe: formats and writes one line, then exits. The handler
// cannot be replaced afterwards (rt_sigaction is not allowed), and returning
// from it would only make the trapped call fail, never run it.
void OnSigsys(int, siginfo_t* info, void*) {
  char line[] = "gofer: seccomp: forbidden syscall            \n";
  char* p = line + strlen("gofer: seccomp: forbidden syscall ");
  unsigned n = static_cast<unsigned>(info->si_syscall);
  char digits[12];
  int len = 0;
  do {
    digits[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0 && len < 11);
  while (len > 0) *p++ = digits[--len];
  *p++ = '\n';
  (void)!write(cv::LogFd(), line, p - line);
  _exit(kSeccompViolationExit);
}

}  // namespace

absl::Status InstallGoferFilter(int sock) {
  struct sigaction sa {};
  sa.sa_sigaction = OnSigsys;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) {
    return cv::ErrnoStatus(errno, "gofer: sigaction(SIGSYS)");
  }
  sigset_t sys;
  sigemptyset(&sys);
  sigaddset(&sys, SIGSYS);
  sigprocmask(SIG_UNBLOCK, &sys, nullptr);

  scmp_filter_ctx ctx =
      seccomp_init(kFilterEnforced ? SCMP_ACT_TRAP : SCMP_ACT_LOG);
  if (ctx == nullptr) return cv::ErrnoStatus(ENOMEM, "gofer: seccomp_init");
  int rc = 0;
  auto allow = [&](int nr) {
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
  };
  auto allow_if = [&](int nr, scmp_arg_cmp cmp) {
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, cmp);
  };

  // Serving requests: the one socket, and only on it.
  const auto on_sock = SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(sock));
  allow_if(SCMP_SYS(recvmsg), on_sock);
  allow_if(SCMP_SYS(sendmsg), on_sock);
  allow_if(SCMP_SYS(setsockopt), on_sock);
  allow(SCMP_SYS(poll));  // telling an empty packet from a hang-up
  allow(SCMP_SYS(ppoll));
  // Walk/open/readdir/readlink/stat on fds it already holds. Files are
  // only created with O_EXCL (Create), never O_TMPFILE.
  constexpr scmp_datum_t kTmpfileBit = O_TMPFILE & ~O_DIRECTORY;
  allow_if(SCMP_SYS(openat),
           SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | kTmpfileBit, 0));
  allow_if(SCMP_SYS(openat),
           SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT | O_EXCL | kTmpfileBit,
                   O_CREAT | O_EXCL));
  // Mutations, all relative to fds it holds.
  // mknodat only for regular files, FIFOs and sockets: never a device.
  for (scmp_datum_t type : {S_IFREG, S_IFIFO, S_IFSOCK}) {
    allow_if(SCMP_SYS(mknodat), SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, type));
  }
  for (int nr : {SCMP_SYS(mkdirat), SCMP_SYS(symlinkat), SCMP_SYS(linkat),
                 SCMP_SYS(unlinkat), SCMP_SYS(renameat2), SCMP_SYS(fchownat),
                 SCMP_SYS(utimensat)}) {
    allow(nr);
  }
  allow(452);  // fchmodat2 (libseccomp may not know its name yet)
  allow(SCMP_SYS(newfstatat));
  allow(SCMP_SYS(fstat));
  allow(SCMP_SYS(statx));
  allow(SCMP_SYS(fstatfs));  // refusing walks into /proc, /sys, ...
  allow(SCMP_SYS(readlinkat));
  allow(SCMP_SYS(getdents64));
  allow(SCMP_SYS(lseek));
  allow(SCMP_SYS(ftruncate));  // O_TRUNC and SetAttr, on a verified inode
  allow(SCMP_SYS(close));
  for (int cmd : {F_GETFL, F_SETFL, F_GETFD, F_SETFD}) {
    allow_if(SCMP_SYS(fcntl),
             SCMP_A1(SCMP_CMP_EQ, static_cast<scmp_datum_t>(cmd)));
  }
  // Logging.
  allow(SCMP_SYS(write));
  // The C++ runtime: memory, locks, time, exit.
  for (int nr :
       {SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
        SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(futex),
        SCMP_SYS(sched_yield), SCMP_SYS(getrandom), SCMP_SYS(clock_gettime),
        SCMP_SYS(gettimeofday), SCMP_SYS(getpid), SCMP_SYS(gettid),
        SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
        SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group)}) {
    allow(nr);
  }
  if (rc != 0) {
    seccomp_release(ctx);
    return cv::ErrnoStatus(-rc, "gofer: seccomp_rule_add");
  }
  rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return cv::ErrnoStatus(-rc, "gofer: seccomp_load");
  return absl::OkStatus();
}

}  // namespace gofer
