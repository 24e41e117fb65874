// Orderly shutdown on SIGTERM / SIGINT, and SIGHUP (reload) without async-signal-safety
// hazards: the signals are blocked in every thread and one thread (main) receives them
// synchronously with sigwait().
#ifndef PS_COMMON_TERMINATION_SIGNAL_H_
#define PS_COMMON_TERMINATION_SIGNAL_H_

#include <functional>

namespace ps {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; threads created afterwards inherit
// the mask.
// REQUIRES: called in main() before any thread is started.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives and returns its number. SIGHUP calls `on_hangup` and
// waits on when it is given, and ends the wait like the others when it is not.
// REQUIRES: BlockTerminationSignals() was called first.
int WaitForTerminationSignal(const std::function<void()>& on_hangup = nullptr);

}  // namespace ps

#endif  // PS_COMMON_TERMINATION_SIGNAL_H_
