// Preemption: SIGUSR1 or SIGTERM asks a training run to finish its step, checkpoint and exit with
// kPreemptedExitCode (Slurm sends SIGUSR1 before the time limit, SIGTERM on cancellation).
#pragma once

namespace gst {

constexpr int kPreemptedExitCode = 3;

// Installs the handlers (idempotent); the handler only sets a flag.
void install_preemption_handlers();
// True once a preemption signal arrived in this process.
bool preemption_requested();

}  // namespace gst
