// Reading the JSON-lines metrics files ps_worker writes (--metrics_out), for tests.
#ifndef PS_TESTS_INTEGRATION_METRICS_FILE_H_
#define PS_TESTS_INTEGRATION_METRICS_FILE_H_

#include <optional>
#include <string>

namespace ps::testing {

// The value of numeric field `key` in the last line of the file at `path` whose "event" is
// `event`; nullopt when there is none (or no such file).
std::optional<double> LastValue(const std::string& path, const std::string& event,
                                const std::string& key);

}  // namespace ps::testing

#endif  // PS_TESTS_INTEGRATION_METRICS_FILE_H_
