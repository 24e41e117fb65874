// The calling thread's CPU time, to tell computing from waiting for a CPU: on a machine shared
// with servers and other workers, a step's wall time minus the CPU time its thread got is time it
// was ready to run but had no core (with OpenBLAS threads, the calling thread's share only).
#ifndef PS_WORKER_TRAINING_THREAD_CPU_TIME_H_
#define PS_WORKER_TRAINING_THREAD_CPU_TIME_H_

#include "absl/time/time.h"

namespace ps {

// CPU time the calling thread has used since it started (CLOCK_THREAD_CPUTIME_ID).
absl::Duration ThreadCpuTime();

}  // namespace ps

#endif  // PS_WORKER_TRAINING_THREAD_CPU_TIME_H_
