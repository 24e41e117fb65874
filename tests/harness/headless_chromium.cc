#include "tests/harness/headless_chromium.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace ps::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

std::string FindChromium() {
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return "";
}

Value StringValue(const std::string& text) {
  Value value;
  value.set_string_value(text);
  return value;
}

Value BoolValue(bool flag) {
  Value value;
  value.set_bool_value(flag);
  return value;
}

std::string Printed(const Value& value) {
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(value, &text).ok()) return "(unprintable)";
  return text;
}

const Value* Field(const Struct& object, const std::string& name) {
  const auto found = object.fields().find(name);
  return found == object.fields().end() ? nullptr : &found->second;
}

// Chromium's flags, and why each is needed here.
std::vector<std::string> ChromiumFlags(const std::string& profile) {
  return {
      "--headless",
      // Chromium's sandbox needs user namespaces or a setuid helper, which containers do not
      // offer; as root it refuses to start without this flag anyway.
      "--no-sandbox",
      // No GPU here: render in software without probing for one.
      "--disable-gpu",
      // Docker's default /dev/shm holds 64 MB, too little for a renderer; use /tmp instead.
      "--disable-dev-shm-usage",
      // A profile of its own: $HOME may not be writable in a test, and tests running at the same
      // time would otherwise fight over the default profile's lock.
      "--user-data-dir=" + profile,
      // Commands on fd 3, answers on fd 4.
      "--remote-debugging-pipe",
      // Nothing that would try to reach the internet (there is none) or show first-run UI.
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      // Screenshots without scroll bars (Open() sets the viewport's size).
      "--hide-scrollbars",
      "about:blank",
  };
}

}  // namespace

std::optional<std::string> ChromiumMissing() {
  if (!FindChromium().empty()) return std::nullopt;
  return std::string(
      "Chromium is not installed (no /usr/bin/chromium): apt-get install chromium, or run "
      "deploy/install_deps.sh");
}

bool ChromiumRequired() {
  const char* required = std::getenv("PS_REQUIRE_CHROMIUM");
  return required != nullptr && std::string(required) == "1";
}

absl::StatusOr<std::unique_ptr<HeadlessChromium>> HeadlessChromium::Start(const Options& options) {
  const std::string binary = FindChromium();
  if (binary.empty()) return absl::FailedPreconditionError(*ChromiumMissing());
  const std::string directory = MakeTempDir("chromium");
  if (directory.empty()) return absl::InternalError("cannot create a temp dir");
  // One socket for both directions: Chromium reads commands from fd 3 and writes answers to fd 4
  // (both its end here), and a socket, unlike a pipe, lets this side write with MSG_NOSIGNAL, so
  // a browser that died fails a call instead of killing the test with SIGPIPE.
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  // Chromium's end must not already be fd 3 or 4 (DaemonProcess::Start's REQUIRES).
  const int browser_end = fcntl(ends[1], F_DUPFD_CLOEXEC, 5);
  close(ends[1]);
  if (browser_end < 0) {
    close(ends[0]);
    return absl::InternalError(absl::StrCat("fcntl: ", std::strerror(errno)));
  }
  absl::StatusOr<std::unique_ptr<DaemonProcess>> process =
      DaemonProcess::Start(binary, ChromiumFlags(directory + "/profile"),
                           directory + "/chromium.log", {{browser_end, 3}, {browser_end, 4}});
  close(browser_end);
  if (!process.ok()) {
    close(ends[0]);
    return process.status();
  }
  return std::unique_ptr<HeadlessChromium>(
      new HeadlessChromium(options, *std::move(process), ends[0]));
}

HeadlessChromium::~HeadlessChromium() {
  // A browser killed outright leaves its renderer and utility processes to notice on their own;
  // closing it lets it end them first. Its end of the socket closes as it exits.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  if (Send("Browser.close", Struct(), /*browser_wide=*/true).ok()) {
    while (ReadMessage(deadline).ok()) {
    }
  }
  close(socket_);
  process_->Wait(deadline - absl::Now());  // The DaemonProcess destructor kills it if need be.
}

