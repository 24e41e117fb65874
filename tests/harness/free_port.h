// Free loopback ports for daemons that need a fixed port chosen at run time (etcd, coordinators
// on etcd, whose addresses members must know before they listen). Thread-safe.
#ifndef PS_TESTS_HARNESS_FREE_PORT_H_
#define PS_TESTS_HARNESS_FREE_PORT_H_

namespace ps::testing {

// A port that was free on 127.0.0.1 a moment ago (bound to port 0, read, closed); 0 on failure.
// Racy: whoever binds it later must cope with losing the race.
int PickFreePort();

}  // namespace ps::testing

#endif  // PS_TESTS_HARNESS_FREE_PORT_H_
