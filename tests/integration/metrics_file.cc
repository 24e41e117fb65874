#include "tests/integration/metrics_file.h"

#include <fstream>

#include "absl/strings/numbers.h"

namespace ps::testing {

std::optional<double> LastValue(const std::string& path, const std::string& event,
                                const std::string& key) {
  std::ifstream file(path);
  std::string line;
  std::optional<double> value;
  while (std::getline(file, line)) {
    if (line.find("\"event\": \"" + event + "\"") == std::string::npos) continue;
    const std::string needle = "\"" + key + "\": ";
    const size_t at = line.find(needle);
    if (at == std::string::npos) continue;
    const std::string rest = line.substr(at + needle.size());
    double parsed;
    if (absl::SimpleAtod(rest.substr(0, rest.find_first_of(",}")), &parsed)) value = parsed;
  }
  return value;
}

}  // namespace ps::testing
