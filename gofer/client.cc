#include "gofer/client.h"

#include <limits.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "gofer/wire.h"
#include "proto/gofer.pb.h"

namespace gofer {
namespace {

namespace pb = ::cvisor::gofer;

// fids per CloseRequest: at most 10 bytes each as varints, well inside a
// message.
constexpr size_t kMaxCloseFids = 4096;

struct stat ToStat(const pb::Stat& s) {
  struct stat st {};
  st.st_dev = s.dev();
  st.st_ino = s.ino();
  st.st_mode = s.mode();
  st.st_nlink = s.nlink();
  st.st_uid = s.uid();
  st.st_gid = s.gid();
  st.st_rdev = s.rdev();
  st.st_size = s.size();
  st.st_blksize = s.blksize();
  st.st_blocks = s.blocks();
  st.st_atim.tv_sec = s.atime_sec();
  st.st_atim.tv_nsec = s.atime_nsec();
  st.st_mtim.tv_sec = s.mtime_sec();
  st.st_mtim.tv_nsec = s.mtime_nsec();
  st.st_ctim.tv_sec = s.ctime_sec();
  st.st_ctim.tv_nsec = s.ctime_nsec();
  return st;
}

InodeInfo ToInode(const pb::Inode& in) {
  InodeInfo info;
  info.fid = in.fid();
  info.stat = ToStat(in.stat());
  return info;
}

bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= NAME_MAX && name != "." &&
         name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

// The reply case that answers each request case (the two oneofs share their
// order, not their numbers).
pb::Response::MsgCase ExpectedReply(pb::Request::MsgCase c) {
  switch (c) {
    case pb::Request::kAttach:
      return pb::Response::kAttach;
    case pb::Request::kWalk:
      return pb::Response::kWalk;
    case pb::Request::kStat:
      return pb::Response::kStat;
    case pb::Request::kOpen:
      return pb::Response::kOpen;
    case pb::Request::kReaddir:
      return pb::Response::kReaddir;
    case pb::Request::kReadlink:
      return pb::Response::kReadlink;
    case pb::Request::kClose:
      return pb::Response::kClose;
    case pb::Request::kCreate:
      return pb::Response::kCreate;
    case pb::Request::kMkdir:
      return pb::Response::kMkdir;
    case pb::Request::kMknod:
      return pb::Response::kMknod;
    case pb::Request::kSymlink:
      return pb::Response::kSymlink;
    case pb::Request::kLink:
      return pb::Response::kLink;
    case pb::Request::kUnlink:
      return pb::Response::kUnlink;
    case pb::Request::kRename:
      return pb::Response::kRename;
    case pb::Request::kSetattr:
      return pb::Response::kSetattr;
    case pb::Request::kStatfs:
      return pb::Response::kStatfs;
    case pb::Request::MSG_NOT_SET:
      break;
  }
  return pb::Response::MSG_NOT_SET;
}

absl::Status CheckName(const std::string& name, const char* op) {
  if (!ValidName(name)) {
    return cv::ErrnoStatus(
        EINVAL, absl::StrCat("gofer ", op, ": invalid name component"));
  }
  return absl::OkStatus();
}

MakeResult ToMake(const pb::MakeResponse& r) {
  MakeResult m;
  m.inode = ToInode(r.inode());
  m.dir = ToStat(r.dir());
  return m;
}

absl::Status Dead(const char* op, absl::string_view why) {
  return cv::ErrnoStatus(EIO, absl::StrCat("gofer ", op, ": ", why));
}

}  // namespace

Client::Client(cv::UniqueFd sock) : sock_(std::move(sock)) {
  if (sock_.valid()) wire::ConfigureSocket(sock_.get());
}

absl::Status Client::Call(const char* op, const pb::Request& req,
                          pb::Response* resp, cv::UniqueFd* fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (dead_) return Dead(op, "connection to the gofer is lost");
  if (!sock_.valid()) {
    dead_ = true;
    return Dead(op, "no connection to the gofer");
  }
  absl::Status s = wire::SendMessage(sock_.get(), req);
  if (!s.ok()) {
    if (cv::StatusToErrno(s) == EMSGSIZE) {
      // Nothing was sent: the connection is still in step.
      return cv::ErrnoStatus(EINVAL,
                             absl::StrCat("gofer ", op, ": ", s.message()));
    }
    dead_ = true;
    return Dead(op, absl::StrCat("the gofer is gone (", s.message(), ")"));
  }
  auto buf = std::make_unique<char[]>(wire::kMaxMessageSize);
  absl::StatusOr<wire::Packet> packet =
      wire::RecvPacket(sock_.get(), buf.get(), wire::kMaxMessageSize,
                       /*accept_fd=*/fd != nullptr);
  if (!packet.ok()) {
    dead_ = true;
    return Dead(op, absl::StrCat("the gofer is gone (",
                                 packet.status().message(), ")"));
  }
  // The gofer never sends an empty reply, so zero bytes means it is gone
  // even if the hang-up is not visible yet.
  if (packet->peer_closed || packet->size == 0) {
    dead_ = true;
    return Dead(op, "the gofer closed the connection");
  }
  if (packet->truncated || packet->bad_control ||
      !resp->ParseFromArray(buf.get(), static_cast<int>(packet->size))) {
    dead_ = true;
    return Dead(op, "malformed reply from the gofer");
  }
  if (resp->errnum() != 0) {
    if (resp->errnum() < 0 || resp->errnum() > 4095) {
      dead_ = true;
      return Dead(
          op, absl::StrCat("bad errno ", resp->errnum(), " from the gofer"));
    }
    // The gofer's message already ends with strerror; ErrnoStatus adds it.
    std::string_view why = resp->error();
    std::string suffix = absl::StrCat(": ", strerror(resp->errnum()));
    if (why.size() >= suffix.size() &&
        why.substr(why.size() - suffix.size()) == suffix) {
      why.remove_suffix(suffix.size());
    }
    return cv::ErrnoStatus(resp->errnum(),
                           absl::StrCat("gofer ", op, ": ", std::string(why)));
  }
  if (resp->msg_case() != ExpectedReply(req.msg_case())) {
    // Out of step with the gofer: nothing later can be trusted.
    dead_ = true;
    return Dead(op, "reply does not match the request");
  }
  if (fd != nullptr) {
    if (!packet->fd.valid()) {
      dead_ = true;
      return Dead(op, "the gofer sent no fd");
    }
    *fd = std::move(packet->fd);
  }
  return absl::OkStatus();
}

absl::StatusOr<InodeInfo> Client::Attach(uint32_t mount) {
  pb::Request req;
  req.mutable_attach()->set_mount(mount);
  pb::Response resp;
  RETURN_IF_ERROR(Call("attach", req, &resp, nullptr));
  return ToInode(resp.attach().root());
}

absl::StatusOr<WalkResult> Client::Walk(uint64_t fid,
                                        const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (!ValidName(name)) {
      return cv::ErrnoStatus(EINVAL, "gofer walk: invalid name component");
    }
  }
  WalkResult result;
  uint64_t from = fid;
  size_t done = 0;
  do {
    size_t n = std::min(names.size() - done, wire::kMaxWalkNames);
    pb::Request req;
    req.mutable_walk()->set_fid(from);
    for (size_t i = done; i < done + n; ++i) {
      req.mutable_walk()->add_names(names[i]);
    }
    pb::Response resp;
    absl::Status s = Call("walk", req, &resp, nullptr);
    if (!s.ok()) {
      // Do not leak what earlier requests of this walk handed out.
      std::vector<uint64_t> fids;
      for (const InodeInfo& in : result.inodes) fids.push_back(in.fid);
      Close(fids);
      return s;
    }
    for (const pb::Inode& in : resp.walk().inodes()) {
      result.inodes.push_back(ToInode(in));
    }
    result.stop_errno = resp.walk().stop_errno();
    if (result.stop_errno != 0 ||
        static_cast<size_t>(resp.walk().inodes_size()) < n) {
      break;
    }
    done += n;
    if (n > 0) from = result.inodes.back().fid;
  } while (done < names.size());
  return result;
}

