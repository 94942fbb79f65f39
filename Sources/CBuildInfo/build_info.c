#include "build_info.h"

// Swift's -D conditions carry no value, so the commit arrives as a C string define on this one file:
// a new commit recompiles this file and relinks, nothing else.
#ifndef LSTM_DIST_COMMIT
#define LSTM_DIST_COMMIT "unknown"
#endif

const char *lstm_build_commit(void) { return LSTM_DIST_COMMIT; }
