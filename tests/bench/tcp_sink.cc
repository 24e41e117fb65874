#include "tests/bench/tcp_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ps::bench {
namespace {

bool WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= n;
  }
  return true;
}

bool ReadAll(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = read(fd, p, size);
    if (n <= 0) return false;
    p += n;
    size -= n;
  }
  return true;
}

}  // namespace

TcpSink::~TcpSink() {
  if (client_ >= 0) {
    const uint64_t stop = 0;
    WriteAll(client_, &stop, sizeof(stop));
    close(client_);
  }
  if (thread_.joinable()) thread_.join();
  if (listener_ >= 0) close(listener_);
}

absl::Status TcpSink::Start() {
  listener_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (listener_ < 0 ||
      bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener_, 1) != 0 ||
      getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return absl::InternalError(absl::StrCat("cannot listen on loopback: ", std::strerror(errno)));
  }
  thread_ = std::thread([this] { Serve(); });
  client_ = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(client_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (client_ < 0 ||
      connect(client_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const absl::Status error =
        absl::InternalError(absl::StrCat("cannot connect on loopback: ", std::strerror(errno)));
    if (client_ >= 0) close(client_);
    client_ = -1;
    shutdown(listener_, SHUT_RDWR);  // Wakes the receiver's accept() so that it can be joined.
    return error;
  }
  return absl::OkStatus();
}

bool TcpSink::RoundTrip(const char* data, uint64_t size) {
  char ack;
  return WriteAll(client_, &size, sizeof(size)) && WriteAll(client_, data, size) &&
         ReadAll(client_, &ack, 1);
}

void TcpSink::Serve() {
  const int fd = accept(listener_, nullptr, nullptr);
  if (fd < 0) return;
  std::vector<char> buffer;
  uint64_t size = 0;
  while (ReadAll(fd, &size, sizeof(size)) && size > 0) {
    if (buffer.size() < size) buffer.resize(size);  // Reused: the receiver's warm buffer.
    const char ack = 1;
    if (!ReadAll(fd, buffer.data(), size) || !WriteAll(fd, &ack, 1)) break;
  }
  close(fd);
}

}  // namespace ps::bench
