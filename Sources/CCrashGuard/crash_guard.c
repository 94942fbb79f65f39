#include "crash_guard.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

// The signals a read out of bounds raises.
static const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGFPE};
enum { SIGNAL_COUNT = sizeof guarded_signals / sizeof guarded_signals[0] };
static struct sigaction previous_actions[SIGNAL_COUNT];
static pthread_once_t installed = PTHREAD_ONCE_INIT;
// Per thread: the row prefetcher reads the dataset beside the main thread.
static _Thread_local const char *guard_line;

static void on_signal(int number, siginfo_t *info, void *context) {
    const char *line = guard_line;
    if (line) {
        // write and _exit only: the process is in an unknown state, and these are async-signal-safe.
        ssize_t ignored = write(STDERR_FILENO, line, strlen(line));
        (void)ignored;
        _exit(1);
    }
    for (int k = 0; k < SIGNAL_COUNT; k++) {
        if (guarded_signals[k] != number) continue;
        const struct sigaction *previous = &previous_actions[k];
        if (previous->sa_flags & SA_SIGINFO) {
            previous->sa_sigaction(number, info, context);
        } else if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
            previous->sa_handler(number);
        } else {
            // Back to the default action; returning re-runs the faulting instruction, which raises it.
            signal(number, SIG_DFL);
        }
        return;
    }
}

static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (int k = 0; k < SIGNAL_COUNT; k++) sigaction(guarded_signals[k], &action, &previous_actions[k]);
}

const char *lstm_guard_begin(const char *line) {
    pthread_once(&installed, install);
    const char *previous = guard_line;
    guard_line = line;
    return previous;
}

void lstm_guard_end(const char *previous) { guard_line = previous; }
