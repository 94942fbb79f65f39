#ifndef LSTM_CRASH_GUARD_H
#define LSTM_CRASH_GUARD_H

// libhdf5 1.10.8 trusts some of a file's metadata (global heap object sizes, for one) and can read
// out of bounds on a damaged file: SIGSEGV inside the library, which has no way to report it. While
// a guard is set on the calling thread, such a signal prints the guard's line to stderr and ends the
// process with status 1; outside a guard the signal goes to the handler that was there before (the
// Swift runtime's backtracer), so a crash in our own code still shows as one.

/// Sets `line` (kept by pointer: it must outlive the guard) as the calling thread's guard and returns
/// the previous one, for lstm_guard_end. Installs the handlers on first use.
const char *lstm_guard_begin(const char *line);

/// Restores the guard lstm_guard_begin returned.
void lstm_guard_end(const char *previous);

#endif
