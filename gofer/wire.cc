#include "gofer/wire.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/errno_status.h"
#include "common/log.h"
#include "google/protobuf/message_lite.h"

namespace gofer::wire {

void ConfigureSocket(int sock) {
  int size = kSocketBufferSize;
  if (setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) != 0 ||
      setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) {
    cv::LogWarning("gofer: setting socket buffer sizes: ", strerror(errno));
  }
}

absl::Status SendMessage(int sock, const google::protobuf::MessageLite& msg,
                         int fd) {
  size_t size = msg.ByteSizeLong();
  if (size > kMaxMessageSize) {
    return cv::ErrnoStatus(EMSGSIZE,
                           absl::StrCat("gofer message of ", size, " bytes"));
  }
  std::string data;
  if (!msg.SerializeToString(&data)) {
    return cv::ErrnoStatus(EINVAL, "serializing gofer message");
  }
  iovec iov{data.data(), data.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) {
      // SEQPACKET sends are atomic: all or nothing.
      return absl::OkStatus();
    }
    if (errno != EINTR) return cv::ErrnoStatus(errno, "gofer sendmsg");
  }
}

absl::StatusOr<Packet> RecvPacket(int sock, char* buf, size_t cap,
                                  bool accept_fd) {
  Packet p;
  iovec iov{buf, cap};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  // Room for exactly one fd: any further fds a peer sends are dropped by the
  // kernel (MSG_CTRUNC) rather than installed here. Without accept_fd there
  // is no control buffer at all, so nothing is ever installed.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (accept_fd) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
  }
  ssize_t n;
  do {
    n = recvmsg(sock, &mh, accept_fd ? MSG_CMSG_CLOEXEC : 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == ECONNRESET) {
      p.peer_closed = true;
      return p;
    }
    return cv::ErrnoStatus(errno, "gofer recvmsg");
  }
  if (accept_fd) {
    for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr;
         cm = CMSG_NXTHDR(&mh, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
        size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int fd;
          memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
          if (!p.fd.valid()) {
            p.fd.reset(fd);
          } else {
            close(fd);
            p.bad_control = true;
          }
        }
      } else {
        p.bad_control = true;
      }
    }
  }
  if (mh.msg_flags & MSG_CTRUNC) p.bad_control = true;
  if (mh.msg_flags & MSG_TRUNC) p.truncated = true;
  p.size = static_cast<size_t>(n);
  if (n == 0 && !p.truncated) {
    // recvmsg returns 0 both for an empty packet and at end of stream; a
    // closed peer also shows as a hang-up.
    pollfd pfd{sock, POLLRDHUP, 0};
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLRDHUP))) {
      p.peer_closed = true;
    }
  }
  return p;
}

}  // namespace gofer::wire
