// A real browser for tests of the pages the daemons serve: Debian's Chromium, headless, started as
// a child process (a DaemonProcess, so always reaped) and driven over the DevTools protocol on a
// socket it inherits (--remote-debugging-pipe: no port to pick, nothing else can connect). One
// page at a time. One thread only.
//
// The page runs in real time, unlike `chromium --dump-dom --virtual-time-budget`, whose virtual
// clock stands still while fetches are pending: timings a page measures (performance.now()) are
// true here, and a test can change the world (stop a daemon) while the page is open.
//
// Tests that need it call PS_SKIP_WITHOUT_CHROMIUM() first: when Chromium is not installed they
// skip with its message, unless PS_REQUIRE_CHROMIUM=1, where they fail instead, so that CI cannot
// pass by skipping them.
#ifndef PS_TESTS_HARNESS_HEADLESS_CHROMIUM_H_
#define PS_TESTS_HARNESS_HEADLESS_CHROMIUM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "tests/harness/daemon_process.h"

namespace ps::testing {

// nullopt when a Chromium binary is installed; otherwise why not, for GTEST_SKIP.
std::optional<std::string> ChromiumMissing();
// Whether PS_REQUIRE_CHROMIUM=1: a missing Chromium is a failure, not a skip.
bool ChromiumRequired();

// In a TEST body: skips (or fails, under PS_REQUIRE_CHROMIUM=1) when Chromium is not installed.
#define PS_SKIP_WITHOUT_CHROMIUM()                                                     \
  do {                                                                                 \
    if (const std::optional<std::string> missing = ::ps::testing::ChromiumMissing()) { \
      if (::ps::testing::ChromiumRequired()) {                                         \
        FAIL() << *missing << "; PS_REQUIRE_CHROMIUM=1: the browser tests must run";   \
      }                                                                                \
      GTEST_SKIP() << *missing << "; skipping this browser test";                      \
    }                                                                                  \
  } while (false)

class HeadlessChromium {
 public:
  struct Options {
    // The viewport, in CSS pixels (also the size of Screenshot()).
    int width = 1280;
    int height = 900;
    // How long one DevTools command may take.
    absl::Duration command_timeout = absl::Seconds(30);
  };

  // Starts Chromium with a fresh profile under $TEST_TMPDIR, its output in a log file there.
  // Errors: FailedPrecondition when it is not installed; Internal when it cannot be started.
  static absl::StatusOr<std::unique_ptr<HeadlessChromium>> Start(const Options& options);
  static absl::StatusOr<std::unique_ptr<HeadlessChromium>> Start() { return Start(Options()); }

  HeadlessChromium(const HeadlessChromium&) = delete;
  HeadlessChromium& operator=(const HeadlessChromium&) = delete;
  // Asks the browser to close, and kills it if it has not exited within 5 s.
  ~HeadlessChromium();

  // Opens `url` in a new tab (closing the one opened before), which the calls below then act on;
  // returns once the navigation has started (not when the page has loaded: use WaitFor).
  // Errors: Unavailable when the browser is gone; DeadlineExceeded; Internal with the
  // protocol's error message.
  absl::Status Open(const std::string& url);

  // Evaluates the JavaScript `expression` in the open page and returns its value (JSON-able
  // values only: strings, numbers, booleans, arrays, plain objects; undefined reads as null).
  // Errors: as Open, and Internal with the exception when the expression throws.
  absl::StatusOr<google::protobuf::Value> Evaluate(const std::string& expression);

  // Evaluates `expression` every 100 ms until its value is neither null nor false, and returns
  // that value. Evaluation errors (e.g. the page still loading) count as not yet.
  // Errors: DeadlineExceeded after `timeout`, naming the last value or error.
  absl::StatusOr<google::protobuf::Value> WaitFor(const std::string& expression,
                                                  absl::Duration timeout);

  // The open page's viewport as PNG bytes.
  absl::StatusOr<std::string> Screenshot();

  // The browser's output so far (for failure messages).
  std::string ReadLog() const { return process_->ReadLog(); }

 private:
  HeadlessChromium(const Options& options, std::unique_ptr<DaemonProcess> process, int socket)
      : options_(options), process_(std::move(process)), socket_(socket) {}

  // Sends one command (to the open page's session unless `browser_wide`) and returns its
  // result, skipping the events that arrive meanwhile.
  absl::StatusOr<google::protobuf::Struct> Call(const std::string& method,
                                                const google::protobuf::Struct& params,
                                                bool browser_wide = false);
  // Sends one command without waiting for its answer; returns its id.
  absl::StatusOr<int64_t> Send(const std::string& method, const google::protobuf::Struct& params,
                               bool browser_wide);
  // The next message from the browser (they end with a NUL byte).
  absl::StatusOr<std::string> ReadMessage(absl::Time deadline);

  const Options options_;
  std::unique_ptr<DaemonProcess> process_;
  const int socket_;
  // Bytes received after the last whole message.
  std::string received_;
  int64_t next_id_ = 1;
  // The tab Open() opened and the session it attached to it; empty before.
  std::string target_id_;
  std::string session_id_;
};

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_HEADLESS_CHROMIUM_H_
