#ifndef LSTM_BUILD_INFO_H
#define LSTM_BUILD_INFO_H

/// The git commit this binary was built from, as the build scripts passed it (Package.swift turns
/// the LSTM_DIST_COMMIT environment variable into a C define), or "unknown" for a plain `swift build`.
const char *lstm_build_commit(void);

#endif
