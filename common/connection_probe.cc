#include "common/connection_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "absl/time/clock.h"

namespace ps {
namespace {

// One address of the host: connected, refused, or no conclusion.
ProbeResult ProbeOne(const addrinfo& address, absl::Time deadline) {
  const int fd = socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        address.ai_protocol);
  if (fd < 0) return ProbeResult::kUndecided;
  ProbeResult result = ProbeResult::kUndecided;
  int error = 0;
  if (connect(fd, address.ai_addr, address.ai_addrlen) == 0) {
    result = ProbeResult::kConnected;
  } else if (errno == EINPROGRESS) {
    pollfd waiting{fd, POLLOUT, 0};
    const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (poll(&waiting, 1, static_cast<int>(ms)) == 1) {
      socklen_t length = sizeof(error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      result = error == 0 ? ProbeResult::kConnected : ProbeResult::kUndecided;
    }
  } else {
    error = errno;
  }
  if (error == ECONNREFUSED) result = ProbeResult::kRefused;
  close(fd);
  return result;
}

}  // namespace

ProbeResult ProbeConnection(const std::string& address, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return ProbeResult::kUndecided;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [::1]:7070
  }
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &addresses) != 0) {
    return ProbeResult::kUndecided;
  }
  // Refused only if every address of the name refuses: one that listens, or cannot be told,
  // leaves the process possibly there.
  ProbeResult result = ProbeResult::kRefused;
  for (const addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    const ProbeResult one = ProbeOne(*a, deadline);
    if (one == ProbeResult::kConnected) {
      result = one;
      break;
    }
    if (one == ProbeResult::kUndecided) result = one;
  }
  freeaddrinfo(addresses);
  return result;
}

}  // namespace ps
