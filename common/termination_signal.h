// Orderly shutdown on SIGTERM / SIGINT without async-signal-safety hazards: the signals are
// blocked in every thread and one thread (main) receives them synchronously with sigwait().
#ifndef PS_COMMON_TERMINATION_SIGNAL_H_
#define PS_COMMON_TERMINATION_SIGNAL_H_

namespace ps {

// Blocks SIGTERM and SIGINT in the calling thread; threads created afterwards inherit the mask.
// REQUIRES: called in main() before any thread is started.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives and returns its number.
// REQUIRES: BlockTerminationSignals() was called first.
int WaitForTerminationSignal();

}  // namespace ps

#endif  // PS_COMMON_TERMINATION_SIGNAL_H_
