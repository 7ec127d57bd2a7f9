// The `gst` subcommands: each registers its options and its action on the CLI app.
#pragma once

namespace CLI {
class App;
}

namespace gst {}  // namespace gst
