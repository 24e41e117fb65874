#include "worker/training/thread_cpu_time.h"

#include <time.h>

namespace ps {

absl::Duration ThreadCpuTime() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return absl::DurationFromTimespec(now);
}

}  // namespace ps
