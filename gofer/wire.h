// Framing for the gofer protocol, shared by the gofer and its client: one
// protobuf message per SOCK_SEQPACKET packet, bounded in size, with at most
// one donated fd riding along as SCM_RIGHTS.
#ifndef CVISOR_GOFER_WIRE_H_
#define CVISOR_GOFER_WIRE_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace google::protobuf {
class MessageLite;
}  // namespace google::protobuf

namespace gofer::wire {

// Largest request or response. Both sides refuse anything bigger, so a
// peer cannot make the other allocate without bound.
inline constexpr size_t kMaxMessageSize = 64 * 1024;
// Socket buffers: a unix SOCK_SEQPACKET send fails with EMSGSIZE when the
// packet does not fit in the sender's buffer, so keep room for a few.
inline constexpr int kSocketBufferSize = 4 * kMaxMessageSize;
// Names per WalkRequest: 128 of NAME_MAX bytes fit in a request, and 128
// inodes with their stats fit in a response.
inline constexpr size_t kMaxWalkNames = 128;

// Sets the buffer sizes above on `sock` (best effort: a failure only logs).
void ConfigureSocket(int sock);

// Serializes `msg` and sends it as one packet, donating `fd` if >= 0.
// Never raises SIGPIPE. A message over kMaxMessageSize fails with EMSGSIZE
// before anything is sent; socket errors come back with their errno.
absl::Status SendMessage(int sock, const google::protobuf::MessageLite& msg,
                         int fd = -1);

struct Packet {
  size_t size = 0;         // bytes stored in the buffer
  bool truncated = false;  // longer than the buffer; the rest is gone
  bool peer_closed = false;
  bool bad_control = false;  // unexpected ancillary data (discarded)
  cv::UniqueFd fd;           // the donated fd, when `accept_fd`
};

// Receives one packet into buf[0, cap). With accept_fd, at most one fd is
// accepted (close-on-exec); without it no fd is ever installed in this
// process, whatever the peer sends. A zero-length packet is told apart from
// the peer closing the connection. Retries EINTR.
absl::StatusOr<Packet> RecvPacket(int sock, char* buf, size_t cap,
                                  bool accept_fd);

}  // namespace gofer::wire

#endif  // CVISOR_GOFER_WIRE_H_
