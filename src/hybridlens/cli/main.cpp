// hybridlens: one executable, one subcommand per file. Errors end as one line on stderr and exit 1.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/cli/omp_environment.hpp"
#include "hybridlens/core/error.hpp"

int main(int argc, char** argv) {
  hl::cli::prefer_passive_openmp_waiting(argv);
  CLI::App app{"hybridlens: run and dissect hybrid state-space/attention language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hybridlens 0.1.0");
  hl::cli::add_info(app);
  hl::cli::add_forward(app);
  hl::cli::add_generate(app);
  hl::cli::add_random_checkpoint(app);
  hl::cli::add_heads(app);
  hl::cli::add_niah(app);
  hl::cli::add_mmlu(app);
  hl::cli::add_export(app);
  hl::cli::add_report(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "hybridlens: error: " << e.what() << " (see hybridlens --help)\n";
    return 2;
  } catch (const hl::Error& e) {
    std::cerr << "hybridlens: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "hybridlens: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "hybridlens: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