absl::StatusOr<struct stat> Client::Stat(uint64_t fid) {
  pb::Request req;
  req.mutable_stat()->set_fid(fid);
  pb::Response resp;
  RETURN_IF_ERROR(Call("stat", req, &resp, nullptr));
  return ToStat(resp.stat().stat());
}

absl::StatusOr<cv::UniqueFd> Client::Open(uint64_t fid, int flags) {
  pb::Request req;
  req.mutable_open()->set_fid(fid);
  req.mutable_open()->set_flags(static_cast<uint32_t>(flags));
  pb::Response resp;
  cv::UniqueFd fd;
  RETURN_IF_ERROR(Call("open", req, &resp, &fd));
  return fd;
}

absl::StatusOr<ReadDirResult> Client::ReadDir(uint64_t fid, uint64_t offset,
                                              uint32_t count) {
  pb::Request req;
  req.mutable_readdir()->set_fid(fid);
  req.mutable_readdir()->set_offset(offset);
  req.mutable_readdir()->set_count(count);
  pb::Response resp;
  RETURN_IF_ERROR(Call("readdir", req, &resp, nullptr));
  ReadDirResult result;
  result.eof = resp.readdir().eof();
  result.entries.reserve(resp.readdir().entries_size());
  for (const pb::Dirent& e : resp.readdir().entries()) {
    DirEntry d;
    d.name = e.name();
    d.ino = e.ino();
    d.type = static_cast<uint8_t>(e.type());
    d.next_offset = e.next_offset();
    result.entries.push_back(std::move(d));
  }
  return result;
}

