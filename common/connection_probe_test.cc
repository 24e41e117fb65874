#include "common/connection_probe.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace ps {
namespace {

// A listening socket on a free loopback port, and that port.
int Listen(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(listen(fd, 4), 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return fd;
}

TEST(ConnectionProbeTest, ListeningThenRefusedOnceClosed) {
  int port = 0;
  const int fd = Listen(&port);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(ProbeConnection(address, absl::Seconds(2)), ProbeResult::kConnected);
  EXPECT_EQ(ProbeConnection("localhost:" + std::to_string(port), absl::Seconds(2)),
            ProbeResult::kConnected)
      << "a name, one of whose addresses listens";
  close(fd);
  EXPECT_EQ(ProbeConnection(address, absl::Seconds(2)), ProbeResult::kRefused);
}

TEST(ConnectionProbeTest, NoConclusionWithoutAnAnswer) {
  EXPECT_EQ(ProbeConnection("no-such-host.invalid:7070", absl::Seconds(2)),
            ProbeResult::kUndecided);
  EXPECT_EQ(ProbeConnection("not an address", absl::Seconds(2)), ProbeResult::kUndecided);
}

}  // namespace
}  // namespace ps
