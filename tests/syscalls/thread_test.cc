// Threads: clone(CLONE_THREAD...) through std::thread, futex-based mutexes,
// condition variables and barriers, CLONE_CHILD_CLEARTID on join.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace {

TEST(ThreadTest, SixteenThreadsMutexCondvarBarrier) {
  constexpr int kThreads = 16;
  std::mutex mu;
  std::condition_variable cv;
  long total = 0;
  int finished = 0;
  std::barrier barrier(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 1000; k++) {
        std::lock_guard<std::mutex> lock(mu);
        total += i;
      }
      barrier.arrive_and_wait();
      {
        std::lock_guard<std::mutex> lock(mu);
        finished++;
      }
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return finished == kThreads; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(total, 1000L * (kThreads * (kThreads - 1) / 2));
}

TEST(ThreadTest, ThreadsShareThePidButNotTheTid) {
  const pid_t pid = getpid();
  std::mutex mu;
  std::set<pid_t> tids;
  std::vector<std::thread> threads;
  std::atomic<bool> same_pid{true};
  for (int i = 0; i < 4; i++) {
    threads.emplace_back([&] {
      if (getpid() != pid) same_pid = false;
      std::lock_guard<std::mutex> lock(mu);
      tids.insert(static_cast<pid_t>(syscall(SYS_gettid)));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(same_pid);
  EXPECT_EQ(tids.size(), 4u);
  EXPECT_EQ(tids.count(pid), 0u);
}

TEST(ThreadTest, ManyShortLivedThreads) {
  std::atomic<int> ran{0};
  for (int round = 0; round < 20; round++) {
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++) threads.emplace_back([&] { ran++; });
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(ran.load(), 80);
}

}  // namespace