absl::StatusOr<std::string> Client::Readlink(uint64_t fid) {
  pb::Request req;
  req.mutable_readlink()->set_fid(fid);
  pb::Response resp;
  RETURN_IF_ERROR(Call("readlink", req, &resp, nullptr));
  return std::move(*resp.mutable_readlink()->mutable_target());
}

absl::StatusOr<CreateResult> Client::Create(uint64_t dir,
                                            const std::string& name,
                                            mode_t mode, uint32_t uid,
                                            uint32_t gid, int flags) {
  RETURN_IF_ERROR(CheckName(name, "create"));
  pb::Request req;
  pb::CreateRequest* c = req.mutable_create();
  c->set_dir(dir);
  c->set_name(name);
  c->set_mode(mode);
  c->set_uid(uid);
  c->set_gid(gid);
  c->set_flags(static_cast<uint32_t>(flags));
  pb::Response resp;
  CreateResult r;
  RETURN_IF_ERROR(Call("create", req, &resp, &r.fd));
  r.inode = ToInode(resp.create().inode());
  r.dir = ToStat(resp.create().dir());
  return r;
}

absl::StatusOr<MakeResult> Client::Mkdir(uint64_t dir, const std::string& name,
                                         mode_t mode, uint32_t uid,
                                         uint32_t gid) {
  RETURN_IF_ERROR(CheckName(name, "mkdir"));
  pb::Request req;
  pb::MkdirRequest* m = req.mutable_mkdir();
  m->set_dir(dir);
  m->set_name(name);
  m->set_mode(mode);
  m->set_uid(uid);
  m->set_gid(gid);
  pb::Response resp;
  RETURN_IF_ERROR(Call("mkdir", req, &resp, nullptr));
  return ToMake(resp.mkdir());
}

absl::StatusOr<MakeResult> Client::Mknod(uint64_t dir, const std::string& name,
                                         mode_t mode, uint32_t uid,
                                         uint32_t gid) {
  RETURN_IF_ERROR(CheckName(name, "mknod"));
  pb::Request req;
  pb::MknodRequest* m = req.mutable_mknod();
  m->set_dir(dir);
  m->set_name(name);
  m->set_mode(mode);
  m->set_uid(uid);
  m->set_gid(gid);
  pb::Response resp;
  RETURN_IF_ERROR(Call("mknod", req, &resp, nullptr));
  return ToMake(resp.mknod());
}

absl::StatusOr<MakeResult> Client::Symlink(uint64_t dir,
                                           const std::string& name,
                                           const std::string& target,
                                           uint32_t uid, uint32_t gid) {
  RETURN_IF_ERROR(CheckName(name, "symlink"));
  pb::Request req;
  pb::SymlinkRequest* m = req.mutable_symlink();
  m->set_dir(dir);
  m->set_name(name);
  m->set_target(target);
  m->set_uid(uid);
  m->set_gid(gid);
  pb::Response resp;
  RETURN_IF_ERROR(Call("symlink", req, &resp, nullptr));
  return ToMake(resp.symlink());
}

absl::StatusOr<LinkResult> Client::Link(uint64_t target, uint64_t dir,
                                        const std::string& name) {
  RETURN_IF_ERROR(CheckName(name, "link"));
  pb::Request req;
  pb::LinkRequest* l = req.mutable_link();
  l->set_target(target);
  l->set_dir(dir);
  l->set_name(name);
  pb::Response resp;
  RETURN_IF_ERROR(Call("link", req, &resp, nullptr));
  LinkResult r;
  r.target = ToStat(resp.link().target());
  r.dir = ToStat(resp.link().dir());
  return r;
}

absl::StatusOr<UnlinkResult> Client::Unlink(uint64_t dir,
                                            const std::string& name,
                                            int flags) {
  RETURN_IF_ERROR(CheckName(name, "unlink"));
  pb::Request req;
  pb::UnlinkRequest* u = req.mutable_unlink();
  u->set_dir(dir);
  u->set_name(name);
  u->set_flags(static_cast<uint32_t>(flags));
  pb::Response resp;
  RETURN_IF_ERROR(Call("unlink", req, &resp, nullptr));
  UnlinkResult r;
  r.dir = ToStat(resp.unlink().dir());
  if (resp.unlink().has_victim()) r.victim = ToStat(resp.unlink().victim());
  return r;
}

