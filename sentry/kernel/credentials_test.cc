#include "sentry/kernel/credentials.h"

#include <linux/capability.h>
#include <linux/securebits.h>

#include "gtest/gtest.h"

namespace sentry {
namespace {

constexpr uint64_t kDocker = 0xa80425fb;  // Docker's 14 default capabilities

Credentials Root(uint64_t caps) {
  Credentials c;
  c.cap_effective = c.cap_permitted = c.cap_bounding = caps;
  return c;
}

void SetUids(Credentials& c, uint32_t r, uint32_t e, uint32_t s) {
  c.ruid = r;
  c.euid = e;
  c.suid = s;
  c.fsuid = e;
}

TEST(CredentialsTest, LeavingRootClearsPermittedEffectiveAmbient) {
  Credentials old = Root(kDocker);
  old.cap_inheritable = old.cap_ambient = CapBit(CAP_CHOWN);
  Credentials next = old;
  SetUids(next, 1000, 1000, 1000);
  FixCapsAfterSetuid(old, next);
  EXPECT_EQ(next.cap_permitted, 0u);
  EXPECT_EQ(next.cap_effective, 0u);
  EXPECT_EQ(next.cap_ambient, 0u);
  EXPECT_EQ(next.cap_inheritable, CapBit(CAP_CHOWN));
  EXPECT_EQ(next.cap_bounding, kDocker);
}

TEST(CredentialsTest, KeepCapsKeepsPermittedNotAmbient) {
  Credentials old = Root(kDocker);
  old.securebits = SECBIT_KEEP_CAPS;
  old.cap_inheritable = old.cap_ambient = CapBit(CAP_CHOWN);
  Credentials next = old;
  SetUids(next, 1000, 1000, 1000);
  FixCapsAfterSetuid(old, next);
  EXPECT_EQ(next.cap_permitted, kDocker);
  EXPECT_EQ(next.cap_effective, 0u);  // the euid left 0
  EXPECT_EQ(next.cap_ambient, 0u);
}

TEST(CredentialsTest, EffectiveUidSwitchesTheEffectiveSet) {
  Credentials old = Root(kDocker);
  Credentials next = old;
  SetUids(next, 0, 1000, 0);
  FixCapsAfterSetuid(old, next);
  EXPECT_EQ(next.cap_permitted, kDocker);
  EXPECT_EQ(next.cap_effective, 0u);
  Credentials back = next;
  SetUids(back, 0, 0, 0);
  FixCapsAfterSetuid(next, back);
  EXPECT_EQ(back.cap_effective, kDocker);
}

TEST(CredentialsTest, NoSetuidFixup) {
  Credentials old = Root(kDocker);
  old.securebits = SECBIT_NO_SETUID_FIXUP;
  Credentials next = old;
  SetUids(next, 1000, 1000, 1000);
  FixCapsAfterSetuid(old, next);
  EXPECT_EQ(next.cap_permitted, kDocker);
  EXPECT_EQ(next.cap_effective, kDocker);
  Credentials fs = old;
  fs.fsuid = 1000;
  FixCapsAfterSetfsuid(old, fs);
  EXPECT_EQ(fs.cap_effective, kDocker);
}

TEST(CredentialsTest, FsuidDropsAndRestoresFsCapabilities) {
  Credentials old = Root(kAllCaps);
  Credentials next = old;
  next.fsuid = 1000;
  FixCapsAfterSetfsuid(old, next);
  EXPECT_EQ(next.cap_effective, kAllCaps & ~kFsCaps);
  EXPECT_EQ(next.cap_permitted, kAllCaps);
  EXPECT_EQ(next.cap_effective & CapBit(CAP_MAC_OVERRIDE), 0u);
  EXPECT_NE(next.cap_effective & CapBit(CAP_KILL), 0u);
  Credentials back = next;
  back.fsuid = 0;
  FixCapsAfterSetfsuid(next, back);
  EXPECT_EQ(back.cap_effective, kAllCaps);
  // Only what is permitted comes back.
  next.cap_permitted &= ~CapBit(CAP_CHOWN);
  back = next;
  back.fsuid = 0;
  FixCapsAfterSetfsuid(next, back);
  EXPECT_EQ(back.cap_effective, kAllCaps & ~CapBit(CAP_CHOWN));
}

TEST(CredentialsTest, ExecAsRootGetsTheBoundingSet) {
  Credentials c = Root(kDocker);
  c.cap_effective = c.cap_permitted = CapBit(CAP_KILL);  // dropped by capset
  c.securebits = SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP;
  c.suid = c.fsuid = 7;
  ApplyExecCredentials(c, false);
  EXPECT_EQ(c.cap_permitted, kDocker);
  EXPECT_EQ(c.cap_effective, kDocker);
  EXPECT_EQ(c.securebits, static_cast<uint32_t>(SECBIT_NO_SETUID_FIXUP));
  EXPECT_EQ(c.suid, 0u);
  EXPECT_EQ(c.fsuid, 0u);
}

TEST(CredentialsTest, ExecWithRealRootOnlyLeavesEffectiveEmpty) {
  Credentials c = Root(kDocker);
  c.euid = c.fsuid = 1000;
  ApplyExecCredentials(c, false);
  EXPECT_EQ(c.cap_permitted, kDocker);
  EXPECT_EQ(c.cap_effective, 0u);
  EXPECT_EQ(c.suid, 1000u);
}

TEST(CredentialsTest, ExecAsUserKeepsOnlyAmbient) {
  Credentials c = Root(kDocker);
  SetUids(c, 1000, 1000, 1000);
  c.cap_inheritable = c.cap_ambient = CapBit(CAP_NET_BIND_SERVICE);
  ApplyExecCredentials(c, false);
  EXPECT_EQ(c.cap_permitted, CapBit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(c.cap_effective, CapBit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(c.cap_ambient, CapBit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(c.cap_inheritable, CapBit(CAP_NET_BIND_SERVICE));
}

TEST(CredentialsTest, ExecWithNoNewPrivsRegainsNothing) {
  Credentials c = Root(kDocker);
  c.cap_effective = c.cap_permitted = CapBit(CAP_KILL) | CapBit(CAP_CHOWN);
  c.cap_inheritable = c.cap_ambient = CapBit(CAP_CHOWN);
  ApplyExecCredentials(c, true);
  EXPECT_EQ(c.cap_permitted, CapBit(CAP_KILL) | CapBit(CAP_CHOWN));
  EXPECT_EQ(c.cap_effective, CapBit(CAP_KILL) | CapBit(CAP_CHOWN));
}

TEST(CredentialsTest, ExecWithNoRootIsUnprivileged) {
  Credentials c = Root(kDocker);
  c.securebits = SECBIT_NOROOT;
  ApplyExecCredentials(c, false);
  EXPECT_EQ(c.cap_permitted, 0u);
  EXPECT_EQ(c.cap_effective, 0u);
}

}  // namespace
}  // namespace sentry
