// The `gst` subcommands: each registers its options and its action on the CLI app.
#pragma once

namespace CLI {
class App;
}

namespace gst {

void add_comm_check_command(CLI::App& app);

}  // namespace gst