absl::StatusOr<RenameResult> Client::Rename(uint64_t old_dir,
                                            const std::string& old_name,
                                            uint64_t new_dir,
                                            const std::string& new_name,
                                            unsigned flags) {
  RETURN_IF_ERROR(CheckName(old_name, "rename"));
  RETURN_IF_ERROR(CheckName(new_name, "rename"));
  pb::Request req;
  pb::RenameRequest* m = req.mutable_rename();
  m->set_old_dir(old_dir);
  m->set_old_name(old_name);
  m->set_new_dir(new_dir);
  m->set_new_name(new_name);
  m->set_flags(flags);
  pb::Response resp;
  RETURN_IF_ERROR(Call("rename", req, &resp, nullptr));
  const pb::RenameResponse& rr = resp.rename();
  RenameResult r;
  r.old_dir = ToStat(rr.old_dir());
  r.new_dir = ToStat(rr.new_dir());
  if (rr.has_moved()) r.moved = ToStat(rr.moved());
  if (rr.has_replaced()) r.replaced = ToStat(rr.replaced());
  return r;
}

absl::StatusOr<struct stat> Client::SetAttr(uint64_t fid,
                                            const SetAttrArgs& args) {
  // The client's bits are the protocol's (SetAttrRequest.Mask).
  static_assert(SetAttrArgs::kMode ==
                static_cast<unsigned>(pb::SetAttrRequest::MODE));
  static_assert(SetAttrArgs::kUid ==
                static_cast<unsigned>(pb::SetAttrRequest::UID));
  static_assert(SetAttrArgs::kGid ==
                static_cast<unsigned>(pb::SetAttrRequest::GID));
  static_assert(SetAttrArgs::kSize ==
                static_cast<unsigned>(pb::SetAttrRequest::SIZE));
  static_assert(SetAttrArgs::kAtime ==
                static_cast<unsigned>(pb::SetAttrRequest::ATIME));
  static_assert(SetAttrArgs::kMtime ==
                static_cast<unsigned>(pb::SetAttrRequest::MTIME));
  static_assert(SetAttrArgs::kKillSuid ==
                static_cast<unsigned>(pb::SetAttrRequest::KILL_SUID));
  pb::Request req;
  pb::SetAttrRequest* m = req.mutable_setattr();
  m->set_fid(fid);
  m->set_mask(args.mask);
  m->set_mode(args.mode & 07777);
  m->set_uid(args.uid);
  m->set_gid(args.gid);
  m->set_size(args.size);
  m->set_atime_sec(args.atime.tv_sec);
  m->set_atime_nsec(args.atime.tv_nsec);
  m->set_mtime_sec(args.mtime.tv_sec);
  m->set_mtime_nsec(args.mtime.tv_nsec);
  pb::Response resp;
  RETURN_IF_ERROR(Call("setattr", req, &resp, nullptr));
  return ToStat(resp.setattr().stat());
}

absl::StatusOr<struct statfs> Client::StatFs(uint64_t fid) {
  pb::Request req;
  req.mutable_statfs()->set_fid(fid);
  pb::Response resp;
  RETURN_IF_ERROR(Call("statfs", req, &resp, nullptr));
  const pb::StatFsResponse& r = resp.statfs();
  struct statfs sfs {};
  sfs.f_type = r.type();
  sfs.f_bsize = r.bsize();
  sfs.f_blocks = r.blocks();
  sfs.f_bfree = r.bfree();
  sfs.f_bavail = r.bavail();
  sfs.f_files = r.files();
  sfs.f_ffree = r.ffree();
  uint32_t halves[2] = {static_cast<uint32_t>(r.fsid()),
                        static_cast<uint32_t>(r.fsid() >> 32)};
  memcpy(&sfs.f_fsid, halves, sizeof halves);
  sfs.f_namelen = r.namelen();
  sfs.f_frsize = r.frsize();
  sfs.f_flags = r.flags();
  return sfs;
}

void Client::Close(const std::vector<uint64_t>& fids) {
  for (size_t done = 0; done < fids.size(); done += kMaxCloseFids) {
    size_t n = std::min(fids.size() - done, kMaxCloseFids);
    pb::Request req;
    for (size_t i = done; i < done + n; ++i) {
      req.mutable_close()->add_fids(fids[i]);
    }
    pb::Response resp;
    absl::Status s = Call("close", req, &resp, nullptr);
    if (!s.ok()) cv::LogWarning(s.message());
  }
}

}  // namespace gofer