absl::Status HeadlessChromium::Open(const std::string& url) {
  // A blank tab first, so that the page loads into a viewport of the final size.
  Struct create;
  (*create.mutable_fields())["url"] = StringValue("about:blank");
  absl::StatusOr<Struct> created = Call("Target.createTarget", create, /*browser_wide=*/true);
  if (!created.ok()) return created.status();
  const Value* target = Field(*created, "targetId");
  if (target == nullptr) return absl::InternalError("Target.createTarget returned no targetId");
  if (!target_id_.empty()) {
    // One page at a time: the previous one would keep running its scripts.
    Struct close;
    (*close.mutable_fields())["targetId"] = StringValue(target_id_);
    if (absl::Status closed = Call("Target.closeTarget", close, /*browser_wide=*/true).status();
        !closed.ok()) {
      return closed;
    }
  }
  target_id_ = target->string_value();
  Struct attach;
  (*attach.mutable_fields())["targetId"] = *target;
  // Flat mode: the page's commands go over this same connection, tagged with the session id.
  (*attach.mutable_fields())["flatten"] = BoolValue(true);
  absl::StatusOr<Struct> attached = Call("Target.attachToTarget", attach, /*browser_wide=*/true);
  if (!attached.ok()) return attached.status();
  const Value* session = Field(*attached, "sessionId");
  if (session == nullptr) return absl::InternalError("Target.attachToTarget returned no session");
  session_id_ = session->string_value();
  // The viewport exactly as asked (a headless window's --window-size includes room for the
  // browser's own bars), at one device pixel per CSS pixel.
  Struct metrics;
  (*metrics.mutable_fields())["width"].set_number_value(options_.width);
  (*metrics.mutable_fields())["height"].set_number_value(options_.height);
  (*metrics.mutable_fields())["deviceScaleFactor"].set_number_value(1);
  (*metrics.mutable_fields())["mobile"] = BoolValue(false);
  if (absl::Status sized = Call("Emulation.setDeviceMetricsOverride", metrics).status();
      !sized.ok()) {
    return sized;
  }
  Struct navigate;
  (*navigate.mutable_fields())["url"] = StringValue(url);
  absl::StatusOr<Struct> navigated = Call("Page.navigate", navigate);
  if (!navigated.ok()) return navigated.status();
  if (const Value* error = Field(*navigated, "errorText")) {
    return absl::UnavailableError(absl::StrCat(url, ": ", error->string_value()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> HeadlessChromium::Evaluate(const std::string& expression) {
  Struct params;
  (*params.mutable_fields())["expression"] = StringValue(expression);
  (*params.mutable_fields())["returnByValue"] = BoolValue(true);
  absl::StatusOr<Struct> evaluated = Call("Runtime.evaluate", params);
  if (!evaluated.ok()) return evaluated.status();
  if (const Value* exception = Field(*evaluated, "exceptionDetails")) {
    return absl::InternalError(absl::StrCat(expression, " threw: ", Printed(*exception)));
  }
  const Value* result = Field(*evaluated, "result");
  const Value* value = result != nullptr && result->has_struct_value()
                           ? Field(result->struct_value(), "value")
                           : nullptr;
  if (value != nullptr) return *value;
  Value null;
  null.set_null_value(google::protobuf::NULL_VALUE);
  return null;  // undefined
}

absl::StatusOr<Value> HeadlessChromium::WaitFor(const std::string& expression,
                                                absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "nothing";
  while (true) {
    absl::StatusOr<Value> value = Evaluate(expression);
    if (value.ok()) {
      const bool falsy = value->has_null_value() ||
                         (value->kind_case() == Value::kBoolValue && !value->bool_value());
      if (!falsy) return value;
      last = Printed(*value);
    } else if (absl::IsUnavailable(value.status())) {
      return value.status();  // The browser is gone; waiting longer cannot help.
    } else {
      last = value.status().ToString();
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("waited ", absl::FormatDuration(timeout),
                                                      " for ", expression, "; last: ", last));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

absl::StatusOr<std::string> HeadlessChromium::Screenshot() {
  Struct params;
  (*params.mutable_fields())["format"] = StringValue("png");
  absl::StatusOr<Struct> captured = Call("Page.captureScreenshot", params);
  if (!captured.ok()) return captured.status();
  const Value* data = Field(*captured, "data");
  std::string png;
  if (data == nullptr || !absl::Base64Unescape(data->string_value(), &png)) {
    return absl::InternalError("Page.captureScreenshot returned no base64 data");
  }
  return png;
}

absl::StatusOr<Struct> HeadlessChromium::Call(const std::string& method, const Struct& params,
                                              bool browser_wide) {
  const absl::Time deadline = absl::Now() + options_.command_timeout;
  absl::StatusOr<int64_t> id = Send(method, params, browser_wide);
  if (!id.ok()) return id.status();
  while (true) {
    absl::StatusOr<std::string> message = ReadMessage(deadline);
    if (!message.ok()) return message.status();
    Struct answer;
    if (!google::protobuf::util::JsonStringToMessage(*message, &answer).ok()) {
      return absl::InternalError(
          absl::StrCat("not JSON from the browser: ", message->substr(0, 200)));
    }
    const Value* answer_id = Field(answer, "id");
    // Events carry no id; answers to earlier calls that timed out carry an older one.
    if (answer_id == nullptr || answer_id->number_value() != static_cast<double>(*id)) continue;
    if (const Value* error = Field(answer, "error")) {
      return absl::InternalError(absl::StrCat(method, ": ", Printed(*error)));
    }
    const Value* result = Field(answer, "result");
    return result != nullptr ? result->struct_value() : Struct();
  }
}

absl::StatusOr<int64_t> HeadlessChromium::Send(const std::string& method, const Struct& params,
                                               bool browser_wide) {
  if (!browser_wide && session_id_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(method, " before Open()"));
  }
  const int64_t id = next_id_++;
  Struct command;
  (*command.mutable_fields())["id"].set_number_value(static_cast<double>(id));
  (*command.mutable_fields())["method"] = StringValue(method);
  *(*command.mutable_fields())["params"].mutable_struct_value() = params;
  if (!browser_wide) (*command.mutable_fields())["sessionId"] = StringValue(session_id_);
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(command, &text).ok()) {
    return absl::InternalError(absl::StrCat("cannot print the ", method, " command"));
  }
  text.push_back('\0');
  for (size_t sent = 0; sent < text.size();) {
    const ssize_t n = send(socket_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat("the browser is gone: ", std::strerror(errno)));
    }
    sent += static_cast<size_t>(n);
  }
  return id;
}

absl::StatusOr<std::string> HeadlessChromium::ReadMessage(absl::Time deadline) {
  while (true) {
    const size_t end = received_.find('\0');
    if (end != std::string::npos) {
      std::string message = received_.substr(0, end);
      received_.erase(0, end + 1);
      return message;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("the browser did not answer in time");
    }
    pollfd readable = {socket_, POLLIN, 0};
    const int ready = poll(&readable, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) return absl::InternalError(std::strerror(errno));
    if (ready <= 0) continue;
    char buffer[65536];
    const ssize_t n = recv(socket_, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::UnavailableError("the browser closed its DevTools connection");
    received_.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace ps::testing
