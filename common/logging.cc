#include "common/logging.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace ps {

absl::Status InitLogging(absl::string_view process_name, absl::string_view level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str maps anything unknown to `off`; only accept `off` when asked for by name.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown log level '", level, "'; use trace, debug, info, warn, error, critical or off"));
  }
  auto logger = spdlog::stderr_color_mt(std::string(process_name));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%L%$ %n[%P] %v");
  logger->set_level(parsed);
  // Logs must reach the file even when the process is killed shortly after an event.
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

void NameLoggedMember(absl::string_view name) {
  // spdlog's free functions log through a raw pointer to the default logger: a thread may still
  // be using the old one, so it is never destroyed.
  static absl::Mutex mu(absl::kConstInit);
  static auto* retired = new std::vector<std::shared_ptr<spdlog::logger>>();
  absl::MutexLock lock(&mu);
  std::shared_ptr<spdlog::logger> current = spdlog::default_logger();
  if (current->name() == name) return;
  retired->push_back(current);
  spdlog::set_default_logger(current->clone(std::string(name)));
}

}  // namespace ps
