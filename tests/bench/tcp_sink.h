// The raw-TCP reference of the data-plane benchmarks: one loopback connection that carries
// length-prefixed messages to a receiver thread, which acknowledges each with one byte. Moving a
// tensor and getting an answer back over it is the ceiling a push or pull over gRPC is measured
// against.
//
// One thread only (the caller's); the receiver thread is owned by the sink, started by Start()
// and joined by the destructor.
#ifndef PS_TESTS_BENCH_TCP_SINK_H_
#define PS_TESTS_BENCH_TCP_SINK_H_

#include <cstdint>
#include <thread>

#include "absl/status/status.h"

namespace ps::bench {

class TcpSink {
 public:
  TcpSink() = default;
  TcpSink(const TcpSink&) = delete;
  TcpSink& operator=(const TcpSink&) = delete;
  // Tells the receiver to stop, then joins it.
  ~TcpSink();

  // Listens on 127.0.0.1 (port 0), starts the receiver and connects to it (TCP_NODELAY).
  // REQUIRES: called once. Errors: Internal when a socket call fails.
  absl::Status Start();

  // Sends `size` bytes of `data` and waits for the acknowledgement. REQUIRES: Start() succeeded
  // and size > 0 (0 is the stop message). Returns false when the connection broke.
  bool RoundTrip(const char* data, uint64_t size);

 private:
  void Serve();

  int listener_ = -1;
  int client_ = -1;
  std::thread thread_;
};

}  // namespace ps::bench

#endif  // PS_TESTS_BENCH_TCP_SINK_H_
