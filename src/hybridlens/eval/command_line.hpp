#pragma once
// The command line of this process, for the runs table of the results database.
#include <string>

namespace hl {

// argv joined with spaces (arguments holding spaces or quotes are single-quoted), read from
// /proc/self/cmdline; empty when unavailable.
std::string current_command_line();

}  // namespace hl
