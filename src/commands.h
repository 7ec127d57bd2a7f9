// The `gst` subcommands: each registers its options and its action on the CLI app.
#pragma once

namespace CLI {
class App;
}

namespace gst {

void add_synth_command(CLI::App& app);       // data/synth_command.cpp
void add_inspect_command(CLI::App& app);     // data/inspect_command.cpp
void add_comm_check_command(CLI::App& app);  // comm/comm_check_command.cpp
void add_shard_command(CLI::App& app);       // sharding/shard_command.cpp
void add_train_command(CLI::App& app);       // train/train_command.cpp
void add_eval_command(CLI::App& app);        // eval/eval_command.cpp
void add_predict_command(CLI::App& app);     // eval/predict_command.cpp

}  // namespace gst
